import { describe, expect, it } from 'vitest';
import { npyArray, NpyError, npyToFloat32, npyToInt32, parseNpy, serializeNpy } from './npy';

/** Builds a .npy file by hand the way numpy writes it (v1 header padded to 64 bytes). */
function handMadeNpy(header: string, data: Uint8Array, major = 1): Uint8Array {
  const preamble = major === 1 ? 10 : 12;
  const total = Math.ceil((preamble + header.length + 1) / 64) * 64;
  const padded = header + ' '.repeat(total - preamble - header.length - 1) + '\n';
  const out = new Uint8Array(total + data.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, major, 0]);
  const view = new DataView(out.buffer);
  if (major === 1) view.setUint16(8, padded.length, true);
  else view.setUint32(8, padded.length, true);
  for (let i = 0; i < padded.length; i++) out[preamble + i] = padded.charCodeAt(i);
  out.set(data, total);
  return out;
}

describe('parseNpy', () => {
  it('reads a numpy-style float32 file', () => {
    const values = new Float32Array([1.5, -2, 3.25, 0, 7, 8]);
    const file = handMadeNpy(
      "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }",
      new Uint8Array(values.buffer),
    );
    const array = parseNpy(file);
    expect(array.dtype).toBe('<f4');
    expect(array.shape).toEqual([2, 3]);
    expect(Array.from(array.data as Float32Array)).toEqual(Array.from(values));
  });

  it('reads version 2 headers, 1-D shapes and scalars', () => {
    const ints = new Int32Array([3, -4, 5]);
    const array = parseNpy(
      handMadeNpy("{'descr': '<i4', 'fortran_order': False, 'shape': (3,), }", new Uint8Array(ints.buffer), 2),
    );
    expect(array.shape).toEqual([3]);
    expect(Array.from(array.data as Int32Array)).toEqual([3, -4, 5]);
    const scalar = parseNpy(
      handMadeNpy(
        "{'descr': '<f8', 'fortran_order': False, 'shape': (), }",
        new Uint8Array(new Float64Array([2.5]).buffer),
      ),
    );
    expect(scalar.shape).toEqual([]);
    expect(Array.from(scalar.data as Float64Array)).toEqual([2.5]);
  });

  it('refuses what it cannot read, saying why', () => {
    const fortran = handMadeNpy("{'descr': '<f4', 'fortran_order': True, 'shape': (1,), }", new Uint8Array(4));
    expect(() => parseNpy(fortran)).toThrow(/Fortran-order/);
    const bigEndian = handMadeNpy("{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }", new Uint8Array(4));
    expect(() => parseNpy(bigEndian)).toThrow(NpyError);
    expect(() => parseNpy(bigEndian)).toThrow(/unsupported .npy dtype '>f4'/);
    const short = handMadeNpy("{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }", new Uint8Array(8));
    expect(() => parseNpy(short)).toThrow(/needs 16 bytes, file has 8/);
    expect(() => parseNpy(new Uint8Array([1, 2, 3]))).toThrow(/magic/);
  });
});

describe('serializeNpy', () => {
  it('round-trips every supported dtype', () => {
    const arrays = [
      npyArray(new Float32Array([0.1, -3, 1e-30, 6]), [2, 2]),
      npyArray(new Float64Array([Math.PI, -1]), [2]),
      npyArray(new Int32Array([2 ** 31 - 1, -(2 ** 31)]), [1, 2]),
      npyArray(new BigInt64Array([2n ** 40n, -7n]), [2]),
      npyArray(new Uint8Array([0, 255, 7]), [3, 1, 1]),
    ];
    for (const array of arrays) {
      const bytes = serializeNpy(array);
      expect((bytes.length - array.data.length * array.data.BYTES_PER_ELEMENT) % 64).toBe(0);
      const back = parseNpy(bytes);
      expect(back.dtype).toBe(array.dtype);
      expect(back.shape).toEqual(array.shape);
      expect(Array.from(back.data as ArrayLike<unknown>)).toEqual(Array.from(array.data as ArrayLike<unknown>));
    }
  });

  it('writes the header numpy writes', () => {
    const bytes = serializeNpy(npyArray(new Float32Array(6), [2, 3]));
    const header = new TextDecoder().decode(bytes.subarray(10, 10 + new DataView(bytes.buffer).getUint16(8, true)));
    expect(header.startsWith("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }")).toBe(true);
    expect(header.endsWith('\n')).toBe(true);
    expect(Array.from(bytes.subarray(0, 8))).toEqual([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  });

  it('refuses a shape that does not match the data', () => {
    expect(() => npyArray(new Float32Array(5), [2, 3])).toThrow(/needs 6 values, got 5/);
  });
});

describe('conversions', () => {
  it('converts to float32 and int32, refusing values int32 cannot hold', () => {
    expect(Array.from(npyToFloat32(npyArray(new Int32Array([1, -2]), [2])))).toEqual([1, -2]);
    expect(Array.from(npyToInt32(npyArray(new BigInt64Array([5n, 999n]), [2])))).toEqual([5, 999]);
    expect(() => npyToInt32(npyArray(new BigInt64Array([2n ** 40n]), [1]))).toThrow(/not an int32/);
    expect(() => npyToInt32(npyArray(new Float32Array([1.5]), [1]))).toThrow(/not an int32/);
  });
});

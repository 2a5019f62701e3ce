/**
 * NumPy .npy files (format versions 1 and 2), the array exchange format between the PyTorch pipeline and
 * the TypeScript runtime (golden parity files, CLI inputs and outputs). Little-endian, C order only.
 * Pure TypeScript: no Node APIs, so it runs in the browser, in workers and in Node alike.
 */

/** The dtypes we exchange: float32, float64, int32, int64, uint8. */
export type NpyDtype = '<f4' | '<f8' | '<i4' | '<i8' | '|u1';

export type NpyData = Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array;

export interface NpyArray {
  dtype: NpyDtype;
  /** C-order shape; [] for a scalar. */
  shape: number[];
  data: NpyData;
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY
const ITEM_BYTES: Record<NpyDtype, number> = { '<f4': 4, '<f8': 8, '<i4': 4, '<i8': 8, '|u1': 1 };

/** Thrown for any .npy input this module does not read; the message says what was wrong. */
export class NpyError extends Error {
  override name = 'NpyError';
}

function isNpyDtype(descr: string): descr is NpyDtype {
  return descr in ITEM_BYTES;
}

function shapeSize(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Parses a .npy file. The returned data is a fresh copy, independent of the input buffer. */
export function parseNpy(input: ArrayBuffer | Uint8Array): NpyArray {
  const bytes = input instanceof Uint8Array ? input : new Uint8Array(input);
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b))
    throw new NpyError('not a .npy file (missing \\x93NUMPY magic)');
  const major = bytes[6];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let headerStart: number;
  let headerLength: number;
  if (major === 1) {
    headerLength = view.getUint16(8, true);
    headerStart = 10;
  } else if (major === 2) {
    if (bytes.length < 12) throw new NpyError('truncated .npy v2 preamble');
    headerLength = view.getUint32(8, true);
    headerStart = 12;
  } else {
    throw new NpyError(`unsupported .npy format version ${major}.${bytes[7]} (readable: 1.x, 2.x)`);
  }
  const dataStart = headerStart + headerLength;
  if (dataStart > bytes.length)
    throw new NpyError(`.npy header claims ${headerLength} bytes but the file has ${bytes.length}`);
  const header = new TextDecoder('latin1').decode(bytes.subarray(headerStart, dataStart));

  const descr = /'descr'\s*:\s*'([^']*)'/.exec(header)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined)
    throw new NpyError(`malformed .npy header: ${header.trim()}`);
  if (!isNpyDtype(descr))
    throw new NpyError(`unsupported .npy dtype '${descr}' (readable: ${Object.keys(ITEM_BYTES).join(', ')})`);
  if (fortran === 'True') throw new NpyError('Fortran-order .npy arrays are not supported; save with C order');
  const shape = shapeText
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map(Number);
  if (shape.some((d) => !Number.isInteger(d) || d < 0)) throw new NpyError(`bad .npy shape (${shapeText})`);

  const count = shapeSize(shape);
  const byteLength = count * ITEM_BYTES[descr];
  if (dataStart + byteLength > bytes.length) {
    throw new NpyError(
      `.npy data is short: shape (${shape.join(', ')}) ${descr} needs ${byteLength} bytes, file has ${bytes.length - dataStart}`,
    );
  }
  const dataView = new DataView(bytes.buffer, bytes.byteOffset + dataStart, byteLength);
  let data: NpyData;
  switch (descr) {
    case '<f4': {
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = dataView.getFloat32(4 * i, true);
      data = out;
      break;
    }
    case '<f8': {
      const out = new Float64Array(count);
      for (let i = 0; i < count; i++) out[i] = dataView.getFloat64(8 * i, true);
      data = out;
      break;
    }
    case '<i4': {
      const out = new Int32Array(count);
      for (let i = 0; i < count; i++) out[i] = dataView.getInt32(4 * i, true);
      data = out;
      break;
    }
    case '<i8': {
      const out = new BigInt64Array(count);
      for (let i = 0; i < count; i++) out[i] = dataView.getBigInt64(8 * i, true);
      data = out;
      break;
    }
    case '|u1':
      data = bytes.slice(dataStart, dataStart + count);
      break;
  }
  return { dtype: descr, shape, data };
}

function dtypeOf(data: NpyData): NpyDtype {
  if (data instanceof Float32Array) return '<f4';
  if (data instanceof Float64Array) return '<f8';
  if (data instanceof Int32Array) return '<i4';
  if (data instanceof BigInt64Array) return '<i8';
  return '|u1';
}

/** Wraps a typed array and a shape as an NpyArray, the dtype following the array type. */
export function npyArray(data: NpyData, shape: number[]): NpyArray {
  if (shapeSize(shape) !== data.length)
    throw new NpyError(`shape (${shape.join(', ')}) needs ${shapeSize(shape)} values, got ${data.length}`);
  return { dtype: dtypeOf(data), shape: [...shape], data };
}

/** Serialises an array as .npy (version 1 unless the header needs version 2), header padded to 64 bytes like numpy. */
export function serializeNpy(array: NpyArray): Uint8Array {
  const { dtype, shape, data } = array;
  if (dtypeOf(data) !== dtype) throw new NpyError(`data is ${dtypeOf(data)} but dtype says ${dtype}`);
  const count = shapeSize(shape);
  if (count !== data.length)
    throw new NpyError(`shape (${shape.join(', ')}) needs ${count} values, got ${data.length}`);
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  const dict = `{'descr': '${dtype}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  let preamble = 10;
  let padded = Math.ceil((preamble + dict.length + 1) / 64) * 64 - preamble;
  if (padded > 0xffff) {
    preamble = 12;
    padded = Math.ceil((preamble + dict.length + 1) / 64) * 64 - preamble;
  }
  const header = dict + ' '.repeat(padded - dict.length - 1) + '\n';
  const itemBytes = ITEM_BYTES[dtype];
  const out = new Uint8Array(preamble + padded + count * itemBytes);
  out.set(MAGIC);
  out[6] = preamble === 10 ? 1 : 2;
  out[7] = 0;
  const view = new DataView(out.buffer);
  if (preamble === 10) view.setUint16(8, padded, true);
  else view.setUint32(8, padded, true);
  for (let i = 0; i < header.length; i++) out[preamble + i] = header.charCodeAt(i);
  const start = preamble + padded;
  for (let i = 0; i < count; i++) {
    const offset = start + i * itemBytes;
    switch (dtype) {
      case '<f4':
        view.setFloat32(offset, (data as Float32Array)[i], true);
        break;
      case '<f8':
        view.setFloat64(offset, (data as Float64Array)[i], true);
        break;
      case '<i4':
        view.setInt32(offset, (data as Int32Array)[i], true);
        break;
      case '<i8':
        view.setBigInt64(offset, (data as BigInt64Array)[i], true);
        break;
      case '|u1':
        out[offset] = (data as Uint8Array)[i];
        break;
    }
  }
  return out;
}

/** The values as float32 (float64 rounds; integers convert exactly up to 2^24). */
export function npyToFloat32(array: NpyArray): Float32Array {
  const { data } = array;
  if (data instanceof BigInt64Array) return Float32Array.from(data, (v) => Number(v));
  return data instanceof Float32Array ? data : Float32Array.from(data);
}

/** The values as int32; refuses non-integer or out-of-range values instead of truncating them. */
export function npyToInt32(array: NpyArray): Int32Array {
  const { data } = array;
  if (data instanceof Int32Array) return data;
  const out = new Int32Array(data.length);
  for (let i = 0; i < data.length; i++) {
    const value = Number(data[i]);
    if (!Number.isInteger(value) || value < -(2 ** 31) || value >= 2 ** 31)
      throw new NpyError(`value ${value} at index ${i} is not an int32`);
    out[i] = value;
  }
  return out;
}

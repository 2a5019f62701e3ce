import { describe, expect, it } from 'vitest';
import { float16BitsToFloat32, float32ToFloat16Bits } from './float16';

const encode = (values: number[]) => Array.from(float32ToFloat16Bits(Float32Array.from(values)));
const decode = (bits: number[]) => Array.from(float16BitsToFloat32(Uint16Array.from(bits)));

describe('float16', () => {
  it('encodes known values to their IEEE half bit patterns', () => {
    expect(encode([0, -0, 1, -2, 0.5, 65504, 0.1, 2 ** -14, 2 ** -24])).toEqual([
      0x0000, 0x8000, 0x3c00, 0xc000, 0x3800, 0x7bff, 0x2e66, 0x0400, 0x0001,
    ]);
  });

  it('decodes normals, subnormals, infinities and NaN', () => {
    const [one, negTwo, max, smallestNormal, smallestSubnormal, inf, negInf, nan] = decode([
      0x3c00, 0xc000, 0x7bff, 0x0400, 0x0001, 0x7c00, 0xfc00, 0x7e00,
    ]);
    expect([one, negTwo, max, smallestNormal, smallestSubnormal]).toEqual([1, -2, 65504, 2 ** -14, 2 ** -24]);
    expect([inf, negInf]).toEqual([Infinity, -Infinity]);
    expect(Number.isNaN(nan)).toBe(true);
  });

  it('round-trips every finite half value exactly', () => {
    const bits = Uint16Array.from({ length: 0x10000 }, (_, k) => k).filter((k) => ((k >> 10) & 0x1f) !== 0x1f);
    const back = float32ToFloat16Bits(float16BitsToFloat32(bits));
    const mismatches = Array.from(back).filter((b, i) => b !== bits[i]);
    expect(mismatches).toEqual([]);
  });

  it('rounds to nearest, ties to even, and overflows to infinity', () => {
    // 1 + 2^-11 is halfway between 1 and the next half (1 + 2^-10): ties go to the even mantissa (1).
    // 1 + 3 * 2^-11 is halfway between 1 + 2^-10 and 1 + 2^-9: ties go to the even one (1 + 2^-9).
    expect(encode([1 + 2 ** -11, 1 + 3 * 2 ** -11, 1 + 2 ** -11 + 2 ** -20])).toEqual([0x3c00, 0x3c02, 0x3c01]);
    expect(encode([65520, -1e6, 2 ** -26])).toEqual([0x7c00, 0xfc00, 0x0000]);
    expect(encode([Infinity, -Infinity])).toEqual([0x7c00, 0xfc00]);
    expect(decode(encode([NaN])).every(Number.isNaN)).toBe(true);
  });

  it('keeps relative error within 2^-11 over the normal range', () => {
    const values = Float32Array.from({ length: 2000 }, (_, k) => (k % 2 ? -1 : 1) * Math.exp(-9 + k * 0.01));
    const back = float16BitsToFloat32(float32ToFloat16Bits(values));
    values.forEach((v, i) => expect(Math.abs(back[i] - v)).toBeLessThanOrEqual(Math.abs(v) * 2 ** -11));
  });
});

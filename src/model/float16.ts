/**
 * IEEE 754 half precision <-> float32, bit-exact, for float16-quantised weights (docs/model-format.md).
 * Encoding rounds to nearest, ties to even, like numpy's astype(float16).
 */

/** Decodes half-precision bit patterns. Subnormals, infinities and NaN are preserved. */
export function float16BitsToFloat32(bits: Uint16Array): Float32Array {
  const out = new Float32Array(bits.length);
  const outBits = new Uint32Array(out.buffer);
  for (let i = 0; i < bits.length; i++) {
    const h = bits[i];
    const sign = (h & 0x8000) << 16;
    const exponent = (h >> 10) & 0x1f;
    const mantissa = h & 0x3ff;
    if (exponent === 0) {
      // Zero or subnormal: mantissa * 2^-24, exactly representable in float32.
      out[i] = (sign ? -1 : 1) * mantissa * 2 ** -24;
    } else if (exponent === 0x1f) {
      outBits[i] = sign | 0x7f800000 | (mantissa << 13);
    } else {
      outBits[i] = sign | ((exponent + 112) << 23) | (mantissa << 13);
    }
  }
  return out;
}

/** Encodes float32 values as half-precision bit patterns (round to nearest even; overflow gives +-Inf). */
export function float32ToFloat16Bits(values: Float32Array): Uint16Array {
  const inBits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const x = inBits[i];
    const sign = (x >>> 16) & 0x8000;
    const exponent = (x >>> 23) & 0xff;
    let mantissa = x & 0x7fffff;
    if (exponent === 0xff) {
      out[i] = sign | 0x7c00 | (mantissa !== 0 ? 0x200 : 0);
      continue;
    }
    const halfExponent = exponent - 127 + 15;
    if (halfExponent >= 0x1f) {
      out[i] = sign | 0x7c00;
    } else if (halfExponent <= 0) {
      if (halfExponent < -10) {
        out[i] = sign; // below half the smallest subnormal: rounds to zero
        continue;
      }
      mantissa |= 0x800000; // implicit leading one
      const shift = 14 - halfExponent;
      let half = mantissa >>> shift;
      const remainder = mantissa & ((1 << shift) - 1);
      const halfway = 1 << (shift - 1);
      if (remainder > halfway || (remainder === halfway && (half & 1) === 1)) half++;
      out[i] = sign | half;
    } else {
      let half = (halfExponent << 10) | (mantissa >>> 13);
      const remainder = mantissa & 0x1fff;
      // A carry out of the mantissa correctly bumps the exponent (up to Inf).
      if (remainder > 0x1000 || (remainder === 0x1000 && (half & 1) === 1)) half++;
      out[i] = sign | half;
    }
  }
  return out;
}

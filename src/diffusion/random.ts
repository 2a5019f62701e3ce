/**
 * A small seeded random source, so that every stochastic result of src/diffusion (DDIM noise at eta > 0, the
 * I-MMSE estimator's log-SNR draws, noise and dequantisation) is reproducible from a seed on any backend.
 * tfjs's own random ops are not: their streams differ between backends and versions. No tfjs import here, so
 * code outside the engine can draw the same streams (normalTensor.ts uploads them).
 */

/** A seeded stream of uniform and standard-normal numbers. Each call advances the stream. */
export interface Rng {
  /** One uniform number in [0, 1). */
  uniform(): number;
  /** n uniform numbers in [0, 1). */
  uniforms(n: number): Float64Array;
  /** n standard-normal numbers (float32, ready to upload as a tensor). */
  normals(n: number): Float32Array;
}

/** The constant Mulberry32 adds to its state before each draw (Weyl sequence). */
const MULBERRY32_INCREMENT = 0x6d2b79f5;

/**
 * Mulberry32 (Tommy Ettinger's 32-bit generator) for uniforms and Box-Muller for normals. A period of 2^32
 * is plenty for images of a few thousand pixels times a few hundred draws.
 * @param seed any integer; seeds equal modulo 2^32 give equal streams
 */
export function createRng(seed: number): Rng {
  if (!Number.isInteger(seed)) throw new RangeError(`createRng: seed must be an integer, got ${seed}`);
  // Mulberry32's state walks by a fixed increment, so a raw seed s + MULBERRY32_INCREMENT would replay seed s's
  // stream one draw late; hashing the seed first scatters nearby and related seeds (the engine uses seed + b for
  // the b-th image of a batch) across the cycle.
  let state = scrambleSeed(seed >>> 0);
  const uniform = (): number => {
    state = (state + MULBERRY32_INCREMENT) >>> 0;
    let mixed = Math.imul(state ^ (state >>> 15), 1 | state);
    mixed = (mixed + Math.imul(mixed ^ (mixed >>> 7), 61 | mixed)) ^ mixed;
    return ((mixed ^ (mixed >>> 14)) >>> 0) / 4294967296;
  };
  return {
    uniform,
    uniforms(n: number): Float64Array {
      const out = new Float64Array(n);
      for (let k = 0; k < n; k++) out[k] = uniform();
      return out;
    },
    normals(n: number): Float32Array {
      const out = new Float32Array(n);
      for (let k = 0; k < n; k += 2) {
        // 1 - u lies in (0, 1], so the logarithm is finite.
        const radius = Math.sqrt(-2 * Math.log(1 - uniform()));
        const angle = 2 * Math.PI * uniform();
        out[k] = radius * Math.cos(angle);
        if (k + 1 < n) out[k + 1] = radius * Math.sin(angle);
      }
      return out;
    },
  };
}

/** MurmurHash3's 32-bit finaliser: a bijection on 32-bit integers with full avalanche. */
function scrambleSeed(seed: number): number {
  let h = seed;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

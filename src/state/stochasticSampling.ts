/**
 * Which DDIM the explorer's renders use, as plain data a store, a link or IndexedDB can hold.
 *
 * - A draw from the prior renders with η = 1: deterministic DDIM from fresh noise leaves speckle on many samples
 *   of the shipped models, η = 1 does not (docs/results.md, "Samplers").
 * - An encoded image keeps η = 0 (`null` here): its x_T is a DDIM inversion, which only the deterministic sampler
 *   maps back to the image.
 *
 * The fresh noise of every step is a function of the x_T's noise state alone (never of a batch's other rows),
 * so a traversal row or an interpolation end with the main view's z and x_T renders the main view's image.
 */
import { normalDraws, slerp } from '../app/latentMath';
import type { StepNoiseBatch } from '../engine/protocol';
import type { ModelMetadata } from '../model/metadata';

/** Where the noise added at each DDIM step comes from. */
export type StepNoiseSource =
  /** The seed's normals that follow x_T's own (normalDraws(seed) is x_T, then one image per step). */
  | { kind: 'seed'; seed: number }
  /** Each step's noise slerped between two sources' (a frame between two stochastic endpoints). */
  | { kind: 'slerp'; a: StepNoiseSource; b: StepNoiseSource; e: number };

/** Stochastic DDIM: η in (0, 1] and the per-step noise. */
export interface StochasticSampling {
  eta: number;
  stepNoise: StepNoiseSource;
}

/** The sampler of an x_T drawn from the seed: η = 1 with the seed's own stream. */
export function priorSampling(seed: number): StochasticSampling {
  return { eta: 1, stepNoise: { kind: 'seed', seed } };
}

/**
 * The sampler at fraction e between two endpoints' (null: deterministic): η moves linearly, the step noise by
 * slerp, so both ends come out exactly. Between a deterministic and a stochastic endpoint only η changes; the
 * step noise is the stochastic one's.
 */
export function mixSampling(a: StochasticSampling | null, b: StochasticSampling | null, e: number): StochasticSampling | null {
  if (!a && !b) return null;
  const eta = (1 - e) * (a?.eta ?? 0) + e * (b?.eta ?? 0);
  if (!(eta > 0)) return null;
  if (!a || !b) return { eta, stepNoise: (a ?? b)!.stepNoise };
  const same = JSON.stringify(a.stepNoise) === JSON.stringify(b.stepNoise);
  if (same || e === 0 || e === 1) return { eta, stepNoise: e === 1 ? b.stepNoise : a.stepNoise };
  return { eta, stepNoise: { kind: 'slerp', a: a.stepNoise, b: b.stepNoise, e } };
}

/** Recently drawn step noise: a drag re-renders the same x_T many times, a traversal uses one x_T per row. */
const drawCache = new Map<string, Float32Array>();
const DRAW_CACHE_SIZE = 16;

/**
 * The noise of `steps` steps of one image, step after step (length steps * imageCount). The array is shared
 * with the cache: read it, never write it.
 */
export function stepNoiseDraws(source: StepNoiseSource, steps: number, imageCount: number): Float32Array {
  const key = `${JSON.stringify(source)}|${steps}|${imageCount}`;
  const cached = drawCache.get(key);
  if (cached) return cached;
  let draws: Float32Array;
  if (source.kind === 'seed') {
    draws = normalDraws((steps + 1) * imageCount, source.seed).subarray(imageCount);
  } else {
    const [a, b] = [stepNoiseDraws(source.a, steps, imageCount), stepNoiseDraws(source.b, steps, imageCount)];
    draws = new Float32Array(steps * imageCount);
    for (let s = 0; s < steps; s += 1) {
      const range = [s * imageCount, (s + 1) * imageCount] as const;
      draws.set(slerp(a.subarray(...range), b.subarray(...range), source.e), s * imageCount);
    }
  }
  if (drawCache.size >= DRAW_CACHE_SIZE) drawCache.delete(drawCache.keys().next().value!);
  drawCache.set(key, draws);
  return draws;
}

/**
 * The sampler part of a sample request whose rows have these samplers: η 0 when every row is deterministic,
 * else η per row (one number when they agree) and each row's own step noise.
 */
export function samplerParams(
  rows: readonly (StochasticSampling | null)[],
  steps: number,
  metadata: ModelMetadata,
): { eta: number | number[]; stepNoise?: StepNoiseBatch } {
  if (rows.every((row) => row === null)) return { eta: 0 };
  const etas = rows.map((row) => row?.eta ?? 0);
  const { imageSize, channels } = metadata.preprocessing;
  const imageCount = imageSize * imageSize * channels;
  const batch = rows.length;
  const data = new Float32Array(steps * batch * imageCount);
  rows.forEach((row, b) => {
    if (!row) return;
    const draws = stepNoiseDraws(row.stepNoise, steps, imageCount);
    for (let s = 0; s < steps; s += 1) data.set(draws.subarray(s * imageCount, (s + 1) * imageCount), (s * batch + b) * imageCount);
  });
  return {
    eta: etas.every((eta) => eta === etas[0]) ? etas[0] : etas,
    stepNoise: { shape: [steps, batch, imageSize, imageSize, channels], data },
  };
}

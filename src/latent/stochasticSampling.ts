/**
 * Which DDIM the explorer's renders use, as plain data a store, a link or IndexedDB can hold.
 *
 * - A draw from the prior renders with η = 1: deterministic DDIM from fresh noise leaves speckle on many samples
 *   of the shipped models, η = 1 does not (docs/results.md, "Samplers").
 * - An encoded image keeps η = 0 (`null` here): its x_T is a DDIM inversion, which only the deterministic sampler
 *   maps back to the image.
 *
 * The fresh noise of every step is a function of the x_T's noise state alone (never of a batch's other rows),
 * so a traversal row or an interpolation end with the main view's z and x_T renders the main view's image. The
 * engine draws it from the source each request names (src/engine/stepNoise.ts); nothing is drawn here.
 */
import type { SampleRequest, StepNoiseSource } from '../engine/protocol';

export type { StepNoiseSource };

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
export function mixSampling(
  a: StochasticSampling | null,
  b: StochasticSampling | null,
  e: number,
): StochasticSampling | null {
  if (!a && !b) return null;
  const eta = (1 - e) * (a?.eta ?? 0) + e * (b?.eta ?? 0);
  if (!(eta > 0)) return null;
  if (!a || !b) return { eta, stepNoise: (a ?? b)!.stepNoise };
  const same = JSON.stringify(a.stepNoise) === JSON.stringify(b.stepNoise);
  if (same || e === 0 || e === 1) return { eta, stepNoise: e === 1 ? b.stepNoise : a.stepNoise };
  return { eta, stepNoise: { kind: 'slerp', a: a.stepNoise, b: b.stepNoise, e } };
}

/**
 * The sampler part of a sample request whose rows have these samplers: η 0 when every row is deterministic,
 * else η per row (one number when they agree) and each row's own step-noise source (null for an η = 0 row).
 */
export function samplerParams(
  rows: readonly (StochasticSampling | null)[],
): Pick<SampleRequest, 'eta' | 'stepNoiseSources'> {
  if (rows.every((row) => row === null)) return { eta: 0 };
  const etas = rows.map((row) => row?.eta ?? 0);
  return {
    eta: etas.every((eta) => eta === etas[0]) ? etas[0] : etas,
    stepNoiseSources: rows.map((row) => row?.stepNoise ?? null),
  };
}

import { describe, expect, it } from 'vitest';
import { normalDraws, slerp } from '../app/latentMath';
import { storedNoise } from './latentSlice';
import { mixSampling, priorSampling, samplerParams, stepNoiseDraws } from './stochasticSampling';
import { fakeMetadata, FAKE_SIZE } from './testing/fakeEngine';

const PIXELS = FAKE_SIZE * FAKE_SIZE;

describe('step noise', () => {
  it("continues the seed's stream after x_T, deterministically", () => {
    const draws = stepNoiseDraws({ kind: 'seed', seed: 7 }, 3, PIXELS);
    expect(Array.from(draws)).toEqual(Array.from(normalDraws(4 * PIXELS, 7).subarray(PIXELS)));
    // x_T is the stream's start, so the step noise is not x_T again.
    expect(Array.from(draws.subarray(0, PIXELS))).not.toEqual(Array.from(normalDraws(PIXELS, 7)));
    expect(stepNoiseDraws({ kind: 'seed', seed: 7 }, 3, PIXELS)).toBe(draws);
  });

  it('slerps each step on its own between two sources', () => {
    const [a, b] = [stepNoiseDraws({ kind: 'seed', seed: 1 }, 2, PIXELS), stepNoiseDraws({ kind: 'seed', seed: 2 }, 2, PIXELS)];
    const mixed = stepNoiseDraws({ kind: 'slerp', a: { kind: 'seed', seed: 1 }, b: { kind: 'seed', seed: 2 }, e: 0.25 }, 2, PIXELS);
    for (const s of [0, 1]) {
      const range = [s * PIXELS, (s + 1) * PIXELS] as const;
      expect(Array.from(mixed.subarray(...range))).toEqual(Array.from(slerp(a.subarray(...range), b.subarray(...range), 0.25)));
    }
  });
});

describe('mixSampling', () => {
  const [one, five] = [priorSampling(1), priorSampling(5)];

  it('is exact at both ends and slerps the step noise between two prior draws', () => {
    expect(mixSampling(one, five, 0)).toEqual(one);
    expect(mixSampling(one, five, 1)).toEqual(five);
    expect(mixSampling(one, five, 0.5)).toEqual({ eta: 1, stepNoise: { kind: 'slerp', a: one.stepNoise, b: five.stepNoise, e: 0.5 } });
    expect(mixSampling(one, one, 0.5)).toEqual(one);
  });

  it('moves eta linearly towards a deterministic endpoint and keeps the stochastic one’s noise', () => {
    expect(mixSampling(null, null, 0.5)).toBeNull();
    expect(mixSampling(null, five, 0)).toBeNull();
    expect(mixSampling(null, five, 0.25)).toEqual({ eta: 0.25, stepNoise: five.stepNoise });
    expect(mixSampling(one, null, 0.25)).toEqual({ eta: 0.75, stepNoise: one.stepNoise });
    expect(mixSampling(one, null, 1)).toBeNull();
  });
});

describe('samplerParams', () => {
  const metadata = fakeMetadata();

  it('asks for deterministic DDIM when no row is stochastic', () => {
    expect(samplerParams([null, null], 4, metadata)).toEqual({ eta: 0 });
  });

  it("lays out each row's own step noise [steps, batch, H, W, C], the same in any batch", () => {
    const alone = samplerParams([priorSampling(3)], 2, metadata);
    const batched = samplerParams([null, priorSampling(3), { eta: 0.5, stepNoise: { kind: 'seed', seed: 9 } }], 2, metadata);
    expect(alone.eta).toBe(1);
    expect(batched.eta).toEqual([0, 1, 0.5]);
    expect(batched.stepNoise!.shape).toEqual([2, 3, FAKE_SIZE, FAKE_SIZE, 1]);
    const row = (params: typeof batched, batch: number, s: number, b: number) => Array.from(params.stepNoise!.data.subarray((s * batch + b) * PIXELS, (s * batch + b + 1) * PIXELS));
    for (const s of [0, 1]) {
      expect(row(batched, 3, s, 1)).toEqual(row(alone, 1, s, 0));
      expect(row(batched, 3, s, 0)).toEqual(new Array(PIXELS).fill(0));
    }
    expect(samplerParams([priorSampling(3), priorSampling(4)], 2, metadata).eta).toBe(1);
  });
});

describe('storedNoise', () => {
  const xNoise = new Float32Array(PIXELS);

  it('gives a seed its prior sampler, whatever the record says, and keeps a stored sampler otherwise', () => {
    expect(storedNoise({ kind: 'seed', seed: 4 }, 'saved:x', { xNoise, stochastic: null })).toMatchObject({ id: 'seed:4', stochastic: priorSampling(4) });
    const mixed = mixSampling(priorSampling(1), priorSampling(2), 0.5);
    expect(storedNoise(null, 'saved:x', { xNoise, stochastic: mixed })).toMatchObject({ id: 'saved:x', stochastic: mixed });
    // Records from before the field rendered with eta 0.
    expect(storedNoise({ kind: 'gallery', index: 0 }, 'session:1', { xNoise })).toMatchObject({ id: 'session:1', stochastic: null });
  });
});

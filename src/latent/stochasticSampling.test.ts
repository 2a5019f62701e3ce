import { describe, expect, it } from 'vitest';
import { mixSampling, priorSampling, samplerParams } from './stochasticSampling';

describe('mixSampling', () => {
  const [one, five] = [priorSampling(1), priorSampling(5)];

  it('is exact at both ends and slerps the step noise between two prior draws', () => {
    expect(mixSampling(one, five, 0)).toEqual(one);
    expect(mixSampling(one, five, 1)).toEqual(five);
    expect(mixSampling(one, five, 0.5)).toEqual({
      eta: 1,
      stepNoise: { kind: 'slerp', a: one.stepNoise, b: five.stepNoise, e: 0.5 },
    });
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
  it('asks for deterministic DDIM when no row is stochastic', () => {
    expect(samplerParams([null, null])).toEqual({ eta: 0 });
  });

  // The engine lays each source's draws out per row (src/engine/stepNoise.test.ts), the same in any batch.
  it("names each row's own step-noise source, the same in any batch", () => {
    const alone = samplerParams([priorSampling(3)]);
    const batched = samplerParams([null, priorSampling(3), { eta: 0.5, stepNoise: { kind: 'seed', seed: 9 } }]);
    expect(alone.eta).toBe(1);
    expect(batched.eta).toEqual([0, 1, 0.5]);
    expect(batched.stepNoiseSources).toEqual([null, alone.stepNoiseSources![0], { kind: 'seed', seed: 9 }]);
    expect(samplerParams([priorSampling(3), priorSampling(4)]).eta).toBe(1);
  });
});

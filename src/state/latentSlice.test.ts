import { describe, expect, it } from 'vitest';
import { mixSampling, priorSampling } from '../latent/stochasticSampling';
import { storedNoise } from './latentSlice';
import { FAKE_SIZE } from './testing/fakeEngine';

const PIXELS = FAKE_SIZE * FAKE_SIZE;

describe('storedNoise', () => {
  const xNoise = new Float32Array(PIXELS);

  it('gives a seed its prior sampler, whatever the record says, and keeps a stored sampler otherwise', () => {
    expect(storedNoise({ kind: 'seed', seed: 4 }, 'saved:x', { xNoise, stochastic: null })).toMatchObject({
      id: 'seed:4',
      stochastic: priorSampling(4),
    });
    const mixed = mixSampling(priorSampling(1), priorSampling(2), 0.5);
    expect(storedNoise(null, 'saved:x', { xNoise, stochastic: mixed })).toMatchObject({
      id: 'saved:x',
      stochastic: mixed,
    });
    // Records from before the field rendered with eta 0.
    expect(storedNoise({ kind: 'gallery', index: 0 }, 'session:1', { xNoise })).toMatchObject({
      id: 'session:1',
      stochastic: null,
    });
  });
});

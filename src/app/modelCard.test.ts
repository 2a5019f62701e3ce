import { describe, expect, it } from 'vitest';
import { resolveArchitecture, resolveSchedule } from '../model/config';
import type { ModelMetadata } from '../model/metadata';
import { syntheticModelMetadata } from '../model/random';
import { formatDuration, modelCard, modelLabel } from './modelCard';

const FIXTURE = syntheticModelMetadata(
  resolveArchitecture({ imageSize: 16, latentDim: 8 }),
  resolveSchedule({ timesteps: 10 }),
);

function trained(overrides: Partial<ModelMetadata['provenance']>): ModelMetadata {
  return {
    ...FIXTURE,
    architecture: { ...FIXTURE.architecture, imageSize: 32, imageChannels: 3, latentDim: 16 },
    provenance: {
      ...FIXTURE.provenance,
      source: 'trained',
      dataset: 'shapes',
      objective: { mmdWeight: 0.1, kldWeight: 0, prior: 'regular' },
      steps: 4000,
      batchSize: 64,
      wallTimeSeconds: 3 * 3600 + 6 * 60,
      hardware: 'CPU, 1 thread(s) (torch 1.13.0a0)',
      notes: 'CPU-sized configuration.',
      ...overrides,
    },
  };
}

const value = (rows: { label: string; value: string }[], label: string) =>
  rows.find((row) => row.label === label)?.value;

describe('modelCard', () => {
  it('says a fixture has random weights and no measurements', () => {
    const card = modelCard(FIXTURE);
    expect(value(card.facts, 'Weights')).toMatch(/random/);
    expect(value(card.facts, 'Training')).toBeUndefined();
    expect(card.metrics).toEqual([]);
  });

  it('says a baseline package is the baseline of its model, first', () => {
    expect(value(modelCard(trained({})).facts, 'Role')).toBeUndefined();
    const card = modelCard({ ...trained({}), baselineOf: 'fashion-mnist' });
    expect(card.facts[0]).toEqual({ label: 'Role', value: 'baseline of fashion-mnist' });
  });

  it('says what the distilled student is and how faithful it measured', () => {
    expect(value(modelCard(trained({})).facts, 'Previews')).toBeUndefined();
    const student = {
      parameterisation: 'v' as const,
      plan: [999, 500],
      teacherSteps: 20,
      training: { steps: 3000, wallTimeSeconds: 2 * 3600 + 600 },
      fidelity: {
        images: 1000,
        inverted: { calls1: 24.04, calls2: 29.06 },
        plainDdim: { calls1: 16.4, calls2: 16.42 },
        priorFrechet: { calls1: 12.272, calls2: 5.57 },
        settledFrechet: 5.081,
      },
    };
    const previews = value(modelCard({ ...trained({}), student }).facts, 'Previews');
    expect(previews).toBe(
      'a distilled student draws the image while z changes: 2 calls (v-prediction) standing in for the 20-step sampler; ' +
        '29.1 dB PSNR against it at 2 calls, 24.0 at 1, plain DDIM 16.4, on 1,000 held-out images; ' +
        "on prior draws a Fréchet distance of 5.6 against the full sampler's 5.1 on the same draws (12.3 at 1 call); " +
        'distilled in 3,000 steps, 2h10m',
    );
    // A package measured before prior-draw distances were recorded: the rest of the sentence.
    const { priorFrechet: _, ...older } = student.fidelity;
    expect(
      value(modelCard({ ...trained({}), student: { ...student, fidelity: older } }).facts, 'Previews'),
    ).not.toMatch(/prior draws/);
    // Not measured yet: the card says what it is, and no number.
    expect(value(modelCard({ ...trained({}), student: { ...student, fidelity: {} } }).facts, 'Previews')).not.toMatch(
      /dB/,
    );
  });

  it('describes a trained model: data, latent, objective, budget', () => {
    const card = modelCard(trained({}));
    expect(value(card.facts, 'Data')).toBe('shapes, 32×32 RGB');
    expect(value(card.facts, 'Latent')).toBe('16 dimensions, N(0, I) prior');
    const base = trained({});
    const fitted = {
      ...base,
      latent: {
        ...base.latent,
        fitted: { kind: 'gaussianMixture' as const, fittedOn: 10, weights: [0.5, 0.5], means: [], scaleTril: [] },
      },
    };
    expect(value(modelCard(fitted).facts, 'Latent')).toBe(
      '16 dimensions, N(0, I) prior; samples from a 2-component mixture fitted to the codes',
    );
    expect(value(card.facts, 'Objective')).toMatch(/^InfoDiffusion: .*λ 0\.1/);
    expect(value(card.facts, 'Training')).toBe(
      '4,000 steps of batch 64, 3h06m on CPU, 1 thread(s) (torch 1.13.0a0) (trained by train/)',
    );
    expect(card.notes).toBe('CPU-sized configuration.');
    expect(value(modelCard(trained({ objective: { mmdWeight: 0 } })).facts, 'Objective')).toMatch(/^DiffAE-style/);
    const converted = modelCard(
      trained({ source: 'converted-official', steps: 0, wallTimeSeconds: 0, hardware: 'unknown' }),
    );
    expect(value(converted.facts, 'Training')).toBe('steps unknown on unknown (converted from an official checkpoint)');
  });

  it('lists only the measurements the package has, with the step they were taken at', () => {
    const metrics = {
      model: { trainingSteps: 4000 },
      linearProbe: { meanAccuracy: 0.6234, attributes: { shape: {}, scale: {} } },
      dci: { disentanglement: 0.2101 },
      factorSwap: {
        factors: { wall_hue: { invertedNoise: 0.384, freshNoise: 0.1 }, shape: { invertedNoise: 0.91 }, scale: {} },
      },
      frechetDistance: { frechetDistance: 12.345, sampleCount: 1000 },
      nll: { bitsPerDim8bit: 4.5 },
      reconstruction: { inversion100: { psnr: 44.06 } },
      recognisability: { samples: { meanConfidence: 'not a number' } },
    };
    const card = modelCard(trained({ metrics }));
    expect(card.metrics.map((row) => row.label)).toEqual([
      'Linear probe of z',
      'Disentanglement (DCI)',
      'What z decides (factor swap)',
      'Fréchet distance of samples',
      '−log p(x | z)',
      'Reconstruction',
      'Measured at',
    ]);
    expect(value(card.metrics, 'Linear probe of z')).toBe('62.3% (mean over factors), 5-fold');
    expect(value(card.metrics, 'What z decides (factor swap)')).toBe(
      'wall hue 38%, shape 91%; the rest follows the starting noise x_T',
    );
    expect(value(card.metrics, 'Fréchet distance of samples')).toBe('12.3 (1,000 samples)');
    expect(value(card.metrics, 'Reconstruction')).toBe('44.1 dB PSNR (100-step inversion)');
    expect(value(card.metrics, 'Measured at')).toBe('step 4,000');
    const classes = modelCard(
      trained({ metrics: { linearProbe: { meanAccuracy: 0.785, attributes: { class: {} } } } }),
    );
    expect(value(classes.metrics, 'Linear probe of z')).toBe('78.5%, 5-fold');
    const judged = modelCard(
      trained({ metrics: { recognisability: { samples: { meanConfidence: 0.5, heads: { shape: {}, scale: {} } } } } }),
    );
    expect(value(judged.metrics, "Classifier's confidence on samples")).toBe('50.0% (mean over factors)');
  });

  it('shows beside the headline numbers the samples as this app draws them, and real images for scale', () => {
    const sampler = (prior: string, eta: number, fd: number, confidence: number) => ({
      prior,
      eta,
      frechetDistance: fd,
      recognisability: { meanConfidence: confidence },
    });
    const metrics = {
      frechetDistance: { frechetDistance: 49.04, sampleCount: 1000, prior: 'z ~ N(0, I)', eta: 0 },
      recognisability: {
        samples: { meanConfidence: 0.665, heads: { class: {} } },
        testImages: { meanConfidence: 0.894 },
      },
      samplers: [
        sampler('model', 0, 49.04, 0.665),
        sampler('model', 1, 42.7, 0.647),
        sampler('fitted', 0, 34.4, 0.703),
        sampler('fitted', 1, 27.43, 0.749),
      ],
    };
    const base = trained({ metrics });
    const fitted = {
      ...base,
      latent: {
        ...base.latent,
        fitted: { kind: 'gaussianMixture' as const, fittedOn: 10, weights: [1], means: [], scaleTril: [] },
      },
    };
    const card = modelCard(fitted);
    expect(value(card.metrics, 'Fréchet distance of samples')).toBe(
      '49.0 (1,000 samples) with z ~ N(0, I), η = 0; 27.4 as this app samples (fitted mixture, η = 1)',
    );
    expect(value(card.metrics, "Classifier's confidence on samples")).toBe(
      '66.5% with z ~ N(0, I), η = 0; 74.9% as this app samples (fitted mixture, η = 1); 89.4% on real test images',
    );
    // Without a fitted mixture the app draws z from N(0, I), still with η = 1.
    expect(value(modelCard(base).metrics, "Classifier's confidence on samples")).toBe(
      '66.5% with z ~ N(0, I), η = 0; 64.7% as this app samples (z ~ N(0, I), η = 1); 89.4% on real test images',
    );
  });
});

describe('formatDuration', () => {
  it('reads like a clock', () => {
    expect([formatDuration(45), formatDuration(720), formatDuration(11160), formatDuration(Number.NaN)]).toEqual([
      '45s',
      '12m',
      '3h06m',
      'unknown time',
    ]);
  });
});

describe('modelLabel', () => {
  it('marks a baseline once, whether or not its name says so', () => {
    expect(modelLabel({ displayName: 'Shapes · DiffAE (CPU, 27k steps)', baselineOf: 'shapes' })).toBe(
      'Shapes · DiffAE (CPU, 27k steps) (baseline)',
    );
    expect(modelLabel({ displayName: 'Fixture baseline (random weights)', baselineOf: 'fixture' })).toBe(
      'Fixture baseline (random weights)',
    );
    expect(modelLabel({ displayName: 'Shapes · InfoDiffusion' })).toBe('Shapes · InfoDiffusion');
  });
});

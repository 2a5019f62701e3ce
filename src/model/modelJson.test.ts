/**
 * parseMetadata on the fields the PyTorch exporter writes beyond the basics: the latent prior a model was
 * trained towards, and provenance.data, the training-data draw (train/infodiff/export.py).
 */
import { describe, expect, it } from 'vitest';
import { resolveArchitecture, resolveSchedule } from './config';
import type { ModelMetadata } from './metadata';
import { ModelPackageError, parseMetadata } from './modelJson';
import { syntheticModelMetadata } from './random';
import { TINY_ARCHITECTURE } from './testing/tinyArchitecture';

// The shared tiny architecture with four latent dimensions.
const ARCH = resolveArchitecture({ ...TINY_ARCHITECTURE, latentDim: 4 });

/** A fresh valid metadata block as parsed JSON, edited by `edit`. */
function metadata(edit: (m: ModelMetadata & Record<string, unknown>) => void = () => {}): unknown {
  const m = structuredClone(syntheticModelMetadata(ARCH, resolveSchedule({ timesteps: 10 }), 'tiny')) as ModelMetadata &
    Record<string, unknown>;
  edit(m);
  return m;
}

function refusal(value: unknown): string {
  try {
    parseMetadata(value);
  } catch (error) {
    expect(error).toBeInstanceOf(ModelPackageError);
    return (error as Error).message;
  }
  throw new Error('parseMetadata accepted a block it should refuse');
}

describe('latent.fitted', () => {
  const fitted = () => ({
    kind: 'gaussianMixture',
    fittedOn: 100,
    weights: [0.5, 0.5],
    means: [
      [0, 0, 0, 0],
      [1, 1, 1, 1],
    ],
    scaleTril: [
      [1, 0, 1, 0, 0, 1, 0, 0, 0, 1],
      [0.5, 0.1, 0.5, 0, 0, 0.5, 0, 0, 0, 0.5],
    ],
  });
  const withFitted = (edit: (f: ReturnType<typeof fitted>) => void = () => {}) =>
    metadata((m) => {
      const f = fitted();
      edit(f);
      (m.latent as unknown as Record<string, unknown>).fitted = f;
    });

  it('is optional, and parsed when present', () => {
    expect(parseMetadata(metadata()).latent.fitted).toBeUndefined();
    expect(parseMetadata(withFitted()).latent.fitted).toEqual(fitted());
  });
  it('refuses a malformed mixture, naming the field', () => {
    expect(
      refusal(
        withFitted((f) => {
          f.kind = 'flow';
        }),
      ),
    ).toBe('model.json: metadata.latent.fitted.kind must be "gaussianMixture", got "flow"');
    expect(
      refusal(
        withFitted((f) => {
          f.weights = [0.5, 0.6];
        }),
      ),
    ).toBe('model.json: metadata.latent.fitted.weights must be positive and sum to 1, sum to 1.1');
    expect(
      refusal(
        withFitted((f) => {
          f.means.pop();
        }),
      ),
    ).toBe('model.json: metadata.latent.fitted.means must have 2 entries (one per component), got 1');
    expect(
      refusal(
        withFitted((f) => {
          f.scaleTril[0] = [1, 0, 1];
        }),
      ),
    ).toBe(
      'model.json: metadata.latent.fitted.scaleTril[0] must have 10 entries (latentDim (latentDim + 1) / 2), got 3',
    );
    expect(
      refusal(
        withFitted((f) => {
          f.scaleTril[1][5] = 0;
        }),
      ),
    ).toBe(
      'model.json: metadata.latent.fitted.scaleTril[1] must have a positive diagonal (a Cholesky factor); L[2][2] is 0',
    );
  });
});

describe('latent.prior', () => {
  it('accepts the normal prior and the ten-component mixture', () => {
    expect(parseMetadata(metadata()).latent.prior).toBe('normal');
    expect(
      parseMetadata(
        metadata((m) => {
          m.latent.prior = '10mix';
        }),
      ).latent.prior,
    ).toBe('10mix');
  });

  it('refuses any other prior, listing the allowed ones', () => {
    expect(
      refusal(
        metadata((m) => {
          (m.latent as { prior: string }).prior = 'roll';
        }),
      ),
    ).toBe('model.json: metadata.latent.prior must be one of "normal", "10mix", got "roll"');
  });
});

describe('provenance.data', () => {
  it('is optional, and kept when present', () => {
    expect(parseMetadata(metadata()).provenance.data).toBeUndefined();
    const parsed = parseMetadata(
      metadata((m) => {
        m.provenance.data = { seed: 64, size: 24000 };
      }),
    );
    expect(parsed.provenance.data).toEqual({ seed: 64, size: 24000 });
  });

  it('refuses a draw without a positive size, with a negative seed, or with unknown fields', () => {
    const bad = (data: unknown): string =>
      refusal(
        metadata((m) => {
          (m.provenance as unknown as Record<string, unknown>).data = data;
        }),
      );
    expect(bad({ seed: 1 })).toBe('model.json: metadata.provenance.data is missing field(s) size');
    expect(bad({ seed: 1, size: 0 })).toBe('model.json: metadata.provenance.data.size must be an integer >= 1, got 0');
    expect(bad({ seed: -1, size: 5 })).toBe(
      'model.json: metadata.provenance.data.seed must be an integer >= 0, got -1',
    );
    expect(bad({ seed: 1, size: 5, order: 'sorted' })).toBe(
      'model.json: metadata.provenance.data has unknown field(s) order',
    );
    expect(bad(7)).toBe('model.json: metadata.provenance.data must be an object, got 7');
  });

  it('still refuses unknown provenance fields', () => {
    expect(
      refusal(
        metadata((m) => {
          (m.provenance as unknown as Record<string, unknown>).command = 'train';
        }),
      ),
    ).toBe('model.json: metadata.provenance has unknown field(s) command');
  });
});

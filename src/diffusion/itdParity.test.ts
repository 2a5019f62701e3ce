/**
 * Golden parity of the I-MMSE estimators with train/infodiff/itd.py on the fixture package: on the same image, log-SNRs,
 * weights and noise (golden.json case "itd" and its facts under "itd", written by `cd train && /usr/bin/python3 -m infodiff.fixture`), the
 * per-sample errors (continuous, linear reference, discrete) and the figures of the conditional denoiser, the
 * prior-averaged one, and their ensemble must agree to 1e-4 relative error (max|a - b| / max|b| per array).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fsPackageFiles } from '../cli/fsPackageFiles';
import { loadModelPackage, npyToFloat32, parseNpy, type InfoDiffusionModel } from '../model/index';
import { relativeError } from '../model/testing/torchReference';
import { ensembleNll, estimateNll, priorAveragedPredictor, type NllEstimate } from './itd';
import { trainedLogSnrRange } from './itdDiscrete';
import { makeSchedule } from './schedule';

const ROOT = resolve(import.meta.dirname, '../..');
const GOLDEN_DIR = join(ROOT, 'e2e/fixtures/golden');
const TOLERANCE = 1e-4;

interface ItdFigures {
  continuous: number;
  continuousStdErr: number;
  discrete: number;
  discreteStdErr: number;
}

interface ItdCase {
  trainedLogSnrRange: [number, number];
  logSnrRange: [number, number];
  choice: number[];
  figures: Record<'conditional' | 'unconditional' | 'ensemble', ItdFigures>;
}

function golden(name: string): { shape: number[]; values: Float64Array } {
  const path = join(GOLDEN_DIR, name);
  if (!existsSync(path))
    throw new Error(`golden file ${path} is missing; run \`cd train && /usr/bin/python3 -m infodiff.fixture\``);
  const array = parseNpy(readFileSync(path));
  return { shape: array.shape, values: Float64Array.from(array.data as ArrayLike<number>) };
}

describe('I-MMSE golden parity with PyTorch (fixture model)', () => {
  let model: InfoDiffusionModel;
  let itdCase: ItdCase;
  const estimates: Partial<Record<'conditional' | 'unconditional', NllEstimate>> = {};

  beforeAll(async () => {
    await tf.setBackend('cpu');
    const index = JSON.parse(readFileSync(join(GOLDEN_DIR, 'golden.json'), 'utf8')) as {
      model: string;
      itd: ItdCase;
    };
    itdCase = index.itd;
    model = await loadModelPackage(fsPackageFiles(join(ROOT, index.model)));
    const schedule = makeSchedule(model.schedule);
    const x = golden('itd_x.npy');
    const z = golden('itd_z.npy');
    const zPrior = golden('itd_z_prior.npy');
    const xTensor = tf.tensor4d(Float32Array.from(x.values), x.shape as [number, number, number, number]);
    const zTensor = tf.tensor2d(Float32Array.from(z.values), z.shape as [number, number]);
    const zPriorTensor = tf.tensor2d(Float32Array.from(zPrior.values), zPrior.shape as [number, number]);
    const draws = {
      logSnr: golden('itd_log_snr.npy').values,
      weight: golden('itd_weight.npy').values,
      noise: npyToFloat32(parseNpy(readFileSync(join(GOLDEN_DIR, 'itd_noise.npy')))),
    };
    const predictEps = model.predictEps.bind(model);
    const options = {
      draws,
      discrete: true,
      dequantize: false,
      trainedLogSnrRange: trainedLogSnrRange(schedule),
      batchSize: 5,
    };
    const reference = model.metadata.gaussianReference;
    estimates.conditional = await estimateNll(predictEps, schedule, reference, xTensor, zTensor, options);
    estimates.unconditional = await estimateNll(
      priorAveragedPredictor(predictEps, zPriorTensor),
      schedule,
      reference,
      xTensor,
      zTensor,
      options,
    );
    tf.dispose([xTensor, zTensor, zPriorTensor]);
  });

  afterAll(() => model?.dispose());

  it('uses the same trained and sampled log-SNR ranges', () => {
    const schedule = makeSchedule(model.schedule);
    trainedLogSnrRange(schedule).forEach((a, i) => expect(a).toBeCloseTo(itdCase.trainedLogSnrRange[i], 9));
    estimates.conditional!.logSnrRange.forEach((a, i) => expect(a).toBeCloseTo(itdCase.logSnrRange[i], 9));
  });

  for (const member of ['conditional', 'unconditional'] as const) {
    it(`per-sample errors and figures match (${member})`, () => {
      const expected = golden(`itd_errors_${member}.npy`);
      const K = expected.shape[1];
      const { terms, discrete } = estimates[member]!;
      expect(relativeError(terms.model, expected.values.subarray(0, K))).toBeLessThan(TOLERANCE);
      expect(relativeError(terms.linear, expected.values.subarray(K, 2 * K))).toBeLessThan(TOLERANCE);
      expect(relativeError(terms.discrete!, expected.values.subarray(2 * K, 3 * K))).toBeLessThan(TOLERANCE);
      const figures = itdCase.figures[member];
      const estimate = estimates[member]!;
      expect(
        relativeError([estimate.bitsPerDim, estimate.stdErr], [figures.continuous, figures.continuousStdErr]),
      ).toBeLessThan(TOLERANCE);
      expect(
        relativeError([discrete!.bitsPerDim, discrete!.stdErr], [figures.discrete, figures.discreteStdErr]),
      ).toBeLessThan(TOLERANCE);
    });
  }

  it('the ensemble along the golden choice matches', () => {
    const choice = Int32Array.from(itdCase.choice);
    const ensemble = ensembleNll([estimates.conditional!.terms, estimates.unconditional!.terms], choice);
    const figures = itdCase.figures.ensemble;
    expect(
      relativeError(
        [
          ensemble.continuous.bitsPerDim,
          ensemble.continuous.stdErr,
          ensemble.discrete!.bitsPerDim,
          ensemble.discrete!.stdErr,
        ],
        [figures.continuous, figures.continuousStdErr, figures.discrete, figures.discreteStdErr],
      ),
    ).toBeLessThan(TOLERANCE);
  });
});

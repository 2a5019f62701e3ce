import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { OFFICIAL_SCHEDULE } from '../model/config';
import type { GaussianReference } from '../model/metadata';
import { ensembleNll, estimateNll, priorAveragedPredictor, type ItdEpsPredictor } from './itd';
import {
  discreteDenoiserKind,
  ensembleChoiceFromCurves,
  linearLeftTailNats,
  quantisationLevels,
  roundingMsePerLevel,
  roundingTailNats,
  trainedLogSnrRange,
} from './itdDiscrete';
import { createRng } from './random';
import { makeSchedule } from './schedule';
import { sigmoid } from './sigmoid';

beforeAll(async () => {
  tf.env().set('IS_TEST', true);
  await tf.setBackend('cpu');
});

const schedule = makeSchedule(OFFICIAL_SCHEDULE);
const levels = quantisationLevels();
/** Three of the 256 levels (u = 0, 96, 255) and their probabilities, the same in every pixel, pixels independent. */
const POINTS = [levels[0], levels[96], levels[255]];
const PROBS = [0.5, 0.3, 0.2];
const SHAPE: [number, number, number] = [2, 4, 1];
const D = 8;

/** The toy's exact eps-predictor (posterior mean over the three points) at the exact log-SNR; `probs` another prior. */
function toyPredictor(probs = PROBS): ItdEpsPredictor {
  return (xt, _t, _z, logSnr) => {
    const values = xt.dataSync();
    const n = xt.shape[0];
    const out = new Float32Array(values.length);
    for (let i = 0; i < values.length; i++) {
      const a = logSnr[Math.floor(i / (values.length / n))];
      const signal = Math.sqrt(sigmoid(a));
      const noiseVariance = sigmoid(-a);
      const logits = POINTS.map((p, j) => Math.log(probs[j]) - (0.5 * (values[i] - signal * p) ** 2) / noiseVariance);
      const top = Math.max(...logits);
      const weights = logits.map((l) => Math.exp(l - top));
      const sum = weights.reduce((x, y) => x + y, 0);
      const xPred = weights.reduce((acc, w, j) => acc + (w / sum) * POINTS[j], 0);
      out[i] = (values[i] - signal * xPred) / Math.sqrt(noiseVariance);
    }
    return tf.tensor4d(out, xt.shape);
  };
}

function toyReference(): GaussianReference {
  const mean = PROBS.reduce((acc, p, j) => acc + p * POINTS[j], 0);
  const variance = PROBS.reduce((acc, p, j) => acc + p * (POINTS[j] - mean) ** 2, 0);
  // A wide logistic, so the sampled range covers every log-SNR where the toy's MMSE is not yet zero.
  return {
    kind: 'diagonal',
    mean: Array.from({ length: D }, () => mean),
    variance,
    logEigenvalues: Array.from({ length: D }, () => Math.log(variance)),
    logSnrLoc: 6,
    logSnrScale: 3,
  };
}

function toyImage(seed: number): { values: Float32Array; exactNats: number } {
  const rng = createRng(seed);
  const picks: number[] = Array.from(rng.uniforms(D), (u) => (u < PROBS[0] ? 0 : u < PROBS[0] + PROBS[1] ? 1 : 2));
  return {
    values: Float32Array.from(picks, (j) => POINTS[j]),
    exactNats: -picks.reduce((acc: number, j) => acc + Math.log(PROBS[j]), 0),
  };
}

const noLatent = (): tf.Tensor2D => tf.zeros([1, 2]) as tf.Tensor2D;

describe('the exact-discrete estimate', () => {
  it('recovers -log P(x) of a three-point toy from its optimal denoiser, within its standard error', async () => {
    const z = noLatent();
    for (const seed of [1, 2, 3]) {
      const image = toyImage(seed);
      const x = tf.tensor4d(image.values, [1, ...SHAPE]);
      const before = tf.memory().numTensors;
      const estimate = await estimateNll(toyPredictor(), schedule, toyReference(), x, z, {
        samples: 512,
        batchSize: 128,
        discrete: true,
        seed,
      });
      expect(tf.memory().numTensors).toBe(before);
      const discrete = estimate.discrete!;
      const exactBits = image.exactNats / (D * Math.LN2);
      expect(Math.abs(discrete.bitsPerDim - exactBits)).toBeLessThan(3 * discrete.stdErr + 1e-3);
      expect(discrete.stdErr).toBeLessThan(0.2);
      expect(discrete.tailsBitsPerDim).toBeGreaterThan(0);
      expect(discrete.tailsBitsPerDim).toBeLessThan(0.01);
      expect(estimate.denoiserEvaluations).toBe(1024);
      x.dispose();
    }
    z.dispose();
  });

  it('never lets the ensemble above a member on the same draws, and follows the curves it is given', async () => {
    const z = noLatent();
    const image = toyImage(4);
    const x = tf.tensor4d(image.values, [1, ...SHAPE]);
    const run = (predictor: ItdEpsPredictor) =>
      estimateNll(predictor, schedule, toyReference(), x, z, { samples: 128, discrete: true, seed: 7 });
    const members = [await run(toyPredictor()), await run(toyPredictor([0.2, 0.3, 0.5]))];
    const terms = members.map((m) => m.terms);
    const perSampleBest = Int32Array.from(terms[0].model, (m, k) => (m <= terms[1].model[k] ? 0 : 1));
    const perSampleBestDiscrete = Int32Array.from(terms[0].discrete!, (e, k) => (e <= terms[1].discrete![k] ? 0 : 1));
    const ensemble = ensembleNll(terms, perSampleBest, perSampleBestDiscrete);
    for (const member of members) {
      expect(ensemble.continuous.bitsPerDim).toBeLessThanOrEqual(member.bitsPerDim + 1e-12);
      expect(ensemble.discrete!.bitsPerDim).toBeLessThanOrEqual(member.discrete!.bitsPerDim + 1e-12);
    }
    // Always the second member: exactly its figures.
    const second = ensembleNll(terms, new Int32Array(128).fill(1));
    expect(second.continuous.bitsPerDim).toBeCloseTo(members[1].bitsPerDim, 12);
    expect(second.discrete!.bitsPerDim).toBeCloseTo(members[1].discrete!.bitsPerDim, 12);
    // From curves: the lower curve wins at each log-SNR.
    const choice = ensembleChoiceFromCurves(
      [
        { logSnr: [0, 10], values: [1, 3] },
        { logSnr: [0, 10], values: [2, 2] },
      ],
      [0, 4, 6, 10],
    );
    expect(Array.from(choice)).toEqual([0, 0, 1, 1]);
    const otherDraws = await estimateNll(toyPredictor(), schedule, toyReference(), x, z, { samples: 128, seed: 8 });
    expect(() => ensembleNll([terms[0], otherDraws.terms], perSampleBest)).toThrow(/same draws/);
    tf.dispose([x, z]);
  });
});

describe('outside the trained range', () => {
  it('does not call the network there; the reference and plain rounding stand in', async () => {
    const range = trainedLogSnrRange(schedule);
    expect(range[0]).toBeCloseTo(schedule.logSnr[999], 12);
    expect(range[1]).toBeGreaterThan(11);
    const seen: number[] = [];
    const network: ItdEpsPredictor = (xt, _t, _z, logSnr) => {
      seen.push(...logSnr);
      return tf.zerosLike(xt);
    };
    const x = tf.tensor4d(toyImage(5).values, [1, ...SHAPE]);
    const z = noLatent();
    const estimate = await estimateNll(network, schedule, toyReference(), x, z, {
      samples: 64,
      discrete: true,
      trainedLogSnrRange: range,
    });
    expect(Math.min(...seen)).toBeGreaterThanOrEqual(range[0]);
    expect(Math.max(...seen)).toBeLessThanOrEqual(range[1]);
    const { terms } = estimate;
    const outside = Array.from(terms.logSnr, (a) => a < range[0] || a > range[1]);
    expect(outside.some(Boolean)).toBe(true);
    terms.logSnr.forEach((a, k) => {
      if (outside[k]) expect(terms.model[k]).toBe(terms.linear[k]);
      if (a > 16) expect(terms.discrete![k]).toBe(0);
    });
    expect(estimate.denoiserEvaluations).toBe(2 * outside.filter((o) => !o).length);
    expect(seen).toHaveLength(estimate.denoiserEvaluations);
    expect(estimate.trainedLogSnrRange).toEqual(range);
    expect([range[0] - 1, 0, 10, range[1] + 1].map((a) => discreteDenoiserKind(a, range))).toEqual([
      'linear',
      'model',
      'soft-rounded',
      'rounding',
    ]);
    tf.dispose([x, z]);
  });

  it('has tails equal to their integrals', () => {
    const [variance, distance, d, alphaLeft] = [0.3, 2.5, 8, -4];
    let numeric = 0;
    const step = 1e-3;
    for (let i = 0; i < (alphaLeft + 60) / step - 0.5; i++) {
      const mid = -60 + (i + 0.5) * step;
      const gamma = Math.exp(mid);
      numeric +=
        0.5 *
        step *
        (d * ((gamma * variance) / (gamma * variance + 1)) ** 2 + (gamma * distance) / (gamma * variance + 1) ** 2);
    }
    expect(linearLeftTailNats(alphaLeft, distance, d, variance)).toBeCloseTo(numeric, 6);
    // Monte Carlo of plain rounding at α = 11 against the analytic error.
    const rng = createRng(0);
    const alpha = 11;
    const x = levels[40];
    let total = 0;
    const draws = 200000;
    for (const n of rng.normals(draws)) {
      const rounded =
        levels[Math.min(255, Math.max(0, Math.floor((x + Math.exp(-alpha / 2) * n + 1) / (2 / 255) + 0.5)))];
      total += (rounded - x) ** 2;
    }
    expect(roundingMsePerLevel(alpha)).toBeCloseTo((Math.exp(alpha) * total) / draws, 1);
    expect(roundingMsePerLevel(alpha, true)).toBeCloseTo(roundingMsePerLevel(alpha) / 2, 12);
    expect(roundingTailNats(30)).toBe(0);
    expect(roundingTailNats(11.5)).toBeGreaterThan(0.5);
  });
});

describe('priorAveragedPredictor', () => {
  it('averages the network over the prior draws and ignores the z it is given', () => {
    const network: ItdEpsPredictor = (xt, _t, z) =>
      tf.mul(xt, tf.reshape(tf.slice(z, [0, 0], [-1, 1]), [-1, 1, 1, 1])) as tf.Tensor4D;
    const draws = tf.tensor2d([[1], [3]]);
    const xt = tf.ones([2, 1, 2, 1]) as tf.Tensor4D;
    const out = priorAveragedPredictor(network, draws)(
      xt,
      tf.zeros([2], 'int32'),
      tf.fill([2, 1], 100),
      new Float64Array(2),
    );
    expect(Array.from(out.dataSync())).toEqual([2, 2, 2, 2]);
    tf.dispose([draws, xt, out]);
  });
});

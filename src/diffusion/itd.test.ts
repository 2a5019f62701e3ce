import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { OFFICIAL_SCHEDULE } from '../model/config';
import type { GaussianReference } from '../model/metadata';
import type { EpsPredictor } from './ddim';
import { gaussianEpsPredictor } from './gaussianDenoiser';
import { LOGISTIC_CLIP, estimateNll, mmseCurve } from './itd';
import { levelIndex, quantisationLevels } from './itdDiscrete';
import { createRng } from './random';
import { makeSchedule, timestepForLogSnr } from './schedule';
import { sigmoid } from './sigmoid';

beforeAll(async () => {
  tf.env().set('IS_TEST', true);
  await tf.setBackend('cpu');
});

const schedule = makeSchedule(OFFICIAL_SCHEDULE);
const levels = quantisationLevels();

/** Gaussian data N(mean, diag(variances)) with its exact denoiser and the reference the export pipeline would store. */
interface GaussianData {
  shape: [number, number, number];
  d: number;
  mean: number[];
  variances: number[];
  reference: GaussianReference;
  predictEps: ReturnType<typeof gaussianEpsPredictor>;
  draw(seed: number): Float32Array;
  /** A draw rounded to the 256 levels: the 8-bit image the curves and the dequantised estimate are of. */
  draw8bit(seed: number): Float32Array;
}

function gaussianData(shape: [number, number, number], logVarianceRange: [number, number], seed: number): GaussianData {
  const d = shape[0] * shape[1] * shape[2];
  const rng = createRng(seed);
  const mean = Array.from(rng.uniforms(d), (u) => u - 0.5);
  const [low, high] = logVarianceRange;
  const logVariances = Array.from(rng.uniforms(d), (u) => low + (high - low) * u);
  const variances = logVariances.map(Math.exp);
  const meanLog = logVariances.reduce((a, b) => a + b, 0) / d;
  const varianceOfLogs = logVariances.reduce((a, b) => a + (b - meanLog) ** 2, 0) / d;
  const reference: GaussianReference = {
    kind: 'diagonal',
    mean,
    variance: variances.reduce((a, b) => a + b, 0) / d,
    logEigenvalues: logVariances,
    logSnrLoc: -meanLog,
    logSnrScale: Math.sqrt(1 + (3 / Math.PI) * varianceOfLogs),
  };
  return {
    shape,
    d,
    mean,
    variances,
    reference,
    predictEps: gaussianEpsPredictor(schedule, mean, variances, shape),
    draw: (drawSeed) =>
      Float32Array.from(createRng(drawSeed).normals(d), (n, k) => mean[k] + Math.sqrt(variances[k]) * n),
    draw8bit: (drawSeed) =>
      Float32Array.from(createRng(drawSeed).normals(d), (n, k) => {
        const index = levelIndex(mean[k] + Math.sqrt(variances[k]) * n);
        return levels[index];
      }),
  };
}

/** -ln N(x; mean, diag(variances)) in nats. */
function exactNats(data: GaussianData, x: ArrayLike<number>): number {
  let total = 0;
  for (let k = 0; k < data.d; k++)
    total += 0.5 * Math.log(2 * Math.PI * data.variances[k]) + (x[k] - data.mean[k]) ** 2 / (2 * data.variances[k]);
  return total;
}

const noLatent = (): tf.Tensor2D => tf.zeros([1, 4]) as tf.Tensor2D;

describe('estimateNll with the exact Gaussian denoiser', () => {
  // The last case spreads the variances over e^-7..1 and uses many samples, so the integrated part
  // -log N(x; m, diag v) + log N(x; m, v̄ I) is dozens of standard errors: a wrong weight or factor cannot hide.
  // The scalar control variate fits such a spread data set less well, hence its smaller variance reduction.
  const cases: Array<{
    name: string;
    shape: [number, number, number];
    logVarianceRange: [number, number];
    samples: number;
    minimumStdErrReduction: number;
  }> = [
    { name: 'd = 16', shape: [4, 4, 1], logVarianceRange: [-3, 0], samples: 256, minimumStdErrReduction: 3 },
    { name: 'd = 32', shape: [4, 4, 2], logVarianceRange: [-3, 0], samples: 256, minimumStdErrReduction: 3 },
    {
      name: 'd = 64, wide spectrum',
      shape: [8, 8, 1],
      logVarianceRange: [-7, 0],
      samples: 4096,
      minimumStdErrReduction: 1.5,
    },
  ];
  for (const { name, shape, logVarianceRange, samples, minimumStdErrReduction } of cases) {
    it(`returns -log N(x; m, diag v) within 3 standard errors (${name})`, async () => {
      const data = gaussianData(shape, logVarianceRange, shape[0] * 10 + shape[2]);
      const z = noLatent();
      const batchSize = 64;
      for (const drawSeed of [1, 2, 3]) {
        const values = data.draw(drawSeed);
        const x = tf.tensor4d(values, [1, ...shape]);
        const before = tf.memory().numTensors;
        const estimate = await estimateNll(data.predictEps, schedule, data.reference, x, z, {
          dequantize: false,
          seed: drawSeed,
          samples,
          batchSize,
        });
        expect(tf.memory().numTensors).toBe(before);
        const bitsPerNat = 1 / (data.d * Math.LN2);
        const exact = exactNats(data, values);
        expect(Math.abs(estimate.bitsPerDim - exact * bitsPerNat)).toBeLessThan(3 * estimate.stdErr);
        expect(estimate.nats * bitsPerNat).toBeCloseTo(estimate.bitsPerDim, 12);
        // A useful error bar, and the control variate earns its place against the plain estimator.
        expect(estimate.stdErr).toBeLessThan(0.05);
        expect(estimate.stdErr).toBeLessThan(estimate.withoutControlVariate.stdErr / minimumStdErrReduction);
        expect(estimate.denoiserCalls).toBe(samples / batchSize);
        expect(estimate.denoiserEvaluations).toBe(samples);
        if (samples >= 4096) {
          const scalarReferenceNats = values.reduce(
            (acc, v, k) =>
              acc +
              0.5 * Math.log(2 * Math.PI * data.reference.variance) +
              (v - data.mean[k]) ** 2 / (2 * data.reference.variance),
            0,
          );
          expect(Math.abs(exact - scalarReferenceNats) * bitsPerNat).toBeGreaterThan(30 * estimate.stdErr);
        }
        x.dispose();
      }
      z.dispose();
    });
  }

  it('with dequantisation, estimates E[-log N(x + u)] and shifts the 8-bit figure by log2(127.5)', async () => {
    const data = gaussianData([4, 4, 2], [-3, 0], 5);
    const values = data.draw8bit(9);
    const x = tf.tensor4d(values, [1, 4, 4, 2]);
    const z = noLatent();
    const estimate = await estimateNll(data.predictEps, schedule, data.reference, x, z, { seed: 3 });
    // E over u ~ U(-δ/2, δ/2) of (x + u - m)² / (2v) adds δ²/(24 v) per dimension.
    const step = 2 / 255;
    const dequantisationNats = data.variances.reduce((acc, v) => acc + step ** 2 / (24 * v), 0);
    const expectedBitsPerDim = (exactNats(data, values) + dequantisationNats) / (data.d * Math.LN2);
    expect(Math.abs(estimate.bitsPerDim - expectedBitsPerDim)).toBeLessThan(3 * estimate.stdErr);
    expect(estimate.bitsPerDim8bit - estimate.bitsPerDim).toBeCloseTo(Math.log2(127.5), 12);
    tf.dispose([x, z]);
  });

  it('is reproducible from its seed, and the batch size only regroups the same draws', async () => {
    const data = gaussianData([4, 4, 2], [-3, 0], 6);
    const x = tf.tensor4d(data.draw(4), [1, 4, 4, 2]);
    const z = noLatent();
    const run = (seed: number, batchSize: number): ReturnType<typeof estimateNll> =>
      estimateNll(data.predictEps, schedule, data.reference, x, z, { samples: 64, seed, batchSize });
    const [first, again, regrouped, otherSeed] = [
      await run(1, 16),
      await run(1, 16),
      await run(1, 64),
      await run(2, 16),
    ];
    expect(again.bitsPerDim).toBe(first.bitsPerDim);
    expect(regrouped.bitsPerDim).toBeCloseTo(first.bitsPerDim, 5);
    expect(regrouped.denoiserCalls).toBe(1);
    expect(first.denoiserCalls).toBe(4);
    expect(otherSeed.bitsPerDim).not.toBe(first.bitsPerDim);
    tf.dispose([x, z]);
  });
});

describe('estimateNll calling a timestep network', () => {
  it('calls it in batches with the per-sample timestep nearest to each exact log-SNR', async () => {
    const data = gaussianData([2, 2, 1], [-2, 0], 7);
    const x = tf.tensor4d(data.draw(1), [1, 2, 2, 1]);
    const z = tf.tensor2d([[0.5, -1]]);
    const batchSizes: number[] = [];
    const mismatches: string[] = [];
    const [low, high] = [
      data.reference.logSnrLoc - LOGISTIC_CLIP * data.reference.logSnrScale,
      data.reference.logSnrLoc + LOGISTIC_CLIP * data.reference.logSnrScale,
    ];
    const recording = (xt: tf.Tensor4D, t: tf.Tensor1D, zBatch: tf.Tensor2D, logSnr: Float64Array): tf.Tensor4D => {
      batchSizes.push(xt.shape[0]);
      const timesteps = t.dataSync();
      expect(t.dtype).toBe('int32');
      expect(zBatch.arraySync()).toEqual(Array.from({ length: xt.shape[0] }, () => [0.5, -1]));
      logSnr.forEach((a, k) => {
        if (a < low || a > high) mismatches.push(`log-SNR ${a} outside [${low}, ${high}]`);
        if (timesteps[k] !== timestepForLogSnr(schedule, a)) mismatches.push(`t ${timesteps[k]} for log-SNR ${a}`);
      });
      return tf.zerosLike(xt);
    };
    const estimate = await estimateNll(recording, schedule, data.reference, x, z, { samples: 100, batchSize: 32 });
    expect(batchSizes).toEqual([32, 32, 32, 4]);
    expect(estimate.denoiserCalls).toBe(4);
    expect(mismatches).toEqual([]);
    expect(estimate.logSnrRange).toEqual([low, high]);
    tf.dispose([x, z]);
  });

  it('accepts a plain EpsPredictor (three arguments) and refuses mismatched inputs by name', async () => {
    const data = gaussianData([2, 2, 1], [-2, 0], 8);
    const x = tf.tensor4d(data.draw(1), [1, 2, 2, 1]);
    const z = noLatent();
    const network: EpsPredictor = (xt) => tf.mul(xt, 0.1);
    const estimate = await estimateNll(network, schedule, data.reference, x, z, { samples: 16 });
    expect(Number.isFinite(estimate.bitsPerDim)).toBe(true);
    const before = tf.memory().numTensors;
    const shortMean = { ...data.reference, mean: data.reference.mean.slice(1) };
    await expect(estimateNll(network, schedule, shortMean, x, z)).rejects.toThrow(
      /mean has 3 entries, the image has d = 4/,
    );
    await expect(estimateNll(network, schedule, data.reference, x, z, { samples: 1 })).rejects.toThrow(
      /samples must be an integer >= 2/,
    );
    const pair = tf.concat([x, x]) as tf.Tensor4D;
    await expect(estimateNll(network, schedule, data.reference, pair, z)).rejects.toThrow(/one image \[1,H,W,C\]/);
    pair.dispose();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, z]);
  });

  it('rejects with an AbortError between batches and leaks nothing', async () => {
    const data = gaussianData([4, 4, 1], [-2, 0], 9);
    const x = tf.tensor4d(data.draw(1), [1, 4, 4, 1]);
    const z = noLatent();
    const before = tf.memory().numTensors;
    const controller = new AbortController();
    let calls = 0;
    const counting = (xt: tf.Tensor4D, t: tf.Tensor1D, zb: tf.Tensor2D, logSnr: Float64Array): tf.Tensor4D => {
      calls += 1;
      return data.predictEps(xt, t, zb, logSnr);
    };
    const run = estimateNll(counting, schedule, data.reference, x, z, {
      batchSize: 16,
      signal: controller.signal,
      onProgress: ({ evaluated }) => {
        if (evaluated === 32) controller.abort();
      },
    });
    await expect(run).rejects.toMatchObject({ name: 'AbortError' });
    expect(calls).toBe(2);
    await expect(
      mmseCurve(counting, schedule, data.reference, x, z, { signal: AbortSignal.abort() }),
    ).rejects.toMatchObject({ name: 'AbortError' });
    expect(calls).toBe(2);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, z]);
  });
});

describe('mmseCurve', () => {
  it('lays out the grid and the reference curves of docs/sources.md §2.7', async () => {
    const data = gaussianData([4, 4, 1], [-3, 0], 10);
    const x = tf.tensor4d(data.draw(1), [1, 4, 4, 1]);
    const z = noLatent();
    const before = tf.memory().numTensors;
    const curve = await mmseCurve(data.predictEps, schedule, data.reference, x, z, {
      points: 9,
      repeats: 3,
      batchSize: 8,
    });
    expect(tf.memory().numTensors).toBe(before);
    const { logSnrLoc: loc, logSnrScale: scale } = data.reference;
    expect(curve.logSnr).toHaveLength(9);
    expect(curve.logSnr[0]).toBeCloseTo(loc - 4 * scale, 12);
    expect(curve.logSnr[8]).toBeCloseTo(loc + 4 * scale, 12);
    expect(curve.logSnr[4]).toBeCloseTo(loc, 12);
    curve.logSnr.forEach((a, j) => {
      expect(curve.standardNormal[j]).toBeCloseTo(16 * sigmoid(a), 12);
      expect(curve.gaussian[j]).toBeCloseTo(
        data.variances.reduce((acc, v) => acc + sigmoid(a + Math.log(v)), 0),
        10,
      );
      expect(curve.xSpaceMmse[j]).toBeCloseTo(Math.exp(-a) * curve.mmse[j], 10);
    });
    expect(curve.denoiserCalls).toBe(Math.ceil(27 / 8));
    tf.dispose([x, z]);
  });

  it("matches the exact denoiser's pointwise MSE for one image", async () => {
    const data = gaussianData([4, 4, 2], [-3, 0], 11);
    const values = data.draw8bit(5);
    const x = tf.tensor4d(values, [1, 4, 4, 2]);
    const z = noLatent();
    const repeats = 32;
    const curve = await mmseCurve(data.predictEps, schedule, data.reference, x, z, { points: 12, repeats, seed: 2 });
    curve.logSnr.forEach((a, j) => {
      // Per dimension e = A ε - B with A = γv/(γv+1), B = √γ (x - m)/(γv+1): E e² = A² + B², Var e² = 2A⁴ + 4A²B².
      const gamma = Math.exp(a);
      let expected = 0;
      let variance = 0;
      data.variances.forEach((v, k) => {
        const A = (gamma * v) / (gamma * v + 1);
        const B = (Math.sqrt(gamma) * (values[k] - data.mean[k])) / (gamma * v + 1);
        expected += A * A + B * B;
        variance += 2 * A ** 4 + 4 * A * A * B * B;
      });
      expect(Math.abs(curve.mmse[j] - expected)).toBeLessThan(5 * Math.sqrt(variance / repeats));
    });
    tf.dispose([x, z]);
  });

  it('averaged over images from the data, equals the reference MMSE g(α) = Σ σ(α + ln v_i)', async () => {
    // Variances small enough that the data stay inside [-1, 1], where the 8-bit image does not clip them.
    const data = gaussianData([4, 4, 1], [-6, -2.5], 12);
    const z = noLatent();
    const images = 48;
    const points = 10;
    const total = new Float64Array(points);
    let gaussian: number[] = [];
    for (let n = 0; n < images; n++) {
      const x = tf.tensor4d(data.draw8bit(100 + n), [1, 4, 4, 1]);
      const curve = await mmseCurve(data.predictEps, schedule, data.reference, x, z, { points, repeats: 1, seed: n });
      curve.mmse.forEach((m, j) => (total[j] += m / images));
      gaussian = curve.gaussian;
      x.dispose();
    }
    // Over x ~ data and ε, each dimension's error is N(0, σ(α + ln v_i)), so Var ‖e‖² = 2 Σ σ(α + ln v_i)². The
    // curve is of the 8-bit image, whose rounding (variance δ²/12) adds γ δ²/12 / (γ v_i + 1)² per dimension.
    const logSnr = Array.from(
      { length: points },
      (_, j) => data.reference.logSnrLoc + data.reference.logSnrScale * (-4 + (8 * j) / (points - 1)),
    );
    logSnr.forEach((a, j) => {
      const spread = Math.sqrt(
        (2 * data.variances.reduce((acc, v) => acc + sigmoid(a + Math.log(v)) ** 2, 0)) / images,
      );
      const gamma = Math.exp(a);
      const rounding = data.variances.reduce((acc, v) => acc + (gamma * (2 / 255) ** 2) / 12 / (gamma * v + 1) ** 2, 0);
      expect(Math.abs(total[j] - gaussian[j] - rounding)).toBeLessThan(5 * spread);
    });
    z.dispose();
  });
});

import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OFFICIAL_SCHEDULE } from '../model/config';
import {
  ddimInvert,
  ddimSample,
  ddimStep,
  ddimStepCoefficients,
  epsFromPrediction,
  type DdimStepInfo,
  type EpsPredictor,
} from './ddim';
import { gaussianEpsPredictor } from './gaussianDenoiser';
import { normalTensor4d } from './normalTensor';
import { createRng } from './random';
import { ddimTimesteps, makeSchedule } from './schedule';

beforeAll(async () => {
  tf.env().set('IS_TEST', true);
  await tf.setBackend('cpu');
});

const schedule = makeSchedule(OFFICIAL_SCHEDULE);

/** A closed-form dummy network: eps = 0.5 x_t, whatever t and z. */
const halfOfInput: EpsPredictor = (xt) => tf.mul(xt, 0.5);

/** eps = z[:, 0] * x_t: each image's result depends on its own latent only. */
const scaledByLatent: EpsPredictor = (xt, _t, z) =>
  tf.tidy(() => tf.mul(xt, tf.reshape(tf.slice(z, [0, 0], [-1, 1]), [-1, 1, 1, 1])));

const image = (values: number[], shape: [number, number, number, number]): tf.Tensor4D => tf.tensor4d(values, shape);
const latent = (batch: number, value = 0.2): tf.Tensor2D => tf.fill([batch, 3], value) as tf.Tensor2D;

function maxAbsDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}

describe('ddimStepCoefficients', () => {
  it('matches DDIM eqs. (12) and (16) computed by hand', () => {
    const c = ddimStepCoefficients(0.5, 0.8, 0.5);
    // sigma² = eta² (1 - 0.8)/(1 - 0.5) (1 - 0.5/0.8) = 0.25 * 0.4 * 0.375 = 0.0375
    expect(c.sigma).toBeCloseTo(Math.sqrt(0.0375), 15);
    expect(c.directionCoef).toBeCloseTo(Math.sqrt(1 - 0.8 - 0.0375), 15);
    expect(c.sqrtAlphaBarFrom).toBeCloseTo(Math.sqrt(0.5), 15);
    expect(c.sqrtOneMinusAlphaBarFrom).toBeCloseTo(Math.sqrt(0.5), 15);
    expect(c.sqrtAlphaBarTo).toBeCloseTo(Math.sqrt(0.8), 15);
  });

  it('has no noise at eta 0 nor on the last step, and handles the clean input of inversion', () => {
    expect(ddimStepCoefficients(0.3, 0.9, 0).sigma).toBe(0);
    expect(ddimStepCoefficients(0.3, 1, 1).sigma).toBe(0);
    expect(ddimStepCoefficients(0.3, 1, 1).directionCoef).toBe(0);
    const clean = ddimStepCoefficients(1, 0.4, 0);
    expect(clean.sqrtOneMinusAlphaBarFrom).toBe(0);
    expect(clean.directionCoef).toBeCloseTo(Math.sqrt(0.6), 15);
  });

  it('refuses levels and etas outside their ranges', () => {
    expect(() => ddimStepCoefficients(0, 0.5, 0)).toThrow(/alphaBarFrom/);
    expect(() => ddimStepCoefficients(0.5, 1.5, 0)).toThrow(/alphaBarTo/);
    expect(() => ddimStepCoefficients(0.5, 0.8, 1.5)).toThrow(/eta/);
    expect(() => ddimStepCoefficients(0.8, 0.5, 0.5)).toThrow(/denoising step/);
  });
});

describe('ddimStep', () => {
  it('computes x0Pred and xPrev with noise exactly as eq. (12)', async () => {
    const xt = image([1, -2], [1, 1, 2, 1]);
    const eps = image([0.5, 0.25], [1, 1, 2, 1]);
    const noise = image([2, -1], [1, 1, 2, 1]);
    const c = ddimStepCoefficients(0.5, 0.8, 0.5);
    const { xPrev, x0Pred } = ddimStep(xt, eps, c, noise);
    const x0Expected = [(1 - Math.sqrt(0.5) * 0.5) / Math.sqrt(0.5), (-2 - Math.sqrt(0.5) * 0.25) / Math.sqrt(0.5)];
    const xPrevExpected = x0Expected.map(
      (x0, k) => Math.sqrt(0.8) * x0 + c.directionCoef * [0.5, 0.25][k] + c.sigma * [2, -1][k],
    );
    expect(maxAbsDifference(await x0Pred.data(), x0Expected)).toBeLessThan(1e-6);
    expect(maxAbsDifference(await xPrev.data(), xPrevExpected)).toBeLessThan(1e-6);
    expect(() => ddimStep(xt, eps, c)).toThrow(/noise/);
    tf.dispose([xt, eps, noise, xPrev, x0Pred]);
  });
});

describe('ddimSample', () => {
  it('runs two steps of the closed-form model exactly as computed by hand', async () => {
    const xNoise = image([0.4, -1.2, 2], [1, 1, 3, 1]);
    const z = latent(1);
    const [a1, a2] = [schedule.alphaBar[600], schedule.alphaBar[200]];
    // eps = x/2 makes every step a scalar multiple: x0Pred = x (1 - sqrt(1-a)/2) / sqrt(a).
    const shrink = (a: number): number => (1 - 0.5 * Math.sqrt(1 - a)) / Math.sqrt(a);
    const afterFirst = Math.sqrt(a2) * shrink(a1) + 0.5 * Math.sqrt(1 - a2);
    const factor = afterFirst * shrink(a2);
    const x0 = await ddimSample(halfOfInput, schedule, [600, 200], xNoise, z);
    expect(
      maxAbsDifference(
        await x0.data(),
        [0.4, -1.2, 2].map((v) => v * factor),
      ),
    ).toBeLessThan(1e-5 * Math.abs(factor) * 2);
    tf.dispose([xNoise, z, x0]);
  });

  it('adds the given noise with sigma(eta) on every step but the last', async () => {
    const xNoise = image([0.4, -1.2], [1, 1, 2, 1]);
    const z = latent(1);
    const noise = [image([1.5, -0.5], [1, 1, 2, 1]), image([9, 9], [1, 1, 2, 1])];
    const [a1, a2] = [schedule.alphaBar[700], schedule.alphaBar[300]];
    const c = ddimStepCoefficients(a1, a2, 1);
    const expected = [0.4, -1.2].map((x, k) => {
      const x0Pred = (x - Math.sqrt(1 - a1) * 0.5 * x) / Math.sqrt(a1);
      const xPrev = Math.sqrt(a2) * x0Pred + c.directionCoef * 0.5 * x + c.sigma * [1.5, -0.5][k];
      return (xPrev - Math.sqrt(1 - a2) * 0.5 * xPrev) / Math.sqrt(a2);
    });
    const x0 = await ddimSample(halfOfInput, schedule, [700, 300], xNoise, z, { eta: 1, noise });
    expect(maxAbsDifference(await x0.data(), expected)).toBeLessThan(1e-5);
    tf.dispose([xNoise, z, x0, ...noise]);
  });

  it('gives each image of a batch its own eta: each row equals the same image sampled alone at its eta', async () => {
    const plan = ddimTimesteps(1000, 4);
    const rows = [0, 0.5, 1];
    const xNoise = normalTensor4d(createRng(3), [3, 2, 2, 1]);
    const z = latent(3);
    // One noise tensor per step, different per row, so that a row mixed up with another would show.
    const noise = Array.from(plan, (_, i) => normalTensor4d(createRng(10 + i), [3, 2, 2, 1]));
    const mixed = await ddimSample(halfOfInput, schedule, plan, xNoise, z, { eta: rows, noise });
    const mixedValues = await mixed.data();
    for (let b = 0; b < rows.length; b++) {
      const row = <T extends tf.Tensor4D>(t: T) => tf.slice(t, [b, 0, 0, 0], [1, -1, -1, -1]) as tf.Tensor4D;
      const rowNoise = noise.map(row);
      const [x, zb] = [row(xNoise), tf.slice(z, [b, 0], [1, -1]) as tf.Tensor2D];
      const alone = await ddimSample(halfOfInput, schedule, plan, x, zb, { eta: rows[b], noise: rowNoise });
      expect(maxAbsDifference(mixedValues.slice(b * 4, b * 4 + 4), await alone.data())).toBeLessThan(1e-5);
      tf.dispose([alone, x, zb, ...rowNoise]);
    }
    await expect(ddimSample(halfOfInput, schedule, plan, xNoise, z, { eta: [0, 1], noise })).rejects.toThrow(
      /one value per image/,
    );
    tf.dispose([xNoise, z, mixed, ...noise]);
  });

  it('is deterministic at eta 0 and reproducible from a seed at eta > 0', async () => {
    const xNoise = normalTensor4d(createRng(5), [2, 4, 4, 1]);
    const z = latent(2);
    const plan = ddimTimesteps(1000, 10);
    const runs = [
      await ddimSample(halfOfInput, schedule, plan, xNoise, z),
      await ddimSample(halfOfInput, schedule, plan, xNoise, z),
      await ddimSample(halfOfInput, schedule, plan, xNoise, z, { eta: 0.5, seed: 1 }),
      await ddimSample(halfOfInput, schedule, plan, xNoise, z, { eta: 0.5, seed: 1 }),
      await ddimSample(halfOfInput, schedule, plan, xNoise, z, { eta: 0.5, seed: 2 }),
    ];
    const values = await Promise.all(runs.map((r) => r.data()));
    expect(Array.from(values[1])).toEqual(Array.from(values[0]));
    expect(Array.from(values[3])).toEqual(Array.from(values[2]));
    expect(maxAbsDifference(values[4], values[2])).toBeGreaterThan(1e-3);
    expect(maxAbsDifference(values[2], values[0])).toBeGreaterThan(1e-3);
    tf.dispose([xNoise, z, ...runs]);
  });

  it('conditions each image of a batch on its own latent', async () => {
    const xNoise = image([1, 2, 3, 4], [2, 1, 2, 1]);
    const z = tf.tensor2d([[0.3], [0.7]]);
    const plan = ddimTimesteps(1000, 4);
    const batched = await ddimSample(scaledByLatent, schedule, plan, xNoise, z);
    const singles = await Promise.all(
      [0, 1].map(async (b) => {
        const x = tf.slice(xNoise, [b, 0, 0, 0], [1, -1, -1, -1]);
        const zb = tf.slice(z, [b, 0], [1, -1]);
        const out = await ddimSample(scaledByLatent, schedule, plan, x, zb);
        const data = await out.data();
        tf.dispose([x, zb, out]);
        return Array.from(data);
      }),
    );
    expect(maxAbsDifference(await batched.data(), singles.flat())).toBeLessThan(1e-6);
    tf.dispose([xNoise, z, batched]);
  });

  it('reports every step to onStep, yields between steps, and keeps a constant number of live tensors', async () => {
    const xNoise = normalTensor4d(createRng(6), [1, 4, 4, 1]);
    const z = latent(1);
    const plan = ddimTimesteps(1000, 20);
    const seen: Array<Omit<DdimStepInfo, 'xt' | 'x0Pred'>> = [];
    const liveTensors: number[] = [];
    let yields = 0;
    const before = tf.memory().numTensors;
    const x0 = await ddimSample(halfOfInput, schedule, plan, xNoise, z, {
      eta: 0.3,
      seed: 4,
      onStep: async ({ xt, x0Pred, ...rest }) => {
        expect(xt.shape).toEqual([1, 4, 4, 1]);
        expect(x0Pred.shape).toEqual([1, 4, 4, 1]);
        expect((await x0Pred.data()).every(Number.isFinite)).toBe(true);
        seen.push(rest);
        liveTensors.push(tf.memory().numTensors);
      },
      yieldEveryStep: async () => {
        yields += 1;
      },
    });
    expect(seen.map((s) => s.i)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(seen.map((s) => s.t)).toEqual(Array.from(plan));
    expect(seen.map((s) => s.stepsDone)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(seen.every((s) => s.stepsTotal === 20)).toBe(true);
    expect(yields).toBe(20);
    expect(new Set(liveTensors.slice(1)).size).toBe(1);
    expect(Math.max(...liveTensors) - before).toBeLessThanOrEqual(3);
    x0.dispose();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([xNoise, z]);
  });

  it('refuses bad plans, latents and noise options with messages that name them', async () => {
    const xNoise = image([0, 0], [1, 1, 2, 1]);
    const z = latent(1);
    const before = tf.memory().numTensors;
    await expect(ddimSample(halfOfInput, schedule, [], xNoise, z)).rejects.toThrow(/plan is empty/);
    await expect(ddimSample(halfOfInput, schedule, [10, 10], xNoise, z)).rejects.toThrow(/strictly decreasing/);
    await expect(ddimSample(halfOfInput, schedule, [1000, 0], xNoise, z)).rejects.toThrow(/0\.\.999/);
    const twoLatents = latent(2);
    await expect(ddimSample(halfOfInput, schedule, [5, 0], xNoise, twoLatents)).rejects.toThrow(/z must be \[B,D\]/);
    twoLatents.dispose();
    await expect(ddimSample(halfOfInput, schedule, [5, 0], xNoise, z, { eta: 0.5 })).rejects.toThrow(
      /opts.seed or opts.noise/,
    );
    await expect(
      ddimSample(halfOfInput, schedule, [5, 0], xNoise, z, { eta: 0.5, seed: 1, noise: [] }),
    ).rejects.toThrow(/not both/);
    await expect(ddimSample(halfOfInput, schedule, [5, 0], xNoise, z, { eta: 0.5, noise: [xNoise] })).rejects.toThrow(
      /one tensor per step/,
    );
    await expect(ddimSample(halfOfInput, schedule, [5, 0], xNoise, z, { eta: 2 })).rejects.toThrow(/eta/);
    const wrongShape: EpsPredictor = () => tf.zeros([1, 2, 2, 1]);
    await expect(ddimSample(wrongShape, schedule, [5, 0], xNoise, z)).rejects.toThrow(/eps of shape \[1,2,2,1\]/);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([xNoise, z]);
  });
});

describe('students: x0 and v parameterisations', () => {
  /** ᾱ[t] per image as a [B,1,1,1] column, so a closed-form predictor can use the level it is called at. */
  const alphaBarTable = tf.tensor1d(Float32Array.from(schedule.alphaBar));
  const levelOf = (t: tf.Tensor1D): tf.Tensor4D => tf.reshape(tf.gather(alphaBarTable, t), [-1, 1, 1, 1]);
  afterAll(() => alphaBarTable.dispose());

  /**
   * The oracle of one known clean image x0: from x_t at level ᾱ it returns the exact x0 ('x0'), or the exact
   * v = √ᾱ ε - √(1-ᾱ) x0 with ε = (x_t - √ᾱ x0)/√(1-ᾱ) ('v'), or that ε ('eps').
   */
  function oracle(x0: tf.Tensor4D, output: 'eps' | 'x0' | 'v'): EpsPredictor {
    return (xt, t) =>
      tf.tidy(() => {
        const a = levelOf(t);
        const [sqrtA, sqrtOneMinusA] = [tf.sqrt(a), tf.sqrt(tf.sub(1, a))];
        const eps = tf.div(tf.sub(xt, tf.mul(sqrtA, x0)), sqrtOneMinusA);
        if (output === 'eps') return eps as tf.Tensor4D;
        if (output === 'x0') return tf.clone(x0);
        return tf.sub(tf.mul(sqrtA, eps), tf.mul(sqrtOneMinusA, x0)) as tf.Tensor4D;
      });
  }

  it('turns eps, x0 and v outputs into the noise estimate by hand', async () => {
    const xt = image([1, -2], [1, 1, 2, 1]);
    const prediction = image([0.5, 0.25], [1, 1, 2, 1]);
    const a = 0.36; // √ᾱ = 0.6, √(1-ᾱ) = 0.8
    const cases: ['eps' | 'x0' | 'v', number[]][] = [
      ['eps', [0.5, 0.25]],
      ['x0', [(1 - 0.6 * 0.5) / 0.8, (-2 - 0.6 * 0.25) / 0.8]],
      ['v', [0.6 * 0.5 + 0.8 * 1, 0.6 * 0.25 + 0.8 * -2]],
    ];
    for (const [parameterisation, expected] of cases) {
      const eps = epsFromPrediction(prediction, xt, a, parameterisation);
      expect(maxAbsDifference(await eps.data(), expected), parameterisation).toBeLessThan(1e-6);
      eps.dispose();
    }
    expect(() => epsFromPrediction(prediction, xt, 1, 'x0')).toThrow(/alphaBar 1/);
    expect(() => epsFromPrediction(prediction, xt, 0, 'v')).toThrow(/alphaBar must be in \(0, 1\]/);
    tf.dispose([xt, prediction]);
  });

  it('reproduces a known x0 in one call from x_T when the predictor returns its exact v or x0', async () => {
    const x0 = image([0.7, -0.3, 0.1, -0.9], [1, 2, 2, 1]);
    const xNoise = normalTensor4d(createRng(11), [1, 2, 2, 1]);
    const z = latent(1);
    for (const parameterisation of ['v', 'x0'] as const) {
      const out = await ddimSample(oracle(x0, parameterisation), schedule, [schedule.timesteps - 1], xNoise, z, {
        parameterisation,
      });
      expect(maxAbsDifference(await out.data(), [0.7, -0.3, 0.1, -0.9]), parameterisation).toBeLessThan(1e-4);
      out.dispose();
    }
    tf.dispose([x0, xNoise, z]);
  });

  it('decodes along a multi-call plan exactly as the eps predictor it is equivalent to', async () => {
    const x0 = image([0.7, -0.3, 0.1, -0.9, 0.2, 0.5], [2, 1, 3, 1]);
    const xNoise = normalTensor4d(createRng(12), [2, 1, 3, 1]);
    const z = latent(2);
    const plan = [999, 600, 250, 40];
    const steps: number[][] = [];
    const reference = await ddimSample(oracle(x0, 'eps'), schedule, plan, xNoise, z);
    const referenceValues = await reference.data();
    for (const parameterisation of ['v', 'x0'] as const) {
      const x0Preds: number[] = [];
      const out = await ddimSample(oracle(x0, parameterisation), schedule, plan, xNoise, z, {
        parameterisation,
        onStep: async (step) => {
          x0Preds.push(maxAbsDifference(await step.x0Pred.data(), [0.7, -0.3, 0.1, -0.9, 0.2, 0.5]));
        },
      });
      // Every call's x0Pred is the oracle's x0 (so its first k calls give its k-call image), and the run
      // ends where the ε-parameterised run does.
      steps.push(x0Preds);
      expect(maxAbsDifference(await out.data(), referenceValues), parameterisation).toBeLessThan(1e-4);
      out.dispose();
    }
    for (const errors of steps) for (const error of errors) expect(error).toBeLessThan(1e-4);
    await expect(
      ddimSample(halfOfInput, schedule, plan, xNoise, z, { parameterisation: 'sample' as never }),
    ).rejects.toThrow(/parameterisation must be one of eps, x0, v/);
    tf.dispose([x0, xNoise, z, reference]);
  });
});

describe('abort and failures', () => {
  it('rejects with an AbortError at the next step boundary and leaks nothing', async () => {
    const xNoise = normalTensor4d(createRng(7), [1, 4, 4, 1]);
    const z = latent(1);
    const before = tf.memory().numTensors;
    const controller = new AbortController();
    let calls = 0;
    const counting: EpsPredictor = (xt) => {
      calls += 1;
      return tf.mul(xt, 0.5);
    };
    const run = ddimSample(counting, schedule, ddimTimesteps(1000, 10), xNoise, z, {
      signal: controller.signal,
      onStep: ({ i }) => {
        if (i === 2) controller.abort();
      },
    });
    await expect(run).rejects.toMatchObject({ name: 'AbortError' });
    expect(calls).toBe(3);
    expect(tf.memory().numTensors).toBe(before);

    const aborted = AbortSignal.abort();
    await expect(
      ddimInvert(counting, schedule, ddimTimesteps(1000, 10), xNoise, z, { signal: aborted }),
    ).rejects.toMatchObject({ name: 'AbortError' });
    expect(calls).toBe(3);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([xNoise, z]);
  });

  it('disposes everything when onStep or the network throws mid-run', async () => {
    const xNoise = normalTensor4d(createRng(8), [1, 4, 4, 1]);
    const z = latent(1);
    const before = tf.memory().numTensors;
    const failingCallback = ddimSample(halfOfInput, schedule, ddimTimesteps(1000, 5), xNoise, z, {
      onStep: ({ i }) => {
        if (i === 3) throw new Error('display failed');
      },
    });
    await expect(failingCallback).rejects.toThrow('display failed');
    let calls = 0;
    const failingNetwork: EpsPredictor = (xt) => {
      calls += 1;
      if (calls === 3) throw new Error('device lost');
      return tf.mul(xt, 0.5);
    };
    await expect(ddimInvert(failingNetwork, schedule, ddimTimesteps(1000, 5), xNoise, z)).rejects.toThrow(
      'device lost',
    );
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([xNoise, z]);
  });
});

describe('ddimInvert', () => {
  const shape: [number, number, number] = [4, 4, 2];
  const d = 32;
  const dataRng = createRng(11);
  const mean = Array.from(dataRng.uniforms(d), (u) => u - 0.5);
  const variances = Array.from(dataRng.uniforms(d), (u) => Math.exp(-3 + 3 * u));
  const gaussian = gaussianEpsPredictor(schedule, mean, variances, shape);

  it('calls the network at tau[min(i+1, S-1)], walking the plan backwards', async () => {
    const x0 = image([0.1, 0.2], [1, 1, 2, 1]);
    const z = latent(1);
    const calledAt: number[] = [];
    const recording: EpsPredictor = (xt, t) => {
      calledAt.push(...Array.from(t.dataSync()));
      return tf.mul(xt, 0.5);
    };
    const steps: number[] = [];
    const xNoise = await ddimInvert(recording, schedule, [999, 500, 0], x0, z, {
      onStep: ({ i }) => void steps.push(i),
    });
    expect(calledAt).toEqual([0, 0, 500]);
    expect(steps).toEqual([2, 1, 0]);
    tf.dispose([x0, z, xNoise]);
  });

  it('runs the sampling step backwards: the first step of the closed-form model by hand', async () => {
    // From the clean image (level 1) to level aB[0] with eps = x/2: x0Pred = x, x -> sqrt(aB0) x + sqrt(1-aB0) x/2.
    const x0 = image([0.8, -0.4], [1, 1, 2, 1]);
    const z = latent(1);
    const a0 = schedule.alphaBar[0];
    const xT = await ddimInvert(halfOfInput, schedule, [0], x0, z);
    const factor = Math.sqrt(a0) + 0.5 * Math.sqrt(1 - a0);
    expect(maxAbsDifference(await xT.data(), [0.8 * factor, -0.4 * factor])).toBeLessThan(1e-6);
    tf.dispose([x0, z, xT]);
  });

  it('followed by sampling reconstructs x0 with the exact Gaussian denoiser (S = 50), error shrinking like 1/S', async () => {
    const rng = createRng(12);
    const samples = Float32Array.from(rng.normals(2 * d), (n, k) => mean[k % d] + Math.sqrt(variances[k % d]) * n);
    const x0 = tf.tensor4d(samples, [2, ...shape]);
    const z = latent(2);
    const before = tf.memory().numTensors;
    const rmsError = async (steps: number): Promise<number> => {
      const plan = ddimTimesteps(1000, steps);
      const xNoise = await ddimInvert(gaussian, schedule, plan, x0, z);
      // The inverted noise is not the image: inversion did move it to level aB[999].
      expect(maxAbsDifference(await xNoise.data(), samples)).toBeGreaterThan(0.5);
      const reconstruction = await ddimSample(gaussian, schedule, plan, xNoise, z);
      const values = Array.from(await reconstruction.data());
      tf.dispose([xNoise, reconstruction]);
      return Math.sqrt(values.reduce((acc, v, k) => acc + (v - samples[k]) ** 2, 0) / values.length);
    };
    const errorAt50 = await rmsError(50);
    const errorAt200 = await rmsError(200);
    // Inversion evaluates eps one level early (the DDIM encoding's first-order mismatch), so the error is O(1/S).
    expect(errorAt50).toBeLessThan(0.05);
    expect(errorAt200).toBeLessThan(errorAt50 / 3);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x0, z]);
  });
});

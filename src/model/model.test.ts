import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { OFFICIAL_SCHEDULE, resolveArchitecture, resolveSchedule, type ArchitectureConfig } from './config';
import { networkFlops } from './cost';
import { GROUP_NORM_KERNEL, hasGroupNormKernel, registerGroupNormKernels } from './groupNormKernel';
import { createInfoDiffusionModel } from './model';
import { parameterCount } from './parameters';
import { randomParameters, seededNormal, sinusoidTimeTable, syntheticModelMetadata } from './random';
import { featureMapToNhwc, nhwcToFeatureMap, refEncode, refPredictEps, relativeError } from './testing/torchReference';
import { TINY_ARCHITECTURE } from './testing/tinyArchitecture';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const TINY_SCHEDULE = resolveSchedule({ timesteps: 10 });

const TINY = TINY_ARCHITECTURE;

function buildModel(arch: ArchitectureConfig, seed: number, schedule = TINY_SCHEDULE) {
  const params = randomParameters(arch, schedule.timesteps, seed);
  return { params, model: createInfoDiffusionModel(syntheticModelMetadata(arch, schedule), params) };
}

function randomImages(count: number, arch: ArchitectureConfig, seed: number): Float32Array {
  const normal = seededNormal(seed);
  return Float32Array.from({ length: count * arch.imageSize ** 2 * arch.imageChannels }, () => Math.tanh(normal()));
}

function imageTensor(data: Float32Array, count: number, arch: ArchitectureConfig): tf.Tensor4D {
  return tf.tensor4d(data, [count, arch.imageSize, arch.imageSize, arch.imageChannels]);
}

/** Checks encode and predictEps against the plain-JS transcription of the official PyTorch forward. */
async function expectReferenceParity(arch: ArchitectureConfig, seed: number): Promise<void> {
  const { params, model } = buildModel(arch, seed);
  const s = arch.imageSize;
  const c = arch.imageChannels;
  const batch = 2;
  const images = randomImages(batch, arch, seed + 1);
  const x = imageTensor(images, batch, arch);
  const z = model.encode(x);
  expect(z.shape).toEqual([batch, arch.latentDim]);
  const zValues = await z.data();
  const zExpected = [0, 1].flatMap((b) => [...refEncode(params, arch, nhwcToFeatureMap(images, b, s, s, c))]);
  expect(relativeError(zValues, zExpected)).toBeLessThan(1e-4);

  const tValues = [7, 2];
  const zInput = Float32Array.from({ length: batch * arch.latentDim }, (_, k) => Math.sin(k + 0.5) * 1.5);
  const t = tf.tensor1d(tValues, 'int32');
  const zTensor = tf.tensor2d(zInput, [batch, arch.latentDim]);
  const eps = model.predictEps(x, t, zTensor);
  expect(eps.shape).toEqual([batch, s, s, c]);
  const epsExpected = [0, 1].flatMap((b) => [
    ...featureMapToNhwc(
      refPredictEps(
        params,
        arch,
        nhwcToFeatureMap(images, b, s, s, c),
        tValues[b],
        zInput.slice(b * arch.latentDim, (b + 1) * arch.latentDim),
      ),
    ),
  ]);
  expect(relativeError(await eps.data(), epsExpected)).toBeLessThan(1e-4);
  tf.dispose([x, z, t, zTensor, eps]);
  model.dispose();
}

describe('networks against the PyTorch transcription', () => {
  it('encoder and denoiser match on a two-level grayscale U-Net (batch 2, different t and z per sample)', async () => {
    await expectReferenceParity(TINY, 31);
  });

  it('match through the composite GroupNorm too (backends without the fused kernel)', async () => {
    tf.unregisterKernel(GROUP_NORM_KERNEL, 'cpu');
    try {
      expect(hasGroupNormKernel()).toBe(false);
      await expectReferenceParity(TINY, 33);
    } finally {
      registerGroupNormKernels();
    }
    expect(hasGroupNormKernel()).toBe(true);
  });

  it('match on an RGB, three-level U-Net with two res blocks per level and latentHead mu', async () => {
    await expectReferenceParity(
      resolveArchitecture({
        imageSize: 8,
        imageChannels: 3,
        baseChannels: 4,
        channelMultipliers: [1, 2, 1],
        numResBlocks: 2,
        attentionLevels: [0, 2],
        latentDim: 5,
        groupNormGroups: 4,
        latentHead: 'mu',
      }),
      41,
    );
  });
});

describe('InfoDiffusionModel', () => {
  it('gives the documented shapes for the official FashionMNIST architecture and leaks no tensor', async () => {
    const arch = resolveArchitecture({ latentDim: 32 }); // schema defaults: 32x32x1, ch 32, [1,2,2,2], attention at 8x8
    const { model } = buildModel(arch, 51, OFFICIAL_SCHEDULE);
    const x = tf.tensor4d(randomImages(1, arch, 52), [1, 32, 32, 1]);
    const t = tf.tensor1d([999], 'int32');
    const before = tf.memory().numTensors;
    const z = model.encode(x);
    const eps = model.predictEps(x, t, z);
    expect(z.shape).toEqual([1, 32]);
    expect(eps.shape).toEqual([1, 32, 32, 1]);
    const values = await eps.data();
    expect(values.every(Number.isFinite)).toBe(true);
    tf.dispose([z, eps]);
    expect(tf.memory().numTensors).toBe(before);
    expect(model.stats.parameters).toBe(5_538_114);
    tf.dispose([x, t]);
    model.dispose();
  });

  it('returns to the tensor count from before loading after dispose, and refuses calls afterwards', () => {
    const before = tf.memory().numTensors;
    const { model } = buildModel(TINY, 61);
    expect(tf.memory().numTensors).toBeGreaterThan(before);
    model.dispose();
    expect(tf.memory().numTensors).toBe(before);
    model.dispose(); // idempotent
    const x = tf.zeros([1, 8, 8, 1]) as tf.Tensor4D;
    expect(() => model.encode(x)).toThrow(/disposed/);
    x.dispose();
  });

  it('refuses inputs of the wrong shape or dtype, naming what it got', () => {
    const { model } = buildModel(TINY, 71);
    const good = tf.zeros([2, 8, 8, 1]) as tf.Tensor4D;
    const wrongSize = tf.zeros([2, 16, 16, 1]) as tf.Tensor4D;
    const floatT = tf.tensor1d([1, 2]);
    const shortT = tf.tensor1d([1], 'int32');
    const goodT = tf.tensor1d([1, 2], 'int32');
    const z = tf.zeros([2, 3]) as tf.Tensor2D;
    const wrongZ = tf.zeros([2, 4]) as tf.Tensor2D;
    const before = tf.memory().numTensors;
    expect(() => model.encode(wrongSize)).toThrow('encode: x must be float32 [B, 8, 8, 1], got float32 [2, 16, 16, 1]');
    expect(() => model.predictEps(good, floatT, z)).toThrow(
      'predictEps: t must be int32 [2] (one timestep index per image), got float32 [2]',
    );
    expect(() => model.predictEps(good, shortT, z)).toThrow(/got int32 \[1\]/);
    expect(() => model.predictEps(good, goodT, wrongZ)).toThrow(
      'predictEps: z must be float32 [2, 3], got float32 [2, 4]',
    );
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([good, wrongSize, floatT, shortT, goodT, z, wrongZ]);
    model.dispose();
  });

  it('refuses a parameter set that does not match the architecture, allocating nothing', () => {
    const params = randomParameters(TINY, 10, 81);
    params.delete('encoder.head.bias');
    params.set('backbone.head.bias', new Float32Array(3));
    const before = tf.memory().numTensors;
    expect(() => createInfoDiffusionModel(syntheticModelMetadata(TINY, TINY_SCHEDULE), params)).toThrow(
      /missing 1 weight\(s\): encoder\.head\.bias.*backbone\.head\.bias: 3 values for shape \[4\]/,
    );
    expect(tf.memory().numTensors).toBe(before);
  });

  it('is deterministic: the same input gives bit-identical output', async () => {
    const { model } = buildModel(TINY, 91);
    const x = tf.tensor4d(randomImages(1, TINY, 92), [1, 8, 8, 1]);
    const [a, b] = [model.encode(x), model.encode(x)];
    expect(Array.from(await a.data())).toEqual(Array.from(await b.data()));
    tf.dispose([x, a, b]);
    model.dispose();
  });
});

describe('stats', () => {
  it('counts parameters including the frozen table', () => {
    const { model } = buildModel(TINY, 101);
    expect(model.stats.parameters).toBe(parameterCount(TINY, 10));
    model.dispose();
  });

  it('counts FLOPs of a one-level U-Net by hand', () => {
    // 4x4x1 input, ch 2, one level, one res block, no attention, D 3: modules d0 (2->2), m0 (2->2, attention
    // forced on the first middle block), m1 (2->2), u0 (4->2, shortcut), u1 (4->2, shortcut).
    const arch = resolveArchitecture({
      imageSize: 4,
      imageChannels: 1,
      baseChannels: 2,
      channelMultipliers: [1],
      numResBlocks: 1,
      attentionLevels: [],
      latentDim: 3,
      groupNormGroups: 1,
    });
    const px = 16;
    const conv = (inC: number, outC: number, k: number) => 2 * px * inC * outC * k * k;
    const attention = 4 * conv(2, 2, 1) + 2 * 2 * px * px * 2;
    const encoderRes = (inC: number) => conv(inC, 2, 3) + conv(2, 2, 3) + (inC !== 2 ? conv(inC, 2, 1) : 0);
    const head = conv(1, 2, 3);
    const encoderExpected = head + encoderRes(2) * 3 + attention + encoderRes(4) * 2 + conv(2, 1, 3) + 2 * 16 * 3;
    const tdim = 8;
    const denoiserRes = (inC: number) => encoderRes(inC) + conv(2, 2, 3) + 2 * 2 * tdim * 4;
    const denoiserExpected =
      head +
      denoiserRes(2) * 3 +
      attention +
      denoiserRes(4) * 2 +
      conv(2, 1, 3) +
      2 * 2 * tdim +
      2 * tdim * tdim +
      2 * 3 * tdim;
    expect(networkFlops(arch)).toEqual({ encoderFlops: encoderExpected, denoiserFlops: denoiserExpected });
  });
});

describe('sinusoidTimeTable', () => {
  it('interleaves sin and cos with f_i = exp(-(2i/ch) ln 10000)', () => {
    const table = sinusoidTimeTable(1000, 32);
    expect(Array.from(table.slice(0, 4))).toEqual([0, 1, 0, 1]); // t = 0
    const t = 500;
    const f1 = Math.exp(-(2 / 32) * Math.log(10000));
    expect(table[t * 32]).toBeCloseTo(Math.sin(500), 6);
    expect(table[t * 32 + 1]).toBeCloseTo(Math.cos(500), 6);
    expect(table[t * 32 + 2]).toBeCloseTo(Math.sin(t * f1), 6);
    expect(table[t * 32 + 3]).toBeCloseTo(Math.cos(t * f1), 6);
    expect(table[999 * 32 + 31]).toBeCloseTo(Math.cos(999 * Math.exp(-(30 / 32) * Math.log(10000))), 6);
  });
});

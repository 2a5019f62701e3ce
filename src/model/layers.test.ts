import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setUpCpuBackendWithLeakCheck } from './testing/leakGuard';
import { ATTENTION_KERNEL, attentionKernel, CONCAT_CHANNELS_KERNEL, concatChannels } from './wasmKernels';
import { selfAttention } from './blocks';
import { GROUP_NORM_KERNEL, hasGroupNormKernel, WASM_KERNELS_FLAG } from './groupNormKernel';
import {
  conv3x3,
  createLayerContext,
  disposeLayerContext,
  GROUP_NORM_MATMUL_ON_WASM_FLAG,
  groupNorm,
  groupNormComposite,
  groupNormPooled,
  linear,
  pointwiseConv,
  silu,
  upsampleNearest2x,
  type ConvWeights,
  type DenseWeights,
  type GroupNormAffine,
  type LayerContext,
} from './layers';
import { seededNormal } from './random';
import {
  featureMap,
  featureMapToNhwc,
  nhwcToFeatureMap,
  refConv2d,
  refGroupNorm,
  relativeError,
} from './testing/torchReference';
import { buildSimdModule, simdKernelsFor } from './wasmSimd';
import { oihwToHwio, transposeMatrix } from './weights';

setUpCpuBackendWithLeakCheck();

function randomArray(length: number, seed: number, scale = 1, offset = 0): Float32Array {
  const normal = seededNormal(seed);
  return Float32Array.from({ length }, () => offset + scale * normal());
}

/** A PyTorch conv (OIHW weight) as runtime weights. */
function convWeights(weight: Float32Array, bias: Float32Array, out: number, inCh: number, k: number): ConvWeights {
  return { filter: tf.tensor4d(oihwToHwio(weight, [out, inCh, k, k]), [k, k, inCh, out]), bias: tf.tensor1d(bias) };
}

function denseWeights(weight: Float32Array, bias: Float32Array, out: number, inFeatures: number): DenseWeights {
  return { kernel: tf.tensor2d(transposeMatrix(weight, out, inFeatures), [inFeatures, out]), bias: tf.tensor1d(bias) };
}

/** Runs a reference function per batch element on NHWC data and returns NHWC. */
function referenceNhwc(
  data: Float32Array,
  [b, h, w, c]: number[],
  fn: (x: ReturnType<typeof featureMap>) => ReturnType<typeof featureMap>,
): Float64Array[] {
  return Array.from({ length: b }, (_, i) => featureMapToNhwc(fn(nhwcToFeatureMap(data, i, h, w, c))));
}

const GROUP_NORMS = [
  ['fused kernel', (x: tf.Tensor4D, affine: GroupNormAffine, ctx: LayerContext) => groupNorm(x, affine, ctx)],
  ['matmul composite (WebGL)', groupNormComposite],
  ['pooled composite (WASM)', groupNormPooled],
] as const;

/** A plain [1, C] or per-sample [B, C] affine starting at column 0. */
function affineOf(gamma: tf.Tensor2D, beta: tf.Tensor2D): GroupNormAffine {
  return { gamma, beta, gammaColumn: 0, betaColumn: 0 };
}

describe.each(GROUP_NORMS)('groupNorm, %s', (_, norm) => {
  it('matches a plain JS GroupNorm (eps 1e-5, biased variance) per sample and group', async () => {
    const shape = [2, 3, 3, 6];
    const groups = 3;
    const data = randomArray(2 * 3 * 3 * 6, 1, 2, 0.5);
    const gammaValues = randomArray(6, 2, 0.3, 1);
    const betaValues = randomArray(6, 3, 0.3);
    const ctx = createLayerContext(groups, [3]);
    const x = tf.tensor4d(data, shape as [number, number, number, number]);
    const gamma = tf.tensor2d(gammaValues, [1, 6]);
    const beta = tf.tensor2d(betaValues, [1, 6]);
    const y = tf.tidy(() => norm(x, affineOf(gamma, beta), ctx));
    const actual = await y.data();
    const expected = referenceNhwc(data, shape, (m) => refGroupNorm(m, groups, gammaValues, betaValues));
    expect(
      relativeError(
        actual,
        expected.flatMap((e) => [...e]),
      ),
    ).toBeLessThan(1e-5);
    tf.dispose([x, gamma, beta, y]);
    disposeLayerContext(ctx);
  });

  it('applies a per-sample modulated affine [B, C]', async () => {
    const data = randomArray(32, 4);
    const gammaRows = [randomArray(4, 5, 0.5, 1), randomArray(4, 6, 0.5, 1)];
    const betaRows = [randomArray(4, 7), randomArray(4, 8)];
    const ctx = createLayerContext(2, [2]);
    const x = tf.tensor4d(data, [2, 2, 2, 4]);
    const gamma = tf.tensor2d([...gammaRows[0], ...gammaRows[1]], [2, 4]);
    const beta = tf.tensor2d([...betaRows[0], ...betaRows[1]], [2, 4]);
    const y = tf.tidy(() => norm(x, affineOf(gamma, beta), ctx));
    const actual = await y.data();
    const expected = [0, 1].flatMap((b) => [
      ...featureMapToNhwc(refGroupNorm(nhwcToFeatureMap(data, b, 2, 2, 4), 2, gammaRows[b], betaRows[b])),
    ]);
    expect(relativeError(actual, expected)).toBeLessThan(1e-5);
    tf.dispose([x, gamma, beta, y]);
    disposeLayerContext(ctx);
  });

  it('stays accurate when the mean is far larger than the spread', async () => {
    const data = randomArray(4 * 4 * 4, 9, 0.01, 300);
    const ctx = createLayerContext(1, [4]);
    const x = tf.tensor4d(data, [1, 4, 4, 4]);
    const ones = tf.ones([1, 4]) as tf.Tensor2D;
    const zeros = tf.zeros([1, 4]) as tf.Tensor2D;
    const y = tf.tidy(() => norm(x, affineOf(ones, zeros), ctx));
    const expected = featureMapToNhwc(refGroupNorm(nhwcToFeatureMap(data, 0, 4, 4, 4), 1, [1, 1, 1, 1], [0, 0, 0, 0]));
    // float32 inputs near 300 carry ~3e-5 absolute rounding, i.e. ~3e-3 of a 0.01 spread.
    expect(relativeError(await y.data(), expected)).toBeLessThan(1e-2);
    tf.dispose([x, ones, zeros, y]);
    disposeLayerContext(ctx);
  });

  it('reads gamma and beta from columns of one packed per-sample matrix', async () => {
    // Packed rows [B, 10]: columns 1..4 hold gamma, columns 6..9 hold beta (as the denoiser's modulation).
    const data = randomArray(2 * 2 * 2 * 4, 22);
    const packedValues = randomArray(2 * 10, 23, 0.5, 0.5);
    const ctx = createLayerContext(2, [2]);
    const x = tf.tensor4d(data, [2, 2, 2, 4]);
    const packed = tf.tensor2d(packedValues, [2, 10]);
    const y = tf.tidy(() => norm(x, { gamma: packed, beta: packed, gammaColumn: 1, betaColumn: 6 }, ctx));
    const row = (b: number, from: number) => packedValues.slice(b * 10 + from, b * 10 + from + 4);
    const expected = [0, 1].flatMap((b) => [
      ...featureMapToNhwc(refGroupNorm(nhwcToFeatureMap(data, b, 2, 2, 4), 2, row(b, 1), row(b, 6))),
    ]);
    expect(relativeError(await y.data(), expected)).toBeLessThan(1e-5);
    tf.dispose([x, packed, y]);
    disposeLayerContext(ctx);
  });
});

describe('groupNorm', () => {
  it('runs the fused kernel on the CPU backend', () => {
    expect(hasGroupNormKernel()).toBe(true);
  });

  it('applies SiLU after the normalisation when asked', async () => {
    const data = randomArray(2 * 2 * 2 * 4, 19, 2);
    const ctx = createLayerContext(2, [2]);
    const x = tf.tensor4d(data, [2, 2, 2, 4]);
    const gamma = tf.tensor2d(randomArray(4, 20, 0.5, 1), [1, 4]);
    const beta = tf.tensor2d(randomArray(4, 21), [1, 4]);
    const [fused, composed] = tf.tidy(() => [
      groupNorm(x, affineOf(gamma, beta), ctx, 'silu'),
      silu(groupNormComposite(x, affineOf(gamma, beta), ctx)),
    ]);
    expect(relativeError(await fused.data(), await composed.data())).toBeLessThan(1e-5);
    tf.dispose([x, gamma, beta, fused, composed]);
    disposeLayerContext(ctx);
  });

  it('composite refuses a map size its context was not built for', () => {
    const ctx = createLayerContext(1, [4]);
    const x = tf.zeros([1, 2, 2, 1]) as tf.Tensor4D;
    const gamma = tf.ones([1, 1]) as tf.Tensor2D;
    expect(() => tf.tidy(() => groupNormComposite(x, affineOf(gamma, gamma), ctx))).toThrow(
      /no pixel-mean row for a 2x2 map/,
    );
    tf.dispose([x, gamma]);
    disposeLayerContext(ctx);
  });

  it('kernel refuses affine columns that run past the end of the rows', () => {
    const ctx = createLayerContext(1, [2]);
    const x = tf.zeros([1, 2, 2, 2]) as tf.Tensor4D;
    const gamma = tf.ones([1, 3]) as tf.Tensor2D;
    expect(() => tf.tidy(() => groupNorm(x, { gamma, beta: gamma, gammaColumn: 2, betaColumn: 0 }, ctx))).toThrow(
      'scale/shift [1 or B, >= column + C]; got x [1,2,2,2], scale [1,3] from column 2, shift [1,3] from column 0',
    );
    tf.dispose([x, gamma]);
    disposeLayerContext(ctx);
  });
});

/** Random [B, H, W, C] data and an affine: shared [1, C] rows, or per-sample rows packed in one [B, C + 5] matrix. */
function groupNormCase(b: number, size: number, c: number, affine: 'shared' | 'packed per sample', seed: number) {
  const x = tf.tensor4d(randomArray(b * size * size * c, seed, 1.5, 0.3), [b, size, size, c]);
  if (affine === 'shared') {
    const gamma = tf.tensor2d(randomArray(c, seed + 1, 0.3, 1), [1, c]);
    const beta = tf.tensor2d(randomArray(c, seed + 2, 0.3), [1, c]);
    return { x, affine: affineOf(gamma, beta), tensors: [x, gamma, beta] };
  }
  // Packed rows [B, C + 5]: gamma in columns 1..C, beta in columns 4..C+3 (overlapping ranges are allowed).
  const packed = tf.tensor2d(randomArray(b * (c + 5), seed + 3, 0.5, 0.8), [b, c + 5]);
  return { x, affine: { gamma: packed, beta: packed, gammaColumn: 1, betaColumn: 4 }, tensors: [x, packed] };
}

describe('groupNormPooled on the WASM backend, against the matmul composite', () => {
  beforeAll(async () => {
    await import('@tensorflow/tfjs-backend-wasm');
    await tf.setBackend('wasm');
  });
  afterAll(async () => {
    tf.env().set(GROUP_NORM_MATMUL_ON_WASM_FLAG, false);
    await tf.setBackend('cpu');
  });

  // [batch, map size, channels, groups]: one to four channels per group, maps whose pixel count 16 divides
  // (long broadcast rows) and ones it does not (6x6: rows of 4 pixels; 3x3: of 1).
  const CASES: [number, number, number, number][] = [
    [1, 32, 16, 16],
    [11, 32, 16, 16],
    [1, 16, 32, 16],
    [11, 16, 32, 16],
    [1, 8, 48, 16],
    [11, 8, 48, 16],
    [1, 8, 32, 8],
    [11, 8, 32, 8],
    [1, 6, 12, 3],
    [11, 3, 8, 1],
  ];
  for (const affine of ['shared', 'packed per sample'] as const) {
    it.each(CASES)(
      `batch %i, %ix%i maps of %i channels in groups of C / %i, ${affine} affine: within 1e-5`,
      async (b, size, c, groups) => {
        const ctx = createLayerContext(groups, [size]);
        const { x, affine: rows, tensors } = groupNormCase(b, size, c, affine, 40 + b + c);
        const [pooled, composite] = tf.tidy(() => [groupNormPooled(x, rows, ctx), groupNormComposite(x, rows, ctx)]);
        expect(pooled.shape).toEqual([b, size, size, c]);
        expect(relativeError(await pooled.data(), await composite.data())).toBeLessThan(1e-5);
        tf.dispose([...tensors, pooled, composite]);
        disposeLayerContext(ctx);
      },
    );
  }

  it('stays accurate when the mean is far larger than the spread, at batch 1 and 11', async () => {
    for (const b of [1, 11]) {
      const data = randomArray(b * 4 * 4 * 4, 9, 0.01, 300);
      const ctx = createLayerContext(2, [4]);
      const x = tf.tensor4d(data, [b, 4, 4, 4]);
      const ones = tf.ones([1, 4]) as tf.Tensor2D;
      const zeros = tf.zeros([1, 4]) as tf.Tensor2D;
      const y = tf.tidy(() => groupNormPooled(x, affineOf(ones, zeros), ctx));
      const expected = [...Array(b).keys()].flatMap((n) => [
        ...featureMapToNhwc(refGroupNorm(nhwcToFeatureMap(data, n, 4, 4, 4), 2, [1, 1, 1, 1], [0, 0, 0, 0])),
      ]);
      // As in the CPU test above: float32 inputs near 300 carry ~3e-5 absolute rounding, ~3e-3 of the spread.
      expect(relativeError(await y.data(), expected)).toBeLessThan(1e-2);
      tf.dispose([x, ones, zeros, y]);
      disposeLayerContext(ctx);
    }
  });

  it('groupNorm runs the SIMD kernel on WASM, the pooled composite with it off, the matmul one under the flag', async () => {
    const ctx = createLayerContext(4, [8]);
    const { x, affine, tensors } = groupNormCase(2, 8, 16, 'shared', 60);
    const kernelsOf = async () => {
      const info = await tf.profile(() => tf.tidy(() => groupNorm(x, affine, ctx, 'silu')));
      tf.dispose(info.result as tf.Tensor);
      return info.kernelNames;
    };
    const simdKernels = await kernelsOf();
    tf.env().set(WASM_KERNELS_FLAG, false);
    const pooledKernels = await kernelsOf();
    tf.env().set(GROUP_NORM_MATMUL_ON_WASM_FLAG, true);
    const matmulKernels = await kernelsOf();
    tf.env().set(GROUP_NORM_MATMUL_ON_WASM_FLAG, false);
    tf.env().set(WASM_KERNELS_FLAG, true);
    expect(simdKernels).toEqual([GROUP_NORM_KERNEL]);
    expect(pooledKernels).toContain('AvgPool');
    expect(pooledKernels).not.toContain('BatchMatMul');
    expect(matmulKernels).toContain('BatchMatMul');
    expect(matmulKernels).not.toContain('AvgPool');
    tf.dispose(tensors);
    disposeLayerContext(ctx);
  });
});

describe('the WASM SIMD kernels (wasmSimd.ts), against the composites they replace', () => {
  beforeAll(async () => {
    await import('@tensorflow/tfjs-backend-wasm');
    await tf.setBackend('wasm');
  });
  afterAll(async () => {
    tf.env().set(WASM_KERNELS_FLAG, true);
    await tf.setBackend('cpu');
  });

  /** f run with the SIMD kernels and with the op composites (flag off), on the same inputs. */
  async function kernelAndComposite(f: () => tf.Tensor): Promise<[Float32Array, Float32Array]> {
    const kernel = tf.tidy(f);
    tf.env().set(WASM_KERNELS_FLAG, false);
    const composite = tf.tidy(f);
    tf.env().set(WASM_KERNELS_FLAG, true);
    const values = [(await kernel.data()) as Float32Array, (await composite.data()) as Float32Array] as const;
    tf.dispose([kernel, composite]);
    return [values[0], values[1]];
  }

  // [batch, map size, channels, groups]: the denoiser's shapes, groups of one to four channels.
  const CASES: [number, number, number, number][] = [
    [1, 32, 16, 16],
    [11, 16, 32, 16],
    [3, 8, 48, 16],
    [2, 8, 32, 8],
    [2, 6, 12, 3],
  ];
  for (const affine of ['shared', 'packed per sample'] as const) {
    for (const activation of ['linear', 'silu'] as const) {
      it.each(CASES)(
        `GroupNorm at batch %i, %ix%i maps of %i channels in groups of C / %i, ${affine} affine, ${activation}: within 1e-5`,
        async (b, size, c, groups) => {
          const ctx = createLayerContext(groups, [size]);
          const { x, affine: rows, tensors } = groupNormCase(b, size, c, affine, 70 + b + c);
          const [kernel, composite] = await kernelAndComposite(() => groupNorm(x, rows, ctx, activation));
          expect(relativeError(kernel, composite)).toBeLessThan(1e-5);
          tf.dispose(tensors);
          disposeLayerContext(ctx);
        },
      );
    }
  }

  it('GroupNorm + SiLU stays exact far out in the tails of the sigmoid (|y| up to 120)', async () => {
    const ctx = createLayerContext(1, [2]);
    const x = tf.tensor4d([-3, -1, 0, 1, 2, 3, 4, 5, -2, 0.5, 1.5, -0.5, 6, -6, 0.1, -0.1], [1, 2, 2, 4]);
    const gamma = tf.tensor2d([[40, -40, 1, 0.001]]);
    const beta = tf.tensor2d([[0, 0, 0, 0]]);
    const [kernel, composite] = await kernelAndComposite(() => groupNorm(x, affineOf(gamma, beta), ctx, 'silu'));
    expect(relativeError(kernel, composite)).toBeLessThan(1e-6);
    tf.dispose([x, gamma, beta]);
    disposeLayerContext(ctx);
  });

  it('attention (8x8 and 4x4 tokens, batch 1 and 11) matches matMul, softmax, matMul within 1e-5', async () => {
    for (const [b, size, c] of [
      [1, 8, 32],
      [11, 8, 32],
      [3, 4, 8],
    ]) {
      const ctx = createLayerContext(4, [size]);
      const x = tf.tensor4d(randomArray(b * size * size * c, 80 + b, 1.5), [b, size, size, c]);
      const dense = (seed: number): DenseWeights => ({
        kernel: tf.tensor2d(randomArray(c * c, seed, 0.5), [c, c]),
        bias: tf.tensor1d(randomArray(c, seed + 1, 0.1)),
      });
      const weights = {
        norm: affineOf(tf.ones([1, c]) as tf.Tensor2D, tf.zeros([1, c]) as tf.Tensor2D),
        query: dense(90),
        valueOut: dense(92),
      };
      const [kernel, composite] = await kernelAndComposite(() => selfAttention(x, weights, ctx));
      expect(relativeError(kernel, composite)).toBeLessThan(1e-5);
      tf.dispose([x, weights.norm.gamma, weights.norm.beta, weights.query.kernel, weights.query.bias]);
      tf.dispose([weights.valueOut.kernel, weights.valueOut.bias]);
      disposeLayerContext(ctx);
    }
  });

  it('the module validates for the plain and the shared (threaded) memory', () => {
    expect(WebAssembly.validate(buildSimdModule(false))).toBe(true);
    expect(WebAssembly.validate(buildSimdModule(true))).toBe(true);
  });

  it('SiLU matches y / (1 + e^-y) in float64 within 1e-6 relative, from -100 to 100', () => {
    const memory = new WebAssembly.Memory({ initial: 4 });
    const kernels = simdKernelsFor(memory);
    const count = 20000;
    const [x, scale, shift, out] = [0, 4 * count, 4 * count + 16, 4 * count + 32];
    const heap = new Float32Array(memory.buffer);
    for (let i = 0; i < count; i++) heap[i] = -100 + (200 * i) / count;
    heap.set([1, 1, 1, 1, 0, 0, 0, 0], scale / 4);
    kernels.affineSilu(x, scale, shift, out, 1, count / 4, 4);
    let worst = 0;
    for (let i = 0; i < count; i++) {
      const y = heap[i];
      const expected = y / (1 + Math.exp(-y));
      if (Math.abs(expected) > 1e-30)
        worst = Math.max(worst, Math.abs(heap[out / 4 + i] - expected) / Math.abs(expected));
    }
    expect(worst).toBeLessThan(1e-6);
  });

  it('concatenates channels as tf.concat does, in one kernel', async () => {
    const a = tf.tensor4d(randomArray(2 * 3 * 3 * 8, 95), [2, 3, 3, 8]);
    const b = tf.tensor4d(randomArray(2 * 3 * 3 * 4, 96), [2, 3, 3, 4]);
    const info = await tf.profile(() => concatChannels(a, b));
    const expected = tf.concat([a, b], 3);
    expect(info.kernelNames).toEqual([CONCAT_CHANNELS_KERNEL]);
    expect(Array.from(await (info.result as tf.Tensor).data())).toEqual(Array.from(await expected.data()));
    tf.dispose([a, b, expected, info.result as tf.Tensor]);
  });

  it('attention runs as one kernel on WASM', async () => {
    const q = tf.ones([2, 4, 4]) as tf.Tensor3D;
    const info = await tf.profile(() => attentionKernel(q, q, q));
    expect(info.kernelNames).toEqual([ATTENTION_KERNEL]);
    expect(Array.from(await (info.result as tf.Tensor).data())).toEqual(new Array(32).fill(1));
    tf.dispose([q, info.result as tf.Tensor]);
  });
});

describe('conv3x3', () => {
  it('matches a PyTorch-layout conv with padding 1 (stride 1), OIHW converted to HWIO', async () => {
    const [inCh, out] = [3, 5];
    const weight = randomArray(out * inCh * 9, 10);
    const bias = randomArray(out, 11);
    const data = randomArray(2 * 4 * 5 * inCh, 12);
    const w = convWeights(weight, bias, out, inCh, 3);
    const x = tf.tensor4d(data, [2, 4, 5, inCh]);
    const y = tf.tidy(() => conv3x3(x, w));
    expect(y.shape).toEqual([2, 4, 5, out]);
    const expected = referenceNhwc(data, [2, 4, 5, inCh], (m) => refConv2d(m, weight, bias, out, 3, 1, 1)).flatMap(
      (e) => [...e],
    );
    expect(relativeError(await y.data(), expected)).toBeLessThan(1e-5);
    tf.dispose([w.filter, w.bias, x, y]);
  });

  it('down-samples with symmetric zero padding like Conv2d(k3, s2, padding=1)', async () => {
    // A 4x4 map of ones and an all-ones 3x3 filter: each output counts the taps that land inside the map.
    // PyTorch pads one pixel on every side, so the top-left output sees a 2x2 corner (4 taps) and the others
    // 2x3 or 3x3 windows. TensorFlow's 'same' would pad only bottom/right and give 9 at the top-left.
    const w = convWeights(new Float32Array(9).fill(1), new Float32Array([0]), 1, 1, 3);
    const x = tf.ones([1, 4, 4, 1]) as tf.Tensor4D;
    const y = tf.tidy(() => conv3x3(x, w, 2));
    expect(y.shape).toEqual([1, 2, 2, 1]);
    expect(Array.from(await y.data())).toEqual([4, 6, 6, 9]);
    tf.dispose([w.filter, w.bias, x, y]);
  });

  it('down-samples random maps exactly as the reference conv', async () => {
    const [inCh, out] = [2, 3];
    const weight = randomArray(out * inCh * 9, 13);
    const bias = randomArray(out, 14);
    const data = randomArray(1 * 6 * 6 * inCh, 15);
    const w = convWeights(weight, bias, out, inCh, 3);
    const x = tf.tensor4d(data, [1, 6, 6, inCh]);
    const y = tf.tidy(() => conv3x3(x, w, 2));
    expect(y.shape).toEqual([1, 3, 3, out]);
    const expected = featureMapToNhwc(refConv2d(nhwcToFeatureMap(data, 0, 6, 6, inCh), weight, bias, out, 3, 2, 1));
    expect(relativeError(await y.data(), expected)).toBeLessThan(1e-5);
    tf.dispose([w.filter, w.bias, x, y]);
  });
});

describe('small layers', () => {
  it('silu is x * sigmoid(x)', async () => {
    const x = tf.tensor1d([-2, 0, 1, 3]);
    const y = tf.tidy(() => silu(x));
    const expected = [-2, 0, 1, 3].map((v) => v / (1 + Math.exp(-v)));
    const actual = await y.data();
    expected.forEach((e, i) => expect(actual[i]).toBeCloseTo(e, 6));
    tf.dispose([x, y]);
  });

  it('linear computes x W^T + b from a PyTorch [out, in] weight', async () => {
    // W = [[1, 2, 3], [4, 5, 6]], b = [0.5, -1]; x = [1, 0, -1] -> [1 - 3 + 0.5, 4 - 6 - 1] = [-1.5, -3]
    const w = denseWeights(new Float32Array([1, 2, 3, 4, 5, 6]), new Float32Array([0.5, -1]), 2, 3);
    const x = tf.tensor2d([1, 0, -1, 2, 2, 2], [2, 3]);
    const y = tf.tidy(() => linear(x, w));
    expect(Array.from(await y.data())).toEqual([-1.5, -3, 12.5, 29]);
    tf.dispose([w.kernel, w.bias, x, y]);
  });

  it('pointwiseConv equals a 1x1 conv', async () => {
    const weight = randomArray(4 * 3, 16);
    const bias = randomArray(4, 17);
    const data = randomArray(2 * 2 * 3 * 3, 18);
    const w = denseWeights(weight, bias, 4, 3);
    const x = tf.tensor4d(data, [2, 2, 3, 3]);
    const y = tf.tidy(() => pointwiseConv(x, w));
    expect(y.shape).toEqual([2, 2, 3, 4]);
    const expected = referenceNhwc(data, [2, 2, 3, 3], (m) => refConv2d(m, weight, bias, 4, 1, 1, 0)).flatMap((e) => [
      ...e,
    ]);
    expect(relativeError(await y.data(), expected)).toBeLessThan(1e-5);
    tf.dispose([w.kernel, w.bias, x, y]);
  });

  it('upsampleNearest2x copies each pixel into a 2x2 block', async () => {
    const x = tf.tensor4d([1, 10, 2, 20, 3, 30, 4, 40], [1, 2, 2, 2]);
    const y = tf.tidy(() => upsampleNearest2x(x));
    expect(y.shape).toEqual([1, 4, 4, 2]);
    const channel0 = (await y.data()).filter((_, i) => i % 2 === 0);
    expect(Array.from(channel0)).toEqual([1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4]);
    tf.dispose([x, y]);
  });
});

describe('layout conversion', () => {
  it('oihwToHwio moves W[o, i, y, x] to [y, x, i, o]', () => {
    const shape = [2, 3, 2, 2];
    const data = Float32Array.from({ length: 24 }, (_, k) => k);
    const out = oihwToHwio(data, shape);
    const at = (o: number, i: number, y: number, x: number) => data[((o * 3 + i) * 2 + y) * 2 + x];
    expect(out[((1 * 2 + 0) * 3 + 2) * 2 + 1]).toBe(at(1, 2, 1, 0));
    expect(out[((0 * 2 + 1) * 3 + 1) * 2 + 0]).toBe(at(0, 1, 0, 1));
  });

  it('transposeMatrix turns [out, in] into [in, out]', () => {
    expect(Array.from(transposeMatrix(new Float32Array([1, 2, 3, 4, 5, 6]), 2, 3))).toEqual([1, 4, 2, 5, 3, 6]);
  });
});

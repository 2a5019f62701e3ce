/**
 * The small NHWC layers the InfoDiffusion networks are built from. Each does one job on tensors already in
 * the runtime layout (HWIO filters, [in, out] matrices; see weights.ts). None of them calls tf.tidy or
 * disposes its inputs: the network function that calls them runs inside one tf.tidy.
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  GROUP_NORM_KERNEL,
  hasGroupNormKernel,
  registerGroupNormKernels,
  type GroupNormAttrs,
} from './groupNormKernel';

// The fused GroupNorm kernel is registered once, when the layers are first imported.
registerGroupNormKernels();

/** A convolution: filter HWIO [kh, kw, in, out] (converted from PyTorch OIHW at load), bias [out]. */
export interface ConvWeights {
  filter: tf.Tensor4D;
  bias: tf.Tensor1D;
}

/** A linear layer (or a 1x1 convolution): kernel [in, out] (PyTorch [out, in] transposed at load), bias [out]. */
export interface DenseWeights {
  kernel: tf.Tensor2D;
  bias: tf.Tensor1D;
}

/**
 * The per-channel affine of a GroupNorm: gamma and beta are rows [1, W] (one affine for the whole batch) or
 * [B, W] (per sample), and the layer's C values start at the given columns. A plain GroupNorm stores [1, C]
 * rows at column 0; the denoiser's modulated GroupNorms read their columns straight out of the packed
 * per-call modulation matrix, which saves two slices per block.
 */
export interface GroupNormAffine {
  gamma: tf.Tensor2D;
  beta: tf.Tensor2D;
  gammaColumn: number;
  betaColumn: number;
}

/** A GroupNorm's own (learned) affine: [1, C] rows at column 0. */
export type GroupNormWeights = GroupNormAffine;

/**
 * Constants the composite GroupNorm uses, created once per model (and disposed with it) so no network call
 * uploads them again.
 */
export interface LayerContext {
  /** GroupNorm groups (architecture.groupNormGroups). */
  groups: number;
  /** GroupNorm epsilon, 1e-5 as in PyTorch, as a scalar tensor. */
  epsilon: tf.Scalar;
  /** tokens (H * W) -> [1, 1, tokens] filled with 1 / tokens: a row that averages over the pixels. */
  pixelMeanRows: Map<number, tf.Tensor3D>;
}

/** PyTorch's GroupNorm epsilon. */
export const GROUP_NORM_EPSILON = 1e-5;

/** Builds the layer constants for every map size a network visits. The caller owns (and disposes) them. */
export function createLayerContext(groups: number, resolutions: Iterable<number>): LayerContext {
  const pixelMeanRows = new Map<number, tf.Tensor3D>();
  for (const resolution of resolutions) {
    const tokens = resolution * resolution;
    if (!pixelMeanRows.has(tokens)) pixelMeanRows.set(tokens, tf.fill([1, 1, tokens], 1 / tokens) as tf.Tensor3D);
  }
  return { groups, epsilon: tf.scalar(GROUP_NORM_EPSILON), pixelMeanRows };
}

/** Disposes the tensors of a layer context. */
export function disposeLayerContext(ctx: LayerContext): void {
  ctx.epsilon.dispose();
  for (const row of ctx.pixelMeanRows.values()) row.dispose();
}

/**
 * 3x3 convolution with PyTorch's `padding=1`: one pixel of zeros on every side, for stride 1 and 2 alike.
 * The padding is given to the conv op as a number (explicit symmetric padding), never 'same': for stride 2
 * TensorFlow's 'same' pads only bottom/right on even inputs and would shift the down-sampling grid.
 * @param x [B, H, W, Cin]
 * @returns [B, H / stride, W / stride, Cout]
 */
export function conv3x3(x: tf.Tensor4D, weights: ConvWeights, stride: 1 | 2 = 1): tf.Tensor4D {
  return tf.fused.conv2d({ x, filter: weights.filter, bias: weights.bias, strides: stride, pad: 1 });
}

/**
 * Linear layer y = x W + b, one fused dispatch.
 * @param x [N, in]
 * @returns [N, out]
 */
export function linear(x: tf.Tensor2D, weights: DenseWeights): tf.Tensor2D {
  return tf.fused.matMul({ a: x, b: weights.kernel, bias: weights.bias }) as tf.Tensor2D;
}

/**
 * 1x1 convolution as a matrix product over all pixels (what the backends do for 1x1 convs anyway).
 * @param x [B, H, W, Cin]
 * @returns [B, H, W, Cout]
 */
export function pointwiseConv(x: tf.Tensor4D, weights: DenseWeights): tf.Tensor4D {
  const [b, h, w, c] = x.shape;
  if (tf.getBackend() === 'wasm') {
    // tfjs-backend-wasm runs a matMul through XNNPACK's fully-connected operator without its thread pool, but a
    // convolution with it: as a 1x1 conv the product uses every XNNPACK thread (the filter is a view of the
    // kernel, so XNNPACK's packed-weights cache, keyed by the tensor, still holds across calls).
    const filter = tf.reshape(weights.kernel, [1, 1, c, weights.kernel.shape[1]]) as tf.Tensor4D;
    return tf.fused.conv2d({ x, filter, bias: weights.bias, strides: 1, pad: 'valid' });
  }
  const rows = tf.reshape(x, [b * h * w, c]) as tf.Tensor2D;
  return tf.reshape(linear(rows, weights), [b, h, w, weights.kernel.shape[1]]);
}

/** SiLU (swish), x * sigmoid(x). tfjs has no fused SiLU activation, hence two element-wise ops. */
export function silu<T extends tf.Tensor>(x: T): T {
  return tf.mul(x, tf.sigmoid(x));
}

/**
 * The tfjs environment flag that puts WASM back on the earlier matrix-product composite
 * (`groupNormComposite`) instead of `groupNormPooled`. For before/after measurements only (`npm run bench`
 * measures both in one run); the app never sets it. `tf.env().set(GROUP_NORM_MATMUL_ON_WASM_FLAG, true)`.
 */
export const GROUP_NORM_MATMUL_ON_WASM_FLAG = 'INFODIFF_GROUP_NORM_MATMUL_ON_WASM';
tf.env().registerFlag(GROUP_NORM_MATMUL_ON_WASM_FLAG, () => false);

/**
 * GroupNorm over an NHWC map with a per-channel affine that may differ per sample, optionally followed by
 * SiLU: y = (x - mean_g) / sqrt(var_g + eps) * gamma + beta, statistics per sample and group over all pixels
 * (biased variance, eps 1e-5, as PyTorch's nn.GroupNorm). Runs the fused kernel (groupNormKernel.ts) where
 * the active backend has one (CPU, WebGPU, WASM with C % 4 == 0); otherwise on WASM the pooled composite, and
 * elsewhere (WebGL) the matrix-product composite, which is the one measured there.
 * @param x [B, H, W, C], C divisible by ctx.groups
 * @returns [B, H, W, C]
 */
export function groupNorm(
  x: tf.Tensor4D,
  affine: GroupNormAffine,
  ctx: LayerContext,
  activation: 'linear' | 'silu' = 'linear',
): tf.Tensor4D {
  if (hasGroupNormKernel(x.shape[3])) {
    const attrs: GroupNormAttrs = {
      groups: ctx.groups,
      epsilon: GROUP_NORM_EPSILON,
      silu: activation === 'silu',
      scaleColumn: affine.gammaColumn,
      shiftColumn: affine.betaColumn,
    };
    return tf
      .engine()
      .runKernel(
        GROUP_NORM_KERNEL,
        { x, scale: affine.gamma, shift: affine.beta },
        attrs as unknown as tf.NamedAttrMap,
      ) as tf.Tensor4D;
  }
  const pooled = tf.getBackend() === 'wasm' && !tf.env().getBool(GROUP_NORM_MATMUL_ON_WASM_FLAG);
  const y = pooled ? groupNormPooled(x, affine, ctx) : groupNormComposite(x, affine, ctx);
  return activation === 'silu' ? silu(y) : y;
}

/** The C affine columns of gamma or beta as [rows, C]. */
function affineColumns(rows: tf.Tensor2D, column: number, channels: number): tf.Tensor2D {
  return column === 0 && rows.shape[1] === channels ? rows : tf.slice(rows, [0, column], [rows.shape[0], channels]);
}

/**
 * GroupNorm from tfjs ops, for backends without the fused kernel (and as its test reference).
 *
 * Why the shape of this code: NHWC group statistics reduce over non-innermost axes, which tfjs backends
 * implement with a transpose of the whole map before the reduction. A matrix product with a constant
 * [1, 1, H*W] row of 1/(H*W) gives the per-channel pixel means in one dispatch without that transpose; the
 * remaining mean over the channels of a group is innermost and cheap. The variance is taken as the mean of
 * squared differences (two passes), not E[x^2] - E[x]^2, to stay accurate when |mean| >> std. Finally the
 * whole normalisation and affine are folded into one per-channel scale and shift, so the full-size map sees
 * only one multiply and one add after the statistics.
 */
export function groupNormComposite(x: tf.Tensor4D, affine: GroupNormAffine, ctx: LayerContext): tf.Tensor4D {
  const [b, h, w, c] = x.shape;
  const groups = ctx.groups;
  const groupSize = c / groups;
  const tokens = h * w;
  const meanRow = ctx.pixelMeanRows.get(tokens);
  if (!meanRow)
    throw new Error(`groupNorm: no pixel-mean row for a ${h}x${w} map (layer context built for other sizes)`);

  // The row is tiled to the batch rather than broadcast: tfjs-backend-webgl 4.22's batched matMul mis-shapes a
  // broadcast batch-1 operand once the shared dimension exceeds 1000 (32x32 maps at batch > 1).
  const rows = b === 1 ? meanRow : tf.tile(meanRow, [b, 1, 1]);
  const grouped = tf.reshape(x, [b, tokens, groups, groupSize]);
  const channelMean = tf.matMul(rows, tf.reshape(x, [b, tokens, c])); // [B, 1, C]
  const groupMean = tf.mean(tf.reshape(channelMean, [b, 1, groups, groupSize]), 3, true); // [B, 1, G, 1]
  const squares = tf.squaredDifference(grouped, groupMean);
  const channelVariance = tf.matMul(rows, tf.reshape(squares, [b, tokens, c]));
  const groupVariance = tf.mean(tf.reshape(channelVariance, [b, 1, groups, groupSize]), 3, true);
  const invStd = tf.rsqrt(tf.add(groupVariance, ctx.epsilon));
  const affineShape = [affine.gamma.shape[0], 1, groups, groupSize];
  const gamma = tf.reshape(affineColumns(affine.gamma, affine.gammaColumn, c), affineShape);
  const beta = tf.reshape(affineColumns(affine.beta, affine.betaColumn, c), affineShape);
  const scale = tf.mul(invStd, gamma); // [B, 1, G, C/G]
  const shift = tf.sub(beta, tf.mul(groupMean, scale));
  return tf.reshape(tf.add(tf.mul(grouped, scale), shift), [b, h, w, c]);
}

/**
 * Mean over all pixels per sample and channel, one average pool over the whole map (XNNPACK on WASM). Run as
 * the kernel itself: the tf.avgPool op appends a Cast to the input dtype, one more launch per call.
 * @param x [B, H, W, C] float32
 * @returns [B, 1, 1, C]
 */
function pixelMean(x: tf.Tensor4D): tf.Tensor4D {
  const [, h, w] = x.shape;
  const attrs = { filterSize: [h, w], strides: 1, pad: 'valid' };
  return tf.engine().runKernel(tf.AvgPool, { x }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor4D;
}

/**
 * Pixels per row (k) when a per-channel row [B, 1, 1, C] is repeated to [B, 1, k, C] before it meets the
 * full map viewed as [B, H*W/k, k*C]. Why: XNNPACK's broadcasting binary ops work one innermost run of the
 * broadcast operand at a time, so [B, H*W, C] against [B, 1, C] runs B*H*W tiny rows of C (at C = 16, 4x
 * slower than a same-shape op at batch 1 and 12x at batch 11); rows of k*C (256 at k = 16, C = 16) run at
 * nearly the same-shape speed, and repeating the row is one small resize.
 */
const BROADCAST_ROW_PIXELS = 16;

/** Largest power of two <= BROADCAST_ROW_PIXELS that divides `tokens`. */
function broadcastRowPixels(tokens: number): number {
  let k = 1;
  while (2 * k <= BROADCAST_ROW_PIXELS && tokens % (2 * k) === 0) k *= 2;
  return k;
}

/**
 * Repeats per-channel values along pixels: [B, 1, 1, C] -> [B, 1, k * C] (nearest-neighbour resize of a 1x1
 * map, an exact copy), to meet a map viewed as [B, H*W/k, k*C].
 */
function repeatAlongPixels(rows: tf.Tensor, k: number): tf.Tensor3D {
  const [b, , , c] = rows.shape;
  if (k === 1) return tf.reshape(rows, [b, 1, c]);
  return tf.reshape(tf.image.resizeNearestNeighbor(rows as tf.Tensor4D, [1, k], false, false), [b, 1, k * c]);
}

/**
 * GroupNorm from tfjs ops shaped for the WASM backend (same function and contract as groupNormComposite,
 * which is its test reference).
 *
 * Why the shape of this code: on WASM a kernel launch costs a few microseconds, the same as a pass over a
 * 32x32x16 map, and the earlier composite paid for a batched BatchMatMul (a scalar loop in tfjs-backend-wasm
 * when batched), a Tile (a JavaScript loop) and a [B, 1, G, 1] broadcast whose innermost run is a group of
 * one or two channels. Here:
 * - per-channel statistics come from one whole-map average pool each (XNNPACK, any batch);
 * - the squared deviations are taken about each channel's own mean, broadcast in long rows
 *   (repeatAlongPixels), and the group variance is recovered exactly from the channel statistics as
 *   mean over the group of (var_c + (mean_c - mean_g)^2) (all channels of a group hold the same number of
 *   pixels), so the full map is never centred on a group-shaped broadcast;
 * - at batch 1 the whole normalisation and affine is one FusedBatchNorm launch (its statistics are shared by
 *   the one sample, and it centres before it scales); at batch > 1 the per-sample scale and shift are folded
 *   as in groupNormComposite and applied in long rows.
 * Two passes (mean, then squared deviations) keep the variance accurate when |mean| >> std.
 * @param x [B, H, W, C] float32, C divisible by ctx.groups
 * @returns [B, H, W, C]
 */
export function groupNormPooled(x: tf.Tensor4D, affine: GroupNormAffine, ctx: LayerContext): tf.Tensor4D {
  const [b, h, w, c] = x.shape;
  const groups = ctx.groups;
  if (c % groups !== 0) throw new Error(`groupNorm: ${c} channels do not split into ${groups} groups`);
  const groupSize = c / groups;
  const tokens = h * w;
  const k = broadcastRowPixels(tokens);
  const rows = (t: tf.Tensor) => tf.reshape(t, [b, tokens / k, k * c]);

  const channelMean = pixelMean(x); // [B, 1, 1, C]
  const squares = tf.squaredDifference(rows(x), repeatAlongPixels(channelMean, k));
  const channelVariance = pixelMean(tf.reshape(squares, [b, h, w, c])); // about each channel's own mean
  const gamma = affineColumns(affine.gamma, affine.gammaColumn, c); // [1 or B, C]
  const beta = affineColumns(affine.beta, affine.betaColumn, c);

  // Group statistics [B, 1, G, 1]; with one channel per group they are the channel statistics.
  let groupMean: tf.Tensor = tf.reshape(channelMean, [b, 1, groups, groupSize]);
  let groupVariance: tf.Tensor = tf.reshape(channelVariance, [b, 1, groups, groupSize]);
  if (groupSize > 1) {
    const mean = tf.mean(groupMean, 3, true);
    groupVariance = tf.mean(tf.add(groupVariance, tf.squaredDifference(groupMean, mean)), 3, true);
    groupMean = mean;
  }

  if (b === 1) {
    // FusedBatchNorm takes per-channel [C] statistics: repeat each group's value over its channels.
    const perChannel = (t: tf.Tensor) =>
      groupSize === 1
        ? tf.reshape(t, [c])
        : tf.reshape(
            tf.image.resizeNearestNeighbor(
              tf.reshape(t, [1, groups, 1, 1]) as tf.Tensor4D,
              [groups, groupSize],
              false,
              false,
            ),
            [c],
          );
    return tf.batchNorm(
      x,
      perChannel(groupMean),
      perChannel(groupVariance),
      tf.reshape(beta, [c]),
      tf.reshape(gamma, [c]),
      GROUP_NORM_EPSILON,
    ) as tf.Tensor4D;
  }
  const affineShape = [gamma.shape[0], 1, groups, groupSize];
  const scale = tf.mul(tf.rsqrt(tf.add(groupVariance, ctx.epsilon)), tf.reshape(gamma, affineShape)); // [B, 1, G, C/G]
  const shift = tf.sub(tf.reshape(beta, affineShape), tf.mul(groupMean, scale));
  const perPixelRow = (t: tf.Tensor) => repeatAlongPixels(tf.reshape(t, [b, 1, 1, c]), k);
  return tf.reshape(tf.add(tf.mul(rows(x), perPixelRow(scale)), perPixelRow(shift)), [b, h, w, c]);
}

/**
 * Nearest-neighbour x2 up-sampling (PyTorch `F.interpolate(scale_factor=2, mode='nearest')`: output pixel
 * (i, j) copies input (floor(i/2), floor(j/2))).
 * @param x [B, H, W, C]
 * @returns [B, 2H, 2W, C]
 */
export function upsampleNearest2x(x: tf.Tensor4D): tf.Tensor4D {
  const [, h, w] = x.shape;
  return tf.image.resizeNearestNeighbor(x, [2 * h, 2 * w], false, false);
}

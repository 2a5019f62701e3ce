/**
 * The small NHWC layers the InfoDiffusion networks are built from. Each does one job on tensors already in
 * the runtime layout (HWIO filters, [in, out] matrices; see weights.ts). None of them calls tf.tidy or
 * disposes its inputs: the network function that calls them runs inside one tf.tidy.
 */
import * as tf from '@tensorflow/tfjs-core';
import { GROUP_NORM_KERNEL, hasGroupNormKernel, registerGroupNormKernels, type GroupNormAttrs } from './groupNormKernel';

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
  const rows = tf.reshape(x, [b * h * w, c]) as tf.Tensor2D;
  return tf.reshape(linear(rows, weights), [b, h, w, weights.kernel.shape[1]]);
}

/** SiLU (swish), x * sigmoid(x). tfjs has no fused SiLU activation, hence two element-wise ops. */
export function silu<T extends tf.Tensor>(x: T): T {
  return tf.mul(x, tf.sigmoid(x));
}

/**
 * GroupNorm over an NHWC map with a per-channel affine that may differ per sample, optionally followed by
 * SiLU: y = (x - mean_g) / sqrt(var_g + eps) * gamma + beta, statistics per sample and group over all pixels
 * (biased variance, eps 1e-5, as PyTorch's nn.GroupNorm). Runs the fused kernel (groupNormKernel.ts) where
 * the active backend has one, else the composite below.
 * @param x [B, H, W, C], C divisible by ctx.groups
 * @returns [B, H, W, C]
 */
export function groupNorm(x: tf.Tensor4D, affine: GroupNormAffine, ctx: LayerContext, activation: 'linear' | 'silu' = 'linear'): tf.Tensor4D {
  if (hasGroupNormKernel()) {
    const attrs: GroupNormAttrs = {
      groups: ctx.groups, epsilon: GROUP_NORM_EPSILON, silu: activation === 'silu', scaleColumn: affine.gammaColumn, shiftColumn: affine.betaColumn,
    };
    return tf.engine().runKernel(GROUP_NORM_KERNEL, { x, scale: affine.gamma, shift: affine.beta }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor4D;
  }
  const y = groupNormComposite(x, affine, ctx);
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
  if (!meanRow) throw new Error(`groupNorm: no pixel-mean row for a ${h}x${w} map (layer context built for other sizes)`);

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
 * Nearest-neighbour x2 up-sampling (PyTorch `F.interpolate(scale_factor=2, mode='nearest')`: output pixel
 * (i, j) copies input (floor(i/2), floor(j/2))).
 * @param x [B, H, W, C]
 * @returns [B, 2H, 2W, C]
 */
export function upsampleNearest2x(x: tf.Tensor4D): tf.Tensor4D {
  const [, h, w] = x.shape;
  return tf.image.resizeNearestNeighbor(x, [2 * h, 2 * w], false, false);
}

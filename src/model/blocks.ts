/**
 * The residual and attention blocks of the official InfoDiffusion networks (`modules.py`): `AttnBlock`,
 * `ResBlock_encoder` and `AuxResBlock`. NHWC, no tf.tidy inside (the calling network function tidies),
 * inputs never disposed. Dropout is an identity at inference and does not appear.
 */
import * as tf from '@tensorflow/tfjs-core';
import { attentionKernel, hasAttentionKernel } from './wasmKernels';
import {
  conv3x3,
  groupNorm,
  pointwiseConv,
  type ConvWeights,
  type DenseWeights,
  type GroupNormAffine,
  type GroupNormWeights,
  type LayerContext,
} from './layers';

/**
 * Single-head self-attention weights, pre-composed at load (weights.ts `composeAttention`):
 * - `query` = proj_q followed by proj_k^T and the 1/sqrt(C) scale, so scores = query(n) . n;
 * - `valueOut` = proj_v followed by proj (the output 1x1 conv), so the result is softmax(scores) . valueOut(n).
 */
export interface AttentionWeights {
  norm: GroupNormWeights;
  query: DenseWeights;
  valueOut: DenseWeights;
}

/**
 * `AttnBlock`: x + proj(softmax(q k^T / sqrt(C)) v) with q, k, v 1x1 convs of GroupNorm(x), over the H*W
 * tokens of each sample. Computed with the pre-composed weights, which give the same scores up to a
 * per-query constant (cancelled by the softmax) and the same output because each softmax row sums to 1.
 * @param x [B, H, W, C]
 * @returns [B, H, W, C]
 */
export function selfAttention(x: tf.Tensor4D, weights: AttentionWeights, ctx: LayerContext): tf.Tensor4D {
  const [b, h, w, c] = x.shape;
  const tokens = h * w;
  const normed = groupNorm(x, weights.norm, ctx);
  const query = tf.reshape(pointwiseConv(normed, weights.query), [b, tokens, c]) as tf.Tensor3D;
  const keys = tf.reshape(normed, [b, tokens, c]) as tf.Tensor3D;
  const values = tf.reshape(pointwiseConv(normed, weights.valueOut), [b, tokens, c]) as tf.Tensor3D;
  const attended = hasAttentionKernel(tokens, c)
    ? attentionKernel(query, keys, values) // one WASM SIMD kernel (wasmKernels.ts)
    : tf.matMul(tf.softmax(tf.matMul(query, keys, false, true)), values); // scores [B, tokens, tokens]
  return tf.add(x, tf.reshape(attended, [b, h, w, c]));
}

/** `ResBlock_encoder(in, out)` weights. */
export interface EncoderResBlockWeights {
  norm1: GroupNormWeights;
  conv1: ConvWeights;
  norm2: GroupNormWeights;
  conv2: ConvWeights;
  /** 1x1 conv when in != out, else null (identity). */
  shortcut: DenseWeights | null;
  attention: AttentionWeights | null;
}

/**
 * `ResBlock_encoder`: h = conv(SiLU(GN(x))); h = conv(SiLU(GN(h))); h += shortcut(x); optional attention.
 * @param x [B, H, W, in]
 * @returns [B, H, W, out]
 */
export function encoderResBlock(x: tf.Tensor4D, weights: EncoderResBlockWeights, ctx: LayerContext): tf.Tensor4D {
  let h = conv3x3(groupNorm(x, weights.norm1, ctx, 'silu'), weights.conv1);
  h = conv3x3(groupNorm(h, weights.norm2, ctx, 'silu'), weights.conv2);
  h = tf.add(h, weights.shortcut ? pointwiseConv(x, weights.shortcut) : x);
  return weights.attention ? selfAttention(h, weights.attention, ctx) : h;
}

/** Where a block's modulation sits in the packed per-call modulation matrix (see denoiser.ts). */
export interface ModulationSlot {
  /** First column of this block's [gamma | beta] pair. */
  offset: number;
  /** Output channels of the block (width of gamma and of beta). */
  channels: number;
}

/** `AuxResBlock(in, out)` weights. block2's GroupNorm affine is folded into the time projection at load. */
export interface AuxResBlockWeights {
  norm1: GroupNormWeights;
  conv1: ConvWeights;
  modulation: ModulationSlot;
  conv2: ConvWeights;
  norm3: GroupNormWeights;
  conv3: ConvWeights;
  shortcut: DenseWeights | null;
  attention: AttentionWeights | null;
}

/**
 * Per-sample affine replacing block2's GroupNorm affine and both AdaGN modulations:
 * GN(h) (1 + s_t) + b_t, then (1 + s_a) + b_a, equals normalise(h) * gamma + beta with
 * gamma = g (1 + s_t)(1 + s_a) and beta = (beta_gn (1 + s_t) + b_t)(1 + s_a) + b_a: columns of the packed
 * per-call modulation matrix [B, P] (denoiser.ts).
 */
export type BlockModulation = GroupNormAffine;

/**
 * `AuxResBlock` (main branch): h = conv(SiLU(GN(x))); h = GN(h)(1+s_t)+b_t; h = h(1+s_a)+b_a;
 * h = conv(SiLU(h)); h = conv(SiLU(GN(h))); h += shortcut(x); optional attention.
 * @param x [B, H, W, in]
 * @param modulation the block's combined time/latent modulation for this call
 * @returns [B, H, W, out]
 */
export function auxResBlock(
  x: tf.Tensor4D,
  weights: AuxResBlockWeights,
  modulation: BlockModulation,
  ctx: LayerContext,
): tf.Tensor4D {
  let h = conv3x3(groupNorm(x, weights.norm1, ctx, 'silu'), weights.conv1);
  h = conv3x3(groupNorm(h, modulation, ctx, 'silu'), weights.conv2);
  h = conv3x3(groupNorm(h, weights.norm3, ctx, 'silu'), weights.conv3);
  h = tf.add(h, weights.shortcut ? pointwiseConv(x, weights.shortcut) : x);
  return weights.attention ? selfAttention(h, weights.attention, ctx) : h;
}

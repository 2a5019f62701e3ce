/**
 * The InfoDiffusion encoder (official `Encoder`, main branch): a full U-Net whose tail maps to one channel
 * at full resolution, flattened and projected to the latent by fc_a (z = a, no nonlinearity), or further by
 * fc_mu when the architecture's latentHead is 'mu'.
 */
import * as tf from '@tensorflow/tfjs-core';
import { encoderResBlock } from './blocks';
import { linear, type LayerContext } from './layers';
import { unetForward } from './unet';
import type { EncoderWeights } from './weights';

/**
 * Encodes images. Call inside tf.tidy; x is not disposed.
 * @param x [B, H, W, C], values in [-1, 1]
 * @returns z [B, D]
 */
export function encoderForward(weights: EncoderWeights, x: tf.Tensor4D, ctx: LayerContext): tf.Tensor2D {
  const map = unetForward(x, weights.trunk, (h, block) => encoderResBlock(h, block, ctx), ctx); // [B, H, W, 1]
  const [b, h, w] = map.shape;
  // With a single channel, NHWC row-major order (h, w) is exactly PyTorch's flatten of the NCHW [B, 1, H, W]
  // map, so fc_a's input features line up without a transpose.
  return linear(tf.reshape(map, [b, h * w]), weights.latentHead);
}

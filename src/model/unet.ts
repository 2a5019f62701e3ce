/**
 * The U-Net trunk shared by the encoder and the denoiser (official `Encoder.forward` and
 * `AuxiliaryUNet.forward`): head conv, down path pushing every output on the skip stack, two middle blocks,
 * up path concatenating [h, skip] before each residual block, and the GroupNorm -> SiLU -> conv tail. The
 * residual block is a parameter because the two networks use different blocks.
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  conv3x3,
  groupNorm,
  upsampleNearest2x,
  type ConvWeights,
  type GroupNormWeights,
  type LayerContext,
} from './layers';
import { concatChannels } from './wasmKernels';

/** One trunk module with its runtime weights; R is the residual block's weight type. */
export type TrunkModule<R> =
  { kind: 'res'; block: R } | { kind: 'down'; conv: ConvWeights } | { kind: 'up'; conv: ConvWeights };

export interface UNetWeights<R> {
  head: ConvWeights;
  down: TrunkModule<R>[];
  middle: R[];
  up: TrunkModule<R>[];
  tailNorm: GroupNormWeights;
  tailConv: ConvWeights;
}

/** Runs one residual block on h; the denoiser's version closes over the per-call modulation. */
export type ResBlockFn<R> = (h: tf.Tensor4D, block: R) => tf.Tensor4D;

function samplingModule<R>(h: tf.Tensor4D, module: TrunkModule<R>, resBlock: ResBlockFn<R>): tf.Tensor4D {
  switch (module.kind) {
    case 'res':
      return resBlock(h, module.block);
    case 'down':
      return conv3x3(h, module.conv, 2);
    case 'up':
      return conv3x3(upsampleNearest2x(h), module.conv);
    default: {
      const unknown: never = module;
      throw new Error(`unknown U-Net module ${JSON.stringify(unknown)}`);
    }
  }
}

/**
 * Runs the whole trunk, tail included. Call inside tf.tidy; x is not disposed.
 * @param x [B, H, W, Cin]
 * @returns [B, H, W, Ctail] (1 channel for the encoder, Cin for the denoiser)
 */
export function unetForward<R>(
  x: tf.Tensor4D,
  weights: UNetWeights<R>,
  resBlock: ResBlockFn<R>,
  ctx: LayerContext,
): tf.Tensor4D {
  let h = conv3x3(x, weights.head);
  const skips: tf.Tensor4D[] = [h];
  for (const module of weights.down) {
    h = samplingModule(h, module, resBlock);
    skips.push(h);
  }
  for (const block of weights.middle) h = resBlock(h, block);
  for (const module of weights.up) {
    if (module.kind === 'res') {
      const skip = skips.pop();
      if (!skip) throw new Error('unetForward: skip stack exhausted (weights do not follow unetPlan)');
      h = resBlock(concatChannels(h, skip), module.block);
    } else {
      h = samplingModule(h, module, resBlock);
    }
  }
  if (skips.length !== 0)
    throw new Error(`unetForward: ${skips.length} skip(s) left unused (weights do not follow unetPlan)`);
  return conv3x3(groupNorm(h, weights.tailNorm, ctx, 'silu'), weights.tailConv);
}

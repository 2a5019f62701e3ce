/**
 * The conditional noise predictor (official `AuxiliaryUNet`, main branch): eps_theta(x_t, t, z).
 * temb = Linear(SiLU(Linear(table[t]))) from the frozen sinusoid table, aemb = fc_a(z) (no activation), and
 * every AuxResBlock modulates its second GroupNorm by (temb, aemb) (AdaGN, see blocks.ts).
 */
import * as tf from '@tensorflow/tfjs-core';
import { auxResBlock, type BlockModulation, type ModulationSlot } from './blocks';
import { linear, silu, type LayerContext } from './layers';
import { unetForward } from './unet';
import type { DenoiserWeights } from './weights';

/**
 * The per-call modulation of every block at once, [B, P]: one [gamma | beta] column pair per block
 * (layout in weights.ts `packModulation`).
 */
function packedModulation(weights: DenoiserWeights, t: tf.Tensor1D, z: tf.Tensor2D): tf.Tensor2D {
  const timeFeatures = tf.gather(weights.timeTable, t); // [B, ch]
  const temb = linear(silu(linear(timeFeatures, weights.timeHidden)), weights.timeOut); // [B, 4ch]
  const aembActivated = silu(linear(z, weights.latentEmbedding)); // aemb_proj starts with a SiLU
  const timePart = linear(silu(temb), weights.timeModulation); // temb_proj starts with a SiLU
  return tf.add(
    tf.mul(timePart, linear(aembActivated, weights.latentScale)),
    linear(aembActivated, weights.latentShift),
  );
}

/** A block's [gamma | beta] columns of the packed modulation matrix, read in place by the GroupNorm. */
function blockModulation(modulation: tf.Tensor2D, slot: ModulationSlot): BlockModulation {
  return { gamma: modulation, beta: modulation, gammaColumn: slot.offset, betaColumn: slot.offset + slot.channels };
}

/**
 * Predicts the noise. Call inside tf.tidy; inputs are not disposed.
 * @param xt [B, H, W, C], noisy image at step t
 * @param t int32 [B], integer timestep indices in 0..T-1 (rows of the time table)
 * @param z [B, D], latent code
 * @returns eps [B, H, W, C]
 */
export function denoiserForward(
  weights: DenoiserWeights,
  xt: tf.Tensor4D,
  t: tf.Tensor1D,
  z: tf.Tensor2D,
  ctx: LayerContext,
): tf.Tensor4D {
  const modulation = packedModulation(weights, t, z);
  return unetForward(
    xt,
    weights.trunk,
    (h, block) => auxResBlock(h, block, blockModulation(modulation, block.modulation), ctx),
    ctx,
  );
}

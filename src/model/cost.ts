/**
 * Compute cost of one network call at batch 1, counted on the official graph (not on the pre-composed
 * runtime weights): 2 x multiply-adds of every convolution, linear layer and attention product.
 * GroupNorm, SiLU, additions and the table lookup are not counted.
 */
import type { ArchitectureConfig } from './config';
import { planModules, unetPlan, type ResModule, type UNetPlan } from './parameters';

function convFlops(resolution: number, inChannels: number, outChannels: number, kernel: number): number {
  return 2 * resolution * resolution * inChannels * outChannels * kernel * kernel;
}

function linearFlops(inFeatures: number, outFeatures: number): number {
  return 2 * inFeatures * outFeatures;
}

/** q, k, v and output 1x1 convs plus the two [tokens x tokens] products of single-head attention. */
function attentionFlops(resolution: number, channels: number): number {
  const tokens = resolution * resolution;
  return 4 * convFlops(resolution, channels, channels, 1) + 2 * (2 * tokens * tokens * channels);
}

function resBlockFlops(m: ResModule, denoiser: boolean, timeChannels: number): number {
  const r = m.resolution;
  let flops = convFlops(r, m.inChannels, m.outChannels, 3) + convFlops(r, m.outChannels, m.outChannels, 3);
  if (denoiser) {
    flops += convFlops(r, m.outChannels, m.outChannels, 3); // block3
    flops += 2 * linearFlops(timeChannels, 2 * m.outChannels); // temb_proj, aemb_proj
  }
  if (m.inChannels !== m.outChannels) flops += convFlops(r, m.inChannels, m.outChannels, 1);
  if (m.attention) flops += attentionFlops(r, m.outChannels);
  return flops;
}

function trunkFlops(plan: UNetPlan, arch: ArchitectureConfig, denoiser: boolean, tailChannels: number): number {
  let flops = convFlops(arch.imageSize, arch.imageChannels, plan.baseChannels, 3);
  for (const m of planModules(plan)) {
    flops +=
      m.kind === 'res'
        ? resBlockFlops(m, denoiser, plan.timeChannels)
        : convFlops(m.outResolution, m.inChannels, m.outChannels, 3);
  }
  return flops + convFlops(arch.imageSize, plan.finalChannels, tailChannels, 3);
}

/** FLOPs of one encoder call and one denoiser call at batch 1. */
export function networkFlops(arch: ArchitectureConfig): { encoderFlops: number; denoiserFlops: number } {
  const plan = unetPlan(arch);
  const tdim = plan.timeChannels;
  const tokens = arch.imageSize * arch.imageSize;
  let encoderFlops = trunkFlops(plan, arch, false, 1) + linearFlops(tokens, arch.latentDim);
  if (arch.latentHead === 'mu') encoderFlops += linearFlops(arch.latentDim, arch.latentDim);
  const denoiserFlops =
    trunkFlops(plan, arch, true, arch.imageChannels) +
    linearFlops(plan.baseChannels, tdim) +
    linearFlops(tdim, tdim) + // time MLP
    linearFlops(arch.latentDim, tdim); // fc_a
  return { encoderFlops, denoiserFlops };
}

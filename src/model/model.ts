/**
 * The loaded model: the encoder and the denoiser behind one small interface (the pose-detection pattern:
 * an interface plus a factory, the class stays private).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { ArchitectureConfig, ScheduleConfig } from './config';
import { networkFlops } from './cost';
import { denoiserForward } from './denoiser';
import { encoderForward } from './encoder';
import type { ModelMetadata } from './metadata';
import { expectedParameters, parameterArrayProblems, parameterCount } from './parameters';
import { buildNetworkWeights, type NetworkWeights, type ParameterMap } from './weights';

export interface InfoDiffusionModel {
  readonly metadata: ModelMetadata;
  readonly architecture: ArchitectureConfig;
  readonly schedule: ScheduleConfig;
  /**
   * Encodes images to latents.
   * @param x [B, H, W, C] float32 in [-1, 1]; never disposed
   * @returns z [B, D]; the caller owns (and disposes) it
   */
  encode(x: tf.Tensor4D): tf.Tensor2D;
  /**
   * Predicts the noise eps_theta(x_t, t, z).
   * @param xt [B, H, W, C] float32, noisy image at step t
   * @param t int32 [B], timestep indices in 0..T-1
   * @param z [B, D] float32 latent
   * @returns eps [B, H, W, C]; the caller owns (and disposes) it
   */
  predictEps(xt: tf.Tensor4D, t: tf.Tensor1D, z: tf.Tensor2D): tf.Tensor4D;
  /** Number of parameters and FLOPs of one call at batch 1 (multiply-adds x2 over convs/linears/attention). */
  readonly stats: { parameters: number; denoiserFlops: number; encoderFlops: number };
  /** Frees every weight tensor. Later calls to encode/predictEps throw. */
  dispose(): void;
}

function describe(tensor: tf.Tensor): string {
  return `${tensor.dtype} [${tensor.shape.join(', ')}]`;
}

class LoadedModel implements InfoDiffusionModel {
  readonly architecture: ArchitectureConfig;
  readonly schedule: ScheduleConfig;
  readonly stats: { parameters: number; denoiserFlops: number; encoderFlops: number };
  private weights: NetworkWeights | null;

  constructor(readonly metadata: ModelMetadata, weights: NetworkWeights) {
    this.architecture = metadata.architecture;
    this.schedule = metadata.schedule;
    this.weights = weights;
    this.stats = { parameters: parameterCount(this.architecture, this.schedule.timesteps), ...networkFlops(this.architecture) };
  }

  private live(operation: string): NetworkWeights {
    if (!this.weights) throw new Error(`${operation}: model '${this.metadata.id}' has been disposed`);
    return this.weights;
  }

  private checkImage(operation: string, name: string, x: tf.Tensor): void {
    const { imageSize, imageChannels } = this.architecture;
    if (x.rank !== 4 || x.dtype !== 'float32' || x.shape[1] !== imageSize || x.shape[2] !== imageSize || x.shape[3] !== imageChannels) {
      throw new Error(`${operation}: ${name} must be float32 [B, ${imageSize}, ${imageSize}, ${imageChannels}], got ${describe(x)}`);
    }
  }

  encode(x: tf.Tensor4D): tf.Tensor2D {
    const weights = this.live('encode');
    this.checkImage('encode', 'x', x);
    return tf.tidy(() => encoderForward(weights.encoder, x, weights.context));
  }

  predictEps(xt: tf.Tensor4D, t: tf.Tensor1D, z: tf.Tensor2D): tf.Tensor4D {
    const weights = this.live('predictEps');
    this.checkImage('predictEps', 'xt', xt);
    const batch = xt.shape[0];
    if (t.rank !== 1 || t.dtype !== 'int32' || t.shape[0] !== batch) {
      throw new Error(`predictEps: t must be int32 [${batch}] (one timestep index per image), got ${describe(t)}`);
    }
    const d = this.architecture.latentDim;
    if (z.rank !== 2 || z.dtype !== 'float32' || z.shape[0] !== batch || z.shape[1] !== d) {
      throw new Error(`predictEps: z must be float32 [${batch}, ${d}], got ${describe(z)}`);
    }
    return tf.tidy(() => denoiserForward(weights.denoiser, xt, t, z, weights.context));
  }

  dispose(): void {
    if (!this.weights) return;
    for (const tensor of this.weights.tensors) tensor.dispose();
    this.weights = null;
  }
}

/**
 * Builds a model from PyTorch-layout parameters (official state_dict names and shapes). The loader calls
 * this after reading a package; tests and benchmarks call it with randomParameters(). Throws, with nothing
 * allocated, when the parameter set does not match the architecture.
 */
export function createInfoDiffusionModel(metadata: ModelMetadata, parameters: ParameterMap): InfoDiffusionModel {
  const arch = metadata.architecture;
  const problems = parameterArrayProblems(expectedParameters(arch, metadata.schedule.timesteps), parameters);
  if (problems.length > 0) throw new Error(`parameters do not match the architecture: ${problems.join('; ')}`);
  return new LoadedModel(metadata, buildNetworkWeights(arch, metadata.schedule.timesteps, parameters));
}

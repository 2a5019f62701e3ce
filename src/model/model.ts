/**
 * The loaded model: the encoder and the denoiser behind one small interface (the pose-detection pattern:
 * an interface plus a factory, the class stays private).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { ArchitectureConfig, ScheduleConfig } from './config';
import { networkFlops } from './cost';
import { denoiserForward } from './denoiser';
import { encoderForward } from './encoder';
import type { ModelMetadata, Parameterisation } from './metadata';
import {
  packageWeightProblems,
  parameterArrayProblems,
  parameterCount,
  studentParameters,
  studentPresenceProblem,
} from './parameters';
import {
  buildNetworkWeights,
  buildStudentWeights,
  type NetworkWeights,
  type ParameterMap,
  type StudentNetworkWeights,
} from './weights';

/**
 * A distilled student (metadata.student): a copy of the denoiser trained to reproduce the teacher's
 * `teacherSteps`-step DDIM decode in a few calls (direct distillation, Luhman & Luhman 2021). Decode with
 * ddimSample(student.predict, schedule, plan.slice(0, k), xNoise, z, { parameterisation }) for its k-call image.
 */
export interface StudentDenoiser {
  /** What predict returns: eps, x0, or v (Salimans & Ho 2022, §4); ddimSample converts it. */
  readonly parameterisation: Parameterisation;
  /** Timesteps of its calls, strictly decreasing from T - 1. */
  readonly plan: readonly number[];
  /** Steps of the η = 0 DDIM decode it imitates. */
  readonly teacherSteps: number;
  /** PSNR of its images against the teacher's (metadata.student.fidelity), possibly empty. */
  readonly fidelity: Readonly<Record<string, unknown>>;
  /**
   * The student's output at (x_t, t, z), in its parameterisation.
   * @param xt [B, H, W, C] float32, noisy image at step t
   * @param t int32 [B], timestep indices in 0..T-1
   * @param z [B, D] float32 latent
   * @returns [B, H, W, C]; the caller owns (and disposes) it. Throws once the model is disposed.
   */
  predict(xt: tf.Tensor4D, t: tf.Tensor1D, z: tf.Tensor2D): tf.Tensor4D;
}

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
  /**
   * The package's distilled student, when metadata.student is present: a second denoiser with its own weights
   * (nothing mutable shared with predictEps's), freed by dispose. Absent otherwise.
   */
  readonly student?: StudentDenoiser;
  /** Number of parameters (the teacher's networks) and FLOPs of one call at batch 1 (multiply-adds x2 over convs/linears/attention). */
  readonly stats: { parameters: number; denoiserFlops: number; encoderFlops: number };
  /** Frees every weight tensor, the student's too. Later calls to encode/predictEps/student.predict throw. */
  dispose(): void;
}

function describe(tensor: tf.Tensor): string {
  return `${tensor.dtype} [${tensor.shape.join(', ')}]`;
}

/** An InfoDiffusionModel over a package's weights; callers see only the interface (createInfoDiffusionModel). */
class PackageModel implements InfoDiffusionModel {
  readonly architecture: ArchitectureConfig;
  readonly schedule: ScheduleConfig;
  readonly stats: { parameters: number; denoiserFlops: number; encoderFlops: number };
  readonly student?: StudentDenoiser;
  private weights: NetworkWeights | null;
  private studentWeights: StudentNetworkWeights | null;

  constructor(
    readonly metadata: ModelMetadata,
    weights: NetworkWeights,
    studentWeights: StudentNetworkWeights | null,
  ) {
    this.architecture = metadata.architecture;
    this.schedule = metadata.schedule;
    this.weights = weights;
    this.studentWeights = studentWeights;
    this.stats = {
      parameters: parameterCount(this.architecture, this.schedule.timesteps),
      ...networkFlops(this.architecture),
    };
    const described = metadata.student;
    if (described && studentWeights) {
      this.student = {
        parameterisation: described.parameterisation,
        plan: Object.freeze([...described.plan]),
        teacherSteps: described.teacherSteps,
        fidelity: described.fidelity,
        predict: (xt, t, z) => this.predictStudent(xt, t, z),
      };
    }
  }

  private live(operation: string): NetworkWeights {
    if (!this.weights) throw new Error(`${operation}: model '${this.metadata.id}' has been disposed`);
    return this.weights;
  }

  private checkImage(operation: string, name: string, x: tf.Tensor): void {
    const { imageSize, imageChannels } = this.architecture;
    if (
      x.rank !== 4 ||
      x.dtype !== 'float32' ||
      x.shape[1] !== imageSize ||
      x.shape[2] !== imageSize ||
      x.shape[3] !== imageChannels
    ) {
      throw new Error(
        `${operation}: ${name} must be float32 [B, ${imageSize}, ${imageSize}, ${imageChannels}], got ${describe(x)}`,
      );
    }
  }

  /** The checks every denoiser call makes on (x_t, t, z). */
  private checkDenoiserInputs(operation: string, xt: tf.Tensor4D, t: tf.Tensor1D, z: tf.Tensor2D): void {
    this.checkImage(operation, 'xt', xt);
    const batch = xt.shape[0];
    if (t.rank !== 1 || t.dtype !== 'int32' || t.shape[0] !== batch) {
      throw new Error(`${operation}: t must be int32 [${batch}] (one timestep index per image), got ${describe(t)}`);
    }
    const d = this.architecture.latentDim;
    if (z.rank !== 2 || z.dtype !== 'float32' || z.shape[0] !== batch || z.shape[1] !== d) {
      throw new Error(`${operation}: z must be float32 [${batch}, ${d}], got ${describe(z)}`);
    }
  }

  encode(x: tf.Tensor4D): tf.Tensor2D {
    const weights = this.live('encode');
    this.checkImage('encode', 'x', x);
    return tf.tidy(() => encoderForward(weights.encoder, x, weights.context));
  }

  predictEps(xt: tf.Tensor4D, t: tf.Tensor1D, z: tf.Tensor2D): tf.Tensor4D {
    const weights = this.live('predictEps');
    this.checkDenoiserInputs('predictEps', xt, t, z);
    return tf.tidy(() => denoiserForward(weights.denoiser, xt, t, z, weights.context));
  }

  private predictStudent(xt: tf.Tensor4D, t: tf.Tensor1D, z: tf.Tensor2D): tf.Tensor4D {
    const weights = this.studentWeights;
    if (!weights) throw new Error(`student.predict: model '${this.metadata.id}' has been disposed`);
    this.checkDenoiserInputs('student.predict', xt, t, z);
    return tf.tidy(() => denoiserForward(weights.denoiser, xt, t, z, weights.context));
  }

  dispose(): void {
    if (this.weights) for (const tensor of this.weights.tensors) tensor.dispose();
    if (this.studentWeights) for (const tensor of this.studentWeights.tensors) tensor.dispose();
    this.weights = null;
    this.studentWeights = null;
  }
}

/**
 * Builds a model from PyTorch-layout parameters (official state_dict names and shapes). The loader calls
 * this after reading a package; tests and benchmarks call it with randomParameters(). With metadata.student the
 * parameters also hold the student's `student.backbone.*` weights (studentParameters), and only then. Throws,
 * with nothing allocated, when the parameter set does not match the architecture.
 */
export function createInfoDiffusionModel(metadata: ModelMetadata, parameters: ParameterMap): InfoDiffusionModel {
  const arch = metadata.architecture;
  const timesteps = metadata.schedule.timesteps;
  const hasStudent = metadata.student !== undefined;
  const presence = studentPresenceProblem(hasStudent, parameters.keys(), studentParameters(arch, timesteps).size);
  if (presence) throw new Error(presence);
  const problems = packageWeightProblems(arch, timesteps, hasStudent, parameters, parameterArrayProblems);
  if (problems.length > 0) throw new Error(`parameters do not match the architecture: ${problems.join('; ')}`);
  const weights = buildNetworkWeights(arch, timesteps, parameters);
  let studentWeights: StudentNetworkWeights | null = null;
  try {
    if (hasStudent) studentWeights = buildStudentWeights(arch, timesteps, parameters);
  } catch (error) {
    for (const tensor of weights.tensors) tensor.dispose();
    throw error;
  }
  return new PackageModel(metadata, weights, studentWeights);
}

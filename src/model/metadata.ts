/**
 * Plain-data description of a model package's metadata block (docs/model-format.md). No tensors here:
 * the UI and the stores may import this module.
 */
import type { ArchitectureConfig, ScheduleConfig } from './config';

export interface Preprocessing {
  imageSize: number;
  channels: 1 | 3;
  /** Model-space range of pixel values; u8 u maps to u / 127.5 - 1 for [-1, 1]. */
  valueRange: [number, number];
  /** True when the data set draws light objects on a dark background (FashionMNIST). */
  lightOnDark: boolean;
}

export interface LatentStats {
  mean: number[];
  std: number[];
  min: number[];
  max: number[];
  /**
   * p(z) the encoder was regularised towards: 'normal' = N(0, I) (InfoDiffusion), '10mix' = the official mixture
   * of ten 2-D Gaussians on each pair of dimensions (train/infodiff/objective.py).
   */
  prior: LatentPrior;
  /**
   * A Gaussian mixture fitted to the encoded training set (train/infodiff/latent_prior.py): where the codes
   * really lie. Prior draws come from it when present, since the MMD term leaves q(z) far from `prior`.
   */
  fitted?: LatentMixture;
  /** The principal directions of the encoded training codes (train/infodiff/principal.py), when exported. */
  principal?: LatentPrincipal;
}

/** `latent.principal`: eigenvectors of the encoded training codes' covariance, largest variance first. */
export interface LatentPrincipal {
  /** Codes the directions were computed from. */
  fittedOn: number;
  /** At most latentDim unit rows of length latentDim. */
  components: number[][];
  /** The code variance along each row (its eigenvalue), non-increasing. */
  variance: number[];
  /** The trace of the codes' covariance: variance[k] / totalVariance is the share row k explains. */
  totalVariance: number;
}

/** `latent.fitted`: K full-covariance Gaussians; component k is N(means[k], L_k L_k^T). */
export interface LatentMixture {
  kind: 'gaussianMixture';
  /** Encoded training images the mixture was fitted to. */
  fittedOn: number;
  /** K positive weights summing to 1. */
  weights: number[];
  /** K means of length latentDim. */
  means: number[][];
  /** K Cholesky factors L_k, lower triangle packed row by row: L[0][0], L[1][0], L[1][1], L[2][0], ... */
  scaleTril: number[][];
}

/** Position of L[i][j] (j <= i) in a lower triangle packed row by row, as `LatentMixture.scaleTril` stores it. */
export function packedIndex(i: number, j: number): number {
  return (i * (i + 1)) / 2 + j;
}

/** Names of the latent priors a package may declare (docs/model-format.md, `latent.prior`). */
export const LATENT_PRIORS = ['normal', '10mix'] as const;
export type LatentPrior = (typeof LATENT_PRIORS)[number];

/** The training-data draw that infodiff.data reproduces the training set from (shapes: seed + 1000 held out). */
export interface DataDraw {
  seed: number;
  /** Training images in the draw. */
  size: number;
}

export interface AttributeDirection {
  name: string;
  group: string;
  /** Unit-norm direction in z space, length latentDim. */
  vector: number[];
  /** Decision offset along the direction. */
  bias: number;
}

export interface GaussianReference {
  kind: 'spectrum' | 'diagonal';
  /** Mean training image in model space, NHWC order, length d = H*W*C. */
  mean: number[];
  /** Mean per-pixel variance v. */
  variance: number;
  /** ln of the covariance eigenvalues (or per-pixel variances), length d. */
  logEigenvalues: number[];
  logSnrLoc: number;
  logSnrScale: number;
}

export interface GalleryItem {
  file: string;
  label: string;
}

export interface Provenance {
  source: 'trained' | 'converted-official' | 'fixture';
  dataset: string;
  objective: Record<string, unknown>;
  steps: number;
  batchSize: number;
  wallTimeSeconds: number;
  hardware: string;
  ema: boolean;
  metrics: Record<string, unknown>;
  createdAt: string;
  notes: string;
  /** Present for trained packages; absent where the draw is not one of infodiff.data's (converted, fixture). */
  data?: DataDraw;
}

/**
 * What a denoiser outputs at level ᾱ of its input x_t: 'eps' = ε (every teacher); 'x0' = x₀; 'v' =
 * √ᾱ ε - √(1-ᾱ) x₀ (Salimans & Ho 2022, ICLR, §4). src/diffusion/ddim.ts turns each into ε.
 */
export const PARAMETERISATIONS = ['eps', 'x0', 'v'] as const;
export type Parameterisation = (typeof PARAMETERISATIONS)[number];

/** Most calls a student's plan may list (docs/model-format.md, `student.plan`). */
export const MAX_STUDENT_CALLS = 8;

/**
 * `metadata.student`: a copy of the denoiser distilled to reproduce the package's `teacherSteps`-step DDIM decode
 * in a few calls (direct distillation, Luhman & Luhman 2021; v-prediction after Salimans & Ho 2022). It decodes
 * (x_T, z) with η = 0 DDIM along `plan`; the first k entries give its k-call image.
 */
export interface StudentMetadata {
  parameterisation: Parameterisation;
  /** Timesteps of its calls: strictly decreasing, starting at T - 1, 1..MAX_STUDENT_CALLS entries. */
  plan: number[];
  /** Steps of the η = 0 DDIM decode it imitates. */
  teacherSteps: number;
  /** How it was trained: steps, batchSize, wallTimeSeconds, hardware, teacherSteps (the teacher's optimiser steps). */
  training: Record<string, unknown>;
  /** PSNR (dB) of its image against the teacher's on held-out images (infodiff.distill_eval); may be empty. */
  fidelity: Record<string, unknown>;
}

export interface ModelMetadata {
  id: string;
  displayName: string;
  description: string;
  /** Present on a baseline package: the id of the model it is the baseline of (same data set); never its own id. */
  baselineOf?: string;
  architecture: ArchitectureConfig;
  schedule: ScheduleConfig;
  preprocessing: Preprocessing;
  latent: LatentStats;
  dimensionNames: (string | null)[];
  attributeDirections: AttributeDirection[];
  gaussianReference: GaussianReference;
  gallery: GalleryItem[];
  provenance: Provenance;
  /** Present when the package carries a distilled student (weights `student.backbone.*`). */
  student?: StudentMetadata;
}

export const MODEL_FORMAT = 'infodiffusion-explorer/model';
export const MODEL_FORMAT_VERSION = 1;

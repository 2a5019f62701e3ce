/**
 * Information-Theoretic Diffusion (Kong, Brekelmans & Ver Steeg, ICLR 2023): the negative log-likelihood of one
 * image by the pointwise I-MMSE identity, and its MMSE-versus-log-SNR curve, from an eps-prediction denoiser.
 * Sources: the paper's I-MMSE identity and its likelihood against a Gaussian reference, the authors' code
 * (kxh001/ITdiffusion) for the log-SNR sampling, and our control variate; docs/sources.md §2 gives each with its
 * file (cited below as §2.x). Natural logs throughout.
 *
 * Notation (code name -> ITD symbol -> source):
 *   logSnr         -> α = log γ, the log signal-to-noise ratio           §2.1
 *   alphaBar       -> ᾱ = σ(α), so 1 - ᾱ = σ(-α)                         VP channel z = √σ(α) x + √σ(-α) ε
 *   x, xTilde      -> x and its uniform dequantisation x̃ = x + δ(r - ½), δ = 2/255     §2.4
 *   eps, epsPred   -> ε ~ N(0, I) and ε̂ = ε_θ(z_α, t(α))                §2.7
 *   modelError     -> m_k = ‖ε_k - ε̂_k‖², summed over the d dimensions   §2.7
 *   linearError    -> ‖ε_k - ε̂_lin,k‖², the same for the reference's predictor, same ε_k
 *   mmse           -> mmse_ε(x, α) = E_ε ‖ε - ε̂‖²                        §2.2
 *   gaussianMmse   -> mmse_g(α) = Σ_i σ(α + ln λ_i)                      §2.3
 *   hGaussian      -> h_g = d/2 ln(2πe) + ½ Σ_i ln λ_i                   §2.3
 *   loc, scale     -> μ, s of the truncated logistic over α              §2.5
 *   LOGISTIC_CLIP  -> c = 4                                               §2.5
 *   weight         -> w = s tanh(c/2) / (σ(ξ) σ(-ξ)), ξ = (α - μ)/s       §2.5
 *   epsLinear      -> ε̂_lin = √(1-ᾱ)(z - √ᾱ m)/(ᾱ v + 1 - ᾱ), the exact predictor of N(m, v I)   §2.7
 *
 * The estimate (control-variate form, docs/sources.md §2.7):
 *   -ln p(x̃) = -ln N(x̃; m, v I) + ½ ∫ [mmse_ε(x̃, α) - mmse_lin(x̃, α)] dα
 *            ≈ d/2 ln(2πv) + ‖x̃ - m‖²/(2v) + (1/K) Σ_k ½ w_k (‖ε_k - ε̂_k‖² - ‖ε_k - ε̂_lin,k‖²)
 * Why this form: the I-MMSE identity holds pointwise for any denoiser pair, and N(m, v I)'s own denoiser gives
 * exactly -ln N(x̃; m, v I) in closed form, so only the model-versus-linear difference is integrated, with the same
 * ε_k in both terms. That difference vanishes like e^{2α} at low SNR (the plain integrand m_k - mmse_g(α) of §2.3
 * only like e^{α}) and it shares the noise of m_k, so it is less truncated by the clip and less noisy: 4-8x smaller
 * standard errors on Gaussian data resembling N(m, v I), about 2x on a spectrum spread over e^-7..1 (the tests).
 * It is exact in expectation over the ε_k and the stratified α_k, up to the part of the integral outside
 * [μ - cs, μ + cs], which is assumed to be zero (the model denoises like the linear reference there). The
 * plain estimate h_g + (1/K) Σ ½ w_k (m_k - mmse_g(α_k)) is reported beside it, from the same network calls.
 *
 * The network only takes integer timesteps, so it is called at t = timestepForLogSnr(α_k) while the noising uses
 * the exact α_k; an ItdEpsPredictor also receives α_k, which real networks ignore and analytic ones use.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { GaussianReference } from '../model/metadata';
import { throwIfAborted } from './abort';
import { normalTensor4d } from './normalTensor';
import { createRng, type Rng } from './random';
import { timestepForLogSnr, type NoiseSchedule } from './schedule';
import { sigmoid } from './sigmoid';

/**
 * The denoiser seen by the I-MMSE estimators: xt [B,H,W,C], t int32 [B], z [B,D] -> eps [B,H,W,C], as EpsPredictor,
 * plus logSnr [B], the exact log-SNR each xt was noised at (t is its nearest timestep). An EpsPredictor (which
 * ignores the fourth argument) is one. Must not dispose its inputs; the caller owns the result.
 */
export type ItdEpsPredictor = (xt: tf.Tensor4D, t: tf.Tensor1D, z: tf.Tensor2D, logSnr: Float64Array) => tf.Tensor4D;

/** c: the truncated logistic keeps σ(c) - σ(-c) = 96.4 % of the logistic's mass. */
export const LOGISTIC_CLIP = 4;

/** Spacing of the 256 u8 levels in [-1, 1] model space: u maps to u/127.5 - 1. */
const QUANTISATION_STEP = 2 / 255;

/** Options shared by the two estimators. */
export interface ItdRunOptions {
  /** Images per network call (each with its own α and t); default 32. Keep it fixed for a warm WebGPU pipeline. */
  batchSize?: number;
  /** Seed of every random draw (α jitter, ε, dequantisation); default 0. */
  seed?: number;
  /** Checked between batches; an abort rejects with a DOMException named 'AbortError' and leaks no tensor. */
  signal?: AbortSignal;
  /** Awaited between batches, e.g. a macrotask yield so a worker can receive new messages mid-run. */
  yieldEveryBatch?: () => Promise<void>;
  /** Called after every batch with the number of noisy images evaluated so far. */
  onProgress?: (progress: { evaluated: number; total: number }) => void;
}

export interface NllOptions extends ItdRunOptions {
  /** K: number of log-SNR samples, at least 2; default 256. */
  samples?: number;
  /** Add uniform noise of one quantisation step, so the 8-bit figure is a bound in expectation; default true. */
  dequantize?: boolean;
}

export interface NllEstimate {
  /** -ln p(x̃) in nats, the continuous density in [-1, 1]^d model space. */
  nats: number;
  /** nats / (d ln 2); negative for typical images (the density exceeds 1 on a small cube). */
  bitsPerDim: number;
  /** bitsPerDim + log2(127.5): the discrete 8-bit figure (an upper bound in expectation when dequantised). */
  bitsPerDim8bit: number;
  /** Standard error of bitsPerDim (and of bitsPerDim8bit), from the spread of the K terms. */
  stdErr: number;
  /** The plain estimate h_g + ½ mean(w (m - mmse_g)) (docs/sources.md §2.3) on the same draws, for comparison. */
  withoutControlVariate: { bitsPerDim: number; stdErr: number };
  /** Network invocations (each on a batch). */
  denoiserCalls: number;
  /** Noisy images the network evaluated, K. */
  denoiserEvaluations: number;
  /** The integration range [μ - cs, μ + cs] of the log-SNR. */
  logSnrRange: [number, number];
}

export interface MmseCurveOptions extends ItdRunOptions {
  /** Number of log-SNR values on linspace(μ - 4s, μ + 4s); default 64. */
  points?: number;
  /** Noise draws averaged per point; default 4. */
  repeats?: number;
  /** Dequantise x as the NLL estimate does, so the curve is the one it integrates; default false. */
  dequantize?: boolean;
}

export interface MmseCurve {
  /** α_j, increasing. */
  logSnr: number[];
  /** The model's eps-space MSE ‖ε - ε̂‖² summed over dimensions, averaged over repeats (0..~d). */
  mmse: number[];
  /** mmse_g(α) = Σ σ(α + ln λ_i): the reference Gaussian's MMSE (what a Wiener filter achieves on average). */
  gaussian: number[];
  /** d σ(α): the MMSE of N(0, I) data. */
  standardNormal: number[];
  /** e^{-α} mmse: the same error in x space, ‖x - x̂‖². */
  xSpaceMmse: number[];
  /** Network invocations (each on a batch). */
  denoiserCalls: number;
}

/** A validated reference plus the derived constants of the estimators. */
interface PreparedReference {
  dimensions: number;
  logEigenvalues: Float64Array;
  /** h_g, in nats. */
  hGaussian: number;
  loc: number;
  scale: number;
  variance: number;
}

function prepareReference(
  reference: GaussianReference,
  x: tf.Tensor4D,
  z: tf.Tensor2D,
  what: string,
): PreparedReference {
  if (x.rank !== 4 || x.shape[0] !== 1)
    throw new RangeError(`${what}: x must be one image [1,H,W,C], got shape [${x.shape}]`);
  if (z.rank !== 2 || z.shape[0] !== 1) throw new RangeError(`${what}: z must be [1,D], got shape [${z.shape}]`);
  const dimensions = x.size;
  if (reference.mean.length !== dimensions) {
    throw new RangeError(
      `${what}: gaussianReference.mean has ${reference.mean.length} entries, the image has d = ${dimensions}`,
    );
  }
  if (reference.logEigenvalues.length !== dimensions) {
    throw new RangeError(
      `${what}: gaussianReference.logEigenvalues has ${reference.logEigenvalues.length} entries, the image has d = ${dimensions}`,
    );
  }
  if (!(reference.variance > 0 && Number.isFinite(reference.variance))) {
    throw new RangeError(`${what}: gaussianReference.variance must be positive, got ${reference.variance}`);
  }
  if (!(reference.logSnrScale > 0 && Number.isFinite(reference.logSnrScale)) || !Number.isFinite(reference.logSnrLoc)) {
    throw new RangeError(
      `${what}: gaussianReference needs a finite logSnrLoc and a positive logSnrScale, got ${reference.logSnrLoc}, ${reference.logSnrScale}`,
    );
  }
  const logEigenvalues = Float64Array.from(reference.logEigenvalues);
  const sumLogEigenvalues = logEigenvalues.reduce((a, b) => a + b, 0);
  return {
    dimensions,
    logEigenvalues,
    hGaussian: (dimensions / 2) * Math.log(2 * Math.PI * Math.E) + sumLogEigenvalues / 2,
    loc: reference.logSnrLoc,
    scale: reference.logSnrScale,
    variance: reference.variance,
  };
}

/** mmse_g(α) = Σ_i σ(α + ln λ_i). */
function gaussianMmse(logEigenvalues: Float64Array, logSnr: number): number {
  let total = 0;
  for (let i = 0; i < logEigenvalues.length; i++) total += sigmoid(logSnr + logEigenvalues[i]);
  return total;
}

function positiveInteger(value: number, name: string, what: string, minimum = 1): number {
  if (!Number.isInteger(value) || value < minimum)
    throw new RangeError(`${what}: ${name} must be an integer >= ${minimum}, got ${value}`);
  return value;
}

/** The image the estimators noise: x itself, or x̃ = x + δ(r - ½) drawn from rng. The caller disposes it. */
function imageToNoise(x: tf.Tensor4D, dequantize: boolean, rng: Rng): tf.Tensor4D {
  if (!dequantize) return tf.clone(x);
  const jitter = rng.uniforms(x.size).map((r) => QUANTISATION_STEP * (r - 0.5));
  return tf.tidy(() => tf.add(x, tf.tensor4d(Float32Array.from(jitter), x.shape)));
}

/**
 * Noises x̃ at each log-SNR (fresh ε per entry), calls the network in batches with per-sample t, and returns
 * per entry the model's ‖ε - ε̂‖² and the scalar reference's ‖ε - ε̂_lin‖² on the same ε. One read-back per batch.
 */
async function squaredErrorsAtLogSnr(
  what: string,
  predictEps: ItdEpsPredictor,
  schedule: NoiseSchedule,
  xTilde: tf.Tensor4D,
  z: tf.Tensor2D,
  referenceMean: tf.Tensor4D,
  variance: number,
  logSnr: Float64Array,
  rng: Rng,
  opts: ItdRunOptions,
): Promise<{ modelError: Float64Array; linearError: Float64Array; denoiserCalls: number }> {
  const batchSize = positiveInteger(opts.batchSize ?? 32, 'batchSize', what);
  const [, height, width, channels] = xTilde.shape;
  const total = logSnr.length;
  const modelErrors = new Float64Array(total);
  const linearErrors = new Float64Array(total);
  let denoiserCalls = 0;
  for (let start = 0; start < total; start += batchSize) {
    throwIfAborted(opts.signal, what);
    const batchLogSnr = logSnr.slice(start, Math.min(start + batchSize, total));
    const n = batchLogSnr.length;
    const sqrtAlphaBar = Float32Array.from(batchLogSnr, (a) => Math.sqrt(sigmoid(a)));
    const sqrtOneMinusAlphaBar = Float32Array.from(batchLogSnr, (a) => Math.sqrt(sigmoid(-a)));
    const linearGain = Float32Array.from(
      batchLogSnr,
      (a) => Math.sqrt(sigmoid(-a)) / (sigmoid(a) * variance + sigmoid(-a)),
    );
    const errors = tf.tidy(() => {
      const perSample = (values: Float32Array): tf.Tensor4D => tf.tensor4d(values, [n, 1, 1, 1]);
      const signalScale = perSample(sqrtAlphaBar);
      const noise = normalTensor4d(rng, [n, height, width, channels]);
      const xt = tf.add(tf.mul(xTilde, signalScale), tf.mul(noise, perSample(sqrtOneMinusAlphaBar))) as tf.Tensor4D;
      const t = tf.tensor1d(timestepForLogSnr(schedule, batchLogSnr), 'int32');
      const epsPred = predictEps(xt, t, tf.tile(z, [n, 1]), batchLogSnr);
      if (!tf.util.arraysEqual(epsPred.shape, xt.shape)) {
        throw new Error(
          `${what}: the denoiser returned eps of shape [${epsPred.shape}] for x_t of shape [${xt.shape}]`,
        );
      }
      const epsLinear = tf.mul(tf.sub(xt, tf.mul(referenceMean, signalScale)), perSample(linearGain));
      const modelError = tf.sum(tf.square(tf.sub(noise, epsPred)), [1, 2, 3]);
      const linearError = tf.sum(tf.square(tf.sub(noise, epsLinear)), [1, 2, 3]);
      return tf.stack([modelError, linearError]);
    });
    denoiserCalls += 1;
    let values: Float32Array | Int32Array | Uint8Array;
    try {
      values = await errors.data();
    } finally {
      errors.dispose();
    }
    for (let k = 0; k < n; k++) {
      modelErrors[start + k] = values[k];
      linearErrors[start + k] = values[n + k];
    }
    opts.onProgress?.({ evaluated: start + n, total });
    if (opts.yieldEveryBatch) await opts.yieldEveryBatch();
  }
  return { modelError: modelErrors, linearError: linearErrors, denoiserCalls };
}

/** Mean and standard error of the mean (sample standard deviation / √K) of `terms`, in float64. */
function meanAndStdErr(terms: Float64Array): { mean: number; stdErr: number } {
  const K = terms.length;
  const mean = terms.reduce((a, b) => a + b, 0) / K;
  const sumSquares = terms.reduce((acc, term) => acc + (term - mean) ** 2, 0);
  return { mean, stdErr: Math.sqrt(sumSquares / (K - 1) / K) };
}

/**
 * Samples K log-SNRs from the logistic(μ, s) truncated to [μ - cs, μ + cs], stratified (one uniform draw in each
 * of K equal-probability strata, which keeps the estimate unbiased and removes most of the sampling noise), with
 * their importance weights w = 1/density (docs/sources.md §2.5, after `logistic_integrate` in the ITD code).
 */
function truncatedLogisticSamples(
  loc: number,
  scale: number,
  K: number,
  rng: Rng,
): { logSnr: Float64Array; weight: Float64Array } {
  const low = sigmoid(-LOGISTIC_CLIP);
  const keptMass = sigmoid(LOGISTIC_CLIP) - low;
  const logSnr = new Float64Array(K);
  const weight = new Float64Array(K);
  for (let k = 0; k < K; k++) {
    const quantile = low + (keptMass * (k + rng.uniform())) / K;
    const xi = Math.log(quantile / (1 - quantile));
    logSnr[k] = loc + scale * xi;
    weight[k] = (scale * keptMass) / (sigmoid(xi) * sigmoid(-xi));
  }
  return { logSnr, weight };
}

/**
 * -log p(x) of one image by the I-MMSE identity with the control variate of docs/sources.md §2.7 (see the header).
 * @param predictEps the denoiser (an EpsPredictor will do)
 * @param schedule the model's schedule, for the log-SNR -> timestep mapping
 * @param reference the model package's gaussianReference (mean, variance, spectrum, logistic μ and s)
 * @param x [1,H,W,C] the image in [-1, 1] model space; not disposed
 * @param z [1,D] its latent; not disposed
 */
export async function estimateNll(
  predictEps: ItdEpsPredictor,
  schedule: NoiseSchedule,
  reference: GaussianReference,
  x: tf.Tensor4D,
  z: tf.Tensor2D,
  opts: NllOptions = {},
): Promise<NllEstimate> {
  const what = 'estimateNll';
  const prepared = prepareReference(reference, x, z, what);
  const K = positiveInteger(opts.samples ?? 256, 'samples', what, 2);
  const rng = createRng(opts.seed ?? 0);
  const { logSnr, weight } = truncatedLogisticSamples(prepared.loc, prepared.scale, K, rng);
  const d = prepared.dimensions;
  const xTilde = imageToNoise(x, opts.dequantize ?? true, rng);
  const referenceMean = tf.tensor4d(Float32Array.from(reference.mean), x.shape);
  try {
    const distanceTensor = tf.tidy(() => tf.sum(tf.square(tf.sub(xTilde, referenceMean))));
    let squaredDistance: number;
    try {
      squaredDistance = (await distanceTensor.data())[0];
    } finally {
      distanceTensor.dispose();
    }
    const errors = await squaredErrorsAtLogSnr(
      what,
      predictEps,
      schedule,
      xTilde,
      z,
      referenceMean,
      prepared.variance,
      logSnr,
      rng,
      opts,
    );

    const controlled = new Float64Array(K);
    const plain = new Float64Array(K);
    for (let k = 0; k < K; k++) {
      controlled[k] = 0.5 * weight[k] * (errors.modelError[k] - errors.linearError[k]);
      plain[k] = 0.5 * weight[k] * (errors.modelError[k] - gaussianMmse(prepared.logEigenvalues, logSnr[k]));
    }
    const linearNats = (d / 2) * Math.log(2 * Math.PI * prepared.variance) + squaredDistance / (2 * prepared.variance);
    const withControl = meanAndStdErr(controlled);
    const withoutControl = meanAndStdErr(plain);
    const natsPerBitDim = d * Math.LN2;
    const nats = linearNats + withControl.mean;
    const bitsPerDim = nats / natsPerBitDim;
    return {
      nats,
      bitsPerDim,
      bitsPerDim8bit: bitsPerDim + Math.log2(127.5),
      stdErr: withControl.stdErr / natsPerBitDim,
      withoutControlVariate: {
        bitsPerDim: (prepared.hGaussian + withoutControl.mean) / natsPerBitDim,
        stdErr: withoutControl.stdErr / natsPerBitDim,
      },
      denoiserCalls: errors.denoiserCalls,
      denoiserEvaluations: K,
      logSnrRange: [prepared.loc - LOGISTIC_CLIP * prepared.scale, prepared.loc + LOGISTIC_CLIP * prepared.scale],
    };
  } finally {
    xTilde.dispose();
    referenceMean.dispose();
  }
}

/**
 * The model's MMSE curve for one image on linspace(μ - 4s, μ + 4s) (docs/sources.md §2.7), with the reference
 * curves.
 * @param x [1,H,W,C] the image in [-1, 1] model space; not disposed
 * @param z [1,D] its latent; not disposed
 */
export async function mmseCurve(
  predictEps: ItdEpsPredictor,
  schedule: NoiseSchedule,
  reference: GaussianReference,
  x: tf.Tensor4D,
  z: tf.Tensor2D,
  opts: MmseCurveOptions = {},
): Promise<MmseCurve> {
  const what = 'mmseCurve';
  const prepared = prepareReference(reference, x, z, what);
  const points = positiveInteger(opts.points ?? 64, 'points', what, 2);
  const repeats = positiveInteger(opts.repeats ?? 4, 'repeats', what);
  const rng = createRng(opts.seed ?? 0);
  const low = prepared.loc - LOGISTIC_CLIP * prepared.scale;
  const high = prepared.loc + LOGISTIC_CLIP * prepared.scale;
  const grid = Array.from({ length: points }, (_, j) => low + ((high - low) * j) / (points - 1));
  // Repeats are interleaved point by point, so a batch mixes log-SNRs (per-sample t) and all shapes stay fixed.
  const logSnr = Float64Array.from({ length: points * repeats }, (_, k) => grid[Math.floor(k / repeats)]);
  const xTilde = imageToNoise(x, opts.dequantize ?? false, rng);
  const referenceMean = tf.tensor4d(Float32Array.from(reference.mean), x.shape);
  try {
    const errors = await squaredErrorsAtLogSnr(
      what,
      predictEps,
      schedule,
      xTilde,
      z,
      referenceMean,
      prepared.variance,
      logSnr,
      rng,
      opts,
    );
    const mmse = grid.map((_, j) => {
      let total = 0;
      for (let r = 0; r < repeats; r++) total += errors.modelError[j * repeats + r];
      return total / repeats;
    });
    return {
      logSnr: grid,
      mmse,
      gaussian: grid.map((a) => gaussianMmse(prepared.logEigenvalues, a)),
      standardNormal: grid.map((a) => prepared.dimensions * sigmoid(a)),
      xSpaceMmse: grid.map((a, j) => Math.exp(-a) * mmse[j]),
      denoiserCalls: errors.denoiserCalls,
    };
  } finally {
    xTilde.dispose();
    referenceMean.dispose();
  }
}

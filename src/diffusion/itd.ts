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
 * Discrete data (the paper's discrete-probability result): for the 8-bit image x, -log P(x) = ½ ∫ mmse(x, α) dα with no constant and no
 * dequantisation, because an estimate that snaps to the 256 levels has an error that falls to zero at high SNR; the
 * soft rounding is the ITD code's `soft_round`. `estimateNll` with `discrete: true` runs a second pass on the
 * quantised, undequantised x with the same log-SNRs; which denoiser the integrand uses at each log-SNR, and the tails
 * outside the sampled range, are in itdDiscrete.ts. Ensembles (the paper's ensembling argument) combine members' `terms` (ensembleNll).
 *
 * Outside the trained range. The network was trained on t = 0..T-1 only (official schedule: log-SNR about -5..11.5,
 * `trainedLogSnrRange`) while the logistic range [μ - cs, μ + cs] reaches further (FashionMNIST: about -10..23);
 * queried there, it misreads the noise level and its MMSE curve climbs above d. Given `trainedLogSnrRange`, the
 * estimators do not call it outside that range: the continuous integrand takes the Gaussian reference's own linear
 * denoiser there (its control-variate term is then zero, as it is beyond the sampled range), the discrete one the
 * linear denoiser below and plain rounding of x_t/√ᾱ above, plus the closed-form tails (the paper's tail bounds, in
 * the Gaussian-reference form, pointwise). Each substitute is a real denoiser, so the estimates stay upper bounds in
 * expectation; they give up whatever the network might gain there. The MMSE curve still shows the network's own
 * error at every grid value, so the chart can show why.
 *
 * The network only takes integer timesteps, so it is called at t = timestepForLogSnr(α_k) while the noising uses
 * the exact α_k; an ItdEpsPredictor also receives α_k, which real networks ignore and analytic ones use.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { GaussianReference } from '../model/metadata';
import { throwIfAborted } from './abort';
import { normalTensor4d } from './normalTensor';
import {
  BITS_8BIT_OFFSET,
  QUANTISATION_STEP,
  SOFT_ROUND_HALF_WINDOW,
  continuousFromTerms,
  discreteDenoiserKind,
  discreteFromTerms,
  discreteTailsNats,
  checkSameDraws,
  meanAndStdErr,
  quantisationLevels,
  type BitsWithError,
  type NllTerms,
} from './itdDiscrete';
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

/** Options shared by the two estimators. */
export interface ItdRunOptions {
  /** Images per network call (each with its own α and t); default 32. Keep it fixed for a warm WebGPU pipeline. */
  batchSize?: number;
  /** Seed of every random draw (α jitter, ε, dequantisation); default 0. */
  seed?: number;
  /**
   * The log-SNRs the network was trained on (`trainedLogSnrRange(schedule)`); outside them it is not called and the
   * Gaussian reference stands in (header). Omitted: the denoiser is used at every log-SNR (analytic denoisers).
   */
  trainedLogSnrRange?: [number, number] | null;
  /** Checked between batches; an abort rejects with a DOMException named 'AbortError' and leaks no tensor. */
  signal?: AbortSignal;
  /** Awaited between batches, e.g. a macrotask yield so a worker can receive new messages mid-run. */
  yieldEveryBatch?: () => Promise<void>;
  /**
   * Called after every batch with the noisy images done so far (`evaluated`, network-evaluated or not) of `total`, and
   * the network calls (batches) made so far.
   */
  onProgress?: (progress: { evaluated: number; total: number; calls: number }) => void;
}

export interface NllOptions extends ItdRunOptions {
  /** K: number of log-SNR samples, at least 2; default 256. */
  samples?: number;
  /** Add uniform noise of one quantisation step, so the 8-bit figure is a bound in expectation; default true. */
  dequantize?: boolean;
  /** Also estimate the exact-discrete -log P(x) of the 8-bit image, from a second pass of K samples; default false. */
  discrete?: boolean;
  /** Test hook (golden parity): the K log-SNRs and weights, and ε (K·d values) of both passes, instead of drawn. */
  draws?: { logSnr: Float64Array; weight: Float64Array; noise?: Float32Array };
}

/** The exact-discrete estimate of the 8-bit image (the paper's discrete-probability result; itdDiscrete.ts). */
export interface DiscreteNllEstimate extends BitsWithError {
  /** -log P(x) in nats. */
  nats: number;
  /** The closed-form tails outside the sampled range, in bits per pixel (included in bitsPerDim). */
  tailsBitsPerDim: number;
  /** Network calls and network-evaluated noisy images of this pass. */
  denoiserCalls: number;
  denoiserEvaluations: number;
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
  /** Present with `discrete: true`. */
  discrete: DiscreteNllEstimate | null;
  /** Network invocations (each on a batch), all passes. */
  denoiserCalls: number;
  /** Noisy images the network evaluated, all passes (samples outside the trained range are not). */
  denoiserEvaluations: number;
  /** The integration range [μ - cs, μ + cs] of the log-SNR. */
  logSnrRange: [number, number];
  /** The trained range the estimate honoured, or null (the denoiser was used everywhere). */
  trainedLogSnrRange: [number, number] | null;
  /** The per-sample record, for ensembles (ensembleNll). */
  terms: NllTerms;
}

export interface MmseCurveOptions extends ItdRunOptions {
  /** Number of log-SNR values on linspace(μ - 4s, μ + 4s); default 64. */
  points?: number;
  /** Noise draws averaged per point; default 4. */
  repeats?: number;
  /** Dequantise x as the NLL estimate does (the continuous curve only; no discrete curve then); default false. */
  dequantize?: boolean;
}

export interface MmseCurve {
  /** α_j, increasing. */
  logSnr: number[];
  /** The network's eps-space MSE ‖ε - ε̂‖² summed over dimensions, averaged over repeats (0..~d), at every α_j. */
  mmse: number[];
  /** The discrete estimator's integrand on the 8-bit image (itdDiscrete.ts kinds): falls to zero at high SNR. */
  discrete: number[] | null;
  /** mmse_g(α) = Σ σ(α + ln λ_i): the reference Gaussian's MMSE (what a Wiener filter achieves on average). */
  gaussian: number[];
  /** d σ(α): the MMSE of N(0, I) data. */
  standardNormal: number[];
  /** e^{-α} mmse: the same error in x space, ‖x - x̂‖². */
  xSpaceMmse: number[];
  /** The schedule's trained log-SNR range when given, else null. */
  trainedLogSnrRange: [number, number] | null;
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

/** [1,H,W,C] -> the nearest of the 256 levels per pixel (the 8-bit image), exactly the values of quantisationLevels. */
function quantise(x: tf.Tensor4D, levels: tf.Tensor1D): tf.Tensor4D {
  return tf.tidy(() => {
    const index = tf.clipByValue(tf.floor(tf.add(tf.div(tf.add(x, 1), QUANTISATION_STEP), 0.5)), 0, 255);
    return tf.reshape(tf.gather(levels, tf.cast(tf.reshape(index, [-1]), 'int32')), x.shape) as tf.Tensor4D;
  });
}

/**
 * Soft rounding to the 256 levels (the ITD code's `soft_round`): Σ_b b softmax_b(-½(x - b)²(1 + e^α))
 * of x = clamp(x̂, -1, 1), over the 2·SOFT_ROUND_HALF_WINDOW + 1 levels nearest x. xPred [n,H,W,C], precision
 * (1 + e^α) per row [n] -> [n,H,W,C]. Inside a tidy.
 */
function softRound(xPred: tf.Tensor4D, precision: Float32Array, levels: tf.Tensor1D): tf.Tensor4D {
  const n = xPred.shape[0];
  const x = tf.clipByValue(xPred, -1, 1);
  const nearest = tf.floor(tf.add(tf.div(tf.add(x, 1), QUANTISATION_STEP), 0.5));
  const rowPrecision = tf.tensor4d(precision, [n, 1, 1, 1]);
  const logits: tf.Tensor[] = [];
  const values: tf.Tensor[] = [];
  for (let offset = -SOFT_ROUND_HALF_WINDOW; offset <= SOFT_ROUND_HALF_WINDOW; offset++) {
    const index = tf.add(nearest, offset);
    const valid = tf.logicalAnd(tf.greaterEqual(index, 0), tf.lessEqual(index, 255));
    const clamped = tf.cast(tf.reshape(tf.clipByValue(index, 0, 255), [-1]), 'int32');
    const level = tf.reshape(tf.gather(levels, clamped), x.shape);
    const logit = tf.mul(tf.mul(tf.square(tf.sub(x, level)), rowPrecision), -0.5);
    logits.push(tf.where(valid, logit, tf.fill(x.shape, -1e30)));
    values.push(level);
  }
  const weights = tf.softmax(tf.stack(logits, -1));
  return tf.sum(tf.mul(weights, tf.stack(values, -1)), -1) as tf.Tensor4D;
}

/** The image the estimators noise: x itself, or x̃ = quantise(x) + δ(r - ½) drawn from rng. The caller disposes it. */
function imageToNoise(x: tf.Tensor4D, dequantize: boolean, rng: Rng, levels: tf.Tensor1D): tf.Tensor4D {
  if (!dequantize) return tf.clone(x);
  const jitter = rng.uniforms(x.size).map((r) => QUANTISATION_STEP * (r - 0.5));
  return tf.tidy(() => tf.add(quantise(x, levels), tf.tensor4d(Float32Array.from(jitter), x.shape)));
}

interface SquaredErrors {
  /** The continuous integrand's ‖ε - ε̂‖², the linear reference's where the network was not called. */
  model: Float64Array;
  /** ‖ε - ε̂_lin‖² of the scalar reference on the same ε. */
  linear: Float64Array;
  /** The discrete integrand's error e^α‖x - x̂‖² (itdDiscrete.ts kinds), when asked. */
  discrete: Float64Array | null;
  denoiserCalls: number;
  denoiserEvaluations: number;
}

/** What one estimate's error passes share: the network, the image's latent and reference, the RNG and options. */
interface ErrorRun {
  what: string;
  predictEps: ItdEpsPredictor;
  schedule: NoiseSchedule;
  z: tf.Tensor2D;
  referenceMean: tf.Tensor4D;
  prepared: PreparedReference;
  rng: Rng;
  levels: tf.Tensor1D;
  opts: ItdRunOptions;
}

interface ErrorPassOptions {
  /** Compute the discrete integrand (the target must be the 8-bit image). */
  discrete: boolean;
  /** Call the network at every log-SNR (the curve, to show its own error), whatever the trained range. */
  networkEverywhere: boolean;
  /** ε for every sample (K·d values), instead of drawn from rng. */
  noise?: Float32Array;
  /** Progress offset and total across passes. */
  done: number;
  total: number;
  callsBefore: number;
}

/**
 * Noises `target` at each log-SNR (fresh ε per entry, drawn whether or not the network is called, so two models with
 * the same seed see the same draws) and calls the network in batches with per-sample t on the samples inside the
 * trained range (logSnr is increasing, so they are one contiguous run of each batch). One read-back per batch.
 */
async function squaredErrorsAtLogSnr(
  run: ErrorRun,
  target: tf.Tensor4D,
  logSnr: Float64Array,
  pass: ErrorPassOptions,
): Promise<SquaredErrors> {
  const { what, predictEps, schedule, z, referenceMean, rng, levels, opts } = run;
  const { variance } = run.prepared;
  const batchSize = positiveInteger(opts.batchSize ?? 32, 'batchSize', what);
  const [, height, width, channels] = target.shape;
  const d = height * width * channels;
  const total = logSnr.length;
  const trained = opts.trainedLogSnrRange ?? null;
  const model = new Float64Array(total);
  const linear = new Float64Array(total);
  const discrete = pass.discrete ? new Float64Array(total) : null;
  let denoiserCalls = 0;
  let denoiserEvaluations = 0;
  for (let start = 0; start < total; start += batchSize) {
    throwIfAborted(opts.signal, what);
    const batchLogSnr = logSnr.slice(start, Math.min(start + batchSize, total));
    const n = batchLogSnr.length;
    const kinds = Array.from(batchLogSnr, (a) => discreteDenoiserKind(a, trained));
    const inside = kinds.map((kind) => kind === 'model' || kind === 'soft-rounded');
    const useNetwork = pass.networkEverywhere || !trained ? kinds.map(() => true) : inside;
    const first = useNetwork.indexOf(true);
    const last = useNetwork.lastIndexOf(true) + 1;
    const perSample = (values: ArrayLike<number>): tf.Tensor4D => tf.tensor4d(Float32Array.from(values), [n, 1, 1, 1]);
    const errors = tf.tidy(() => {
      const signalScale = perSample(Array.from(batchLogSnr, (a) => Math.sqrt(sigmoid(a))));
      const noiseScale = perSample(Array.from(batchLogSnr, (a) => Math.sqrt(sigmoid(-a))));
      const linearGain = perSample(
        Array.from(batchLogSnr, (a) => Math.sqrt(sigmoid(-a)) / (sigmoid(a) * variance + sigmoid(-a))),
      );
      const noise = pass.noise
        ? tf.tensor4d(pass.noise.subarray(start * d, (start + n) * d), [n, height, width, channels])
        : normalTensor4d(rng, [n, height, width, channels]);
      const xt = tf.add(tf.mul(target, signalScale), tf.mul(noise, noiseScale)) as tf.Tensor4D;
      const epsLinear = tf.mul(tf.sub(xt, tf.mul(referenceMean, signalScale)), linearGain) as tf.Tensor4D;
      let epsPred = epsLinear;
      if (first >= 0) {
        const count = last - first;
        const xtRun = tf.slice(xt, [first, 0, 0, 0], [count, -1, -1, -1]) as tf.Tensor4D;
        const runLogSnr = batchLogSnr.slice(first, last);
        const t = tf.tensor1d(timestepForLogSnr(schedule, runLogSnr), 'int32');
        const predicted = predictEps(xtRun, t, tf.tile(z, [count, 1]) as tf.Tensor2D, runLogSnr);
        if (!tf.util.arraysEqual(predicted.shape, xtRun.shape)) {
          throw new Error(
            `${what}: the denoiser returned eps of shape [${predicted.shape}] for x_t of shape [${xtRun.shape}]`,
          );
        }
        const parts: tf.Tensor4D[] = [];
        if (first > 0) parts.push(tf.slice(epsLinear, [0, 0, 0, 0], [first, -1, -1, -1]));
        parts.push(predicted);
        if (last < n) parts.push(tf.slice(epsLinear, [last, 0, 0, 0], [n - last, -1, -1, -1]));
        epsPred = parts.length === 1 ? predicted : (tf.concat(parts) as tf.Tensor4D);
      }
      const rows = [
        tf.sum(tf.square(tf.sub(noise, epsPred)), [1, 2, 3]),
        tf.sum(tf.square(tf.sub(noise, epsLinear)), [1, 2, 3]),
      ];
      if (pass.discrete) {
        const xPred = tf.div(tf.sub(xt, tf.mul(noiseScale, epsPred)), signalScale) as tf.Tensor4D;
        const rowMask = (kind: string) =>
          tf.cast(perSample(kinds.map((k) => (k === kind ? 1 : 0))), 'bool') as tf.Tensor4D;
        let estimate = tf.clipByValue(xPred, -1, 1) as tf.Tensor4D;
        if (kinds.includes('soft-rounded')) {
          const precision = Float32Array.from(batchLogSnr, (a) => 1 + Math.exp(a));
          const soft = softRound(xPred, precision, levels);
          estimate = tf.where(tf.broadcastTo(rowMask('soft-rounded'), xt.shape), soft, estimate) as tf.Tensor4D;
        }
        if (kinds.includes('rounding')) {
          const rounded = quantise(tf.div(xt, signalScale) as tf.Tensor4D, levels);
          estimate = tf.where(tf.broadcastTo(rowMask('rounding'), xt.shape), rounded, estimate) as tf.Tensor4D;
        }
        rows.push(tf.sum(tf.square(tf.sub(target, estimate)), [1, 2, 3]));
      }
      return tf.stack(rows);
    });
    if (first >= 0) {
      denoiserCalls += 1;
      denoiserEvaluations += last - first;
    }
    let values: Float32Array | Int32Array | Uint8Array;
    try {
      values = await errors.data();
    } finally {
      errors.dispose();
    }
    for (let k = 0; k < n; k++) {
      model[start + k] = values[k];
      linear[start + k] = values[n + k];
      if (discrete) {
        discrete[start + k] = kinds[k] === 'linear' ? values[n + k] : Math.exp(batchLogSnr[k]) * values[2 * n + k];
      }
    }
    opts.onProgress?.({
      evaluated: pass.done + start + n,
      total: pass.total,
      calls: pass.callsBefore + denoiserCalls,
    });
    if (opts.yieldEveryBatch) await opts.yieldEveryBatch();
  }
  return { model, linear, discrete, denoiserCalls, denoiserEvaluations };
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

/** Reads a scalar tensor once and disposes it. */
async function readScalar(tensor: tf.Tensor): Promise<number> {
  try {
    return (await tensor.data())[0];
  } finally {
    tensor.dispose();
  }
}

/**
 * -log p(x) of one image by the I-MMSE identity with the control variate of docs/sources.md §2.7 (see the header),
 * and with `discrete` the exact-discrete -log P(x) of the 8-bit image (the paper's discrete-probability result).
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
  const K = positiveInteger(opts.draws?.logSnr.length ?? opts.samples ?? 256, 'samples', what, 2);
  const rng = createRng(opts.seed ?? 0);
  const { logSnr, weight } = opts.draws ?? truncatedLogisticSamples(prepared.loc, prepared.scale, K, rng);
  const d = prepared.dimensions;
  const levels = tf.tensor1d(quantisationLevels());
  const xTilde = imageToNoise(x, opts.dequantize ?? true, rng, levels);
  const referenceMean = tf.tensor4d(Float32Array.from(reference.mean), x.shape);
  const run: ErrorRun = { what, predictEps, schedule, z, referenceMean, prepared, rng, levels, opts };
  const logSnrRange: [number, number] = [
    prepared.loc - LOGISTIC_CLIP * prepared.scale,
    prepared.loc + LOGISTIC_CLIP * prepared.scale,
  ];
  const passes = opts.discrete ? 2 : 1;
  try {
    const squaredDistance = await readScalar(tf.tidy(() => tf.sum(tf.square(tf.sub(xTilde, referenceMean)))));
    const pass = { networkEverywhere: false, total: passes * K, callsBefore: 0 };
    const errors = await squaredErrorsAtLogSnr(run, xTilde, logSnr, {
      ...pass,
      discrete: false,
      noise: opts.draws?.noise,
      done: 0,
    });
    const linearNats = (d / 2) * Math.log(2 * Math.PI * prepared.variance) + squaredDistance / (2 * prepared.variance);
    let discreteEstimate: DiscreteNllEstimate | null = null;
    let discreteTerms: Float64Array | null = null;
    let tailsNats = 0;
    let calls = errors.denoiserCalls;
    let evaluations = errors.denoiserEvaluations;
    if (opts.discrete) {
      const quantised = quantise(x, levels);
      try {
        const quantisedValues = await quantised.data();
        const second = await squaredErrorsAtLogSnr(run, quantised, logSnr, {
          ...pass,
          discrete: true,
          noise: opts.draws?.noise,
          done: K,
          callsBefore: calls,
        });
        tailsNats = discreteTailsNats(quantisedValues, reference.mean, prepared.variance, logSnrRange);
        discreteTerms = second.discrete;
        calls += second.denoiserCalls;
        evaluations += second.denoiserEvaluations;
        const figure = discreteFromTerms(
          {
            logSnr,
            weight,
            model: errors.model,
            linear: errors.linear,
            discrete: null,
            linearNats,
            tailsNats,
            dimensions: d,
          },
          second.discrete,
        );
        discreteEstimate = {
          ...figure,
          nats: figure.bitsPerDim * d * Math.LN2,
          tailsBitsPerDim: tailsNats / (d * Math.LN2),
          denoiserCalls: second.denoiserCalls,
          denoiserEvaluations: second.denoiserEvaluations,
        };
      } finally {
        quantised.dispose();
      }
    }
    const terms: NllTerms = {
      logSnr,
      weight,
      model: errors.model,
      linear: errors.linear,
      discrete: discreteTerms,
      linearNats,
      tailsNats,
      dimensions: d,
    };
    const withControl = continuousFromTerms(terms);
    const plain = meanAndStdErr(
      Float64Array.from(
        weight,
        (w, k) => 0.5 * w * (errors.model[k] - gaussianMmse(prepared.logEigenvalues, logSnr[k])),
      ),
    );
    const natsPerBitDim = d * Math.LN2;
    return {
      nats: withControl.bitsPerDim * natsPerBitDim,
      bitsPerDim: withControl.bitsPerDim,
      bitsPerDim8bit: withControl.bitsPerDim + BITS_8BIT_OFFSET,
      stdErr: withControl.stdErr,
      withoutControlVariate: {
        bitsPerDim: (prepared.hGaussian + plain.mean) / natsPerBitDim,
        stdErr: plain.stdErr / natsPerBitDim,
      },
      discrete: discreteEstimate,
      denoiserCalls: calls,
      denoiserEvaluations: evaluations,
      logSnrRange,
      trainedLogSnrRange: opts.trainedLogSnrRange ?? null,
      terms,
    };
  } finally {
    tf.dispose([xTilde, referenceMean, levels]);
  }
}

/**
 * The model's MMSE curves for one image on linspace(μ - 4s, μ + 4s) (docs/sources.md §2.7): the network's own error
 * at every grid value, and the discrete estimator's integrand on the 8-bit image, with the reference curves.
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
  const levels = tf.tensor1d(quantisationLevels());
  const dequantize = opts.dequantize ?? false;
  // The curves are those of the 8-bit image (x quantised); dequantised, the continuous one is that of the jittered
  // image the NLL integrates, and the discrete curve, which needs x on the grid, is left out.
  const quantised = quantise(x, levels);
  const target = imageToNoise(quantised, dequantize, rng, levels);
  const referenceMean = tf.tensor4d(Float32Array.from(reference.mean), x.shape);
  const run: ErrorRun = { what, predictEps, schedule, z, referenceMean, prepared, rng, levels, opts };
  try {
    const errors = await squaredErrorsAtLogSnr(run, target, logSnr, {
      discrete: !dequantize,
      networkEverywhere: true,
      done: 0,
      total: logSnr.length,
      callsBefore: 0,
    });
    const average = (values: Float64Array) =>
      grid.map((_, j) => {
        let total = 0;
        for (let r = 0; r < repeats; r++) total += values[j * repeats + r];
        return total / repeats;
      });
    const mmse = average(errors.model);
    return {
      logSnr: grid,
      mmse,
      discrete: errors.discrete ? average(errors.discrete) : null,
      gaussian: grid.map((a) => gaussianMmse(prepared.logEigenvalues, a)),
      standardNormal: grid.map((a) => prepared.dimensions * sigmoid(a)),
      xSpaceMmse: grid.map((a, j) => Math.exp(-a) * mmse[j]),
      trainedLogSnrRange: opts.trainedLogSnrRange ?? null,
      denoiserCalls: errors.denoiserCalls,
    };
  } finally {
    tf.dispose([quantised, target, referenceMean, levels]);
  }
}

/**
 * An unconditional denoiser from a z-conditioned network: ε̂(x_t) = mean_s ε(x_t, t, z_s) over fixed prior draws z_s,
 * ignoring the z it is given. It never sees Enc(x), so its I-MMSE integral estimates -log p(x) (a bound in
 * expectation), and the gap to the conditional estimate is what z = Enc(x) tells the denoiser about x: the
 * information the InfoDiffusion objective maximises. S network calls per batch.
 * @param zDraws [S,D] prior draws; not disposed (the caller owns them and keeps them alive while it is used)
 */
export function priorAveragedPredictor(predictEps: ItdEpsPredictor, zDraws: tf.Tensor2D): ItdEpsPredictor {
  const draws = zDraws.shape[0];
  return (xt, t, _z, logSnr) =>
    tf.tidy(() => {
      let total: tf.Tensor4D | null = null;
      for (let s = 0; s < draws; s++) {
        const z = tf.tile(tf.slice(zDraws, [s, 0], [1, -1]), [xt.shape[0], 1]) as tf.Tensor2D;
        const eps = predictEps(xt, t, z, logSnr);
        total = total ? (tf.add(total, eps) as tf.Tensor4D) : eps;
      }
      return tf.div(total as tf.Tensor4D, draws) as tf.Tensor4D;
    });
}

/** An ensemble's figures (the paper's ensembling argument) and which member each sample used. */
export interface EnsembleEstimate {
  continuous: BitsWithError;
  /** bits per 8-bit pixel, dequantised bound: continuous + log2(127.5). */
  bitsPerDim8bit: number;
  discrete: BitsWithError | null;
  /** Per sample of the members' terms, the member index used (continuous, discrete). */
  choice: Int32Array;
  discreteChoice: Int32Array | null;
}

/**
 * The ensemble of members evaluated on the same draws (same seed, image and samples; terms from estimateNll) with
 * the given per-sample choices, e.g. from ensembleChoiceFromCurves.
 */
export function ensembleNll(
  members: readonly NllTerms[],
  choice: Int32Array,
  discreteChoice: Int32Array | null = choice,
): EnsembleEstimate {
  checkSameDraws(members, 'ensembleNll');
  const first = members[0];
  const continuous = continuousFromTerms(
    first,
    Float64Array.from(choice, (m, k) => members[m].model[k]),
  );
  const hasDiscrete = members.every((m) => m.discrete) && discreteChoice !== null;
  return {
    continuous,
    bitsPerDim8bit: continuous.bitsPerDim + BITS_8BIT_OFFSET,
    discrete: hasDiscrete
      ? discreteFromTerms(
          first,
          Float64Array.from(discreteChoice, (m, k) => (members[m].discrete as Float64Array)[k]),
        )
      : null,
    choice,
    discreteChoice: hasDiscrete ? discreteChoice : null,
  };
}

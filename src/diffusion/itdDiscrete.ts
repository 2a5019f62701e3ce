/**
 * The plain-number parts of the exact-discrete likelihood of Information-Theoretic Diffusion (Kong, Brekelmans &
 * Ver Steeg, "Information-Theoretic Diffusion", ICLR 2023, on discrete probabilities: for x on a discrete grid, -log P(x) = ½ ∫ mmse dα with
 * no constant and no dequantisation) and of ensembles (at each log-SNR any denoiser may be used, so the lower
 * MMSE of several gives a tighter estimate). The same rules and constants as train/infodiff/itd.py, checked by the
 * golden parity files. No tensors here: which denoiser each log-SNR uses, the tails outside the sampled range, and
 * turning per-sample errors into estimates with standard errors.
 */
import type { NoiseSchedule } from './schedule';

/** Spacing δ of the 256 levels u/127.5 - 1 of 8-bit pixels in [-1, 1] model space. */
export const QUANTISATION_STEP = 2 / 255;
export const LEVELS = 256;
/** log2(127.5): bits/dim of the density on [-1, 1] -> bits per 8-bit pixel under uniform dequantisation. */
export const BITS_8BIT_OFFSET = Math.log2(127.5);
/** Soft rounding starts where its kernel 1/√(1 + e^α) is narrower than one level: α = ln(1/δ² - 1) ≈ 9.70. */
export const SOFT_ROUND_FROM = Math.log(1 / QUANTISATION_STEP ** 2 - 1);
/** Levels either side of the nearest that soft rounding weighs; the rest weigh under e^-18 of it from SOFT_ROUND_FROM. */
export const SOFT_ROUND_HALF_WINDOW = 6;
/** The right tail's trapezoid rule: this far past its start, on this many intervals (as the Python side). */
const RIGHT_TAIL_SPAN = 12;
const RIGHT_TAIL_INTERVALS = 480;

/**
 * The denoiser of the discrete integrand at a log-SNR. Each is a function of x_t alone, so the I-MMSE integral of its
 * error bounds -log P(x) from above in expectation:
 * - 'linear' below the trained range: the Gaussian reference's linear denoiser;
 * - 'model' inside it, below SOFT_ROUND_FROM: the network's x̂ clamped to [-1, 1];
 * - 'soft-rounded' inside it from SOFT_ROUND_FROM: that x̂ soft-rounded to the 256 levels;
 * - 'rounding' above it: x_t/√ᾱ clamped and rounded to the nearest level, no network (its expected error is analytic).
 */
export type DiscreteDenoiserKind = 'linear' | 'model' | 'soft-rounded' | 'rounding';

/** [α at t = T-1, α at t = 0]: the log-SNRs the network was trained on (official schedule: about -5..11.5). */
export function trainedLogSnrRange(schedule: NoiseSchedule): [number, number] {
  return [schedule.logSnr[schedule.timesteps - 1], schedule.logSnr[0]];
}

/** See DiscreteDenoiserKind; without a trained range (analytic denoisers), only 'model' and 'soft-rounded'. */
export function discreteDenoiserKind(logSnr: number, trainedRange: [number, number] | null): DiscreteDenoiserKind {
  if (trainedRange && logSnr < trainedRange[0]) return 'linear';
  if (trainedRange && logSnr > trainedRange[1]) return 'rounding';
  return logSnr >= SOFT_ROUND_FROM ? 'soft-rounded' : 'model';
}

/** The 256 levels as float32 values of the float64 k·δ - 1, so quantised pixels and rounded estimates agree exactly. */
export function quantisationLevels(): Float32Array {
  return Float32Array.from({ length: LEVELS }, (_, k) => k * QUANTISATION_STEP - 1);
}

/** Index of the level nearest v (halves go up), clamped to 0..255: floor((v + 1)/δ + ½). */
export function levelIndex(value: number): number {
  return Math.min(LEVELS - 1, Math.max(0, Math.floor((value + 1) / QUANTISATION_STEP + 0.5)));
}

/** erfc(x), x ≥ 0 or not, with fractional error under 1.2e-7 (Chebyshev fit; Numerical Recipes' erfcc). */
export function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r =
    t *
    Math.exp(
      -z * z -
        1.26551223 +
        t *
          (1.00002368 +
            t *
              (0.37409196 +
                t *
                  (0.09678418 +
                    t *
                      (-0.18628806 +
                        t *
                          (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? r : 2 - r;
}

/**
 * E_ε of e^α (x - round(clamp(x + e^{-α/2} ε)))² for one pixel on the grid away from the ends (the clamp can only
 * lower it, so this bounds interior pixels), or at -1 / 1 (`edge`: one side only):
 * e^α Σ_k (kδ)² P(k levels off), P = 2 [Q((k - ½)s) - Q((k + ½)s)], s = δ e^{α/2}.
 */
export function roundingMsePerLevel(logSnr: number, edge = false): number {
  const s = QUANTISATION_STEP * Math.exp(logSnr / 2);
  let total = 0;
  for (let k = 1; k < LEVELS; k++) {
    const tail = 0.5 * erfc(((k - 0.5) * s) / Math.SQRT2);
    if (tail < 1e-300) break;
    total += (k * QUANTISATION_STEP) ** 2 * (tail - 0.5 * erfc(((k + 0.5) * s) / Math.SQRT2));
  }
  return Math.exp(logSnr) * total * (edge ? 1 : 2);
}

/** ½ ∫_{α_R}^∞ roundingMsePerLevel(α) dα for one interior pixel (trapezoid rule, the Python side's grid). */
export function roundingTailNats(logSnrRight: number): number {
  const step = RIGHT_TAIL_SPAN / RIGHT_TAIL_INTERVALS;
  let sum = 0;
  for (let i = 0; i <= RIGHT_TAIL_INTERVALS; i++) {
    const value = roundingMsePerLevel(logSnrRight + i * step);
    sum += i === 0 || i === RIGHT_TAIL_INTERVALS ? value / 2 : value;
  }
  return 0.5 * step * sum;
}

/**
 * ½ ∫_{-∞}^{α_L} E_ε ‖ε - ε̂_lin‖² dα for the reference N(m, v I)'s linear denoiser at one image, in closed form:
 * ½ [d (ln u + 1/u - 1) + ‖x - m‖²/v (1 - 1/u)], u = 1 + v e^{α_L}. The paper's Gaussian left tail, pointwise.
 */
export function linearLeftTailNats(logSnrLeft: number, squaredDistance: number, dimensions: number, variance: number) {
  const u = 1 + variance * Math.exp(logSnrLeft);
  return 0.5 * (dimensions * (Math.log(u) + 1 / u - 1) + (squaredDistance / variance) * (1 - 1 / u));
}

/**
 * The discrete estimate's two tails outside the sampled range [α_L, α_R], in nats: the linear reference's below,
 * the rounding denoiser's above (pixels at -1 or 1 count half: only one side can round wrong).
 * @param quantised the 8-bit image's d values in [-1, 1]
 */
export function discreteTailsNats(
  quantised: ArrayLike<number>,
  referenceMean: ArrayLike<number>,
  variance: number,
  logSnrRange: [number, number],
): number {
  let squared = 0;
  let edges = 0;
  for (let i = 0; i < quantised.length; i++) {
    squared += (quantised[i] - referenceMean[i]) ** 2;
    if (quantised[i] <= -1 || quantised[i] >= 1) edges += 1;
  }
  const d = quantised.length;
  const left = linearLeftTailNats(logSnrRange[0], squared, d, variance);
  return left + roundingTailNats(logSnrRange[1]) * (d - edges + 0.5 * edges);
}

/** A figure in bits per dimension with its standard error. */
export interface BitsWithError {
  bitsPerDim: number;
  stdErr: number;
}

/**
 * The per-sample record of one estimate, from which every figure and any ensemble is computed: the log-SNRs and
 * importance weights, and per sample the continuous integrand's model error (the linear reference's where the network
 * was not called), the linear reference's error on the same ε, and the discrete integrand's error when computed.
 */
export interface NllTerms {
  logSnr: Float64Array;
  weight: Float64Array;
  model: Float64Array;
  linear: Float64Array;
  discrete: Float64Array | null;
  /** -ln N(x̃; m, v I): the control variate's closed-form part, in nats. */
  linearNats: number;
  /** The discrete estimate's tails, in nats (0 when no discrete pass ran). */
  tailsNats: number;
  dimensions: number;
}

/** Mean and standard error of the mean (sample standard deviation / √K), in float64. */
export function meanAndStdErr(terms: ArrayLike<number>): { mean: number; stdErr: number } {
  const K = terms.length;
  let mean = 0;
  for (let k = 0; k < K; k++) mean += terms[k] / K;
  let sumSquares = 0;
  for (let k = 0; k < K; k++) sumSquares += (terms[k] - mean) ** 2;
  return { mean, stdErr: Math.sqrt(sumSquares / (K - 1) / K) };
}

/** -ln p(x̃) = linearNats + mean_k ½ w_k (m_k - l_k), in bits per dimension of [-1, 1] space, with its SE. */
export function continuousFromTerms(terms: NllTerms, model: ArrayLike<number> = terms.model): BitsWithError {
  const values = Float64Array.from(terms.weight, (w, k) => 0.5 * w * (model[k] - terms.linear[k]));
  const { mean, stdErr } = meanAndStdErr(values);
  const natsPerBitDim = terms.dimensions * Math.LN2;
  return { bitsPerDim: (terms.linearNats + mean) / natsPerBitDim, stdErr: stdErr / natsPerBitDim };
}

/** -log P(x) = tails + mean_k ½ w_k e_k, in bits per 8-bit pixel, with its SE (the tails are exact numbers). */
export function discreteFromTerms(terms: NllTerms, discrete: ArrayLike<number> | null = terms.discrete): BitsWithError {
  if (!discrete) throw new Error('discreteFromTerms: the estimate ran without its discrete pass');
  const values = Float64Array.from(terms.weight, (w, k) => 0.5 * w * discrete[k]);
  const { mean, stdErr } = meanAndStdErr(values);
  const natsPerBitDim = terms.dimensions * Math.LN2;
  return { bitsPerDim: (terms.tailsNats + mean) / natsPerBitDim, stdErr: stdErr / natsPerBitDim };
}

/** y at x on the polyline (xs increasing), held constant beyond its ends. */
function interpolate(xs: ArrayLike<number>, ys: ArrayLike<number>, x: number): number {
  if (x <= xs[0]) return ys[0];
  const last = xs.length - 1;
  if (x >= xs[last]) return ys[last];
  let j = 1;
  while (xs[j] < x) j++;
  const f = (x - xs[j - 1]) / (xs[j] - xs[j - 1]);
  return ys[j - 1] + f * (ys[j] - ys[j - 1]);
}

/**
 * Per log-SNR, the member whose curve (its own noise draws, so the choice never sees the draws it is scored on) is
 * lowest there, by linear interpolation.
 */
export function ensembleChoiceFromCurves(
  curves: ReadonlyArray<{ logSnr: ArrayLike<number>; values: ArrayLike<number> }>,
  logSnr: ArrayLike<number>,
): Int32Array {
  return Int32Array.from({ length: logSnr.length }, (_, k) => {
    let best = 0;
    let bestValue = Infinity;
    curves.forEach((curve, m) => {
      const value = interpolate(curve.logSnr, curve.values, logSnr[k]);
      if (value < bestValue) [best, bestValue] = [m, value];
    });
    return best;
  });
}

/** Per sample, the error of the member `choice` names. */
export function ensembleErrors(members: ReadonlyArray<ArrayLike<number>>, choice: Int32Array): Float64Array {
  return Float64Array.from(choice, (m, k) => members[m][k]);
}

/** Throws unless every member's terms come from the same draws (log-SNRs, and so ε and x̃ through the seed). */
export function checkSameDraws(members: readonly NllTerms[], what: string): void {
  const [first, ...rest] = members;
  for (const other of rest) {
    const same =
      other.logSnr.length === first.logSnr.length &&
      other.logSnr.every((a, k) => a === first.logSnr[k]) &&
      other.linear.every((l, k) => Math.abs(l - first.linear[k]) <= 1e-6 * Math.max(1, Math.abs(l)));
    if (!same) throw new Error(`${what}: the members were not evaluated on the same draws (seed, image, samples)`);
  }
}

/**
 * Noise schedules of the forward process and the DDIM step plan, as pure functions over Float64Array.
 *
 * Everything here is CPU arithmetic in float64, shared word for word with the PyTorch side
 * (train/infodiff): the golden parity files would catch any drift between the two.
 */
import { resolveSchedule, type ScheduleConfig } from '../model/config';

/** The forward process q(x_t | x_0) = N(sqrt(alphaBar[t]) x_0, (1 - alphaBar[t]) I), tabulated for t = 0..T-1. */
export interface NoiseSchedule {
  /** The validated configuration the tables were built from. */
  readonly config: ScheduleConfig;
  /** T: number of diffusion steps; the network's time input is the integer index 0..T-1. */
  readonly timesteps: number;
  /** beta_t, length T. */
  readonly betas: Float64Array;
  /** alpha_t = 1 - beta_t, length T. */
  readonly alphas: Float64Array;
  /** alphaBar_t = prod_{s <= t} alpha_s, length T, strictly decreasing in t. */
  readonly alphaBar: Float64Array;
  /** logSnr_t = ln(alphaBar_t / (1 - alphaBar_t)), the ITD log-SNR of step t, strictly decreasing in t. */
  readonly logSnr: Float64Array;
}

/** Linear betas: linspace(betaStart, betaEnd, T), the InfoDiffusion and DDPM family, rounded as numpy.linspace does. */
function linearBetas(T: number, betaStart: number, betaEnd: number): Float64Array {
  const step = (betaEnd - betaStart) / (T - 1);
  const betas = new Float64Array(T);
  for (let i = 0; i < T; i++) betas[i] = i * step + betaStart;
  betas[T - 1] = betaEnd;
  return betas;
}

/** Cosine betas of Nichol & Dhariwal (2021), eq. 17, with their clip of beta at 0.999 near t = T. */
function cosineBetas(T: number, offset: number): Float64Array {
  const f = (u: number): number => Math.cos((((u / T + offset) / (1 + offset)) * Math.PI) / 2) ** 2;
  const betas = new Float64Array(T);
  for (let i = 0; i < T; i++) betas[i] = Math.min(1 - f(i + 1) / f(i), 0.999);
  return betas;
}

/**
 * Tabulates the schedule described by `cfg` (validated against schema.json first; an invalid config throws a
 * ConfigError naming the field).
 */
export function makeSchedule(cfg: ScheduleConfig): NoiseSchedule {
  const config = resolveSchedule(cfg);
  const T = config.timesteps;
  const betas =
    config.kind === 'linear' ? linearBetas(T, config.betaStart, config.betaEnd) : cosineBetas(T, config.cosineOffset);
  const alphas = new Float64Array(T);
  const alphaBar = new Float64Array(T);
  const logSnr = new Float64Array(T);
  let product = 1;
  for (let t = 0; t < T; t++) {
    alphas[t] = 1 - betas[t];
    product *= alphas[t];
    alphaBar[t] = product;
    logSnr[t] = Math.log(product) - Math.log1p(-product);
  }
  return { config, timesteps: T, betas, alphas, alphaBar, logSnr };
}

/**
 * Round half up, as floor(x + 0.5): the rule train/infodiff/diffusion.py's ddim_plan uses, so both sides plan the
 * same timesteps even on ties such as 2.5 (where Python's round() would go to the even neighbour). x >= 0 here.
 */
function roundHalfUp(value: number): number {
  return Math.floor(value + 0.5);
}

/**
 * The DDIM plan tau = [tau_0 > ... > tau_{S-1}]: tau_i = round((T-1) * (1 - i/(S-1))) for S >= 2 and [T-1]
 * for S = 1, so it starts at T-1 (where sampling starts) and ends at 0. The float expression and the rounding
 * (half up) are those of the PyTorch side's `floor((T - 1) * (1 - i / (S - 1)) + 0.5)`, bit for bit.
 * @param T number of diffusion steps of the schedule
 * @param steps S, the number of network calls, an integer in 1..T
 */
export function ddimTimesteps(T: number, steps: number): Int32Array {
  if (!Number.isInteger(T) || T < 1) throw new RangeError(`ddimTimesteps: T must be a positive integer, got ${T}`);
  if (!Number.isInteger(steps) || steps < 1 || steps > T) {
    throw new RangeError(`ddimTimesteps: steps must be an integer in 1..${T} (T), got ${steps}`);
  }
  if (steps === 1) return Int32Array.of(T - 1);
  const plan = new Int32Array(steps);
  for (let i = 0; i < steps; i++) plan[i] = roundHalfUp((T - 1) * (1 - i / (steps - 1)));
  return plan;
}

/** Index of the entry of the decreasing table `logSnr` nearest to `target`, clamped to the table; ties go to the smaller t. */
function nearestTimestep(logSnr: Float64Array, target: number): number {
  if (Number.isNaN(target)) throw new RangeError('timestepForLogSnr: log-SNR is NaN');
  const last = logSnr.length - 1;
  if (target >= logSnr[0]) return 0;
  if (target <= logSnr[last]) return last;
  // Invariant: logSnr[low] > target > logSnr[high].
  let low = 0;
  let high = last;
  while (high - low > 1) {
    const mid = (low + high) >>> 1;
    if (logSnr[mid] > target) low = mid;
    else if (logSnr[mid] < target) high = mid;
    else return mid;
  }
  return logSnr[low] - target <= target - logSnr[high] ? low : high;
}

/**
 * The integer timestep whose log-SNR is nearest to the given one (the ITD code's logsnr2t, docs/sources.md §2.6, on
 * the schedule's own grid). Values above logSnr[0] map to 0 and values below logSnr[T-1] to T-1.
 */
export function timestepForLogSnr(schedule: NoiseSchedule, logSnr: number): number;
export function timestepForLogSnr(schedule: NoiseSchedule, logSnr: ArrayLike<number>): Int32Array;
export function timestepForLogSnr(schedule: NoiseSchedule, logSnr: number | ArrayLike<number>): number | Int32Array {
  if (typeof logSnr === 'number') return nearestTimestep(schedule.logSnr, logSnr);
  const timesteps = new Int32Array(logSnr.length);
  for (let k = 0; k < logSnr.length; k++) timesteps[k] = nearestTimestep(schedule.logSnr, logSnr[k]);
  return timesteps;
}

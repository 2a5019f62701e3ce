/**
 * DDIM sampling and inversion (Song, Meng & Ermon, "Denoising Diffusion Implicit Models", ICLR 2021) for the
 * z-conditioned InfoDiffusion denoiser. Formulas are the project's shared convention (the PyTorch side uses the
 * same ones and the golden parity files check them); the step plan and where it differs from the official code are in
 * docs/sources.md §3 and §1.5.
 *
 * Notation (code name -> paper symbol -> source):
 *   alphaBar[t]    -> ᾱ_t (written α_t in DDIM)        forward marginal q(x_t | x_0) = N(√ᾱ_t x_0, (1 - ᾱ_t) I)
 *   plan[i]        -> τ_i, decreasing sub-sequence       DDIM §4.2 (τ_0 = T-1 ... τ_{S-1} = 0)
 *   xt             -> x_{τ_i}, the step's input
 *   xNoise         -> x_T, where sampling starts (level ᾱ_{T-1} in our 0-based indexing)
 *   z              -> the InfoDiffusion semantic latent conditioning ε_θ
 *   eps            -> ε_θ(x_t, t, z), the network's noise prediction
 *   alphaBarFrom   -> ᾱ_t, the level of the step's input
 *   alphaBarTo     -> ᾱ_{t-1}, the level of the step's output (ᾱ of τ_{i+1}, or 1 after the last step)
 *   x0Pred         -> "predicted x_0" = (x_t - √(1-ᾱ_t) ε) / √ᾱ_t                  DDIM eq. (12), first term
 *   sigma          -> σ_t(η) = η √((1-ᾱ_{t-1})/(1-ᾱ_t)) √(1 - ᾱ_t/ᾱ_{t-1})            DDIM eq. (16)
 *   directionCoef  -> √(1 - ᾱ_{t-1} - σ_t²), the "direction pointing to x_t"      DDIM eq. (12), second term
 *   xPrev          -> x_{t-1} = √ᾱ_{t-1} x0Pred + directionCoef eps + σ_t noise      DDIM eq. (12)
 *   eta            -> η (0: deterministic DDIM, 1: DDPM-like ancestral noise); one per image where a batch mixes them
 *   prediction     -> what the network outputs at the step's input: ε (the teachers), x₀, or
 *                     v = √ᾱ_t ε - √(1-ᾱ_t) x₀ (Salimans & Ho, "Progressive Distillation", ICLR 2022, §4)
 *   parameterisation -> which of the three; epsFromPrediction turns it into ε before the step
 *
 * Inversion runs the η = 0 step with the pair of levels reversed (from the less noisy to the noisier level),
 * the deterministic encoding of DDIM §4.3, with z fixed to Enc(x_0) (not the official code's re-encoding of x_t).
 */
import * as tf from '@tensorflow/tfjs-core';
import { throwIfAborted } from './abort';
import { normalTensor4d } from './normalTensor';
import { createRng } from './random';
import type { NoiseSchedule } from './schedule';
import { PARAMETERISATIONS, type Parameterisation } from '../model/metadata';

/**
 * The denoiser seen by the samplers: xt [B,H,W,C], t int32 [B], z [B,D] -> eps [B,H,W,C]. It must not dispose its
 * inputs; the caller owns the result. `model.predictEps.bind(model)` satisfies it. Named `predictEps`
 * wherever it is passed; `eps` is always a tensor (ε).
 */
export type EpsPredictor = (xt: tf.Tensor4D, t: tf.Tensor1D, z: tf.Tensor2D) => tf.Tensor4D;

/** What onStep sees after each step. The tensors are valid only during the callback (they are disposed after it). */
export interface DdimStepInfo {
  /** Index into the plan of the step just taken (descending S-1..0 during inversion). */
  i: number;
  /** The timestep the network was called at. */
  t: number;
  /** [B,H,W,C] the step's input x_t. */
  xt: tf.Tensor4D;
  /** [B,H,W,C] the predicted clean image of this step. */
  x0Pred: tf.Tensor4D;
  /** Steps completed so far, 1..stepsTotal (for progress bars). */
  stepsDone: number;
  /** Number of steps (network calls) of the whole run, S. */
  stepsTotal: number;
}

/** Options shared by sampling and inversion. */
export interface DdimRunOptions {
  /** Checked before every step; an abort rejects with a DOMException named 'AbortError' and leaks no tensor. */
  signal?: AbortSignal;
  /** Called after every step and awaited; its tensors are disposed when it returns. */
  onStep?: (step: DdimStepInfo) => void | Promise<void>;
  /** Awaited between steps, e.g. a macrotask yield so a worker can receive new messages (and aborts) mid-run. */
  yieldEveryStep?: () => Promise<void>;
}

/** Options of ddimSample. The noise of eta > 0 comes from exactly one of `seed` and `noise`. */
export interface DdimSampleOptions extends DdimRunOptions {
  /**
   * η in [0, 1]; default 0 (deterministic). One value per image (length B) lets a batch mix them, e.g. the frames
   * between a deterministic and a stochastic endpoint of an interpolation.
   */
  eta?: number | readonly number[];
  /** Seed of the Gaussian noise added at each step when eta > 0 (see random.ts). */
  seed?: number;
  /** Explicit noise when eta > 0: one [B,H,W,C] tensor per step (length S), owned and disposed by the caller. */
  noise?: readonly tf.Tensor4D[];
  /**
   * What the predictor returns: 'eps' (default, every teacher), 'x0' or 'v' (a distilled student). Each output is
   * turned into ε at the level of the step's input before the step (epsFromPrediction).
   */
  parameterisation?: Parameterisation;
}

/** Scalar coefficients of one DDIM step from level alphaBarFrom to level alphaBarTo, computed in float64. */
export interface DdimStepCoefficients {
  /** √ᾱ_from: divides out of x0Pred. */
  sqrtAlphaBarFrom: number;
  /** √(1 - ᾱ_from): the noise share of the input. */
  sqrtOneMinusAlphaBarFrom: number;
  /** √ᾱ_to: the signal share of the output. */
  sqrtAlphaBarTo: number;
  /** √(1 - ᾱ_to - σ²): the share of the predicted noise kept in the output. */
  directionCoef: number;
  /** σ: the standard deviation of fresh noise added to the output. */
  sigma: number;
}

/**
 * Coefficients of the step x(level alphaBarFrom) -> x(level alphaBarTo), DDIM eqs. (12) and (16). Sampling moves to a
 * larger ᾱ (less noise); inversion calls it with the pair reversed and eta = 0.
 * @param alphaBarFrom ᾱ of the input, in (0, 1]; 1 means a clean input (first inversion step)
 * @param alphaBarTo ᾱ of the output, in (0, 1]; 1 means the clean image (last sampling step)
 * @param eta η in [0, 1]; with eta > 0 the step must go towards less noise (alphaBarTo >= alphaBarFrom)
 */
export function ddimStepCoefficients(alphaBarFrom: number, alphaBarTo: number, eta: number): DdimStepCoefficients {
  if (!(alphaBarFrom > 0 && alphaBarFrom <= 1))
    throw new RangeError(`ddimStepCoefficients: alphaBarFrom must be in (0, 1], got ${alphaBarFrom}`);
  if (!(alphaBarTo > 0 && alphaBarTo <= 1))
    throw new RangeError(`ddimStepCoefficients: alphaBarTo must be in (0, 1], got ${alphaBarTo}`);
  if (!(eta >= 0 && eta <= 1)) throw new RangeError(`ddimStepCoefficients: eta must be in [0, 1], got ${eta}`);
  let sigma = 0;
  if (eta > 0) {
    if (!(alphaBarTo >= alphaBarFrom && alphaBarFrom < 1)) {
      throw new RangeError(
        `ddimStepCoefficients: eta > 0 needs a denoising step (alphaBarFrom ${alphaBarFrom} < 1 and <= alphaBarTo ${alphaBarTo})`,
      );
    }
    sigma = eta * Math.sqrt((1 - alphaBarTo) / (1 - alphaBarFrom)) * Math.sqrt(1 - alphaBarFrom / alphaBarTo);
  }
  return {
    sqrtAlphaBarFrom: Math.sqrt(alphaBarFrom),
    sqrtOneMinusAlphaBarFrom: Math.sqrt(1 - alphaBarFrom),
    sqrtAlphaBarTo: Math.sqrt(alphaBarTo),
    // sigma² <= 1 - ᾱ_to for eta <= 1; the max only absorbs a last-bit rounding below zero.
    directionCoef: Math.sqrt(Math.max(0, 1 - alphaBarTo - sigma * sigma)),
    sigma,
  };
}

/**
 * The noise estimate implied by a network output at level ᾱ, where x_t = √ᾱ x₀ + √(1-ᾱ) ε:
 *   'eps': the output itself;
 *   'x0':  ε = (x_t - √ᾱ x₀) / √(1-ᾱ);
 *   'v':   ε = √ᾱ v + √(1-ᾱ) x_t, from v = √ᾱ ε - √(1-ᾱ) x₀ (Salimans & Ho 2022, §4).
 * With v, ddimStep then recovers x₀ = √ᾱ x_t - √(1-ᾱ) v, which stays well conditioned at high noise where
 * ε-prediction divides by a small √ᾱ: why few-call students predict v. Mirrors `eps_from_prediction` in
 * train/infodiff/diffusion.py; the golden student parity test checks the two agree.
 * @param prediction [B,H,W,C] the network's output at xt
 * @param xt [B,H,W,C] the network's input
 * @param alphaBar ᾱ of xt, in (0, 1); 'x0' needs ᾱ < 1
 * @returns eps [B,H,W,C]; the caller owns it (for 'eps', a clone: disposing it leaves `prediction` alive). Inputs
 *   are not disposed.
 */
export function epsFromPrediction(
  prediction: tf.Tensor4D,
  xt: tf.Tensor4D,
  alphaBar: number,
  parameterisation: Parameterisation,
): tf.Tensor4D {
  if (!(alphaBar > 0 && alphaBar <= 1))
    throw new RangeError(`epsFromPrediction: alphaBar must be in (0, 1], got ${alphaBar}`);
  const sqrtAlphaBar = Math.sqrt(alphaBar);
  const sqrtOneMinusAlphaBar = Math.sqrt(1 - alphaBar);
  switch (parameterisation) {
    case 'eps':
      return tf.clone(prediction);
    case 'x0':
      if (!(alphaBar < 1))
        throw new RangeError(
          'epsFromPrediction: an x0 prediction at alphaBar 1 (a clean input) implies no noise estimate',
        );
      return tf.tidy(() => tf.div(tf.sub(xt, tf.mul(prediction, sqrtAlphaBar)), sqrtOneMinusAlphaBar) as tf.Tensor4D);
    case 'v':
      return tf.tidy(() => tf.add(tf.mul(prediction, sqrtAlphaBar), tf.mul(xt, sqrtOneMinusAlphaBar)) as tf.Tensor4D);
    default: {
      const _exhaustive: never = parameterisation;
      throw new RangeError(
        `epsFromPrediction: parameterisation must be one of eps, x0, v, got ${JSON.stringify(_exhaustive)}`,
      );
    }
  }
}

/**
 * One DDIM step, the single core shared by sampling and inversion.
 * @param xt [B,H,W,C] input at level ᾱ_from
 * @param eps [B,H,W,C] the network's noise prediction at xt
 * @param coefficients from ddimStepCoefficients
 * @param noise [B,H,W,C] standard-normal noise, required when coefficients.sigma > 0
 * @param perImage one set of coefficients per image when the batch mixes η: their σ and direction coefficient
 *   replace the scalars of `coefficients` (the levels, and so the other coefficients, are the same for all)
 * @returns xPrev [B,H,W,C] at level ᾱ_to, and x0Pred [B,H,W,C]; the caller owns both. Inputs are not disposed.
 */
export function ddimStep(
  xt: tf.Tensor4D,
  eps: tf.Tensor4D,
  coefficients: DdimStepCoefficients,
  noise?: tf.Tensor4D,
  perImage?: readonly DdimStepCoefficients[],
): { xPrev: tf.Tensor4D; x0Pred: tf.Tensor4D } {
  if (coefficients.sigma > 0 && noise === undefined) throw new Error('ddimStep: sigma > 0 needs a noise tensor');
  return tf.tidy(() => {
    const { sqrtAlphaBarFrom, sqrtOneMinusAlphaBarFrom, sqrtAlphaBarTo } = coefficients;
    const column = (values: number[]) => tf.tensor4d(values, [values.length, 1, 1, 1]);
    const directionCoef = perImage ? column(perImage.map((c) => c.directionCoef)) : coefficients.directionCoef;
    const sigma = perImage ? column(perImage.map((c) => c.sigma)) : coefficients.sigma;
    // 1. Predicted x_0 from the noise prediction.
    const x0Pred = tf.div(tf.sub(xt, tf.mul(eps, sqrtOneMinusAlphaBarFrom)), sqrtAlphaBarFrom) as tf.Tensor4D;
    // 2. Signal part plus the direction pointing to x_t.
    let xPrev = tf.add(tf.mul(x0Pred, sqrtAlphaBarTo), tf.mul(eps, directionCoef)) as tf.Tensor4D;
    // 3. Fresh noise, DDIM eq. (12)'s last term.
    if (coefficients.sigma > 0 && noise !== undefined) xPrev = tf.add(xPrev, tf.mul(noise, sigma));
    return { xPrev, x0Pred };
  });
}

/** One entry of a DDIM chain: call the network at t on an input at level alphaBarFrom, move it to alphaBarTo. */
interface ChainStep {
  i: number;
  t: number;
  alphaBarFrom: number;
  alphaBarTo: number;
  /** One η for the batch, or one per image. */
  eta: number | readonly number[];
}

/**
 * The step's coefficients; where the images have different η, also one set per image, and the batch's own set
 * is the one with the largest σ (so σ > 0 says whether the step needs noise).
 */
function chainStepCoefficients(step: ChainStep): {
  coefficients: DdimStepCoefficients;
  perImage?: DdimStepCoefficients[];
} {
  if (typeof step.eta === 'number')
    return { coefficients: ddimStepCoefficients(step.alphaBarFrom, step.alphaBarTo, step.eta) };
  const perImage = step.eta.map((eta) => ddimStepCoefficients(step.alphaBarFrom, step.alphaBarTo, eta));
  return { coefficients: perImage.reduce((a, b) => (b.sigma > a.sigma ? b : a)), perImage };
}

/** Copies a plan after checking it is a non-empty, strictly decreasing list of valid timesteps. */
function checkedPlan(schedule: NoiseSchedule, plan: ArrayLike<number>, what: string): Int32Array {
  if (plan.length === 0) throw new RangeError(`${what}: the plan is empty`);
  const checked = Int32Array.from(plan);
  for (let i = 0; i < plan.length; i++) {
    const t = plan[i];
    if (!Number.isInteger(t) || t < 0 || t >= schedule.timesteps) {
      throw new RangeError(`${what}: plan[${i}] = ${t} is not a timestep in 0..${schedule.timesteps - 1}`);
    }
    if (i > 0 && t >= plan[i - 1])
      throw new RangeError(
        `${what}: the plan must be strictly decreasing, but plan[${i}] = ${t} >= plan[${i - 1}] = ${plan[i - 1]}`,
      );
  }
  return checked;
}

function checkConditioning(x: tf.Tensor4D, z: tf.Tensor2D, what: string): void {
  if (x.rank !== 4) throw new RangeError(`${what}: x must be [B,H,W,C], got shape [${x.shape}]`);
  if (z.rank !== 2 || z.shape[0] !== x.shape[0]) {
    throw new RangeError(
      `${what}: z must be [B,D] with B = ${x.shape[0]} (one latent per image), got shape [${z.shape}]`,
    );
  }
}

/** Where a step's noise comes from, and whether the chain must dispose it. */
type NoiseForStep = (i: number) => { tensor: tf.Tensor4D; owned: boolean };

/**
 * Runs a chain of DDIM steps, keeping at most one x alive between steps: the previous x_t is disposed as soon as
 * the next exists. The caller's xStart is never disposed. `parameterisation` says what `predictEps` returns; inversion
 * always passes 'eps' (the students are trained to decode, not to invert).
 */
async function runDdimChain(
  what: string,
  predictEps: EpsPredictor,
  chain: readonly ChainStep[],
  xStart: tf.Tensor4D,
  z: tf.Tensor2D,
  opts: DdimRunOptions,
  noiseForStep: NoiseForStep | undefined,
  parameterisation: Parameterisation = 'eps',
): Promise<tf.Tensor4D> {
  const batch = xStart.shape[0];
  let x = xStart;
  let ownsX = false;
  try {
    for (let k = 0; k < chain.length; k++) {
      throwIfAborted(opts.signal, what);
      const step = chain[k];
      const { coefficients, perImage } = chainStepCoefficients(step);
      const noise = coefficients.sigma > 0 && noiseForStep ? noiseForStep(step.i) : undefined;
      let result: { xPrev: tf.Tensor4D; x0Pred: tf.Tensor4D };
      try {
        result = tf.tidy(() => {
          const t = tf.fill([batch], step.t, 'int32') as tf.Tensor1D;
          const prediction = predictEps(x, t, z);
          if (!tf.util.arraysEqual(prediction.shape, x.shape)) {
            throw new Error(
              `${what}: the denoiser returned ${parameterisation} of shape [${prediction.shape}] for x_t of shape [${x.shape}]`,
            );
          }
          // The network's output as a noise estimate at the level of its input (a no-op for ε-prediction).
          const epsPred =
            parameterisation === 'eps'
              ? prediction
              : epsFromPrediction(prediction, x, step.alphaBarFrom, parameterisation);
          return ddimStep(x, epsPred, coefficients, noise?.tensor, perImage);
        });
      } finally {
        if (noise?.owned) noise.tensor.dispose();
      }
      const xt = x;
      const ownsXt = ownsX;
      x = result.xPrev;
      ownsX = true;
      try {
        if (opts.onStep)
          await opts.onStep({
            i: step.i,
            t: step.t,
            xt,
            x0Pred: result.x0Pred,
            stepsDone: k + 1,
            stepsTotal: chain.length,
          });
      } finally {
        result.x0Pred.dispose();
        if (ownsXt) xt.dispose();
      }
      if (opts.yieldEveryStep) await opts.yieldEveryStep();
    }
    return x;
  } catch (error) {
    if (ownsX) x.dispose();
    throw error;
  }
}

/**
 * DDIM sampling from x_T along `plan`: for i = 0..S-1, eps = ε_θ(x, τ_i, z), then one step from ᾱ[τ_i] to
 * ᾱ[τ_{i+1}] (or to 1 after the last step, so the result equals the last x0Pred). No clipping.
 * A student (opts.parameterisation 'x0' or 'v') decodes through the same chain: its output becomes ε at ᾱ[τ_i]
 * first, so the last x0Pred is exactly its prediction of x₀.
 * @param predictEps the denoiser (or, with opts.parameterisation, a predictor of x0 or v)
 * @param schedule the model's noise schedule
 * @param plan τ, strictly decreasing timesteps (ddimTimesteps(T, S))
 * @param xNoise [B,H,W,C] x_T, at level ᾱ[τ_0]; not disposed
 * @param z [B,D] one latent per image; not disposed
 * @returns [B,H,W,C] x_0 in model space; the caller disposes it
 */
export async function ddimSample(
  predictEps: EpsPredictor,
  schedule: NoiseSchedule,
  plan: ArrayLike<number>,
  xNoise: tf.Tensor4D,
  z: tf.Tensor2D,
  opts: DdimSampleOptions = {},
): Promise<tf.Tensor4D> {
  const what = 'ddimSample';
  const tau = checkedPlan(schedule, plan, what);
  checkConditioning(xNoise, z, what);
  const eta = opts.eta ?? 0;
  const etas = typeof eta === 'number' ? [eta] : eta;
  if (typeof eta !== 'number' && eta.length !== xNoise.shape[0])
    throw new RangeError(`${what}: eta needs one value per image (${xNoise.shape[0]}), got ${eta.length}`);
  // Each η's range is asserted where σ is computed (ddimStepCoefficients), at the first step.
  const parameterisation = opts.parameterisation ?? 'eps';
  if (!PARAMETERISATIONS.includes(parameterisation)) {
    throw new RangeError(
      `${what}: parameterisation must be one of ${PARAMETERISATIONS.join(', ')}, got ${JSON.stringify(parameterisation)}`,
    );
  }
  if (opts.seed !== undefined && opts.noise !== undefined)
    throw new Error(`${what}: pass either opts.seed or opts.noise, not both`);
  let noiseForStep: NoiseForStep | undefined;
  if (etas.some((e) => e > 0)) {
    if (opts.noise !== undefined) {
      const noise = opts.noise;
      if (noise.length !== tau.length)
        throw new RangeError(`${what}: opts.noise needs one tensor per step (${tau.length}), got ${noise.length}`);
      noise.forEach((n, i) => {
        if (!tf.util.arraysEqual(n.shape, xNoise.shape))
          throw new RangeError(`${what}: opts.noise[${i}] has shape [${n.shape}], expected [${xNoise.shape}]`);
      });
      noiseForStep = (i) => ({ tensor: noise[i], owned: false });
    } else if (opts.seed !== undefined) {
      const rng = createRng(opts.seed);
      const shape = xNoise.shape;
      noiseForStep = () => ({ tensor: normalTensor4d(rng, shape), owned: true });
    } else {
      throw new Error(`${what}: eta > 0 needs opts.seed or opts.noise, so that the result is reproducible`);
    }
  }
  const alphaBar = schedule.alphaBar;
  const S = tau.length;
  const chain: ChainStep[] = [];
  for (let i = 0; i < S; i++) {
    chain.push({ i, t: tau[i], alphaBarFrom: alphaBar[tau[i]], alphaBarTo: i + 1 < S ? alphaBar[tau[i + 1]] : 1, eta });
  }
  return runDdimChain(what, predictEps, chain, xNoise, z, opts, noiseForStep, parameterisation);
}

/**
 * Deterministic DDIM inversion x_0 -> x_T along `plan`, with z held fixed: for i = S-1 down to 0, eps is evaluated
 * at τ[min(i+1, S-1)] on the current x (at level ᾱ[τ_{i+1}], or 1 for the clean input), then one η = 0 step
 * moves x to level ᾱ[τ_i]. The result sits at ᾱ[τ_0], where ddimSample starts. S network calls.
 * @param x0 [B,H,W,C] clean images in model space; not disposed
 * @param z [B,D] their latents, Enc(x0); not disposed
 * @returns [B,H,W,C] x_T; the caller disposes it
 */
export async function ddimInvert(
  predictEps: EpsPredictor,
  schedule: NoiseSchedule,
  plan: ArrayLike<number>,
  x0: tf.Tensor4D,
  z: tf.Tensor2D,
  opts: DdimRunOptions = {},
): Promise<tf.Tensor4D> {
  const what = 'ddimInvert';
  const tau = checkedPlan(schedule, plan, what);
  checkConditioning(x0, z, what);
  const alphaBar = schedule.alphaBar;
  const S = tau.length;
  const chain: ChainStep[] = [];
  for (let i = S - 1; i >= 0; i--) {
    chain.push({
      i,
      t: tau[Math.min(i + 1, S - 1)],
      alphaBarFrom: i + 1 < S ? alphaBar[tau[i + 1]] : 1,
      alphaBarTo: alphaBar[tau[i]],
      eta: 0,
    });
  }
  return runDdimChain(what, predictEps, chain, x0, z, opts, undefined);
}

/**
 * Small-vector arithmetic the explorer does on the main thread: slider ranges from the latent statistics, a
 * seeded prior, interpolation paths (InfoDiffusion's quarter circle in z, slerp of x_T, as the official code's
 * `run.py --mode interpolate` does; docs/sources.md §1.6) and attribute edits. Latents are number[] of length
 * latentDim, x_T a Float32Array; nothing here touches the GPU.
 */
import { createRng } from '../diffusion/random';
export { slerp } from '../diffusion/slerp';
import { conditionMixture, drawFromMixture, mixtureFromCovariances } from './gaussianMixture';
import type { AttributeDirection, LatentMixture, LatentStats } from '../model/metadata';

export interface SliderRange {
  min: number;
  max: number;
  /** Slider resolution: 1/200 of the range, fine enough that keyboard steps look continuous. */
  step: number;
}

/** How many standard deviations either side of the mean a slider spans. */
export const SLIDER_SPREAD_STD = 3;

/**
 * The slider range of dimension `dim`: mean +- 3 std, widened to include the observed min and max so every
 * encoded training image fits. A zero or missing std (a dead dimension) falls back to the prior's +- 3.
 */
export function sliderRange(stats: LatentStats, dim: number): SliderRange {
  const mean = Number.isFinite(stats.mean[dim]) ? stats.mean[dim] : 0;
  const std = stats.std[dim] > 0 && Number.isFinite(stats.std[dim]) ? stats.std[dim] : 1;
  let min = mean - SLIDER_SPREAD_STD * std;
  let max = mean + SLIDER_SPREAD_STD * std;
  if (Number.isFinite(stats.min[dim])) min = Math.min(min, stats.min[dim]);
  if (Number.isFinite(stats.max[dim])) max = Math.max(max, stats.max[dim]);
  return { min, max, step: (max - min) / 200 };
}

/**
 * Standard normal draws for a seed (float32, like x_T): the engine's own stream (src/diffusion/random.ts, which
 * has no tfjs import), so a seed names the same x_T here and in the worker.
 */
export function normalDraws(count: number, seed: number): Float32Array {
  return createRng(seed).normals(count);
}

/**
 * The official '10mix' prior (train/infodiff/objective.py), per consecutive pair of dimensions: ten equally
 * weighted 2-D Gaussians with std (0.5, 0.1), the k-th rotated by 2 pi k / 10 and shifted 1.4 along its axis.
 */
const TEN_MIX_PAIR: LatentMixture = (() => {
  const components = 10;
  const [radial, tangential] = [0.5 ** 2, 0.1 ** 2];
  const angles = Array.from({ length: components }, (_, k) => (2 * Math.PI * k) / components);
  const covariances = angles.map((a) => {
    const [c, s] = [Math.cos(a), Math.sin(a)];
    // R diag(radial, tangential) R^T
    const offDiagonal = (radial - tangential) * c * s;
    return [
      [radial * c * c + tangential * s * s, offDiagonal],
      [offDiagonal, radial * s * s + tangential * c * c],
    ];
  });
  const means = angles.map((a) => [1.4 * Math.cos(a), 1.4 * Math.sin(a)]);
  return mixtureFromCovariances(new Array<number>(components).fill(1 / components), means, covariances);
})();

/** The parts of a package's latent block that say where prior draws come from. */
export type PriorSource = Pick<LatentStats, 'prior' | 'fitted'>;

/** Groups of dimensions drawn together from one mixture, or null for N(0, I), whose dimensions are independent. */
function mixtureBlocks(source: PriorSource, latentDim: number): { dims: number[]; mixture: LatentMixture }[] | null {
  if (source.fitted) return [{ dims: Array.from({ length: latentDim }, (_, d) => d), mixture: source.fitted }];
  if (source.prior === 'normal') return null;
  return Array.from({ length: latentDim / 2 }, (_, pair) => ({
    dims: [2 * pair, 2 * pair + 1],
    mixture: TEN_MIX_PAIR,
  }));
}

/**
 * z ~ p(z) from a seed: the fitted latent mixture when the package has one (where the encoder's codes really
 * lie), else the prior the encoder was trained towards, N(0, I) (InfoDiffusion's) or '10mix'. Decoding codes
 * the encoder never produced gives images unlike the data.
 */
export function samplePrior(source: PriorSource, latentDim: number, seed: number): number[] {
  return randomiseUnlocked(new Array<number>(latentDim).fill(0), [], source, seed);
}

/**
 * Replaces the unlocked dimensions of z with a prior draw for `seed`, conditioned on the locked ones, which
 * keep their value: under a mixture, locked coordinates say which components (and where in them) the rest
 * is likely to be. With nothing locked it is samplePrior's draw for the same seed.
 */
export function randomiseUnlocked(
  z: readonly number[],
  locked: readonly boolean[],
  source: PriorSource,
  seed: number,
): number[] {
  const blocks = mixtureBlocks(source, z.length);
  if (!blocks) {
    const draw = normalDraws(z.length, seed);
    return z.map((value, k) => (locked[k] ? value : draw[k]));
  }
  const rng = createRng(seed);
  const out = [...z];
  for (const { dims, mixture } of blocks) {
    const free = dims.filter((d) => !locked[d]);
    if (free.length === 0) continue;
    const known = dims.map((d) => (locked[d] ? z[d] : undefined));
    drawFromMixture(conditionMixture(mixture, known), rng).forEach((value, f) => {
      out[free[f]] = value;
    });
  }
  return out;
}

function trainedPriorLabel(source: PriorSource): string {
  return source.prior === 'normal' ? 'N(0, I)' : 'the 10-component mixture prior';
}

/** A short human name of where prior draws come from, for labels. */
export function priorLabel(source: PriorSource): string {
  if (!source.fitted) return trainedPriorLabel(source);
  return `a ${source.fitted.weights.length}-component Gaussian mixture fitted to ${source.fitted.fittedOn.toLocaleString('en')} encoded training images`;
}

/** Why prior draws come from there, to follow the label. */
export function priorReason(source: PriorSource): string {
  return source.fitted
    ? `where this model's codes lie (the ${trainedPriorLabel(source)} its encoder was trained towards is far from them)`
    : "the prior this model's encoder was trained towards";
}

/** InfoDiffusion's latent path: z(e) = cos(e pi/2) z1 + sin(e pi/2) z2, e in [0, 1] (a quarter circle, not slerp). */
export function quarterCircle(z1: readonly number[], z2: readonly number[], e: number): number[] {
  const a = Math.cos((e * Math.PI) / 2);
  const b = Math.sin((e * Math.PI) / 2);
  return z1.map((v, k) => a * v + b * z2[k]);
}

/** Straight line z(e) = (1 - e) z1 + e z2. */
export function lerp(z1: readonly number[], z2: readonly number[], e: number): number[] {
  return z1.map((v, k) => (1 - e) * v + e * z2[k]);
}

/** count evenly spaced fractions 0 .. 1 inclusive (a single frame sits at 0). */
export function fractions(count: number): number[] {
  if (count <= 1) return [0];
  return Array.from({ length: count }, (_, i) => i / (count - 1));
}

/** count evenly spaced values from lo to hi inclusive. */
export function linspace(lo: number, hi: number, count: number): number[] {
  return fractions(count).map((f) => lo + f * (hi - lo));
}

/** Signed distance of z from an attribute's decision boundary along its unit direction: vector . z + bias. */
export function attributeScore(z: readonly number[], direction: AttributeDirection): number {
  return z.reduce((sum, v, k) => sum + v * direction.vector[k], direction.bias);
}

/**
 * Moves z along an attribute direction so that its score becomes `target`; the unit-norm vector makes the
 * step length equal the score change. Locked dimensions stay where they are.
 */
export function applyAttribute(
  z: readonly number[],
  direction: AttributeDirection,
  target: number,
  locked: readonly boolean[] = [],
): number[] {
  const delta = target - attributeScore(z, direction);
  return z.map((v, k) => (locked[k] ? v : v + delta * direction.vector[k]));
}

/**
 * How much a row of images changes, for sorting traversal rows: the mean absolute pixel difference between
 * neighbouring frames, summed along the row. A dimension the decoder ignores scores near zero.
 */
export function rowVariation(frames: readonly ArrayLike<number>[]): number {
  let total = 0;
  for (let j = 1; j < frames.length; j += 1) {
    const a = frames[j - 1];
    const b = frames[j];
    let sum = 0;
    for (let i = 0; i < a.length; i += 1) sum += Math.abs(a[i] - b[i]);
    total += sum / a.length;
  }
  return total;
}

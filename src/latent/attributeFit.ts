/**
 * A direction in z for an attribute the person names from examples: codes of images that have it (positives) and
 * codes of images that lack it (negatives). Two fits:
 *
 * - the difference of means, w = mean(positives) - mean(negatives), the boundary half way across the gap between
 *   the two groups along w (half way between the means where they overlap): all a handful of examples can support (with fewer examples per side than dimensions, any richer fit simply
 *   memorises them);
 * - L2-regularised logistic regression, minimise  sum_i log(1 + exp(-y_i (w.z_i + b))) + (lambda / 2) |w|^2
 *   by Newton's method (iteratively reweighted least squares), from MIN_LOGISTIC_PER_SIDE examples per side. The
 *   penalty keeps w finite on separable examples, where the unpenalised optimum is at infinity.
 *
 * Either way the result is a unit vector and a bias, so the score vector.z + bias is the signed distance from the
 * boundary, in the units of z: the convention of the package's own attribute directions (AttributeDirection).
 * Pure number[] maths: no tensors, no DOM.
 */
import { sigmoid } from '../diffusion/sigmoid';

/** Fewer examples than this on either side: the difference of means. */
export const MIN_LOGISTIC_PER_SIDE = 5;
/** The logistic fit's L2 penalty on w (not on the bias). z has roughly unit spread per dimension. */
export const DEFAULT_LAMBDA = 1;

export type FitMethod = 'mean-difference' | 'logistic';

export interface AttributeFit {
  method: FitMethod;
  /** Unit norm, length latentDim. */
  vector: number[];
  bias: number;
  /** Each example's score, vector.z + bias, in input order: positives then negatives. */
  positiveScores: number[];
  negativeScores: number[];
  /** Examples on their own side of the boundary (positive score for a positive), out of all examples. */
  correct: number;
  total: number;
  /**
   * Examples put on their own side by the same fit made without them (leave-one-out), out of all examples: how
   * well the direction generalises rather than how well it memorises. Null with fewer than 3 examples a side.
   */
  leaveOneOutCorrect: number | null;
  /** Smallest positive score minus largest negative score: > 0 when the direction separates the examples. */
  gap: number;
}

export interface FitOptions {
  lambda?: number;
  /** Force a method (tests, and a choice in the UI); by default chosen from the number of examples. */
  method?: FitMethod;
}

function dot(a: readonly number[], b: readonly number[]): number {
  let sum = 0;
  for (let k = 0; k < a.length; k += 1) sum += a[k] * b[k];
  return sum;
}

function mean(rows: readonly (readonly number[])[]): number[] {
  const out = new Array<number>(rows[0].length).fill(0);
  for (const row of rows) for (let k = 0; k < out.length; k += 1) out[k] += row[k] / rows.length;
  return out;
}

function norm(v: readonly number[]): number {
  return Math.sqrt(dot(v, v));
}

/** The method fitAttribute picks for this many examples per side. */
export function chooseMethod(positives: number, negatives: number): FitMethod {
  return Math.min(positives, negatives) >= MIN_LOGISTIC_PER_SIDE ? 'logistic' : 'mean-difference';
}

/** Difference of means, boundary at the midpoint; unnormalised (w, b). */
function fitMeanDifference(
  positives: readonly (readonly number[])[],
  negatives: readonly (readonly number[])[],
): { w: number[]; b: number } {
  const muPos = mean(positives);
  const muNeg = mean(negatives);
  const w = muPos.map((v, k) => v - muNeg[k]);
  const midpoint = muPos.map((v, k) => (v + muNeg[k]) / 2);
  return { w, b: -dot(w, midpoint) };
}

/**
 * Solves A x = r for a small symmetric positive definite A (the penalised Hessian) by Gaussian elimination with
 * partial pivoting. A and r are not modified.
 */
export function solveLinear(A: readonly (readonly number[])[], r: readonly number[]): number[] {
  const n = r.length;
  const m = A.map((row, i) => [...row, r[i]]);
  for (let col = 0; col < n; col += 1) {
    let pivot = col;
    for (let row = col + 1; row < n; row += 1) if (Math.abs(m[row][col]) > Math.abs(m[pivot][col])) pivot = row;
    if (Math.abs(m[pivot][col]) < 1e-300) throw new Error('solveLinear: the matrix is singular');
    [m[col], m[pivot]] = [m[pivot], m[col]];
    for (let row = col + 1; row < n; row += 1) {
      const factor = m[row][col] / m[col][col];
      if (factor === 0) continue;
      for (let k = col; k <= n; k += 1) m[row][k] -= factor * m[col][k];
    }
  }
  const x = new Array<number>(n).fill(0);
  for (let row = n - 1; row >= 0; row -= 1) {
    let sum = m[row][n];
    for (let k = row + 1; k < n; k += 1) sum -= m[row][k] * x[k];
    x[row] = sum / m[row][row];
  }
  return x;
}

/**
 * Penalised logistic regression by Newton's method on theta = (w, b): the gradient is
 * sum_i (p_i - t_i) (z_i, 1) + lambda (w, 0), the Hessian sum_i p_i (1 - p_i) (z_i, 1)(z_i, 1)^T + lambda diag(1..1, 0)
 * with a tiny ridge on b so it stays invertible. The objective is strictly convex, so Newton converges from 0 in a
 * few steps; a step that does not lower it is halved.
 */
export function fitLogistic(
  positives: readonly (readonly number[])[],
  negatives: readonly (readonly number[])[],
  lambda = DEFAULT_LAMBDA,
): { w: number[]; b: number } {
  const rows = [...positives, ...negatives];
  const targets = [...positives.map(() => 1), ...negatives.map(() => 0)];
  const dim = rows[0].length;
  const n = dim + 1;
  const x = rows.map((z) => [...z, 1]);
  const objective = (theta: number[]) => {
    let loss = 0;
    x.forEach((xi, i) => {
      const t = dot(xi, theta);
      const signed = targets[i] === 1 ? t : -t;
      // log(1 + exp(-s)), stable for either sign of s.
      loss += signed > 0 ? Math.log1p(Math.exp(-signed)) : -signed + Math.log1p(Math.exp(signed));
    });
    let penalty = 0;
    for (let k = 0; k < dim; k += 1) penalty += theta[k] * theta[k];
    return loss + (lambda / 2) * penalty;
  };
  let theta = new Array<number>(n).fill(0);
  let current = objective(theta);
  for (let iteration = 0; iteration < 50; iteration += 1) {
    const gradient = new Array<number>(n).fill(0);
    const hessian = Array.from({ length: n }, () => new Array<number>(n).fill(0));
    x.forEach((xi, i) => {
      const p = sigmoid(dot(xi, theta));
      const weight = p * (1 - p);
      for (let a = 0; a < n; a += 1) {
        gradient[a] += (p - targets[i]) * xi[a];
        for (let c = 0; c < n; c += 1) hessian[a][c] += weight * xi[a] * xi[c];
      }
    });
    for (let k = 0; k < dim; k += 1) {
      gradient[k] += lambda * theta[k];
      hessian[k][k] += lambda;
    }
    hessian[dim][dim] += 1e-9;
    const step = solveLinear(hessian, gradient);
    let scale = 1;
    let next = theta.map((v, k) => v - step[k]);
    let value = objective(next);
    while (value > current && scale > 1e-6) {
      scale /= 2;
      next = theta.map((v, k) => v - scale * step[k]);
      value = objective(next);
    }
    const moved = norm(theta.map((v, k) => v - next[k]));
    theta = next;
    const improvement = current - value;
    current = value;
    if (moved < 1e-10 || improvement < 1e-12) break;
  }
  return { w: theta.slice(0, dim), b: theta[dim] };
}

function fitRaw(
  positives: readonly (readonly number[])[],
  negatives: readonly (readonly number[])[],
  method: FitMethod,
  lambda: number,
): { vector: number[]; bias: number } {
  const { w, b } =
    method === 'logistic' ? fitLogistic(positives, negatives, lambda) : fitMeanDifference(positives, negatives);
  const length = norm(w);
  if (!(length > 1e-12))
    throw new Error('The examples with and without the attribute have the same codes, so they define no direction.');
  return { vector: w.map((v) => v / length), bias: b / length };
}

/**
 * The difference of means' bias: where the two groups do not overlap along the direction, the boundary goes half
 * way across the gap between them (so every example is on its own side); where they overlap, half way between
 * the means, which is fitRaw's.
 */
function gapMidpointBias(
  positives: readonly (readonly number[])[],
  negatives: readonly (readonly number[])[],
  direction: { vector: number[]; bias: number },
): number {
  const lowestPositive = Math.min(...positives.map((z) => dot(z, direction.vector)));
  const highestNegative = Math.max(...negatives.map((z) => dot(z, direction.vector)));
  return lowestPositive > highestNegative ? -(lowestPositive + highestNegative) / 2 : direction.bias;
}

/** Signed distance of z from the boundary of a unit direction: vector.z + bias. */
export function directionScore(z: readonly number[], direction: { vector: readonly number[]; bias: number }): number {
  return dot(z, direction.vector) + direction.bias;
}

/**
 * Fits the attribute's direction from at least two positives and two negatives (codes of one length).
 * @throws Error naming what is missing: too few examples, codes of different lengths, non-finite values, or
 *   examples that define no direction.
 */
export function fitAttribute(
  positives: readonly (readonly number[])[],
  negatives: readonly (readonly number[])[],
  options: FitOptions = {},
): AttributeFit {
  if (positives.length < 2 || negatives.length < 2)
    throw new Error(
      `Mark at least two images with the attribute and two without (now ${positives.length} with, ${negatives.length} without).`,
    );
  const dim = positives[0].length;
  const all = [...positives, ...negatives];
  if (all.some((z) => z.length !== dim)) throw new Error('The examples have codes of different lengths.');
  if (all.some((z) => z.some((v) => !Number.isFinite(v)))) throw new Error('An example has a non-finite code.');
  const lambda = options.lambda ?? DEFAULT_LAMBDA;
  const method = options.method ?? chooseMethod(positives.length, negatives.length);
  const raw = fitRaw(positives, negatives, method, lambda);
  const { vector } = raw;
  const bias = method === 'mean-difference' ? gapMidpointBias(positives, negatives, raw) : raw.bias;
  const positiveScores = positives.map((z) => directionScore(z, { vector, bias }));
  const negativeScores = negatives.map((z) => directionScore(z, { vector, bias }));
  const correct = positiveScores.filter((s) => s > 0).length + negativeScores.filter((s) => s < 0).length;

  let leaveOneOutCorrect: number | null = null;
  if (positives.length >= 3 && negatives.length >= 3) {
    leaveOneOutCorrect = 0;
    all.forEach((z, i) => {
      const isPositive = i < positives.length;
      const pos = positives.filter((_, j) => !(isPositive && j === i));
      const neg = negatives.filter((_, j) => isPositive || j !== i - positives.length);
      try {
        const held = fitRaw(pos, neg, method, lambda);
        const score = directionScore(z, held);
        if (isPositive ? score > 0 : score < 0) leaveOneOutCorrect! += 1;
      } catch {
        // A held-out fit without a direction counts as a miss.
      }
    });
  }
  return {
    method,
    vector,
    bias,
    positiveScores,
    negativeScores,
    correct,
    total: all.length,
    leaveOneOutCorrect,
    gap: Math.min(...positiveScores) - Math.max(...negativeScores),
  };
}

/**
 * Moves z along a unit direction so that its score becomes `target` (the step length equals the score change);
 * locked dimensions stay where they are.
 */
export function moveToScore(
  z: readonly number[],
  direction: { vector: readonly number[]; bias: number },
  target: number,
  locked: readonly boolean[] = [],
): number[] {
  const delta = target - directionScore(z, direction);
  return z.map((v, k) => (locked[k] ? v : v + delta * direction.vector[k]));
}

/** The method's name as the panel says it. */
export function describeMethod(method: FitMethod): string {
  return method === 'logistic'
    ? 'regularised logistic regression'
    : `difference of means (fewer than ${MIN_LOGISTIC_PER_SIDE} examples a side)`;
}

/**
 * Full-covariance Gaussian mixtures over latents (the package's `latent.fitted`, the '10mix' prior's pairs):
 * seeded draws, and conditioning on some coordinates, so that "randomise" with locked dimensions draws the
 * others from p(z_free | z_locked) instead of ignoring what the locked ones say about them. Plain number
 * arrays; the matrices are at most latentDim x latentDim (32), so nothing here needs the GPU.
 */
import type { Rng } from '../diffusion/random';
import { packedIndex, type LatentMixture } from '../model/metadata';

type Matrix = number[][];

/** One draw: component k with probability weights[k] (inverse CDF of a uniform), then means[k] + L_k n, n ~ N(0, I). */
export function drawFromMixture(mixture: LatentMixture, rng: Rng): number[] {
  const u = rng.uniform();
  let k = 0;
  let cumulative = mixture.weights[0];
  while (u >= cumulative && k < mixture.weights.length - 1) cumulative += mixture.weights[++k];
  const mean = mixture.means[k];
  const factor = mixture.scaleTril[k];
  const n = rng.normals(mean.length);
  return mean.map((m, i) => {
    let value = m;
    for (let j = 0; j <= i; j++) value += factor[packedIndex(i, j)] * n[j];
    return value;
  });
}

/** A mixture from covariance matrices (each symmetric positive definite), factored as `latent.fitted` stores it. */
export function mixtureFromCovariances(weights: number[], means: number[][], covariances: Matrix[]): LatentMixture {
  return {
    kind: 'gaussianMixture',
    fittedOn: 0,
    weights,
    means,
    scaleTril: covariances.map((sigma) => packLower(cholesky(sigma))),
  };
}

/**
 * The mixture of the coordinates whose `known` entry is undefined, given the others' values. Per component,
 * with K the known and F the free coordinates and C the Cholesky factor of Sigma_KK:
 *   weight ∝ w_k N(z_K; mu_K, Sigma_KK),  mean = mu_F + Sigma_FK Sigma_KK^-1 (z_K - mu_K),
 *   covariance = Sigma_FF - Sigma_FK Sigma_KK^-1 Sigma_KF  (with B = C^-1 Sigma_KF: mean = mu_F + B^T a, a = C^-1 (z_K - mu_K);
 *   covariance = Sigma_FF - B^T B).
 * The free coordinates keep their order. Nothing known returns the mixture itself.
 */
export function conditionMixture(mixture: LatentMixture, known: readonly (number | undefined)[]): LatentMixture {
  const knownDims = known.flatMap((value, i) => (value === undefined ? [] : [i]));
  if (knownDims.length === 0) return mixture;
  const freeDims = known.flatMap((value, i) => (value === undefined ? [i] : []));
  const logWeights: number[] = [];
  const means: number[][] = [];
  const scaleTril: number[][] = [];
  mixture.means.forEach((mu, k) => {
    const sigma = covariance(mixture.scaleTril[k], mu.length);
    const c = cholesky(pick(sigma, knownDims, knownDims));
    const a = forwardSolve(
      c,
      knownDims.map((d) => [known[d]! - mu[d]]),
    ).map((row) => row[0]);
    const b = forwardSolve(c, pick(sigma, knownDims, freeDims));
    const logDet = c.reduce((sum, row, i) => sum + 2 * Math.log(row[i]), 0);
    logWeights.push(Math.log(mixture.weights[k]) - 0.5 * dot(a, a) - 0.5 * logDet);
    means.push(freeDims.map((d, f) => mu[d] + a.reduce((sum, ai, i) => sum + b[i][f] * ai, 0)));
    const conditional = freeDims.map((d, f) =>
      freeDims.map((e, g) => sigma[d][e] - b.reduce((sum, row) => sum + row[f] * row[g], 0)),
    );
    scaleTril.push(packLower(cholesky(conditional)));
  });
  // Normalise in log space: a locked value far from every component underflows every plain density to 0.
  const top = Math.max(...logWeights);
  const unnormalised = logWeights.map((w) => Math.exp(w - top));
  const total = unnormalised.reduce((sum, w) => sum + w, 0);
  return { ...mixture, weights: unnormalised.map((w) => w / total), means, scaleTril };
}

/** Sigma = L L^T from the packed lower triangle. */
function covariance(packed: readonly number[], dim: number): Matrix {
  const sigma = Array.from({ length: dim }, () => new Array<number>(dim).fill(0));
  for (let i = 0; i < dim; i++) {
    for (let j = 0; j <= i; j++) {
      let sum = 0;
      for (let m = 0; m <= j; m++) sum += packed[packedIndex(i, m)] * packed[packedIndex(j, m)];
      sigma[i][j] = sum;
      sigma[j][i] = sum;
    }
  }
  return sigma;
}

/**
 * Lower Cholesky factor of a symmetric positive (semi-)definite matrix. A pivot that rounding takes to zero or
 * below (a conditional covariance that the known coordinates nearly determine) is floored to a tiny positive
 * one, so the draw collapses onto the mean there instead of failing.
 */
function cholesky(matrix: Matrix): Matrix {
  const n = matrix.length;
  const scale = Math.max(1e-30, ...matrix.map((row, i) => Math.abs(row[i])));
  const l = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let sum = matrix[i][j];
      for (let m = 0; m < j; m++) sum -= l[i][m] * l[j][m];
      if (i === j) l[i][i] = Math.sqrt(Math.max(sum, 1e-12 * scale));
      else l[i][j] = sum / l[j][j];
    }
  }
  return l;
}

/** X with L X = B for lower-triangular L (B's columns solved together). */
function forwardSolve(l: Matrix, b: Matrix): Matrix {
  const x: Matrix = [];
  for (let i = 0; i < l.length; i++) {
    x.push(
      b[i].map((value, col) => {
        let sum = value;
        for (let m = 0; m < i; m++) sum -= l[i][m] * x[m][col];
        return sum / l[i][i];
      }),
    );
  }
  return x;
}

function pick(matrix: Matrix, rows: readonly number[], cols: readonly number[]): Matrix {
  return rows.map((r) => cols.map((c) => matrix[r][c]));
}

function packLower(l: Matrix): number[] {
  return l.flatMap((row, i) => row.slice(0, i + 1));
}

function dot(a: readonly number[], b: readonly number[]): number {
  return a.reduce((sum, v, i) => sum + v * b[i], 0);
}

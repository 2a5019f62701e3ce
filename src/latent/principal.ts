/**
 * Principal directions of the latent codes (issue 33): the axes along which the encoder's codes of the training
 * set vary most, with the share of the code variance each explains. A package may ship them
 * (`latent.principal`, written by train/infodiff/principal.py); otherwise they come from the package's fitted
 * latent statistics: the covariance of `latent.fitted` (a Gaussian mixture), or failing that the per-dimension
 * `std` (whose principal directions are the axes themselves). Pure number[] maths.
 */
import { packedIndex, type LatentPrincipal, type LatentStats } from '../model/metadata';

/** Where a model's principal directions come from, for the panel to say. */
export type PrincipalSource = 'package' | 'fitted mixture' | 'per-dimension spread';

export interface PrincipalDirections extends LatentPrincipal {
  source: PrincipalSource;
}

/**
 * Eigen-decomposition of a small symmetric matrix by cyclic Jacobi rotations (Golub & Van Loan §8.5): accurate to
 * rounding for the latentDim x latentDim covariances here (latentDim <= a few dozen).
 * @returns eigenvalues, largest first, and the matching unit eigenvectors as rows
 */
export function symmetricEigen(matrix: readonly (readonly number[])[]): { values: number[]; vectors: number[][] } {
  const n = matrix.length;
  const a = matrix.map((row) => [...row]);
  const v = Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j): number => (i === j ? 1 : 0)));
  for (let sweep = 0; sweep < 100; sweep += 1) {
    let off = 0;
    for (let p = 0; p < n; p += 1) for (let q = p + 1; q < n; q += 1) off += a[p][q] * a[p][q];
    if (off < 1e-30) break;
    for (let p = 0; p < n; p += 1) {
      for (let q = p + 1; q < n; q += 1) {
        if (Math.abs(a[p][q]) < 1e-300) continue;
        // The rotation that zeroes a[p][q]: tan(2θ) = 2 a_pq / (a_qq - a_pp), t = tan θ the smaller root.
        const theta = (a[q][q] - a[p][p]) / (2 * a[p][q]);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k += 1) {
          const akp = a[k][p];
          const akq = a[k][q];
          a[k][p] = c * akp - s * akq;
          a[k][q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k += 1) {
          const apk = a[p][k];
          const aqk = a[q][k];
          a[p][k] = c * apk - s * aqk;
          a[q][k] = s * apk + c * aqk;
        }
        for (let k = 0; k < n; k += 1) {
          const vkp = v[k][p];
          const vkq = v[k][q];
          v[k][p] = c * vkp - s * vkq;
          v[k][q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((i, j) => a[j][j] - a[i][i]);
  return {
    values: order.map((i) => a[i][i]),
    vectors: order.map((i) => {
      const row = v.map((r) => r[i]);
      // An eigenvector's sign is arbitrary: make the largest-magnitude entry positive, as the export does.
      let largest = 0;
      row.forEach((x, k) => {
        if (Math.abs(x) > Math.abs(row[largest])) largest = k;
      });
      return row[largest] < 0 ? row.map((x) => -x) : row;
    }),
  };
}

/**
 * The covariance of a Gaussian mixture: sum_k w_k (L_k L_k^T + mu_k mu_k^T) - mu mu^T, mu = sum_k w_k mu_k.
 */
export function mixtureCovariance(fitted: NonNullable<LatentStats['fitted']>, d: number): number[][] {
  const mean = new Array<number>(d).fill(0);
  fitted.weights.forEach((w, k) => fitted.means[k].forEach((m, i) => (mean[i] += w * m)));
  const cov = Array.from({ length: d }, () => new Array<number>(d).fill(0));
  fitted.weights.forEach((w, k) => {
    const L = fitted.scaleTril[k];
    const mu = fitted.means[k];
    for (let i = 0; i < d; i += 1) {
      for (let j = 0; j <= i; j += 1) {
        let llt = 0;
        for (let m = 0; m <= j; m += 1) llt += L[packedIndex(i, m)] * L[packedIndex(j, m)];
        const value = w * (llt + mu[i] * mu[j]);
        cov[i][j] += value;
        if (i !== j) cov[j][i] += value;
      }
    }
  });
  for (let i = 0; i < d; i += 1) for (let j = 0; j < d; j += 1) cov[i][j] -= mean[i] * mean[j];
  return cov;
}

/** The model's principal directions: the package's, else from its fitted mixture, else from its spread. */
export function principalDirections(latent: LatentStats, latentDim: number): PrincipalDirections {
  if (latent.principal) return { ...latent.principal, source: 'package' };
  const covariance = latent.fitted
    ? mixtureCovariance(latent.fitted, latentDim)
    : Array.from({ length: latentDim }, (_, i) =>
        Array.from({ length: latentDim }, (_, j) => (i === j ? (latent.std[i] > 0 ? latent.std[i] ** 2 : 0) : 0)),
      );
  const { values, vectors } = symmetricEigen(covariance);
  const variance = values.map((v) => Math.max(0, v));
  return {
    fittedOn: latent.fitted?.fittedOn ?? 0,
    components: vectors,
    variance,
    totalVariance: covariance.reduce((sum, row, i) => sum + row[i], 0),
    source: latent.fitted ? 'fitted mixture' : 'per-dimension spread',
  };
}

/**
 * Principal direction k as a slider's direction: the unit row, with the bias that makes the score the code's
 * coordinate along it measured from the training mean (0 at the mean).
 */
export function principalAxis(
  principal: LatentPrincipal,
  k: number,
  mean: readonly number[],
): { vector: number[]; bias: number } {
  const vector = principal.components[k];
  return { vector, bias: -vector.reduce((sum, v, i) => sum + v * mean[i], 0) };
}

/** The share of the code variance direction k explains, 0..1. */
export function explainedShare(principal: LatentPrincipal, k: number): number {
  return principal.totalVariance > 0 ? principal.variance[k] / principal.totalVariance : 0;
}

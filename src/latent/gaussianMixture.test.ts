import { describe, expect, it } from 'vitest';
import { createRng } from '../diffusion/random';
import { packedIndex, type LatentMixture } from '../model/metadata';
import { conditionMixture, drawFromMixture, mixtureFromCovariances } from './gaussianMixture';

/** Sigma = L L^T back from a packed factor, to compare with the covariance a mixture was built from. */
function covarianceOf(packed: readonly number[], dim: number): number[][] {
  return Array.from({ length: dim }, (_, i) =>
    Array.from({ length: dim }, (_, j) => {
      let sum = 0;
      for (let m = 0; m <= Math.min(i, j); m++) sum += packed[packedIndex(i, m)] * packed[packedIndex(j, m)];
      return sum;
    }),
  );
}

const SIGMA_3D = [
  [2, 0.6, -0.4],
  [0.6, 1, 0.3],
  [-0.4, 0.3, 1.5],
];
const MU_3D = [1, -2, 0.5];

describe('mixtureFromCovariances', () => {
  it('stores a lower Cholesky factor whose L L^T is the covariance', () => {
    const mixture = mixtureFromCovariances([1], [MU_3D], [SIGMA_3D]);
    covarianceOf(mixture.scaleTril[0], 3).forEach((row, i) =>
      row.forEach((v, j) => expect(v).toBeCloseTo(SIGMA_3D[i][j], 12)),
    );
  });
});

describe('conditionMixture', () => {
  it('returns the mixture itself when nothing is known', () => {
    const mixture = mixtureFromCovariances([1], [MU_3D], [SIGMA_3D]);
    expect(conditionMixture(mixture, [undefined, undefined, undefined])).toBe(mixture);
  });

  it('gives one Gaussian its textbook conditional (mean mu_F + S_FK S_KK^-1 (z_K - mu_K), Schur complement)', () => {
    // Know dimension 1 = 0: S_KK = 1, so mean_F = mu_F + S_F1 (0 - mu_1) and cov_F = S_FF - S_F1 S_1F.
    const conditional = conditionMixture(mixtureFromCovariances([1], [MU_3D], [SIGMA_3D]), [undefined, 0, undefined]);
    const residual = 0 - MU_3D[1];
    expect(conditional.means[0][0]).toBeCloseTo(MU_3D[0] + 0.6 * residual, 12);
    expect(conditional.means[0][1]).toBeCloseTo(MU_3D[2] + 0.3 * residual, 12);
    const cov = covarianceOf(conditional.scaleTril[0], 2);
    expect(cov[0][0]).toBeCloseTo(2 - 0.36, 12);
    expect(cov[0][1]).toBeCloseTo(-0.4 - 0.6 * 0.3, 12);
    expect(cov[1][1]).toBeCloseTo(1.5 - 0.09, 12);
    expect(conditional.weights).toEqual([1]);
  });

  it('conditions on several known coordinates at once', () => {
    // Know dimensions 0 and 2; the free one's variance is 1 - S_1K S_KK^-1 S_K1 with a 2x2 inverse.
    const conditional = conditionMixture(mixtureFromCovariances([1], [MU_3D], [SIGMA_3D]), [2, undefined, 1]);
    const det = 2 * 1.5 - 0.16;
    const inverse = [
      [1.5 / det, 0.4 / det],
      [0.4 / det, 2 / det],
    ];
    const cross = [0.6, 0.3];
    const residual = [2 - MU_3D[0], 1 - MU_3D[2]];
    const gain = [
      cross[0] * inverse[0][0] + cross[1] * inverse[1][0],
      cross[0] * inverse[0][1] + cross[1] * inverse[1][1],
    ];
    expect(conditional.means[0][0]).toBeCloseTo(MU_3D[1] + gain[0] * residual[0] + gain[1] * residual[1], 12);
    expect(covarianceOf(conditional.scaleTril[0], 1)[0][0]).toBeCloseTo(
      1 - gain[0] * cross[0] - gain[1] * cross[1],
      12,
    );
  });

  it('reweights components by how likely each makes the known values', () => {
    // Unit-variance components at x = -1 and x = 2, weights 0.3 / 0.7; knowing x = 0:
    // w ∝ 0.3 exp(-1/2) : 0.7 exp(-2).
    const mixture = mixtureFromCovariances(
      [0.3, 0.7],
      [
        [-1, 0],
        [2, 0],
      ],
      [
        [
          [1, 0],
          [0, 1],
        ],
        [
          [1, 0],
          [0, 1],
        ],
      ],
    );
    const conditional = conditionMixture(mixture, [0, undefined]);
    const [a, b] = [0.3 * Math.exp(-0.5), 0.7 * Math.exp(-2)];
    expect(conditional.weights[0]).toBeCloseTo(a / (a + b), 12);
    expect(conditional.weights[1]).toBeCloseTo(b / (a + b), 12);
  });

  it('stays finite for a known value far from every component', () => {
    const mixture = mixtureFromCovariances(
      [0.5, 0.5],
      [
        [-1, 0],
        [1, 0],
      ],
      [
        [
          [0.01, 0],
          [0, 1],
        ],
        [
          [0.01, 0],
          [0, 1],
        ],
      ],
    );
    const conditional = conditionMixture(mixture, [1000, undefined]);
    expect(conditional.weights.every(Number.isFinite)).toBe(true);
    expect(conditional.weights[1]).toBeCloseTo(1, 12);
  });

  it('collapses onto the mean when the known coordinates determine the rest', () => {
    // Perfectly correlated pair: y = x exactly, so knowing x leaves y no spread (not NaN).
    const degenerate: LatentMixture = {
      kind: 'gaussianMixture',
      fittedOn: 1,
      weights: [1],
      means: [[0, 0]],
      scaleTril: [[1, 1, 0]],
    };
    const draw = drawFromMixture(conditionMixture(degenerate, [0.7, undefined]), createRng(3));
    expect(draw[0]).toBeCloseTo(0.7, 5);
  });
});

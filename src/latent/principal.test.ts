import { describe, expect, it } from 'vitest';
import type { LatentMixture, LatentStats } from '../model/metadata';
import { explainedShare, mixtureCovariance, principalAxis, principalDirections, symmetricEigen } from './principal';

describe('symmetricEigen', () => {
  it('diagonalises a symmetric matrix: A v = lambda v, largest first, unit rows with a fixed sign', () => {
    const A = [
      [4, 1, 0.5],
      [1, 3, -0.2],
      [0.5, -0.2, 1],
    ];
    const { values, vectors } = symmetricEigen(A);
    expect(values[0]).toBeGreaterThan(values[1]);
    expect(values[1]).toBeGreaterThan(values[2]);
    expect(values.reduce((a, b) => a + b)).toBeCloseTo(8, 10);
    vectors.forEach((v, k) => {
      expect(Math.hypot(...v)).toBeCloseTo(1, 10);
      const Av = A.map((row) => row.reduce((s, a, j) => s + a * v[j], 0));
      Av.forEach((x, i) => expect(x).toBeCloseTo(values[k] * v[i], 9));
      const largest = v.reduce((m, x) => (Math.abs(x) > Math.abs(m) ? x : m), 0);
      expect(largest).toBeGreaterThan(0);
    });
  });
});

describe('principalDirections', () => {
  const base: LatentStats = { mean: [1, 2], std: [0.5, 2], min: [-5, -5], max: [5, 5], prior: 'normal' };

  it("uses the package's directions when it ships them", () => {
    const principal = { fittedOn: 9, components: [[0, 1]], variance: [4], totalVariance: 4.25 };
    const result = principalDirections({ ...base, principal }, 2);
    expect(result.source).toBe('package');
    expect(explainedShare(result, 0)).toBeCloseTo(4 / 4.25, 12);
  });

  it("computes them from a fitted mixture's covariance: two components spread along (1, 1)", () => {
    // Components at +-(1, 1) with identity covariance: total covariance I + (1,1)(1,1)^T, eigenvalues 3 and 1.
    const fitted: LatentMixture = {
      kind: 'gaussianMixture',
      fittedOn: 100,
      weights: [0.5, 0.5],
      means: [
        [1, 1],
        [-1, -1],
      ],
      scaleTril: [
        [1, 0, 1],
        [1, 0, 1],
      ],
    };
    expect(mixtureCovariance(fitted, 2)).toEqual([
      [2, 1],
      [1, 2],
    ]);
    const result = principalDirections({ ...base, fitted }, 2);
    expect(result.source).toBe('fitted mixture');
    expect(result.variance[0]).toBeCloseTo(3, 10);
    expect(result.variance[1]).toBeCloseTo(1, 10);
    expect(result.components[0][0]).toBeCloseTo(Math.SQRT1_2, 10);
    expect(result.components[0][1]).toBeCloseTo(Math.SQRT1_2, 10);
    expect(result.totalVariance).toBeCloseTo(4, 10);
    expect(explainedShare(result, 0)).toBeCloseTo(0.75, 10);
  });

  it('falls back to the axes, ordered by spread, without a mixture', () => {
    const result = principalDirections(base, 2);
    expect(result.source).toBe('per-dimension spread');
    expect(result.components).toEqual([
      [0, 1],
      [1, 0],
    ]);
    expect(result.variance).toEqual([4, 0.25]);
  });

  it('scores a code by its coordinate along the direction, from the training mean', () => {
    const axis = principalAxis({ fittedOn: 2, components: [[0.6, 0.8]], variance: [1], totalVariance: 1 }, 0, [1, 2]);
    expect(axis.vector.reduce((s, v, i) => s + v * [1, 2][i], axis.bias)).toBeCloseTo(0, 12);
    expect(axis.vector.reduce((s, v, i) => s + v * [1.6, 2.8][i], axis.bias)).toBeCloseTo(1, 12);
  });
});

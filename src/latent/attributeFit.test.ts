import { describe, expect, it } from 'vitest';
import { createRng } from '../diffusion/random';
import {
  chooseMethod,
  directionScore,
  fitAttribute,
  fitLogistic,
  moveToScore,
  solveLinear,
  MIN_LOGISTIC_PER_SIDE,
} from './attributeFit';

const dot = (a: number[], b: number[]) => a.reduce((s, v, k) => s + v * b[k], 0);

/** n codes of length dim ~ N(0, I), shifted by `shift` along `axis`. */
function cloud(n: number, dim: number, axis: number[], shift: number, seed: number): number[][] {
  const draws = createRng(seed).normals(n * dim);
  return Array.from({ length: n }, (_, i) =>
    Array.from({ length: dim }, (_, k) => draws[i * dim + k] + shift * axis[k]),
  );
}

describe('fitAttribute', () => {
  const dim = 6;
  const axis = [0.6, 0, -0.8, 0, 0, 0];

  it('recovers the direction that separates two toy clouds, with logistic regression', () => {
    const positives = cloud(40, dim, axis, 3, 1);
    const negatives = cloud(40, dim, axis, -3, 2);
    const fit = fitAttribute(positives, negatives);
    expect(fit.method).toBe('logistic');
    expect(Math.hypot(...fit.vector)).toBeCloseTo(1, 10);
    expect(dot(fit.vector, axis)).toBeGreaterThan(0.95);
    expect(fit.correct).toBe(80);
    expect(fit.leaveOneOutCorrect).toBeGreaterThanOrEqual(78);
    expect(fit.gap).toBeGreaterThan(0);
    // The score is the signed distance along the unit vector: the boundary is near the origin, halfway.
    expect(Math.abs(fit.bias)).toBeLessThan(0.5);
  });

  it('falls back to the difference of means with few examples, boundary at the midpoint', () => {
    const positives = [
      [2, 1, 0],
      [4, 1, 0],
    ];
    const negatives = [
      [0, 1, 0],
      [-2, 1, 2],
    ];
    expect(chooseMethod(2, 2)).toBe('mean-difference');
    const fit = fitAttribute(positives, negatives);
    expect(fit.method).toBe('mean-difference');
    // means (3, 1, 0) and (-1, 1, 1): w = (4, 0, -1) / sqrt(17). Along w the positives sit at 8 and 16, the
    // negatives at 0 and -10 (over sqrt(17)): the boundary goes half way across the gap, at 4.
    const s = Math.sqrt(17);
    expect(fit.vector[0]).toBeCloseTo(4 / s, 12);
    expect(fit.vector[1]).toBeCloseTo(0, 12);
    expect(fit.vector[2]).toBeCloseTo(-1 / s, 12);
    expect(fit.bias).toBeCloseTo(-4 / s, 12);
    expect(fit.positiveScores[0]).toBeCloseTo(4 / s, 12);
    expect(fit.negativeScores[0]).toBeCloseTo(-4 / s, 12);
    expect(fit.gap).toBeCloseTo(8 / s, 12);
    expect(fit.correct).toBe(4);
    expect(fit.leaveOneOutCorrect).toBeNull();
  });

  it('switches to logistic regression at MIN_LOGISTIC_PER_SIDE a side', () => {
    expect(chooseMethod(MIN_LOGISTIC_PER_SIDE - 1, 20)).toBe('mean-difference');
    expect(chooseMethod(MIN_LOGISTIC_PER_SIDE, MIN_LOGISTIC_PER_SIDE)).toBe('logistic');
  });

  it('stays finite on perfectly separable examples, smaller weights under a larger penalty', () => {
    const positives = [
      [5, 0],
      [6, 1],
      [7, -1],
    ];
    const negatives = [
      [-5, 0],
      [-6, 1],
      [-7, -1],
    ];
    const weak = fitLogistic(positives, negatives, 1e-3);
    const strong = fitLogistic(positives, negatives, 10);
    for (const { w, b } of [weak, strong]) {
      expect(w.every(Number.isFinite)).toBe(true);
      expect(Number.isFinite(b)).toBe(true);
      expect(w[0]).toBeGreaterThan(0);
    }
    expect(Math.hypot(...strong.w)).toBeLessThan(Math.hypot(...weak.w));
    const fit = fitAttribute(positives, negatives, { method: 'logistic' });
    expect(fit.vector[0]).toBeGreaterThan(0.99);
    expect(fit.correct).toBe(6);
  });

  it('puts the boundary half way between the means where the groups overlap', () => {
    const fit = fitAttribute(
      [
        [3, 0],
        [-1, 0],
      ],
      [
        [1, 0],
        [-3, 0],
      ],
    );
    // Means 1 and -1 along x: the boundary at 0; one example of each group is on the wrong side.
    expect(fit.vector).toEqual([1, 0]);
    expect(fit.bias).toBeCloseTo(0, 12);
    expect(fit.correct).toBe(2);
    expect(fit.gap).toBeCloseTo(-2, 12);
  });

  it('refuses too few examples, mixed lengths and identical groups with messages', () => {
    expect(() =>
      fitAttribute(
        [[1, 2]],
        [
          [0, 0],
          [1, 1],
        ],
      ),
    ).toThrow(/at least two images .* \(now 1 with, 2 without\)/);
    expect(() =>
      fitAttribute(
        [[1, 2], [1]],
        [
          [0, 0],
          [1, 1],
        ],
      ),
    ).toThrow('different lengths');
    expect(() =>
      fitAttribute(
        [
          [1, NaN],
          [1, 1],
        ],
        [
          [0, 0],
          [1, 1],
        ],
      ),
    ).toThrow('non-finite');
    expect(() =>
      fitAttribute(
        [
          [1, 1],
          [0, 0],
        ],
        [
          [0, 0],
          [1, 1],
        ],
      ),
    ).toThrow('define no direction');
  });
});

describe('moveToScore', () => {
  it('sets the score exactly, moving along the direction only, and keeps locked dimensions', () => {
    const direction = { vector: [0.6, 0.8, 0], bias: -1 };
    const z = [1, 2, 3];
    const moved = moveToScore(z, direction, 2.5);
    expect(directionScore(moved, direction)).toBeCloseTo(2.5, 12);
    expect(moved[2]).toBe(3);
    expect(moveToScore(z, direction, 2.5, [true, false, false])[0]).toBe(1);
  });
});

describe('solveLinear', () => {
  it('solves a small system and refuses a singular one', () => {
    const x = solveLinear(
      [
        [4, 1],
        [1, 3],
      ],
      [1, 2],
    );
    expect(x[0]).toBeCloseTo(1 / 11, 12);
    expect(x[1]).toBeCloseTo(7 / 11, 12);
    expect(() =>
      solveLinear(
        [
          [0, 0],
          [0, 0],
        ],
        [1, 1],
      ),
    ).toThrow('singular');
  });
});

import { describe, expect, it } from 'vitest';
import type { AttributeDirection, LatentMixture, LatentStats } from '../model/metadata';
import {
  applyAttribute,
  attributeScore,
  fractions,
  normalDraws,
  priorLabel,
  priorReason,
  quarterCircle,
  randomiseUnlocked,
  rowVariation,
  samplePrior,
  slerp,
  sliderRange,
} from './latentMath';

const STATS: LatentStats = {
  mean: [0, 1, 0],
  std: [1, 0.5, 0],
  min: [-2, -4, -0.1],
  max: [2, 2, 0.1],
  prior: 'normal',
};

describe('sliderRange', () => {
  it('spans mean +- 3 std', () => {
    expect(sliderRange(STATS, 0)).toEqual({ min: -3, max: 3, step: 0.03 });
  });
  it('widens to include the observed min and max', () => {
    const range = sliderRange(STATS, 1);
    expect(range.min).toBe(-4);
    expect(range.max).toBe(2.5);
  });
  it('falls back to +- 3 for a dimension with zero spread', () => {
    expect(sliderRange(STATS, 2)).toMatchObject({ min: -3, max: 3 });
  });
});

const NORMAL = { prior: 'normal' } as const;
const MIX = { prior: '10mix' } as const;

describe('seeded prior', () => {
  it('is reproducible per seed and differs between seeds', () => {
    expect(samplePrior(NORMAL, 8, 42)).toEqual(samplePrior(NORMAL, 8, 42));
    expect(samplePrior(NORMAL, 8, 42)).not.toEqual(samplePrior(NORMAL, 8, 43));
    expect(samplePrior(MIX, 8, 42)).toEqual(samplePrior(MIX, 8, 42));
  });
  it("draws the '10mix' prior: every pair sits on one of ten rays at radius ~1.4, each ray used", () => {
    const pairs = 5000;
    const z = samplePrior(MIX, 2 * pairs, 3);
    const seen = new Set<number>();
    let radiusSum = 0;
    for (let k = 0; k < pairs; k++) {
      const [x, y] = [z[2 * k], z[2 * k + 1]];
      const radius = Math.hypot(x, y);
      radiusSum += radius;
      // The component's axis is the nearest multiple of 36 degrees; across it the spread is only 0.1.
      const component = Math.round(Math.atan2(y, x) / ((2 * Math.PI) / 10));
      const axis = (2 * Math.PI * component) / 10;
      expect(Math.abs(-x * Math.sin(axis) + y * Math.cos(axis))).toBeLessThan(0.6);
      seen.add(((component % 10) + 10) % 10);
    }
    expect(Math.abs(radiusSum / pairs - 1.4)).toBeLessThan(0.05);
    expect(seen.size).toBe(10);
  });
  it('has roughly zero mean and unit variance', () => {
    const draws = normalDraws(20000, 1);
    const mean = draws.reduce((s, v) => s + v, 0) / draws.length;
    const variance = draws.reduce((s, v) => s + (v - mean) ** 2, 0) / draws.length;
    expect(Math.abs(mean)).toBeLessThan(0.03);
    expect(Math.abs(variance - 1)).toBeLessThan(0.05);
  });
  it("keeps a '10mix' pair on its rays when one of the pair is locked", () => {
    // Drawing y independently of a locked x = 1.4 would land off every ray, e.g. at (1.4, -1.3).
    for (let seed = 0; seed < 500; seed++) {
      const [x, y] = randomiseUnlocked([1.4, 0], [true, false], MIX, seed);
      expect(x).toBe(1.4);
      const axis = (2 * Math.PI * Math.round(Math.atan2(y, x) / ((2 * Math.PI) / 10))) / 10;
      expect(Math.abs(-x * Math.sin(axis) + y * Math.cos(axis))).toBeLessThan(0.45);
    }
  });
  it('randomises only unlocked dimensions', () => {
    const z = [10, 20, 30];
    const out = randomiseUnlocked(z, [true, false, true], NORMAL, 5);
    expect(out[0]).toBe(10);
    expect(out[2]).toBe(30);
    expect(out[1]).toBe(samplePrior(NORMAL, 3, 5)[1]);
  });
});

/** Two 2-d components far enough apart that x > 0 tells them apart: a heavy one at (5, 0) stretched along
 * x = y, a light round one at (-5, 0). */
const MIXTURE: LatentMixture = {
  kind: 'gaussianMixture',
  fittedOn: 60000,
  weights: [0.75, 0.25],
  means: [
    [5, 0],
    [-5, 0],
  ],
  // L = [[1, 0], [0.9, sqrt(1 - 0.81)]]: unit variances, correlation 0.9; then L = 0.2 I.
  scaleTril: [
    [1, 0.9, Math.sqrt(0.19)],
    [0.2, 0, 0.2],
  ],
};

describe('fitted latent mixture', () => {
  const source = { prior: 'normal', fitted: MIXTURE } as const;
  const draws = Array.from({ length: 8000 }, (_, seed) => samplePrior(source, 2, seed));
  const heavy = draws.filter(([x]) => x > 0);
  const light = draws.filter(([x]) => x <= 0);
  const moments = (rows: number[][]) => {
    const mean = [0, 1].map((d) => rows.reduce((s, r) => s + r[d], 0) / rows.length);
    const cov = (a: number, b: number) =>
      rows.reduce((s, r) => s + (r[a] - mean[a]) * (r[b] - mean[b]), 0) / rows.length;
    return { mean, varX: cov(0, 0), varY: cov(1, 1), corr: cov(0, 1) / Math.sqrt(cov(0, 0) * cov(1, 1)) };
  };

  it('is drawn instead of the trained prior, reproducibly per seed', () => {
    expect(samplePrior(source, 2, 7)).toEqual(samplePrior(source, 2, 7));
    expect(samplePrior(source, 2, 7)).not.toEqual(samplePrior(NORMAL, 2, 7));
  });
  it('picks components by weight', () => {
    expect(heavy.length / draws.length).toBeCloseTo(0.75, 1);
  });
  it('gives each component its mean and covariance (L L^T)', () => {
    const h = moments(heavy);
    expect(h.mean[0]).toBeCloseTo(5, 1);
    expect(h.mean[1]).toBeCloseTo(0, 1);
    expect(h.varX).toBeCloseTo(1, 1);
    expect(h.varY).toBeCloseTo(1, 1);
    expect(h.corr).toBeCloseTo(0.9, 1);
    const l = moments(light);
    expect(l.mean[0]).toBeCloseTo(-5, 1);
    expect(Math.sqrt(l.varX)).toBeCloseTo(0.2, 1);
    expect(Math.abs(l.corr)).toBeLessThan(0.1);
  });
  it('randomises with nothing locked exactly as it samples', () => {
    expect(randomiseUnlocked([5, 6], [false, false], source, 3)).toEqual(samplePrior(source, 2, 3));
  });
  it('draws unlocked dimensions given the locked ones: locking y = 1.5 picks the heavy component and its x | y', () => {
    // Heavy component: x | y ~ N(5 + 0.9 y, 1 - 0.81); the light one (std 0.2 around y = 0) cannot reach y = 1.5.
    const xs = Array.from({ length: 4000 }, (_, seed) => randomiseUnlocked([0, 1.5], [false, true], source, seed));
    expect(xs.every(([, y]) => y === 1.5)).toBe(true);
    const mean = xs.reduce((s, [x]) => s + x, 0) / xs.length;
    const variance = xs.reduce((s, [x]) => s + (x - mean) ** 2, 0) / xs.length;
    expect(mean).toBeCloseTo(5 + 0.9 * 1.5, 1);
    expect(variance).toBeCloseTo(0.19, 1);
  });
  it('names itself and says why it is used', () => {
    expect(priorLabel(source)).toBe('a 2-component Gaussian mixture fitted to 60,000 encoded training images');
    expect(priorReason(source)).toBe(
      "where this model's codes lie (the N(0, I) its encoder was trained towards is far from them)",
    );
    expect(priorLabel(NORMAL)).toBe('N(0, I)');
    expect(priorReason(MIX)).toBe("the prior this model's encoder was trained towards");
  });
});

describe('interpolation', () => {
  it('follows a quarter circle: endpoints exact, midpoint scaled by cos(pi/4)', () => {
    expect(quarterCircle([1, 0], [0, 1], 0)).toEqual([1, 0]);
    const end = quarterCircle([1, 0], [0, 1], 1);
    expect(end[0]).toBeCloseTo(0, 12);
    expect(end[1]).toBeCloseTo(1, 12);
    const middle = quarterCircle([2, 2], [2, 2], 0.5);
    expect(middle[0]).toBeCloseTo(2 * Math.SQRT2, 12);
  });
  it('slerps on the sphere and keeps the norm of equal-norm endpoints', () => {
    const a = new Float32Array([1, 0]);
    const b = new Float32Array([0, 1]);
    const mid = slerp(a, b, 0.5);
    expect(mid[0]).toBeCloseTo(Math.SQRT1_2, 6);
    expect(mid[1]).toBeCloseTo(Math.SQRT1_2, 6);
    expect(Array.from(slerp(a, b, 1))).toEqual([expect.closeTo(0, 6), expect.closeTo(1, 6)]);
  });
  it('falls back to the straight line for parallel inputs instead of dividing by zero', () => {
    const out = slerp(new Float32Array([1, 1]), new Float32Array([2, 2]), 0.5);
    expect(Array.from(out)).toEqual([1.5, 1.5]);
  });
  it('spaces fractions evenly, including both ends', () => {
    expect(fractions(5)).toEqual([0, 0.25, 0.5, 0.75, 1]);
    expect(fractions(1)).toEqual([0]);
  });
});

describe('attribute directions', () => {
  const direction: AttributeDirection = { name: 'Trouser', group: 'class', vector: [0.6, 0.8, 0], bias: -1 };
  it('scores z by vector . z + bias', () => {
    expect(attributeScore([1, 1, 5], direction)).toBeCloseTo(0.4, 12);
  });
  it('moves z so its score hits the target, leaving locked dimensions alone', () => {
    const moved = applyAttribute([1, 1, 5], direction, 2.4);
    expect(attributeScore(moved, direction)).toBeCloseTo(2.4, 12);
    expect(moved[2]).toBe(5);
    const locked = applyAttribute([1, 1, 5], direction, 2.4, [true, false, false]);
    expect(locked[0]).toBe(1);
    expect(locked[1]).toBeCloseTo(1 + 2 * 0.8, 12);
  });
});

describe('rowVariation', () => {
  it('is zero for a constant row and grows with change', () => {
    const still = [new Uint8Array([1, 2]), new Uint8Array([1, 2]), new Uint8Array([1, 2])];
    const moving = [new Uint8Array([0, 0]), new Uint8Array([10, 0]), new Uint8Array([10, 20])];
    expect(rowVariation(still)).toBe(0);
    expect(rowVariation(moving)).toBe(5 + 10);
  });
});

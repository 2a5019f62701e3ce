import { describe, expect, it } from 'vitest';
import type { AttributeDirection, LatentStats } from '../model/metadata';
import {
  applyAttribute,
  attributeScore,
  fractions,
  normalDraws,
  quarterCircle,
  randomiseUnlocked,
  rowVariation,
  samplePrior,
  slerp,
  sliderRange,
} from './latentMath';

const STATS: LatentStats = { mean: [0, 1, 0], std: [1, 0.5, 0], min: [-2, -4, -0.1], max: [2, 2, 0.1], prior: 'normal' };

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

describe('seeded prior', () => {
  it('is reproducible per seed and differs between seeds', () => {
    expect(samplePrior('normal', 8, 42)).toEqual(samplePrior('normal', 8, 42));
    expect(samplePrior('normal', 8, 42)).not.toEqual(samplePrior('normal', 8, 43));
    expect(samplePrior('10mix', 8, 42)).toEqual(samplePrior('10mix', 8, 42));
  });
  it("draws the '10mix' prior: every pair sits on one of ten rays at radius ~1.4, each ray used", () => {
    const pairs = 5000;
    const z = samplePrior('10mix', 2 * pairs, 3);
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
  it('randomises only unlocked dimensions', () => {
    const z = [10, 20, 30];
    const out = randomiseUnlocked(z, [true, false, true], 'normal', 5);
    expect(out[0]).toBe(10);
    expect(out[2]).toBe(30);
    expect(out[1]).toBe(samplePrior('normal', 3, 5)[1]);
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

import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { normalTensor4d } from './normalTensor';
import { createRng } from './random';

beforeAll(async () => {
  tf.env().set('IS_TEST', true);
  await tf.setBackend('cpu');
});

describe('createRng', () => {
  it('repeats its stream for a seed and differs between seeds', () => {
    expect(Array.from(createRng(7).normals(9))).toEqual(Array.from(createRng(7).normals(9)));
    expect(Array.from(createRng(7).uniforms(5))).not.toEqual(Array.from(createRng(8).uniforms(5)));
  });

  it('gives a related seed a stream of its own, not a shifted copy', () => {
    // Unhashed, Mulberry32 seeded with s + its state increment is seed s one draw later.
    const increment = 0x6d2b79f5;
    const later = Array.from(createRng(0).uniforms(9)).slice(1);
    expect(Array.from(createRng(increment).uniforms(8))).not.toEqual(later);
    const neighbours = [0, 1, 2].map((seed) => Array.from(createRng(seed).uniforms(4)));
    expect(new Set(neighbours.flat()).size).toBe(12);
  });

  it('draws uniforms in [0, 1) with mean 1/2 and variance 1/12', () => {
    const u = createRng(1).uniforms(100_000);
    expect(Math.min(...u)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...u)).toBeLessThan(1);
    const mean = u.reduce((a, b) => a + b, 0) / u.length;
    const variance = u.reduce((a, b) => a + (b - mean) ** 2, 0) / u.length;
    expect(mean).toBeCloseTo(0.5, 2);
    expect(variance).toBeCloseTo(1 / 12, 3);
  });

  it('draws standard normals (mean 0, variance 1, no skew, fourth moment 3)', () => {
    const n = createRng(2).normals(200_001);
    const moment = (p: number): number => n.reduce((a, b) => a + b ** p, 0) / n.length;
    expect(moment(1)).toBeCloseTo(0, 2);
    expect(moment(2)).toBeCloseTo(1, 1);
    expect(moment(3)).toBeCloseTo(0, 1);
    expect(Math.abs(moment(4) - 3)).toBeLessThan(0.1);
    expect(n.every(Number.isFinite)).toBe(true);
  });

  it('refuses a non-integer seed', () => {
    expect(() => createRng(0.5)).toThrow(/integer/);
  });
});

describe('normalTensor4d', () => {
  it('uploads the stream as a float32 tensor of the asked shape', async () => {
    const t = normalTensor4d(createRng(3), [2, 3, 4, 1]);
    expect(t.shape).toEqual([2, 3, 4, 1]);
    expect(t.dtype).toBe('float32');
    expect(Array.from(await t.data())).toEqual(Array.from(createRng(3).normals(24)));
    t.dispose();
  });
});

import { describe, expect, it } from 'vitest';
import { ConfigError, DDPM_SCHEDULE, OFFICIAL_SCHEDULE, resolveSchedule } from '../model/config';
import { ddimTimesteps, makeSchedule, timestepForLogSnr } from './schedule';

function expectStrictlyDecreasing(values: ArrayLike<number>): void {
  for (let i = 1; i < values.length; i++) expect(values[i]).toBeLessThan(values[i - 1]);
}

describe('makeSchedule, linear', () => {
  it('reproduces the official InfoDiffusion schedule (beta 1e-5 -> 1e-2, T = 1000)', () => {
    const s = makeSchedule(OFFICIAL_SCHEDULE);
    expect(s.timesteps).toBe(1000);
    expect(s.betas[0]).toBe(1e-5);
    expect(s.betas[999]).toBeCloseTo(0.01, 15);
    expect(s.alphaBar[0]).toBeCloseTo(0.99999, 15);
    expect(s.alphaBar[499]).toBeCloseTo(0.285, 3);
    expect(s.alphaBar[999]).toBeCloseTo(0.00659, 5);
    // alphaBar is the running product of alphas = 1 - betas, checked at one step by hand.
    expect(s.alphas[1]).toBeCloseTo(1 - (1e-5 + (0.01 - 1e-5) / 999), 15);
    expect(s.alphaBar[1]).toBeCloseTo(s.alphaBar[0] * s.alphas[1], 15);
    expectStrictlyDecreasing(s.alphaBar);
  });

  it('gives the DDPM log-SNR values of docs/sources.md §2.6 (beta 1e-4 -> 0.02)', () => {
    const s = makeSchedule(DDPM_SCHEDULE);
    expect(s.logSnr[0]).toBeCloseTo(Math.log(0.9999 / 0.0001), 10);
    expect(s.logSnr[0]).toBeCloseTo(9.21, 2);
    expect(s.logSnr[500]).toBeCloseTo(-2.47, 2);
    expect(s.logSnr[999]).toBeCloseTo(-10.12, 2);
    expectStrictlyDecreasing(s.logSnr);
  });

  it('refuses an invalid config instead of clamping it', () => {
    expect(() => makeSchedule({ ...OFFICIAL_SCHEDULE, betaStart: 0.02, betaEnd: 0.01 })).toThrow(ConfigError);
    expect(() => makeSchedule({ ...OFFICIAL_SCHEDULE, timesteps: 1 })).toThrow(/timesteps/);
  });
});

describe('makeSchedule, cosine', () => {
  const s = makeSchedule(resolveSchedule({ kind: 'cosine', timesteps: 1000 }));

  it('follows the Nichol & Dhariwal definition at the first step', () => {
    const f = (u: number): number => Math.cos(((u / 1000 + 0.008) / 1.008) * (Math.PI / 2)) ** 2;
    expect(s.betas[0]).toBeCloseTo(1 - f(1) / f(0), 15);
    expect(s.alphaBar[0]).toBeCloseTo(f(1) / f(0), 15);
    expect(s.logSnr[0]).toBeCloseTo(10.1, 1);
  });

  it('is monotone, clips beta at 0.999 and ends near 0', () => {
    expectStrictlyDecreasing(s.alphaBar);
    expectStrictlyDecreasing(s.logSnr);
    expect(Math.max(...s.betas)).toBe(0.999);
    expect(s.betas[999]).toBe(0.999);
    expect(s.alphaBar[999]).toBeGreaterThan(0);
    expect(s.alphaBar[999]).toBeLessThan(1e-7);
  });
});

describe('ddimTimesteps', () => {
  it('plans S = 1, 2, 3 and T', () => {
    expect(Array.from(ddimTimesteps(1000, 1))).toEqual([999]);
    expect(Array.from(ddimTimesteps(1000, 2))).toEqual([999, 0]);
    // 999 / 2 = 499.5 rounds half up.
    expect(Array.from(ddimTimesteps(1000, 3))).toEqual([999, 500, 0]);
    const full = ddimTimesteps(1000, 1000);
    expect(full.length).toBe(1000);
    full.forEach((t, i) => expect(t).toBe(999 - i));
  });

  it('rounds ties half up, as the PyTorch side does (2.5 -> 3, 3.5 -> 4)', () => {
    expect(Array.from(ddimTimesteps(6, 3))).toEqual([5, 3, 0]);
    expect(Array.from(ddimTimesteps(8, 3))).toEqual([7, 4, 0]);
  });

  it('always starts at T-1, ends at 0 and strictly decreases', () => {
    for (const T of [2, 7, 50, 1000]) {
      for (let S = 2; S <= Math.min(T, 60); S++) {
        const plan = ddimTimesteps(T, S);
        expect(plan[0]).toBe(T - 1);
        expect(plan[S - 1]).toBe(0);
        expectStrictlyDecreasing(plan);
      }
    }
  });

  it('refuses step counts outside 1..T', () => {
    expect(() => ddimTimesteps(1000, 0)).toThrow(/1\.\.1000/);
    expect(() => ddimTimesteps(1000, 1001)).toThrow(/1\.\.1000/);
    expect(() => ddimTimesteps(1000, 2.5)).toThrow(/got 2.5/);
  });
});

describe('timestepForLogSnr', () => {
  const s = makeSchedule(OFFICIAL_SCHEDULE);

  it('maps each table value to its own timestep and picks the nearest in between', () => {
    for (const t of [0, 1, 250, 998, 999]) expect(timestepForLogSnr(s, s.logSnr[t])).toBe(t);
    const nearer300 = 0.8 * s.logSnr[300] + 0.2 * s.logSnr[301];
    const nearer301 = 0.3 * s.logSnr[300] + 0.7 * s.logSnr[301];
    expect(timestepForLogSnr(s, nearer300)).toBe(300);
    expect(timestepForLogSnr(s, nearer301)).toBe(301);
  });

  it('clamps out-of-range log-SNR to [0, T-1] and is vectorised', () => {
    const mapped = timestepForLogSnr(s, [40, s.logSnr[0] + 1e-9, s.logSnr[600], -40]);
    expect(mapped).toBeInstanceOf(Int32Array);
    expect(Array.from(mapped)).toEqual([0, 0, 600, 999]);
  });

  it('refuses NaN', () => {
    expect(() => timestepForLogSnr(s, Number.NaN)).toThrow(/NaN/);
  });
});

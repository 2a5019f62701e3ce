import { describe, expect, it } from 'vitest';
import { describeGridCost, gridCost } from './batchRender';
import { framePatch } from './renderSlice';

describe('gridCost', () => {
  it('counts images x steps calls at the measured pace, and the student pass at its calls', () => {
    const cost = gridCost(224, 20, 2, 15.4)!;
    expect(cost.seconds).toBeCloseTo((224 * 20 * 15.4) / 1000, 9);
    expect(cost.studentSeconds).toBeCloseTo((224 * 2 * 15.4) / 1000, 9);
    expect(describeGridCost(cost)).toBe(
      "224 images × 20 steps: up to about 1 min 09 s; the student's first pass about 7 s",
    );
    expect(describeGridCost(gridCost(7, 2, null, 30)!)).toBe('7 images × 2 steps: up to about 1 s');
  });

  it('says nothing before the main view has measured a full frame', () => {
    expect(gridCost(224, 20, 2, null)).toBeNull();
  });

  it('takes the pace from full-sampler frames only', () => {
    const frame = { rgba: new Uint8ClampedArray(4), pixels: new Float32Array(1), size: 1 };
    const full = framePatch({ renderCount: 0 }, frame, 'k', 20, {
      quality: 'full',
      latencyMs: 400,
      fps: null,
      renderMs: 300,
    });
    expect(full.stepMs).toBe(15);
    const student = framePatch({ renderCount: 1 }, frame, 'k', 2, {
      quality: 'student',
      latencyMs: 40,
      fps: null,
      renderMs: 40,
    });
    expect('stepMs' in student).toBe(false);
  });
});

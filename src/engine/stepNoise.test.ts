import { describe, expect, it } from 'vitest';
import { createRng } from '../diffusion/random';
import { slerp } from '../diffusion/slerp';
import { StepNoiseDrawer, stepNoiseDraws } from './stepNoise';

const SIZE = 4;
const PIXELS = SIZE * SIZE;

describe('step noise', () => {
  it("continues the seed's stream after x_T, deterministically", () => {
    const drawer = new StepNoiseDrawer();
    const draws = drawer.draws({ kind: 'seed', seed: 7 }, 3, PIXELS);
    expect(Array.from(draws)).toEqual(
      Array.from(
        createRng(7)
          .normals(4 * PIXELS)
          .subarray(PIXELS),
      ),
    );
    // x_T is the stream's start, so the step noise is not x_T again.
    expect(Array.from(draws.subarray(0, PIXELS))).not.toEqual(Array.from(createRng(7).normals(PIXELS)));
    expect(drawer.draws({ kind: 'seed', seed: 7 }, 3, PIXELS)).toBe(draws);
    expect(Array.from(stepNoiseDraws({ kind: 'seed', seed: 7 }, 3, PIXELS))).toEqual(Array.from(draws));
  });

  it('slerps each step on its own between two sources', () => {
    const drawer = new StepNoiseDrawer();
    const [a, b] = [
      drawer.draws({ kind: 'seed', seed: 1 }, 2, PIXELS),
      drawer.draws({ kind: 'seed', seed: 2 }, 2, PIXELS),
    ];
    const mixed = drawer.draws(
      { kind: 'slerp', a: { kind: 'seed', seed: 1 }, b: { kind: 'seed', seed: 2 }, e: 0.25 },
      2,
      PIXELS,
    );
    for (const s of [0, 1]) {
      const range = [s * PIXELS, (s + 1) * PIXELS] as const;
      expect(Array.from(mixed.subarray(...range))).toEqual(
        Array.from(slerp(a.subarray(...range), b.subarray(...range), 0.25)),
      );
    }
  });

  it("lays out each row's own step noise [steps, batch, H, W, C], the same in any batch", () => {
    const drawer = new StepNoiseDrawer();
    const alone = drawer.batch([{ kind: 'seed', seed: 3 }], 2, [SIZE, SIZE, 1]);
    const batched = drawer.batch([null, { kind: 'seed', seed: 3 }, { kind: 'seed', seed: 9 }], 2, [SIZE, SIZE, 1]);
    expect(batched.shape).toEqual([2, 3, SIZE, SIZE, 1]);
    const row = (noise: typeof batched, batch: number, s: number, b: number) =>
      Array.from(noise.data.subarray((s * batch + b) * PIXELS, (s * batch + b + 1) * PIXELS));
    for (const s of [0, 1]) {
      expect(row(batched, 3, s, 1)).toEqual(row(alone, 1, s, 0));
      expect(row(batched, 3, s, 0)).toEqual(new Array(PIXELS).fill(0));
    }
  });
});

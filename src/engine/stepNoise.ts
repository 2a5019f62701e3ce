/**
 * The step noise of stochastic DDIM, drawn in the engine from each image's `StepNoiseSource` (protocol.ts), with
 * the same seeded generator as x_T (src/diffusion/random.ts), so a seed names the same x_T and the same step noise
 * on every backend. No tfjs import: the stores' tests draw the same numbers to check what a fake engine renders.
 */
import { createRng } from '../diffusion/random';
import { slerp } from '../diffusion/slerp';
import type { StepNoiseBatch, StepNoiseSource } from './protocol';

/**
 * The noise of `steps` steps of one image, step after step (length steps * imageCount). A seed's draws continue
 * its x_T's: the first imageCount normals of the stream are x_T, the noise starts after them. They are drawn in
 * one call, because Box-Muller draws normals in pairs and an odd imageCount would otherwise shift the stream.
 * @param imageCount H * W * C of one image
 * @param draw where a slerp source's two ends come from (the cache, for ends drawn before)
 */
export function stepNoiseDraws(
  source: StepNoiseSource,
  steps: number,
  imageCount: number,
  draw: (source: StepNoiseSource) => Float32Array = (end) => stepNoiseDraws(end, steps, imageCount),
): Float32Array {
  if (source.kind === 'seed')
    return createRng(source.seed)
      .normals((steps + 1) * imageCount)
      .subarray(imageCount);
  const [a, b] = [draw(source.a), draw(source.b)];
  const draws = new Float32Array(steps * imageCount);
  for (let s = 0; s < steps; s += 1) {
    const range = [s * imageCount, (s + 1) * imageCount] as const;
    draws.set(slerp(a.subarray(...range), b.subarray(...range), source.e), s * imageCount);
  }
  return draws;
}

/** Recently drawn step noise: a drag re-renders the same x_T many times, a traversal uses one x_T per row. */
const DRAW_CACHE_SIZE = 16;

/** A drawer of step noise with its own small cache; the engine holds one. */
export class StepNoiseDrawer {
  private readonly cache = new Map<string, Float32Array>();

  /** stepNoiseDraws, cached. The array is shared with the cache: read it, never write it. */
  draws(source: StepNoiseSource, steps: number, imageCount: number): Float32Array {
    const key = `${JSON.stringify(source)}|${steps}|${imageCount}`;
    const cached = this.cache.get(key);
    if (cached) return cached;
    const draws = stepNoiseDraws(source, steps, imageCount, (end) => this.draws(end, steps, imageCount));
    if (this.cache.size >= DRAW_CACHE_SIZE) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(key, draws);
    return draws;
  }

  /**
   * A batch's step noise laid out [steps, batch, H, W, C]: row b holds its own source's draws, the same in any
   * batch; a null source (a row with eta 0) gets zeros.
   * @param imageShape [H, W, C]
   */
  batch(
    sources: readonly (StepNoiseSource | null)[],
    steps: number,
    imageShape: readonly [number, number, number],
  ): StepNoiseBatch {
    const [height, width, channels] = imageShape;
    const imageCount = height * width * channels;
    const batch = sources.length;
    const data = new Float32Array(steps * batch * imageCount);
    sources.forEach((source, b) => {
      if (!source) return;
      const draws = this.draws(source, steps, imageCount);
      for (let s = 0; s < steps; s += 1)
        data.set(draws.subarray(s * imageCount, (s + 1) * imageCount), (s * batch + b) * imageCount);
    });
    return { shape: [steps, batch, height, width, channels], data };
  }
}

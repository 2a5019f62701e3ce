/**
 * Renders many (z, x_T) pairs in batches of GRID_BATCH, the batch size the engine compiled shaders for at load
 * (a new batch size would compile new shaders and grow the GPU buffer pool). The last batch is padded by
 * repeating its final item; padding frames are dropped. Each row samples with its own x_T's sampler, and its
 * step noise does not depend on the other rows, so a row renders what the main view would. Batches run one
 * after another, so a job's own batches never supersede each other on their channel; aborting `signal` stops
 * between batches.
 */
import type { ModelMetadata } from '../model/metadata';
import { GRID_BATCH } from './modelSlice';
import { framesFromBatch } from './renderSlice';
import { samplerParams } from './stochasticSampling';
import type { ExplorerEngine, Frame, NoiseState } from './types';

export interface BatchItem {
  z: readonly number[];
  noise: NoiseState;
}

export interface BatchRenderOptions {
  channel: string;
  steps: number;
  signal: AbortSignal;
  /** Called after each batch with every frame so far, in item order. */
  onFrames?: (frames: Frame[]) => void;
}

export async function renderInBatches(engine: ExplorerEngine, metadata: ModelMetadata, items: readonly BatchItem[], options: BatchRenderOptions): Promise<Frame[]> {
  const { imageSize, channels } = metadata.preprocessing;
  const latentDim = metadata.architecture.latentDim;
  const imageCount = imageSize * imageSize * channels;
  const frames: Frame[] = [];
  for (let start = 0; start < items.length; start += GRID_BATCH) {
    const chunk = items.slice(start, start + GRID_BATCH);
    const z = new Float32Array(GRID_BATCH * latentDim);
    const xNoise = new Float32Array(GRID_BATCH * imageCount);
    const rows = Array.from({ length: GRID_BATCH }, (_, i) => chunk[Math.min(i, chunk.length - 1)]);
    rows.forEach((item, i) => {
      z.set(item.z, i * latentDim);
      xNoise.set(item.noise.xNoise, i * imageCount);
    });
    const result = await engine.sample(
      {
        channel: options.channel,
        z: { shape: [GRID_BATCH, latentDim], data: z },
        noise: { kind: 'tensor', xNoise: { shape: [GRID_BATCH, imageSize, imageSize, channels], data: xNoise } },
        steps: options.steps,
        ...samplerParams(rows.map((item) => item.noise.stochastic), options.steps, metadata),
      },
      { signal: options.signal },
    );
    frames.push(...framesFromBatch(result.images, metadata, chunk.length));
    options.onFrames?.(frames.slice());
  }
  return frames;
}

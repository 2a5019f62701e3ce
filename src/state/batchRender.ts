/**
 * Renders many (z, x_T) pairs in batches of GRID_BATCH, the batch size the engine compiled shaders for at load
 * (a new batch size would compile new shaders and grow the GPU buffer pool). The last batch is padded by
 * repeating its final item; padding frames are dropped. Each row samples with its own x_T's sampler, and its
 * step noise does not depend on the other rows, so a row renders what the main view would. Batches run one
 * after another, so a job's own batches never supersede each other on their channel; aborting `signal` stops
 * between batches. renderInBatchesRefined runs a student pass first where the model has a student.
 */
import type { Decoder } from '../engine/protocol';
import type { ModelMetadata } from '../model/metadata';
import { GRID_BATCH } from './modelSlice';
import { framesFromBatch } from './renderSlice';
import { samplerParams } from '../latent/stochasticSampling';
import type { Job } from './jobs';
import type { ExplorerEngine, Frame, NoiseState, TaskStatus } from './types';

export interface BatchItem {
  z: readonly number[];
  noise: NoiseState;
}

export interface BatchRenderOptions {
  channel: string;
  /** DDIM steps, or the student's calls with decoder 'student'. */
  steps: number;
  /** Default 'ddim'. The student decodes deterministically: no step noise, whatever each x_T's sampler. */
  decoder?: Decoder;
  signal: AbortSignal;
  /** Called after each batch with every frame so far, in item order. */
  onFrames?: (frames: Frame[]) => void;
}

export async function renderInBatches(
  engine: ExplorerEngine,
  metadata: ModelMetadata,
  items: readonly BatchItem[],
  options: BatchRenderOptions,
): Promise<Frame[]> {
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
        ...(options.decoder === 'student' ? { decoder: 'student' as const } : {}),
        ...samplerParams(rows.map((item) => item.noise.stochastic)),
      },
      { signal: options.signal },
    );
    frames.push(...framesFromBatch(result.images, metadata, chunk.length));
    options.onFrames?.(frames.slice());
  }
  return frames;
}

export interface RefinedRenderOptions extends Omit<BatchRenderOptions, 'decoder' | 'onFrames'> {
  /** The student's calls when its previews are on (studentPreviewCalls), else null: one full-sampler pass only. */
  studentCalls: number | null;
  /**
   * Called after each batch with a frame for every item rendered so far: during the first pass the student's,
   * then the full sampler's replacing them in order; `refined` counts the full sampler's frames among them.
   */
  onFrames?: (frames: Frame[], progress: { pass: 'student' | 'full'; refined: number }) => void;
}

/**
 * Renders the items with the student first, when its previews are on, so a grid or strip fills in at once, and
 * then with the full sampler, whose frames replace the student's one batch at a time: what is left on screen is
 * always the full sampler's, as in the main view. Returns the full sampler's frames.
 */
export async function renderInBatchesRefined(
  engine: ExplorerEngine,
  metadata: ModelMetadata,
  items: readonly BatchItem[],
  options: RefinedRenderOptions,
): Promise<Frame[]> {
  const { studentCalls, onFrames, ...rest } = options;
  let preview: Frame[] = [];
  if (studentCalls !== null) {
    preview = await renderInBatches(engine, metadata, items, {
      ...rest,
      decoder: 'student',
      steps: studentCalls,
      onFrames: (frames) => onFrames?.(frames, { pass: 'student', refined: 0 }),
    });
  }
  return renderInBatches(engine, metadata, items, {
    ...rest,
    onFrames: (frames) =>
      onFrames?.([...frames, ...preview.slice(frames.length)], { pass: 'full', refined: frames.length }),
  });
}

/** A tool's status while `done` of `total` frames of a pass are in: the student's pass, or the full sampler's. */
function toolRenderStatus(studentPass: boolean, done: number, total: number): TaskStatus {
  return { kind: 'running', label: studentPass ? 'Student preview' : 'Rendering', done, total };
}

/** A tool's status as its render starts: the student's preview first where its previews are on. */
export function toolRenderStarting(studentCalls: number | null, total: number): TaskStatus {
  return toolRenderStatus(studentCalls !== null, 0, total);
}

/**
 * A tool's render as the work of a job: renderInBatchesRefined on the job's signal, handing `onProgress` every
 * frame so far with the tool's status ('Student preview' counts the student's frames, 'Rendering' the full
 * sampler's) while the job is the newest of its name. Returns the full sampler's frames.
 */
export function renderToolFrames(
  engine: ExplorerEngine,
  metadata: ModelMetadata,
  items: readonly BatchItem[],
  job: Job,
  options: Omit<RefinedRenderOptions, 'signal' | 'onFrames'> & {
    onProgress: (frames: Frame[], status: TaskStatus) => void;
  },
): Promise<Frame[]> {
  const { onProgress, ...rest } = options;
  const total = items.length;
  return renderInBatchesRefined(engine, metadata, items, {
    ...rest,
    signal: job.signal,
    onFrames: (frames, { pass, refined }) => {
      if (!job.isCurrent()) return;
      const student = pass === 'student';
      onProgress(frames, toolRenderStatus(student, student ? frames.length : refined, total));
    },
  });
}

/** What a grid of `images` will cost before it starts, at the pace the main view measured (RenderSlice.stepMs). */
export interface GridCost {
  images: number;
  steps: number;
  /** The full sampler's pass. */
  seconds: number;
  /** The student's first pass, when the model has one and previews use it. */
  studentSeconds: number | null;
}

/**
 * images x steps calls at `stepMs` each, and images x studentCalls for the student's pass. The pace is measured at
 * batch 1 (the main view); grids run in batches of GRID_BATCH, which costs less per image on most backends, so this
 * is an upper estimate. Null before the main view has measured a full frame.
 */
export function gridCost(
  images: number,
  steps: number,
  studentCalls: number | null,
  stepMs: number | null,
): GridCost | null {
  if (stepMs === null || !(stepMs > 0)) return null;
  return {
    images,
    steps,
    seconds: (images * steps * stepMs) / 1000,
    studentSeconds: studentCalls === null ? null : (images * studentCalls * stepMs) / 1000,
  };
}

/** "224 images × 20 steps: up to about 1m09s; the student's first pass about 7s". */
export function describeGridCost(cost: GridCost): string {
  const student =
    cost.studentSeconds === null ? '' : `; the student's first pass about ${formatSeconds(cost.studentSeconds)}`;
  return `${cost.images} images × ${cost.steps} steps: up to about ${formatSeconds(cost.seconds)}${student}`;
}

function formatSeconds(seconds: number): string {
  if (seconds < 60) return `${Math.max(1, Math.round(seconds))} s`;
  const minutes = Math.floor(seconds / 60);
  return `${minutes} min ${String(Math.round(seconds % 60)).padStart(2, '0')} s`;
}

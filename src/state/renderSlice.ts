/**
 * The main view's image and how it is doing: the frame on screen (with the key of the inputs it shows), latency,
 * frames per second, a failed render's error, and the render in progress as a transient feed. The render loop
 * (renderLoop.ts) writes here; components draw `frame` through a subscription, not a re-render.
 */
import type { StateCreator } from 'zustand';
import { modelPixelsToRgba } from '../app/preprocess';
import type { FloatImageBatch } from '../engine/protocol';
import type { ModelMetadata } from '../model/metadata';
import type { ExplorerState } from './store';
import type { Frame } from './types';

/**
 * Which decoder made a frame: 'student' = the package's distilled student (steps = its calls); 'preview' = DDIM
 * with the preview steps; 'full' = the full sampler, the only quality a settled frame has.
 */
export type RenderQuality = 'student' | 'preview' | 'full';

/** The words the status line uses for a frame's decoder: "student, 2 calls", "DDIM, 3 steps (preview)", "DDIM, 20 steps". */
export function decoderLabel(quality: RenderQuality, steps: number): string {
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
  switch (quality) {
    case 'student':
      return `student, ${plural(steps, 'call')}`;
    case 'preview':
      return `DDIM, ${plural(steps, 'step')} (preview)`;
    case 'full':
      return `DDIM, ${plural(steps, 'step')}`;
    default: {
      const _exhaustive: never = quality;
      return String(_exhaustive);
    }
  }
}

export interface MainFrame extends Frame {
  /** renderKey of the inputs this frame shows; the loop renders whenever the wanted key differs. */
  key: string;
  /** Increases with every frame shown: e2e tests wait on it (`data-render-id`). */
  renderId: number;
  quality: RenderQuality;
  /** DDIM steps, or the student's calls when quality is 'student'. */
  steps: number;
  /** From the input change to this frame on screen; null for frames not caused by an input (a reconstruction). */
  latencyMs: number | null;
}

/** How a frame from the render loop came about: its decoder, its latency, the frame rate, and its render time. */
export interface FrameTiming {
  quality: RenderQuality;
  latencyMs: number;
  fps: number | null;
  /** From the request to the result, this render alone. */
  renderMs?: number;
}

/** The main view's last render outcome: a failure stays on show until the next frame. */
export type RenderStatus = { kind: 'idle' } | { kind: 'error'; message: string };

/** The one idle status: a frame that changes nothing else leaves `renderStatus` the same object, so no re-render. */
const RENDER_IDLE: RenderStatus = { kind: 'idle' };

/** The main view's render in progress: its decoder and the DDIM steps (student calls) done of its total. */
export interface RenderActivity {
  quality: RenderQuality;
  step: number;
  totalSteps: number;
}

/**
 * A value that changes without a store update (zustand's "transient updates"): setting it runs only its own
 * listeners, so a value that changes every DDIM step re-renders only the components that read it, not every
 * subscriber of the store. Its identity never changes, so store selectors never see it change either.
 */
export interface TransientFeed<T> {
  get(): T;
  /** Replaces the value and tells the listeners; setting the same value again tells nobody. */
  set(value: T): void;
  /** Calls `listener` after each change; returns the unsubscribe (useSyncExternalStore's contract). */
  subscribe(listener: () => void): () => void;
}

export function createTransientFeed<T>(initial: T): TransientFeed<T> {
  let value = initial;
  const listeners = new Set<() => void>();
  return {
    get: () => value,
    set(next) {
      if (Object.is(next, value)) return;
      value = next;
      for (const listener of listeners) listener();
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}

export interface RenderSlice {
  frame: MainFrame | null;
  renderStatus: RenderStatus;
  /**
   * The render in progress (null: none), written per DDIM step by the render loop outside the store's updates:
   * read it with useRenderActivity (hooks.ts), which re-renders only its caller.
   */
  renderActivity: TransientFeed<RenderActivity | null>;
  /** Frames per second over the last five seconds of rendering; null before two frames. */
  fps: number | null;
  /** Frames shown since the page opened; never reset, so render ids only grow, across model switches too. */
  renderCount: number;
  /**
   * Milliseconds per denoiser call of the last full-sampler frame (its render time over its steps), the pace grids
   * are estimated at before they start (batchRender.ts gridCost); null before the first full frame.
   */
  stepMs: number | null;

  presentFrame(frame: Frame, key: string, steps: number, timing?: FrameTiming): void;
  setRenderStatus(status: RenderStatus): void;
  /** Forgets which inputs the frame shows, so the loop renders again (after the engine was reloaded). */
  invalidateFrame(): void;
  clearRender(): void;
}

/** Identifies what a render shows, up to its step count: same key and steps, same image. */
export function renderKey(z: readonly number[], noiseId: string): string {
  return `${noiseId}|${z.join(',')}`;
}

/**
 * The state change that puts a frame on screen. Exported so an action that also changes z can show the
 * matching frame in the same update, and the render loop never sees z without its frame.
 */
export function framePatch(
  state: Pick<RenderSlice, 'renderCount'>,
  frame: Frame,
  key: string,
  steps: number,
  timing?: FrameTiming,
): Partial<RenderSlice> {
  const renderId = state.renderCount + 1;
  const quality = timing?.quality ?? 'full';
  return {
    renderCount: renderId,
    frame: { ...frame, key, renderId, steps, quality, latencyMs: timing?.latencyMs ?? null },
    renderStatus: RENDER_IDLE,
    ...(timing ? { fps: timing.fps } : {}),
    ...(timing?.renderMs !== undefined && quality === 'full' && steps > 0 ? { stepMs: timing.renderMs / steps } : {}),
  };
}

/**
 * Image `index` of an engine batch as a Frame: model-space pixels kept (for reuse as an input), RGBA for canvases.
 * @param batch [B,H,W,C] float32 in model space.
 */
export function frameFromBatch(batch: FloatImageBatch, metadata: ModelMetadata, index: number): Frame {
  const [images, height, width, channels] = batch.shape;
  const count = height * width * channels;
  // A batch of one (every main-view frame) came over as its own transferred buffer: keep it, do not copy it.
  const pixels = images === 1 && index === 0 ? batch.data : batch.data.slice(index * count, (index + 1) * count);
  return { pixels, rgba: modelPixelsToRgba(pixels, channels as 1 | 3, metadata.preprocessing.valueRange), size: width };
}

/** Every image of a batch, the first `count` of them (the rest is padding to the warm batch size). */
export function framesFromBatch(batch: FloatImageBatch, metadata: ModelMetadata, count: number): Frame[] {
  return Array.from({ length: Math.min(count, batch.shape[0]) }, (_, i) => frameFromBatch(batch, metadata, i));
}

export const initialRenderState = {
  frame: null,
  renderStatus: RENDER_IDLE,
  fps: null,
  stepMs: null,
} satisfies Partial<RenderSlice>;

export function createRenderSlice(): StateCreator<ExplorerState, [], [], RenderSlice> {
  return (set, get) => ({
    ...initialRenderState,
    renderActivity: createTransientFeed<RenderActivity | null>(null),
    renderCount: 0,

    presentFrame(frame, key, steps, timing) {
      set(framePatch(get(), frame, key, steps, timing));
    },

    setRenderStatus(renderStatus) {
      set({ renderStatus });
    },

    invalidateFrame() {
      const frame = get().frame;
      if (frame) set({ frame: { ...frame, key: '' } });
    },

    clearRender() {
      get().renderActivity.set(null);
      set(initialRenderState);
    },
  });
}

/**
 * Keeps the main view in step with z, outside React (zustand "state outside components"): it subscribes to the
 * store, works out which image is wanted (z, x_T, steps; few preview steps while a slider is held), and asks
 * the engine for it on the 'main-view' channel.
 *
 * Pacing, so the engine never works on a queue of stale frames:
 * - one render in flight at a time; while a slider is held, a change waits for the render in flight to
 *   finish, and then the newest state (not every intermediate one) is rendered, so dragging shows frames at
 *   the engine's pace;
 * - any other change, and the full-quality render on release, supersede what is in flight: the engine aborts
 *   the old render between DDIM steps (latest-wins per channel).
 */
import type { StoreApi } from 'zustand';
import { isAbortError } from '../engine/client';
import type { ModelMetadata } from '../model/metadata';
import type { ExplorerEngine } from './types';
import { frameFromBatch, renderKey, type RenderQuality } from './renderSlice';
import type { ExplorerState } from './store';
import { describeError } from './describeError';
import { samplerParams, type StochasticSampling } from './stochasticSampling';

interface RenderJob {
  key: string;
  z: number[];
  xNoise: Float32Array;
  stochastic: StochasticSampling | null;
  steps: number;
  /** 'preview' when it uses fewer steps than the full-quality setting. */
  quality: RenderQuality;
  /** Asked for while a slider is held: paced by the engine rather than superseding. */
  interactive: boolean;
  metadata: ModelMetadata;
}

/** The window frames per second are averaged over: long enough to hold two frames of a slow software GPU. */
const FPS_WINDOW_MS = 5000;

/** The render the current state asks for, or null when nothing can be rendered (no model, engine down). */
export function wantedRender(state: ExplorerState): RenderJob | null {
  const metadata = state.model?.metadata;
  if (!metadata || state.loadStatus.kind !== 'ready' || state.engineFailure || !state.noise) return null;
  if (state.z.length !== metadata.architecture.latentDim) return null;
  const steps = state.adjusting ? Math.min(state.previewSteps, state.steps) : state.steps;
  const quality: RenderQuality = steps < state.steps ? 'preview' : 'full';
  const { id, xNoise, stochastic } = state.noise;
  return { key: renderKey(state.z, id), z: state.z, xNoise, stochastic, steps, quality, interactive: state.adjusting, metadata };
}

/** Starts the loop; returns the function that stops it (and abandons the render in flight). */
export function connectRenderLoop(store: StoreApi<ExplorerState>, engine: ExplorerEngine, now: () => number): () => void {
  let inFlight: (RenderJob & { token: number; startedAt: number; controller: AbortController }) | null = null;
  let tokens = 0;
  /** When the first change not yet on screen happened; latency counts from here. */
  let dirtySince: number | null = null;
  let frameTimes: number[] = [];
  let stopped = false;

  function fpsAfterFrame(time: number): number | null {
    frameTimes = [...frameTimes.filter((t) => time - t <= FPS_WINDOW_MS), time];
    if (frameTimes.length < 2) return null;
    return ((frameTimes.length - 1) * 1000) / (time - frameTimes[0]);
  }

  function start(job: RenderJob): void {
    const token = ++tokens;
    const startedAt = now();
    const controller = new AbortController();
    inFlight = { ...job, token, startedAt, controller };
    const { imageSize, channels } = job.metadata.preprocessing;
    const state = store.getState();
    state.setRenderStatus({ kind: 'rendering', quality: job.quality, step: 0, totalSteps: job.steps });
    engine
      .sample(
        {
          channel: 'main-view',
          z: { shape: [1, job.z.length], data: Float32Array.from(job.z) },
          noise: { kind: 'tensor', xNoise: { shape: [1, imageSize, imageSize, channels], data: job.xNoise } },
          steps: job.steps,
          ...samplerParams([job.stochastic], job.steps, job.metadata),
        },
        {
          signal: controller.signal,
          onProgress: (progress) => {
            if (inFlight?.token === token) store.getState().setRenderStatus({ kind: 'rendering', quality: job.quality, step: progress.step, totalSteps: progress.totalSteps });
          },
        },
      )
      .then(
        (result) => {
          if (stopped || inFlight?.token !== token) return;
          inFlight = null;
          const shownAt = now();
          const latencyMs = shownAt - (dirtySince ?? startedAt);
          // Changes made after this render started are not in it: the next frame's latency counts from its start.
          const wanted = wantedRender(store.getState());
          dirtySince = !wanted || covers(job.key, job.steps, wanted) ? null : startedAt;
          store.getState().presentFrame(frameFromBatch(result.images, job.metadata, 0), job.key, job.steps, {
            quality: job.quality,
            latencyMs,
            fps: fpsAfterFrame(shownAt),
          });
          update(store.getState());
        },
        (error: unknown) => {
          if (stopped || inFlight?.token !== token) return;
          inFlight = null;
          if (isAbortError(error)) {
            update(store.getState());
            return;
          }
          store.getState().setRenderStatus({ kind: 'error', message: describeError(error) });
        },
      );
  }

  /** Drops the render in flight: its result would be stale (the frame on screen already shows what is wanted). */
  function abandon(): void {
    inFlight?.controller.abort();
    inFlight = null;
  }

  /**
   * Whether a render with `key` and `steps` already gives what `job` wants: the same steps, or, while a slider
   * is held, at least as many (pressing a slider does not re-render the frame on screen at lower quality).
   */
  function covers(key: string | undefined, steps: number | undefined, job: RenderJob): boolean {
    if (key !== job.key || steps === undefined) return false;
    return job.interactive ? steps >= job.steps : steps === job.steps;
  }

  function update(state: ExplorerState): void {
    const job = wantedRender(state);
    if (!job) return;
    if (covers(state.frame?.key, state.frame?.steps, job)) {
      if (inFlight) {
        abandon();
        state.setRenderStatus({ kind: 'idle' });
      }
      dirtySince = null;
      return;
    }
    if (inFlight && covers(inFlight.key, inFlight.steps, job)) return;
    // A failed render is not retried by itself; the next change of z tries again.
    dirtySince ??= now();
    // While a slider is held, a change waits for the interactive render in flight (frames at the engine's
    // pace); any other change, and the release, supersede it.
    if (!inFlight || !job.interactive || !inFlight.interactive) start(job);
  }

  const unsubscribe = store.subscribe((state, previous) => {
    if (
      state.z !== previous.z ||
      state.noise !== previous.noise ||
      state.steps !== previous.steps ||
      state.previewSteps !== previous.previewSteps ||
      state.adjusting !== previous.adjusting ||
      state.loadStatus !== previous.loadStatus ||
      state.engineFailure !== previous.engineFailure ||
      state.frame?.key !== previous.frame?.key
    ) {
      update(state);
    }
  });
  update(store.getState());
  return () => {
    stopped = true;
    unsubscribe();
    abandon();
  };
}

/**
 * Keeps the main view in step with z, outside React (zustand "state outside components"): it subscribes to the
 * store, works out which image is wanted (z, x_T, steps; a preview while a slider is held), and asks the engine
 * for it on the 'main-view' channel.
 *
 * Previews: with a package's distilled student (metadata.student) and the previews setting on 'student', every
 * frame while a slider is held is the student's (its whole plan, a few network calls), and every other change of
 * z (a click on the track, a key, a typed value, a new draw) shows the student's frame of the new inputs at once
 * and then the full sampler's. Otherwise previews are DDIM with `previewSteps` steps, shown only while a slider
 * is held. Either way the settled frame is always the full sampler's, so nothing shown as final changes.
 *
 * Pacing, so the engine never works on a queue of stale frames:
 * - one render in flight at a time; while a slider is held, a change waits for the render in flight to
 *   finish, and then the newest state (not every intermediate one) is rendered, so dragging shows frames at
 *   the engine's pace;
 * - any other change, and the full-quality render on release, supersede what is in flight: the engine aborts
 *   the old render between DDIM steps (latest-wins per channel, whichever decoder either render uses).
 */
import type { StoreApi } from 'zustand';
import { isAbortError } from '../engine/client';
import type { ModelMetadata } from '../model/metadata';
import type { Decoder } from '../engine/protocol';
import type { ExplorerEngine } from './types';
import { frameFromBatch, renderKey, type RenderQuality } from './renderSlice';
import type { ExplorerState } from './store';
import { describeError } from './describeError';
import { studentPreviewCalls } from './latentSlice';
import { samplerParams, type StochasticSampling } from '../latent/stochasticSampling';

/** What a render draws: its inputs' key, the decoder, and that decoder's steps (the student's: its calls). */
interface Rendered {
  key: string;
  decoder: Decoder;
  steps: number;
}

interface RenderJob extends Rendered {
  z: number[];
  xNoise: Float32Array;
  stochastic: StochasticSampling | null;
  /** 'student' for the student's frames, 'preview' for DDIM with fewer steps than the full-quality setting. */
  quality: RenderQuality;
  /** Asked for while a slider is held: paced by the engine rather than superseding. */
  interactive: boolean;
  metadata: ModelMetadata;
}

/** The window frames per second are averaged over: long enough to hold two frames of a slow software GPU. */
const FPS_WINDOW_MS = 5000;

/**
 * The render the current state asks for, or null when nothing can be rendered (no model, engine down): the
 * full sampler's, or while a slider is held the preview (the student's, or DDIM with the preview steps).
 */
export function wantedRender(state: ExplorerState): RenderJob | null {
  const metadata = state.model?.metadata;
  // A failed load that kept the current model leaves it usable; any other load status but ready renders nothing.
  const usable =
    state.loadStatus.kind === 'ready' || (state.loadStatus.kind === 'error' && state.loadStatus.kept !== undefined);
  if (!metadata || !usable || state.engineFailure || !state.noise) return null;
  if (state.z.length !== metadata.architecture.latentDim) return null;
  const { id, xNoise, stochastic } = state.noise;
  const inputs = {
    key: renderKey(state.z, id),
    z: state.z,
    xNoise,
    stochastic,
    interactive: state.adjusting,
    metadata,
  };
  const studentCalls = studentPreviewCalls(state);
  if (state.adjusting && studentCalls !== null)
    return { ...inputs, decoder: 'student', steps: studentCalls, quality: 'student' };
  const steps = state.adjusting ? Math.min(state.previewSteps, state.steps) : state.steps;
  return { ...inputs, decoder: 'ddim', steps, quality: steps < state.steps ? 'preview' : 'full' };
}

/** The student's frame of the same inputs as `job`, shown before the full sampler's; null when previews are DDIM's. */
function studentFrameOf(state: ExplorerState, job: RenderJob): RenderJob | null {
  const calls = studentPreviewCalls(state);
  return calls === null || job.decoder === 'student'
    ? null
    : { ...job, decoder: 'student', steps: calls, quality: 'student' };
}

/** What the frame on screen draws. */
function renderedOf(frame: ExplorerState['frame']): Rendered | null {
  return frame
    ? { key: frame.key, decoder: frame.quality === 'student' ? 'student' : 'ddim', steps: frame.steps }
    : null;
}

/**
 * Whether `shown` (on screen or in flight) already gives what `job` wants. Only the full sampler's frame with
 * the wanted steps settles a released slider or a discrete change. While a slider is held any frame of the same
 * inputs at least as good as the preview does (pressing a slider does not re-render the frame on screen at
 * lower quality): for a student preview any frame, for a DDIM preview a DDIM frame with at least its steps.
 */
function covers(shown: Rendered | null, job: RenderJob): boolean {
  if (!shown || shown.key !== job.key) return false;
  if (!job.interactive) return shown.decoder === 'ddim' && shown.steps === job.steps;
  if (job.decoder === 'student') return true;
  return shown.decoder === 'ddim' && shown.steps >= job.steps;
}

/** Starts the loop; returns the function that stops it (and abandons the render in flight). */
export function connectRenderLoop(
  store: StoreApi<ExplorerState>,
  engine: ExplorerEngine,
  now: () => number,
): () => void {
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
          // The student imitates the deterministic decode, so it takes no step noise whatever x_T's sampler.
          ...(job.decoder === 'student' ? { decoder: 'student' as const, eta: 0 } : samplerParams([job.stochastic])),
        },
        {
          signal: controller.signal,
          onProgress: (progress) => {
            if (inFlight?.token === token)
              store.getState().setRenderStatus({
                kind: 'rendering',
                quality: job.quality,
                step: progress.step,
                totalSteps: progress.totalSteps,
              });
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
          dirtySince = !wanted || covers(job, wanted) ? null : startedAt;
          store.getState().presentFrame(frameFromBatch(result.images, job.metadata, 0), job.key, job.steps, {
            quality: job.quality,
            latencyMs,
            fps: fpsAfterFrame(shownAt),
            renderMs: shownAt - startedAt,
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

  function update(state: ExplorerState): void {
    const job = wantedRender(state);
    if (!job) return;
    const shown = renderedOf(state.frame);
    if (covers(shown, job)) {
      if (inFlight) {
        abandon();
        state.setRenderStatus({ kind: 'idle' });
      }
      dirtySince = null;
      return;
    }
    if (inFlight && covers(inFlight, job)) return;
    // A failed render is not retried by itself; the next change of z tries again.
    dirtySince ??= now();
    // A change of the inputs outside a held slider shows the student's frame of them first, at once (it
    // supersedes what is in flight); the full sampler's follows when it lands. One already coming is awaited.
    const first = !job.interactive && shown?.key !== job.key ? studentFrameOf(state, job) : null;
    if (first) {
      if (inFlight?.key !== first.key || inFlight.decoder !== 'student') start(first);
      return;
    }
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
      state.previewDecoder !== previous.previewDecoder ||
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

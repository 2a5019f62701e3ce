/**
 * Keeps the main view in step with z, outside React (zustand "state outside components"): it subscribes to the
 * store's inputs (z, x_T, steps, the previews setting, whether a slider is held, the model), works out which
 * image is wanted, and asks the engine for it on the 'main-view' channel.
 *
 * Previews: with a package's distilled student (metadata.student) and the previews setting on 'student', every
 * frame while a slider is held (by a pointer, a click on its track included, or a key: src/ui/useSliderHold.ts) is
 * the student's, and every other change of z (a typed value, a reset, a new draw) shows the student's frame of the
 * new inputs (its whole plan) at once and then the full sampler's. While a slider is held the student runs as many
 * of its calls as fit a live frame (`heldStudentCalls`, which keeps to one plan through the engine's jitter): its
 * whole plan where calls are cheap, its first call alone where they are not (the default model on one WASM core:
 * 1 call, 27.2 dB against the full sampler where 2 calls give 28.6 dB; docs/results.md, "Distilled students"),
 * and never fewer calls than measured faithful (`fewestFaithfulCalls`).
 * Otherwise previews are DDIM with `previewSteps` steps, shown only while a slider is held. Either way the
 * settled frame is always the full sampler's, so nothing shown as final changes.
 *
 * One way: the loop reads the store and writes frames to it, and never reacts to its own writes. Its
 * subscription ignores the frames it presents (only a frame written by someone else, such as a reconstruction or
 * an invalidated frame after a reload, is looked at again); what comes after a frame is decided when its result
 * arrives, before the frame is presented, so the engine is not left idle while the main thread draws.
 *
 * Latest-wins lives in the engine's channel (client.ts, engine.ts): a newer request on 'main-view' ends the older
 * one, so every result that arrives is the newest and is shown as it is. The loop adds only pacing: while a
 * slider is held one render is in flight, and a change waits for it, so the engine renders the newest state
 * rather than every intermediate one; any other change, and the full-quality render on release, is posted at
 * once and supersedes what is in flight (the engine aborts it between DDIM steps).
 *
 * Progress is transient: each DDIM step goes to `renderActivity` (renderSlice.ts), a feed outside the store, so
 * a step re-renders the progress bar and nothing else.
 */
import type { StoreApi } from 'zustand';
import { isAbortError } from '../engine/client';
import type { ModelMetadata } from '../model/metadata';
import type { Decoder } from '../engine/protocol';
import type { ExplorerEngine } from './types';
import { frameFromBatch, renderKey, type MainFrame, type RenderQuality } from './renderSlice';
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

export interface RenderJob extends Rendered {
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

/** Renders of at most this many steps show no per-step progress (each step would be a React commit). */
const SILENT_STEPS = 2;

/** The engine time one held frame may take: 30 frames per second. */
export const HELD_FRAME_BUDGET_MS = 33;

/**
 * The network work a held frame may do, in FLOPs, when its pace is not known to be faster: one WASM core runs the
 * default model's 0.24 GFLOP call in about 23 ms (about 10 GFLOP/s), so 0.33 GFLOP fills HELD_FRAME_BUDGET_MS.
 */
export const HELD_FRAME_FLOPS = 0.33e9;

/**
 * How far under HELD_FRAME_BUDGET_MS a held frame's calls must measure before the next frame takes one more:
 * hysteresis, so the engine's jitter does not flip the plan frame to frame. Without it a drag of the default model
 * on one WASM core ran a two-call frame after every few one-call frames (51 switches in 292 frames; the image's
 * sharpness changing several times a second: docs/benchmarks.md, "Held frames: one plan at a time").
 */
export const HELD_UPSHIFT_MARGIN = 0.85;

/**
 * The student's calls per frame while a slider is held: as many of its plan as fit a live frame, at least one.
 * They fit by the model's size (`denoiserFlops` per call against HELD_FRAME_FLOPS) or by the engine's measured
 * pace (`msPerCall` against HELD_FRAME_BUDGET_MS; null before any frame), whichever allows more. The size alone
 * decides for small models whatever the machine's load (so a tiny model always runs its whole plan); the pace lets
 * a fast machine or a GPU run the whole plan of a larger one. `currentCalls`, the held frame before's, takes
 * another call by pace only within HELD_UPSHIFT_MARGIN of the budget.
 */
export function heldStudentCalls(
  planLength: number,
  denoiserFlops: number,
  msPerCall: number | null,
  fewestCalls = 1,
  currentCalls: number | null = null,
): number {
  const bySize = denoiserFlops > 0 ? Math.floor(HELD_FRAME_FLOPS / denoiserFlops) : planLength;
  const fitting = (budgetMs: number) => (msPerCall !== null && msPerCall > 0 ? Math.floor(budgetMs / msPerCall) : 0);
  let byPace = fitting(HELD_FRAME_BUDGET_MS);
  if (currentCalls !== null && byPace > currentCalls)
    byPace = Math.max(currentCalls, fitting(HELD_FRAME_BUDGET_MS * HELD_UPSHIFT_MARGIN));
  return Math.max(fewestCalls, 1, Math.min(planLength, Math.max(bySize, byPace)));
}

/**
 * The weight of the newest render in the engine's pace (an exponential moving average of its time per call): one
 * fast or slow frame does not change a held slider's plan by itself.
 */
export const PACE_SMOOTHING = 0.3;

/** How much worse than its whole plan a student's shorter image may measure and still stand in while held. */
export const HELD_FIDELITY_SLACK_DB = 3;

/**
 * The fewest of a student's calls worth showing while a slider is held: the first k whose measured PSNR against the
 * teacher (the package's `student.fidelity.inverted.calls<k>`, docs/model-format.md) is within
 * HELD_FIDELITY_SLACK_DB of the whole plan's. The fashion-mnist student's one call is 1.4 dB short of its two, so
 * one call may stand in; the shapes student's eps first call (amplified 12-fold at x_T) is 8 dB short, so it
 * always runs both. Without measurements, one call.
 *
 * Prior draws are judged the same way. The fashion-mnist student's one call is softer there than its two (Fréchet
 * distance 12.3 against 5.6; the settled sampler's 5.1: `priorFrechet`, docs/model-format.md), but not wrong, and
 * holding prior draws to two calls cost a third of the frame rate on one WASM core (35 against 23 frames a second:
 * docs/benchmarks.md, "Held prior draws: one call or two"). A held frame is a preview; the settled frame is not.
 */
export function fewestFaithfulCalls(student: ModelMetadata['student']): number {
  if (!student) return 1;
  const inverted = (student.fidelity as { inverted?: Record<string, unknown> }).inverted ?? {};
  const db = (calls: number) => {
    const value = inverted[`calls${calls}`];
    return typeof value === 'number' && Number.isFinite(value) ? value : null;
  };
  const whole = db(student.plan.length);
  if (whole === null) return 1;
  for (let calls = 1; calls < student.plan.length; calls++) {
    const measured = db(calls);
    if (measured !== null && measured >= whole - HELD_FIDELITY_SLACK_DB) return calls;
  }
  return student.plan.length;
}

/**
 * The render the current state asks for, or null when nothing can be rendered (no model, engine down): the
 * full sampler's, or while a slider is held the preview (the student's, or DDIM with the preview steps).
 * @param msPerCall the engine's time per network call on this machine, which sets the held student's calls
 * @param heldCalls the calls of the last held student frame (null: none yet), for heldStudentCalls' hysteresis
 */
export function wantedRender(
  state: ExplorerState,
  msPerCall: number | null = null,
  heldCalls: number | null = null,
): RenderJob | null {
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
  if (state.adjusting && studentCalls !== null) {
    const calls = heldStudentCalls(
      studentCalls,
      state.model?.stats.denoiserFlops ?? 0,
      msPerCall,
      fewestFaithfulCalls(metadata.student),
      heldCalls,
    );
    return { ...inputs, decoder: 'student', steps: calls, quality: 'student' };
  }
  const steps = state.adjusting ? Math.min(state.previewSteps, state.steps) : state.steps;
  return { ...inputs, decoder: 'ddim', steps, quality: steps < state.steps ? 'preview' : 'full' };
}

/** The student's frame (its whole plan) of the same inputs as `job`, shown before the full sampler's. */
function studentFrameOf(state: ExplorerState, job: RenderJob): RenderJob | null {
  const calls = studentPreviewCalls(state);
  return calls === null || job.decoder === 'student'
    ? null
    : { ...job, decoder: 'student', steps: calls, quality: 'student', interactive: false };
}

/** What a frame on screen draws. */
function renderedOf(frame: MainFrame | null): Rendered | null {
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

/** The store fields a render depends on: a change of any of them may ask for another render. */
function inputsChanged(state: ExplorerState, previous: ExplorerState): boolean {
  return (
    state.z !== previous.z ||
    state.noise !== previous.noise ||
    state.steps !== previous.steps ||
    state.previewSteps !== previous.previewSteps ||
    state.previewDecoder !== previous.previewDecoder ||
    state.adjusting !== previous.adjusting ||
    state.loadStatus !== previous.loadStatus ||
    state.engineFailure !== previous.engineFailure
  );
}

/**
 * Records a span of the slider path as a User Timing measure (DevTools' performance panel shows them; the drag
 * benchmark reads them, src/cli/benchDrag.ts). Each is cleared at once, so the timeline buffer never grows;
 * PerformanceObservers still see every one.
 */
function traceSpan(name: string, start: number, end: number, detail?: Record<string, unknown>): void {
  if (typeof performance === 'undefined' || typeof performance.measure !== 'function') return;
  performance.measure(name, { start, end, detail });
  performance.clearMeasures(name);
}

/** Starts the loop; returns the function that stops it (and abandons the render in flight). */
export function connectRenderLoop(
  store: StoreApi<ExplorerState>,
  engine: ExplorerEngine,
  now: () => number,
): () => void {
  /** The newest render posted and not yet ended; older ones were superseded on the channel. */
  let inFlight: (RenderJob & { startedAt: number; controller: AbortController }) | null = null;
  /** When the first change not yet on screen happened; latency counts from here. */
  let dirtySince: number | null = null;
  /** The engine's time per network call, smoothed over renders (its own timing, messages excluded). */
  let msPerCall: number | null = null;
  /** The calls of the last held student frame: the plan a held slider keeps unless the pace says otherwise. */
  let heldCalls: number | null = null;
  let frameTimes: number[] = [];
  /** True while this loop presents a frame: the subscription does not react to its own writes. */
  let presenting = false;
  let stopped = false;

  function fpsAfterFrame(time: number): number | null {
    frameTimes = [...frameTimes.filter((t) => time - t <= FPS_WINDOW_MS), time];
    if (frameTimes.length < 2) return null;
    return ((frameTimes.length - 1) * 1000) / (time - frameTimes[0]);
  }

  function setActivity(job: RenderJob | null, step = 0): void {
    store.getState().renderActivity.set(job ? { quality: job.quality, step, totalSteps: job.steps } : null);
  }

  function start(job: RenderJob): void {
    const startedAt = now();
    const controller = new AbortController();
    inFlight = { ...job, startedAt, controller };
    const { imageSize, channels } = job.metadata.preprocessing;
    setActivity(job);
    engine
      .sample(
        {
          channel: 'main-view',
          z: { shape: [1, job.z.length], data: Float32Array.from(job.z) },
          noise: { kind: 'tensor', xNoise: { shape: [1, imageSize, imageSize, channels], data: job.xNoise } },
          steps: job.steps,
          // The student runs x_T's own sampler between its calls, as the decode it stands in for does.
          ...(job.decoder === 'student' ? { decoder: 'student' as const } : {}),
          ...samplerParams([job.stochastic]),
        },
        {
          signal: controller.signal,
          // A frame of one or two steps (a held preview) says only that it is rendering: a step of it would
          // cost the main thread a commit for a bar no one can read.
          onProgress: (progress) => {
            if (job.steps > SILENT_STEPS) setActivity(job, progress.step);
          },
        },
      )
      .then(
        (result) => {
          if (stopped) return;
          const arrivedAt = now();
          inFlight = null;
          const measured = result.elapsedMs / Math.max(1, result.denoiserCalls);
          msPerCall = msPerCall === null ? measured : msPerCall + PACE_SMOOTHING * (measured - msPerCall);
          if (job.interactive && job.decoder === 'student') heldCalls = job.steps;
          const latencyMs = arrivedAt - (dirtySince ?? startedAt);
          // Changes made after this render started are not in it: the next frame's latency counts from its start.
          const wanted = wantedRender(store.getState(), msPerCall, heldCalls);
          dirtySince = !wanted || covers(job, wanted) ? null : startedAt;
          // The next render first, so the engine works on it while this frame is converted and drawn.
          update(store.getState(), job);
          presenting = true;
          try {
            store.getState().presentFrame(frameFromBatch(result.images, job.metadata, 0), job.key, job.steps, {
              quality: job.quality,
              latencyMs,
              fps: fpsAfterFrame(arrivedAt),
              renderMs: arrivedAt - startedAt,
            });
          } finally {
            presenting = false;
          }
          traceSpan('main-view:render', startedAt, arrivedAt, {
            engineMs: result.elapsedMs,
            steps: job.steps,
            decoder: job.decoder,
            quality: job.quality,
          });
          traceSpan('main-view:present', arrivedAt, now());
        },
        (error: unknown) => {
          // Aborted: superseded by the render posted after it, or abandoned; either way nothing is left to do.
          // Any other outcome is the newest render's: the channel has already rejected every older one.
          if (stopped || isAbortError(error)) return;
          inFlight = null;
          setActivity(null);
          store.getState().setRenderStatus({ kind: 'error', message: describeError(error) });
        },
      );
  }

  /** Drops the render in flight: its result would be stale (the frame on screen already shows what is wanted). */
  function abandon(): void {
    inFlight?.controller.abort();
    inFlight = null;
    setActivity(null);
  }

  /**
   * Posts the render the state asks for, unless the frame on screen or the render in flight gives it already.
   * @param shown what is on screen, when a result is about to be presented (else the store's frame)
   */
  function update(state: ExplorerState, shown: Rendered | null = renderedOf(state.frame)): void {
    const job = wantedRender(state, msPerCall, heldCalls);
    if (!job) {
      abandon();
      return;
    }
    if (covers(shown, job)) {
      abandon();
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
    // A frame another writer put on screen (a reconstruction, an invalidated frame) may change what is needed;
    // the frames this loop presents never do: what follows them was decided before they were presented.
    const foreignFrame = !presenting && state.frame !== previous.frame;
    if (inputsChanged(state, previous) || foreignFrame) update(state);
  });
  update(store.getState());
  return () => {
    stopped = true;
    unsubscribe();
    abandon();
  };
}

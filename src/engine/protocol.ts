/**
 * The message protocol between the main thread (`EngineClient`) and the engine worker that owns tfjs and the GPU.
 *
 * Two discriminated unions, both switched over exhaustively: `EngineRequest` (main -> worker, plus the `cancel`
 * control message) and `EngineResponse` (worker -> main). Every request carries a client-chosen, strictly
 * increasing `id`; every request ends with exactly one terminal response for that id: `result`, `error` or
 * `aborted`. Before its end a request may emit any number of `progress` messages with the same id. Engine-wide
 * happenings (device loss, a tensor leak) arrive as `event` messages with id 0.
 *
 * Only plain data crosses: typed arrays (transferred, not copied), numbers, strings. Images are NHWC float32 in
 * model space ([-1, 1], not clipped); inputs may also be u8 (0..255, mapped to u / 127.5 - 1 by the engine).
 * This module has no runtime dependencies, so the UI and the stores may import its types.
 */
import type { MmseCurve } from '../diffusion/itd';
import type { ItdRequest, ItdResult } from './itdRequest';

export type { BitsWithError } from '../diffusion/itdDiscrete';
export type { ItdFigures, ItdMemberResult, ItdRequest, ItdResult } from './itdRequest';
import type { ModelMetadata } from '../model/metadata';

/** The tfjs backends the engine can run on. */
export type BackendName = 'webgpu' | 'webgl' | 'wasm' | 'cpu';
/** A backend request: `auto` picks the fastest real hardware (see backend.ts), a name forces that backend. */
export type BackendChoice = BackendName | 'auto';
export const BACKEND_NAMES: readonly BackendName[] = ['webgpu', 'webgl', 'wasm', 'cpu'];

/** A batch of images, NHWC. `shape` is [batch, height, width, channels]; `data.length` is their product. */
export interface ImageBatch {
  shape: [number, number, number, number];
  /** float32: model space, [-1, 1]. uint8: 0..255, converted by the engine with u / 127.5 - 1. */
  data: Float32Array | Uint8Array;
}

/** Images produced by the engine: always float32 in model space (a sampler's output can leave [-1, 1]). */
export interface FloatImageBatch extends ImageBatch {
  data: Float32Array;
}

/**
 * The fresh noise of stochastic DDIM (eta > 0), one [batch, H, W, C] standard-normal draw per step:
 * shape [steps, batch, height, width, channels], float32.
 */
export interface StepNoiseBatch {
  shape: [number, number, number, number, number];
  data: Float32Array;
}

/**
 * Where one image's stochastic-DDIM step noise comes from, as plain data; the engine draws it (stepNoise.ts).
 * Every step's noise is a function of the source alone, never of a batch's other rows, so an image renders the
 * same alone and in a grid.
 */
export type StepNoiseSource =
  /**
   * The seed's standard normals that follow x_T's own: createRng(seed).normals((steps + 1) * n) is x_T (its first
   * n values, n = H * W * C) and then one image of noise per step.
   */
  | { kind: 'seed'; seed: number }
  /** Each step's noise slerped between two sources' at fraction e in [0, 1] (a frame between two stochastic ends). */
  | { kind: 'slerp'; a: StepNoiseSource; b: StepNoiseSource; e: number };

/** A batch of latent codes z, shape [batch, latentDim]. */
export interface LatentBatch {
  shape: [number, number];
  data: Float32Array;
}

/** What the WebGPU adapter says about itself (GPUAdapterInfo plus isFallbackAdapter); null off WebGPU. */
export interface AdapterInfo {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** True for a software adapter (SwiftShader reports itself this way, or via architecture 'swiftshader'). */
  isFallbackAdapter: boolean;
}

/** One backend the selection looked at, and why it was taken or passed over. */
export interface BackendProbe {
  backend: BackendName;
  usable: boolean;
  /** e.g. "software adapter (swiftshader): tens of times slower than WASM", "navigator.gpu missing". */
  note: string;
}

/** The backend the engine runs on, and why. */
export interface BackendReport {
  backend: BackendName;
  /** How the choice was made, in words fit for the UI ("forced by ?backend=webgpu", "no hardware GPU ..."). */
  reason: string;
  /** The WebGPU adapter when `backend` is 'webgpu' or when one was probed; otherwise null. */
  adapter: AdapterInfo | null;
  /** Every backend considered, in the order tried. */
  probes: BackendProbe[];
}

/** Where the model package comes from. */
export type ModelSource =
  /** A folder served over HTTP: `baseUrl` is the folder ("models/fixture/"), model.json is fetched from it. */
  | { kind: 'url'; baseUrl: string }
  /** User-chosen files: path relative to the package folder ("model.json", "group1-shard1of1.bin") -> bytes. */
  | { kind: 'files'; files: Map<string, ArrayBuffer> };

/** Where the initial noise x_T of a sampling request comes from. */
export type NoiseSource =
  /** Explicit x_T, shape [batch, H, W, C] matching the z batch (e.g. the result of `invert`). */
  | { kind: 'tensor'; xNoise: ImageBatch }
  /** x_T ~ N(0, I) drawn from the seeded RNG: the same seed gives the same x_T on every backend. */
  | { kind: 'seed'; seed: number };

// ---------------------------------------------------------------------------------------------------------
// Requests (main -> worker)
// ---------------------------------------------------------------------------------------------------------

/**
 * Load a model package (replacing any loaded one) and get the engine ready: choose the backend, read the
 * weights (progress phase 'download'), compile-only warm-up at the shapes in use (phase 'compile'), then reply
 * with `LoadResult`. Also the way back after a device loss: load again, optionally with another backend.
 */
export interface LoadRequest {
  id: number;
  kind: 'load';
  source: ModelSource;
  /** Default 'auto': hardware WebGPU -> hardware WebGL -> WASM -> CPU. */
  backend?: BackendChoice;
  /** Batch sizes to warm up (compile shaders for) before replying; default [1]. Add the grid batch here. */
  warmupBatchSizes?: number[];
}

/** Encode images to latent codes: x [B,H,W,C] at the model's size and channels -> z [B, latentDim]. */
export interface EncodeRequest {
  id: number;
  kind: 'encode';
  images: ImageBatch;
}

/**
 * Deterministic DDIM inversion (eta 0) x0 -> x_T with `steps` network calls, conditioned on z = `z` if given,
 * else on z = Enc(x0) (computed and returned). Progress: one 'step' event per network call.
 */
export interface InvertRequest {
  id: number;
  kind: 'invert';
  images: ImageBatch;
  z?: LatentBatch;
  steps: number;
}

/**
 * Which network decodes a sample request: 'ddim' = the model's denoiser along `steps` evenly spaced DDIM steps;
 * 'student' = the package's distilled student (metadata.student) along the first `steps` entries of its own
 * plan, deterministic (eta 0), its outputs turned into noise estimates by its parameterisation.
 */
export type Decoder = 'ddim' | 'student';

/**
 * DDIM sampling from x_T, conditioned on z. Latest-wins per `channel`: a newer sample request on the same
 * channel aborts this one between two DDIM steps (it then ends with `aborted`, reason 'superseded'), whichever
 * decoder either uses. Progress: one 'step' event per DDIM step; with `returnTrajectory` each carries that step's
 * x_t and x0Pred.
 */
export interface SampleRequest {
  id: number;
  kind: 'sample';
  /** Latest-wins scope, e.g. 'main-view', 'trajectory', 'grid'. Requests on different channels queue normally. */
  channel: string;
  z: LatentBatch;
  noise: NoiseSource;
  /**
   * Default 'ddim'. 'student' is refused (error) on a model without one; it runs its own plan with this request's
   * sampler (eta, step noise), like the decode it stands in for.
   */
  decoder?: Decoder;
  /** DDIM steps; with the student, its calls: 1..metadata.student.plan.length. */
  steps: number;
  /**
   * 0 = deterministic DDIM; 1 = DDPM-like variance; one value per latent where the batch mixes them. Fresh noise
   * for eta > 0 comes from `stepNoiseSources` or `stepNoise` if given (at most one of them), else from `noiseSeed`.
   */
  eta: number | number[];
  /** Seed for the per-step noise when eta > 0 (default 0), drawn for the whole batch at once. */
  noiseSeed?: number;
  /**
   * Each latent's own step noise, drawn by the engine: one source per latent, null for a row with eta 0 (it gets
   * zeros). What the explorer sends, so a row's noise stays the same in any batch without crossing the boundary.
   */
  stepNoiseSources?: (StepNoiseSource | null)[];
  /** Explicit per-step noise [steps, batch, H, W, C], for callers that bring their own. */
  stepNoise?: StepNoiseBatch;
  /** Stream x_t (each step's input) and x0Pred per step in progress events. */
  returnTrajectory?: boolean;
}

/**
 * -log p(x) by the I-MMSE estimator (Kong et al., ICLR 2023; docs/sources.md §2.7) with K log-SNR samples per
 * image, conditioned on z (default Enc(x)). Costs K denoiser evaluations per image, run in batches of the largest
 * warm-up batch size; progress: 'calls' events (evaluations done of total). `samples` must be at least 2.
 */
export interface NllRequest {
  id: number;
  kind: 'nll';
  images: ImageBatch;
  z?: LatentBatch;
  samples: number;
  /** Seed for dequantisation and eps draws (default 0). */
  seed?: number;
}

/**
 * The MMSE curve m(logSnr) of one image (docs/sources.md §2.7) on a grid of `points` log-SNR values spread over the
 * reference's range, averaged over `repeats` noise draws, conditioned on z (default Enc(x)). Takes a batch of
 * exactly one image. Progress: 'calls' events.
 */
export interface MmseCurveRequest {
  id: number;
  kind: 'mmseCurve';
  images: ImageBatch;
  z?: LatentBatch;
  points: number;
  repeats: number;
  seed?: number;
}

/**
 * Forward process at a given noise level: x_t = sqrt(alphaBar) x + sqrt(1 - alphaBar) eps, alphaBar = sigmoid(logSnr),
 * eps ~ N(0, I) from `seed`; also reports the schedule timestep nearest to that level.
 */
export interface ForwardNoiseRequest {
  id: number;
  kind: 'forwardNoise';
  images: ImageBatch;
  logSnr: number;
  seed: number;
}

/**
 * Benchmark the denoiser at one batch size: `repeats` timed calls on random inputs (each read back with
 * `await data()`, after one untimed call), plus one call counting GPU dispatches and one profiled call counting
 * tfjs kernels.
 */
export interface ProfileRequest {
  id: number;
  kind: 'profile';
  batchSize: number;
  repeats: number;
}

/**
 * Debug facts: backend, adapter, tensor counts, timings of recent requests, detected leaks. Answered at once,
 * not queued behind running jobs (it only reads counters), so numTensors includes a running job's intermediates.
 */
export interface StatsRequest {
  id: number;
  kind: 'stats';
}

/** Release the model's weights; the engine then needs a new `load`. The backend and its compiled programs stay. */
export interface DisposeRequest {
  id: number;
  kind: 'dispose';
}

export type EngineRequest =
  | LoadRequest
  | EncodeRequest
  | InvertRequest
  | SampleRequest
  | NllRequest
  | MmseCurveRequest
  | ItdRequest
  | ForwardNoiseRequest
  | ProfileRequest
  | StatsRequest
  | DisposeRequest;

export type RequestKind = EngineRequest['kind'];

/**
 * Control message (no reply of its own): abort request `targetId`. A queued request ends at once with
 * `aborted` (reason 'cancelled'); a running one stops at its next step boundary. Unknown or finished ids are
 * ignored, so cancelling is always safe.
 */
export interface CancelMessage {
  id: number;
  kind: 'cancel';
  targetId: number;
}

/** Everything the worker accepts. */
export type EngineInbound = EngineRequest | CancelMessage;

// ---------------------------------------------------------------------------------------------------------
// Results
// ---------------------------------------------------------------------------------------------------------

/** Size and cost figures of the loaded networks. */
export interface ModelStats {
  /** Parameters of the whole package (encoder + denoiser). */
  parameters: number;
  /** Multiply-adds x 2 of one encoder call at batch 1. */
  encoderFlops: number;
  /** Multiply-adds x 2 of one denoiser call at batch 1. */
  denoiserFlops: number;
  /** Bytes of weight shards read. */
  weightBytes: number;
}

export interface LoadResult {
  metadata: ModelMetadata;
  backend: BackendReport;
  stats: ModelStats;
  /** Weights read and decoded, ms. */
  loadMs: number;
  /** Compile-only warm-up, ms. */
  compileMs: number;
  /** tf.memory().numTensors once ready: the baseline every later job must return to. */
  baselineTensors: number;
}

export interface EncodeResult {
  z: LatentBatch;
  elapsedMs: number;
}

export interface InvertResult {
  xNoise: FloatImageBatch;
  /** The z the inversion was conditioned on (the given one, or Enc(x0)). */
  z: LatentBatch;
  denoiserCalls: number;
  elapsedMs: number;
}

export interface SampleResult {
  /** Final x0, [B,H,W,C] model space. */
  images: FloatImageBatch;
  denoiserCalls: number;
  elapsedMs: number;
}

/** One image's likelihood estimate (docs/sources.md §2.7); natural-log terms converted to bits per dimension. */
export interface NllEstimate {
  /** -log p(x) / (d ln 2) for the continuous density in [-1, 1] space; negative values are normal. */
  bitsPerDim: number;
  /** bitsPerDim + log2(127.5): the dequantised 8-bit bound, comparable with published bits/dim. */
  bitsPerDim8bit: number;
  /** Standard error of bitsPerDim over the K log-SNR samples. */
  stdErr: number;
  denoiserCalls: number;
}

export interface NllResult {
  /** One estimate per input image. */
  estimates: NllEstimate[];
  elapsedMs: number;
}

/** The MMSE-vs-log-SNR curve (src/diffusion/itd.ts `MmseCurve`) and how long the engine took. */
export type MmseCurveResult = MmseCurve & { elapsedMs: number };

export interface ForwardNoiseResult {
  xt: FloatImageBatch;
  /** sigmoid(logSnr). */
  alphaBar: number;
  /** The schedule index whose alphaBar is nearest: where this x_t sits on the model's time axis. */
  nearestTimestep: number;
  elapsedMs: number;
}

export interface ProfileResult {
  backend: BackendName;
  batchSize: number;
  /** Mean wall time of one denoiser call including the read-back, ms. */
  msPerCall: number;
  /** Every timed call, ms. */
  callMs: number[];
  /** tfjs kernels one denoiser call runs (includes free ones such as Reshape, and CPU-forwarded tiny ops). */
  kernelsPerCall: number;
  /**
   * GPU programs one denoiser call actually runs: compute dispatches on webgpu, shader programs on webgl; null on
   * the CPU backends. Per-dispatch overhead dominates small models, so this is the number to bring down.
   */
  dispatchesPerCall: number | null;
  /** Kernel name -> count within one call, for finding what to fuse. */
  kernelCounts: Record<string, number>;
}

/** Timing of one finished request. */
export interface RequestTiming {
  id: number;
  kind: RequestKind;
  outcome: 'result' | 'error' | 'aborted';
  /** Time spent waiting in the GPU queue before it started. */
  queuedMs: number;
  elapsedMs: number;
}

/** A job that left tensors behind (dev and test builds check after every job). */
export interface LeakReport {
  id: number;
  kind: RequestKind;
  baselineTensors: number;
  numTensors: number;
}

export interface EngineStats {
  /** null before the first load. */
  backend: BackendReport | null;
  modelId: string | null;
  numTensors: number;
  numBytes: number;
  /** webgpu/webgl only: bytes in GPU buffers in use / allocated by the pool; null elsewhere. */
  numBytesInGpu: number | null;
  numBytesAllocatedInGpu: number | null;
  /** tf.memory().numTensors right after load; -1 before. */
  baselineTensors: number;
  /** Every leak seen since load (empty when healthy). */
  leaks: LeakReport[];
  /** The most recent finished requests, newest last (at most 32). */
  recentRequests: RequestTiming[];
  /** True after a device loss, until the next successful load. */
  deviceLost: boolean;
}

export interface DisposeResult {
  disposed: boolean;
}

/** The result type of each request kind. */
export interface ResultByKind {
  load: LoadResult;
  encode: EncodeResult;
  invert: InvertResult;
  sample: SampleResult;
  nll: NllResult;
  mmseCurve: MmseCurveResult;
  itd: ItdResult;
  forwardNoise: ForwardNoiseResult;
  profile: ProfileResult;
  stats: EngineStats;
  dispose: DisposeResult;
}

// ---------------------------------------------------------------------------------------------------------
// Responses (worker -> main)
// ---------------------------------------------------------------------------------------------------------

/** Progress of a running request. */
export type Progress =
  /** Weights being read: bytes so far / total (total 0 when unknown). */
  | { phase: 'download'; loadedBytes: number; totalBytes: number }
  /** Warm-up compilation: `done` of `total` shapes compiled. */
  | { phase: 'compile'; done: number; total: number }
  /**
   * One DDIM step (sample or invert) done; `step` counts 1..totalSteps. `t` is the timestep the network was
   * evaluated at. With `returnTrajectory`, `xt` is the step's input x_t (the noisy image the network saw) and
   * `x0Pred` the step's predicted x0; the last step's output is the request's result.
   */
  | { phase: 'step'; step: number; totalSteps: number; t: number; xt?: FloatImageBatch; x0Pred?: FloatImageBatch }
  /** Likelihood / MMSE work: denoiser calls done of total ('itd': noisy images scored of total). */
  | { phase: 'calls'; done: number; total: number };

export type ProgressPhase = Progress['phase'];

/** Engine-wide happenings, not tied to a request (sent with id 0). */
export type EngineEvent =
  /** The backend was chosen (on each load). */
  | { type: 'backend'; report: BackendReport }
  /** The GPU device was lost: the model is gone; load again (the engine falls back if WebGPU stays unusable). */
  | { type: 'deviceLost'; backend: BackendName; message: string }
  /** A job left tensors behind (dev and test builds). */
  | { type: 'leak'; leak: LeakReport }
  /** Raised by the client, not the worker: the worker script failed or crashed; every pending request failed. */
  | { type: 'workerCrashed'; message: string };

export interface ProgressResponse {
  id: number;
  kind: 'progress';
  progress: Progress;
}

export interface ResultResponse<K extends RequestKind = RequestKind> {
  id: number;
  kind: 'result';
  request: K;
  result: ResultByKind[K];
}

export interface ErrorResponse {
  id: number;
  kind: 'error';
  /** The engine's or loader's own words, fit to show next to the control that caused it. */
  message: string;
  /** The error's class name ('ConfigError', 'PackageError', 'DeviceLostError', ...). */
  name: string;
  /** A model package refusal traced to one of its files: that file ("group1-shard1of2.bin", "model.json"). */
  file?: string;
  /** What only a developer needs (byte offsets, indices), kept out of `message`. */
  details?: string;
}

export interface AbortedResponse {
  id: number;
  kind: 'aborted';
  /** 'superseded': a newer request on the same channel; 'cancelled': the client cancelled it. */
  reason: 'superseded' | 'cancelled';
}

export interface EventResponse {
  id: 0;
  kind: 'event';
  event: EngineEvent;
}

export type EngineResponse =
  | ProgressResponse
  | { [K in RequestKind]: ResultResponse<K> }[RequestKind]
  | ErrorResponse
  | AbortedResponse
  | EventResponse;

/**
 * The ArrayBuffers inside a message, for the transfer list: typed-array buffers, raw buffers and Map values.
 * The worker transfers everything it sends (it keeps nothing); the client transfers only what the caller
 * handed over for that purpose (user-chosen package files), so a store's Float32Array is never detached.
 */
export function transferablesOf(value: unknown, found: Set<ArrayBuffer> = new Set()): ArrayBuffer[] {
  if (ArrayBuffer.isView(value)) {
    if (value.buffer instanceof ArrayBuffer) found.add(value.buffer);
  } else if (value instanceof ArrayBuffer) {
    found.add(value);
  } else if (value instanceof Map) {
    for (const v of value.values()) transferablesOf(v, found);
  } else if (Array.isArray(value)) {
    for (const v of value) transferablesOf(v, found);
  } else if (value !== null && typeof value === 'object') {
    for (const v of Object.values(value)) transferablesOf(v, found);
  }
  return [...found];
}

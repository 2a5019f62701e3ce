/**
 * The engine core: owns tfjs, the backend and the loaded model, and answers protocol requests. The worker
 * (worker.ts) is thin glue around it; Vitest drives it directly in Node through an in-memory host.
 *
 * - One GPU queue: requests run one after another on a promise chain (squoosh's bridge), so the GPU never
 *   interleaves two jobs and the buffer pool stays at the shapes in use.
 * - Latest-wins per channel: a new `sample` on a channel aborts the one queued or running there. A running job
 *   stops at its next DDIM step boundary (the samplers check the AbortSignal there, and the host's yield between
 *   steps lets the newer message in). A result that arrives after its job was aborted is never posted.
 * - Every request ends exactly once: `result`, `error` or `aborted`.
 * - Device loss: the WebGPU device's `lost` promise (tfjs never watches it) fails every pending job at once, drops
 *   the model and the backend, and emits `deviceLost`; the next `load` starts afresh, on another backend if
 *   WebGPU stays unusable.
 * - After every job the tensor count is compared with the baseline taken when the model became ready; a
 *   difference is a leak, reported in `stats` and as a `leak` event. It is one counter read per job, cheap
 *   enough to keep on in every build.
 * - Results are read with `await t.data()` once at the end (and per step only for trajectories), never with
 *   dataSync/arraySync.
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  createRng,
  ddimInvert,
  ddimSample,
  ddimTimesteps,
  estimateNll,
  isAbortError,
  makeSchedule,
  mmseCurve,
  normalTensor4d,
  timestepForLogSnr,
  type DdimStepInfo,
  type EpsPredictor,
  type NoiseSchedule,
} from '../diffusion/index';
import { fileMapPackageFiles, loadModelPackage, urlPackageFiles, type InfoDiffusionModel, type LoadProgress, type PackageFiles } from '../model/index';
import type { Parameterisation } from '../model/metadata';
import { countGpuPrograms, forgetBackend, messageOf, selectBackend, type ActiveBackend, type BackendEnvironment } from './backend';
import { batchTensor, checkedEta, floatBatch, latentBatch, latentTensor, RequestError, stepNoiseTensors } from './tensors';
import type {
  AbortedResponse,
  BackendChoice,
  EncodeRequest,
  EncodeResult,
  EngineInbound,
  EngineRequest,
  EngineResponse,
  EngineStats,
  ForwardNoiseRequest,
  ForwardNoiseResult,
  ImageBatch,
  InvertRequest,
  InvertResult,
  LatentBatch,
  LeakReport,
  LoadRequest,
  LoadResult,
  MmseCurveRequest,
  MmseCurveResult,
  ModelSource,
  NllRequest,
  NllResult,
  Progress,
  ProfileRequest,
  ProfileResult,
  RequestKind,
  RequestTiming,
  ResultByKind,
  SampleRequest,
  SampleResult,
} from './protocol';
import { transferablesOf } from './protocol';

/** What the engine needs from its surroundings (a worker, or a test in Node). */
export interface EngineHost {
  /** Delivers a response to the client; `transfer` lists buffers the engine gives up. */
  post(message: EngineResponse, transfer: ArrayBuffer[]): void;
  /** Where backends find their files (WASM binaries in the browser). */
  backendEnvironment?: BackendEnvironment;
  /** Resolves on a later macrotask so messages that arrived meanwhile are handled between DDIM steps. */
  yieldToEventLoop?: () => Promise<void>;
  /** Backend selection; tests inject a fake to simulate device loss. */
  selectBackend?: (choice: BackendChoice, environment: BackendEnvironment) => Promise<ActiveBackend>;
  /**
   * Reads a model from a source (default: the package loader over URL or file-map package files). Tests and
   * Node tools inject their own (a package on disk, a synthetic model).
   */
  loadModel?: (source: ModelSource, onProgress: (progress: LoadProgress) => void, signal: AbortSignal) => Promise<InfoDiffusionModel>;
}

/** The failure every pending job gets when the GPU device is lost. */
export class DeviceLostError extends Error {
  override name = 'DeviceLostError';
}

type Outcome = RequestTiming['outcome'];

interface Job {
  request: EngineRequest;
  controller: AbortController;
  abortReason: AbortedResponse['reason'] | null;
  state: 'queued' | 'running' | 'done';
  enqueuedAt: number;
  startedAt: number;
}

interface JobOutput<K extends RequestKind> {
  result: ResultByKind[K];
}

/** The model and everything derived from it, present between a successful load and dispose/device loss. */
interface Loaded {
  model: InfoDiffusionModel;
  schedule: NoiseSchedule;
  eps: EpsPredictor;
  /** The package's distilled student as a predictor for ddimSample, or null when it has none. */
  student: { predict: EpsPredictor; plan: readonly number[]; parameterisation: Parameterisation } | null;
  /**
   * Noisy images per network call in the I-MMSE estimators: the largest warm-up batch, so those calls reuse
   * shapes whose programs are already compiled.
   */
  evaluationBatch: number;
}

const RECENT_REQUESTS = 32;
const DEFAULT_WARMUP_BATCHES = [1];

/** A macrotask yield: MessageChannel rather than setTimeout, whose nesting clamp would add 4 ms per DDIM step. */
export function macrotaskYield(): Promise<void> {
  return new Promise((resolve) => {
    const channel = new MessageChannel();
    channel.port1.onmessage = () => {
      channel.port1.close();
      resolve();
    };
    channel.port2.postMessage(null);
    channel.port2.close();
  });
}

function packageFilesOf(source: ModelSource): PackageFiles {
  switch (source.kind) {
    case 'url':
      return urlPackageFiles(source.baseUrl);
    case 'files':
      return fileMapPackageFiles(source.files);
    default: {
      const _exhaustive: never = source;
      throw new RequestError(`unknown model source ${JSON.stringify(_exhaustive)}`);
    }
  }
}

function loadModelFromSource(source: ModelSource, onProgress: (progress: LoadProgress) => void, signal: AbortSignal): Promise<InfoDiffusionModel> {
  return loadModelPackage(packageFilesOf(source), { onProgress, signal });
}

export class Engine {
  private readonly host: EngineHost;
  private readonly yieldToEventLoop: () => Promise<void>;
  private readonly jobs = new Map<number, Job>();
  private readonly channels = new Map<string, Job>();
  private queue: Promise<void> = Promise.resolve();
  /** Bumped on device loss: jobs started before it never post or touch state again. */
  private generation = 0;
  private backend: ActiveBackend | null = null;
  private backendChoice: BackendChoice | null = null;
  private loaded: Loaded | null = null;
  private baselineTensors = -1;
  private deviceLost = false;
  private readonly leaks: LeakReport[] = [];
  private readonly recent: RequestTiming[] = [];

  constructor(host: EngineHost) {
    this.host = host;
    this.yieldToEventLoop = host.yieldToEventLoop ?? macrotaskYield;
  }

  /** Entry point for every inbound message. */
  receive(message: EngineInbound): void {
    switch (message.kind) {
      case 'cancel':
        this.abortJob(message.targetId, 'cancelled');
        return;
      case 'stats':
        this.post({ id: message.id, kind: 'result', request: 'stats', result: this.stats() });
        return;
      case 'load':
      case 'encode':
      case 'invert':
      case 'sample':
      case 'nll':
      case 'mmseCurve':
      case 'forwardNoise':
      case 'profile':
      case 'dispose':
        this.enqueue(message);
        return;
      default: {
        const _exhaustive: never = message;
        const unknown = _exhaustive as { id?: unknown; kind?: unknown };
        if (typeof unknown.id === 'number') {
          this.post({ id: unknown.id, kind: 'error', name: 'RequestError', message: `unknown request kind ${JSON.stringify(unknown.kind)}` });
        }
      }
    }
  }

  private enqueue(request: EngineRequest): void {
    if (this.jobs.has(request.id)) {
      this.post({ id: request.id, kind: 'error', name: 'RequestError', message: `request id ${request.id} is already in use` });
      return;
    }
    const job: Job = { request, controller: new AbortController(), abortReason: null, state: 'queued', enqueuedAt: performance.now(), startedAt: 0 };
    this.jobs.set(request.id, job);
    if (request.kind === 'sample') {
      const previous = this.channels.get(request.channel);
      if (previous) this.abortJob(previous.request.id, 'superseded');
      this.channels.set(request.channel, job);
    }
    const generation = this.generation;
    // run() answers every outcome itself; the catch only keeps one unforeseen throw from stalling the queue for
    // good, and still ends the job (finish() is a no-op for a job that already ended).
    this.queue = this.queue
      .then(() => this.run(job, generation))
      .catch((error: unknown) => this.finish(job, { id: request.id, kind: 'error', name: 'EngineError', message: `internal engine error: ${messageOf(error)}` }));
  }

  /** Aborts a job: a queued one ends now, a running one at its next step boundary. Unknown ids are ignored. */
  private abortJob(id: number, reason: AbortedResponse['reason']): void {
    const job = this.jobs.get(id);
    if (!job || job.state === 'done') return;
    job.abortReason ??= reason;
    job.controller.abort();
    if (job.state === 'queued') this.finish(job, { id, kind: 'aborted', reason: job.abortReason });
  }

  private async run(job: Job, generation: number): Promise<void> {
    if (job.state !== 'queued' || generation !== this.generation) return;
    job.state = 'running';
    job.startedAt = performance.now();
    try {
      const { result } = await this.execute(job.request, job.controller.signal);
      if (generation !== this.generation) return;
      if (job.controller.signal.aborted) {
        this.finish(job, { id: job.request.id, kind: 'aborted', reason: job.abortReason ?? 'cancelled' });
      } else {
        const response = { id: job.request.id, kind: 'result', request: job.request.kind, result } as EngineResponse;
        this.finish(job, response, transferablesOf(result));
      }
    } catch (error) {
      if (generation !== this.generation) return;
      if (job.controller.signal.aborted && isAbortError(error)) {
        this.finish(job, { id: job.request.id, kind: 'aborted', reason: job.abortReason ?? 'cancelled' });
      } else {
        this.finish(job, { id: job.request.id, kind: 'error', name: error instanceof Error ? error.name : 'Error', message: messageOf(error) });
      }
    }
    if (generation === this.generation) this.checkLeaks(job);
  }

  /** Posts the job's one terminal response, records its timing and forgets it. */
  private finish(job: Job, response: EngineResponse, transfer: ArrayBuffer[] = []): void {
    if (job.state === 'done') return;
    const wasRunning = job.state === 'running';
    job.state = 'done';
    this.jobs.delete(job.request.id);
    const request = job.request;
    if (request.kind === 'sample' && this.channels.get(request.channel) === job) this.channels.delete(request.channel);
    const now = performance.now();
    const outcome = response.kind as Outcome;
    this.recent.push({
      id: request.id,
      kind: request.kind,
      outcome,
      queuedMs: (wasRunning ? job.startedAt : now) - job.enqueuedAt,
      elapsedMs: wasRunning ? now - job.startedAt : 0,
    });
    if (this.recent.length > RECENT_REQUESTS) this.recent.splice(0, this.recent.length - RECENT_REQUESTS);
    this.post(response, transfer);
  }

  private checkLeaks(job: Job): void {
    if (this.baselineTensors < 0) return;
    const numTensors = tf.memory().numTensors;
    if (numTensors === this.baselineTensors) return;
    const leak: LeakReport = { id: job.request.id, kind: job.request.kind, baselineTensors: this.baselineTensors, numTensors };
    this.leaks.push(leak);
    // Re-base so one leak is reported once, not again after every later job.
    this.baselineTensors = numTensors;
    this.post({ id: 0, kind: 'event', event: { type: 'leak', leak } });
  }

  private post(message: EngineResponse, transfer: ArrayBuffer[] = []): void {
    this.host.post(message, transfer);
  }

  private progress(id: number, progress: Progress): void {
    this.post({ id, kind: 'progress', progress }, transferablesOf(progress));
  }

  private execute(request: EngineRequest, signal: AbortSignal): Promise<JobOutput<RequestKind>> {
    switch (request.kind) {
      case 'load':
        return this.load(request, signal);
      case 'encode':
        return this.encode(request);
      case 'invert':
        return this.invert(request, signal);
      case 'sample':
        return this.sample(request, signal);
      case 'nll':
        return this.nll(request, signal);
      case 'mmseCurve':
        return this.mmseCurve(request, signal);
      case 'forwardNoise':
        return this.forwardNoise(request);
      case 'profile':
        return this.profile(request);
      case 'stats':
        return Promise.resolve({ result: this.stats() });
      case 'dispose':
        return Promise.resolve({ result: { disposed: this.release() } });
      default: {
        const _exhaustive: never = request;
        throw new RequestError(`unknown request ${JSON.stringify(_exhaustive)}`);
      }
    }
  }

  // ------------------------------------------------------------------------------------------------------
  // Lifecycle
  // ------------------------------------------------------------------------------------------------------

  private async load(request: LoadRequest, signal: AbortSignal): Promise<JobOutput<'load'>> {
    const warmupBatchSizes = request.warmupBatchSizes ?? DEFAULT_WARMUP_BATCHES;
    for (const b of warmupBatchSizes) {
      if (!Number.isInteger(b) || b < 1) throw new RequestError(`warmupBatchSizes must hold positive integers, got ${JSON.stringify(warmupBatchSizes)}`);
    }
    this.release();
    const choice = request.backend ?? 'auto';
    if (!this.backend || this.backendChoice !== choice) {
      this.backend = null;
      const select = this.host.selectBackend ?? selectBackend;
      const active = await select(choice, this.host.backendEnvironment ?? {});
      this.backend = active;
      this.backendChoice = choice;
      this.deviceLost = false;
      this.watchDevice(active);
    }
    const backend = this.backend;
    this.post({ id: 0, kind: 'event', event: { type: 'backend', report: backend.report } });

    const loadStart = performance.now();
    let weightBytes = 0;
    const model = await (this.host.loadModel ?? loadModelFromSource)(
      request.source,
      ({ loadedBytes, totalBytes }) => {
        weightBytes = totalBytes;
        this.progress(request.id, { phase: 'download', loadedBytes, totalBytes });
      },
      signal,
    );
    const loadMs = performance.now() - loadStart;
    const student = model.student;
    const loaded: Loaded = {
      model,
      schedule: makeSchedule(model.schedule),
      eps: model.predictEps.bind(model),
      student: student ? { predict: student.predict, plan: student.plan, parameterisation: student.parameterisation } : null,
      evaluationBatch: Math.max(...warmupBatchSizes),
    };
    try {
      if (signal.aborted) throw new DOMException('load was aborted', 'AbortError');
      const compileStart = performance.now();
      await this.warmUp(request.id, loaded, warmupBatchSizes);
      const compileMs = performance.now() - compileStart;
      this.loaded = loaded;
      this.baselineTensors = tf.memory().numTensors;
      return {
        result: {
          metadata: model.metadata,
          backend: backend.report,
          stats: { parameters: model.stats.parameters, encoderFlops: model.stats.encoderFlops, denoiserFlops: model.stats.denoiserFlops, weightBytes },
          loadMs,
          compileMs,
          baselineTensors: this.baselineTensors,
        } satisfies LoadResult,
      };
    } catch (error) {
      model.dispose();
      throw error;
    }
  }

  /**
   * Compiles the programs of the shapes in use before the model is reported ready: encode at batch 1, and a
   * 2-step DDIM run (denoiser + step arithmetic) at every warm-up batch size, plus one student call there when the
   * package has a student (its network's programs are the teacher's; this adds its output conversion). On WebGPU
   * this is compile-only (pipelines are created asynchronously and nothing is computed, web.md §1.4); elsewhere
   * one real run.
   */
  private async warmUp(id: number, loaded: Loaded, batchSizes: number[]): Promise<void> {
    const { imageSize, imageChannels, latentDim } = loaded.model.architecture;
    const T = loaded.schedule.timesteps;
    const plan = ddimTimesteps(T, Math.min(2, T));
    const compileOnly = tf.getBackend() === 'webgpu';
    const total = batchSizes.length + 1;
    const outputs: tf.Tensor[] = [];
    if (compileOnly) tf.env().set('WEBGPU_ENGINE_COMPILE_ONLY', true);
    try {
      const x = tf.zeros([1, imageSize, imageSize, imageChannels]) as tf.Tensor4D;
      outputs.push(loaded.model.encode(x));
      x.dispose();
      this.progress(id, { phase: 'compile', done: 1, total });
      for (let k = 0; k < batchSizes.length; k++) {
        const batch = batchSizes[k];
        const xNoise = tf.zeros([batch, imageSize, imageSize, imageChannels]) as tf.Tensor4D;
        const z = tf.zeros([batch, latentDim]) as tf.Tensor2D;
        try {
          outputs.push(await ddimSample(loaded.eps, loaded.schedule, plan, xNoise, z));
          const student = loaded.student;
          if (student) outputs.push(await ddimSample(student.predict, loaded.schedule, student.plan.slice(0, 1), xNoise, z, { parameterisation: student.parameterisation }));
        } finally {
          tf.dispose([xNoise, z]);
        }
        this.progress(id, { phase: 'compile', done: k + 2, total });
      }
    } finally {
      if (compileOnly) tf.env().set('WEBGPU_ENGINE_COMPILE_ONLY', false);
    }
    try {
      if (compileOnly) {
        await (tf.backend() as unknown as { checkCompileCompletionAsync(): Promise<void> }).checkCompileCompletionAsync();
      } else {
        for (const output of outputs) await output.data();
      }
    } finally {
      tf.dispose(outputs);
    }
  }

  /** Disposes the model, if any. The backend stays up (its compiled programs serve the next model too). */
  private release(): boolean {
    const had = this.loaded !== null;
    this.loaded?.model.dispose();
    this.loaded = null;
    this.baselineTensors = had ? tf.memory().numTensors : this.baselineTensors;
    return had;
  }

  private watchDevice(active: ActiveBackend): void {
    active.deviceLost?.then((message) => {
      if (this.backend !== active) return;
      this.onDeviceLost(active, message);
    });
  }

  private onDeviceLost(active: ActiveBackend, message: string): void {
    this.generation++;
    this.deviceLost = true;
    const error = `GPU device lost (${message}); load the model again to continue, possibly on another backend`;
    for (const job of [...this.jobs.values()]) {
      this.finish(job, { id: job.request.id, kind: 'error', name: 'DeviceLostError', message: error });
    }
    // A job stuck on the dead device would hold the chain forever; later requests start a fresh one.
    this.queue = Promise.resolve();
    try {
      this.loaded?.model.dispose();
    } catch {
      // The weights lived on the lost device; there is nothing left to free.
    }
    this.loaded = null;
    this.backend = null;
    this.backendChoice = null;
    this.baselineTensors = -1;
    // Only a WebGPU backend is tied to a device; tfjs would keep using the dead one unless it is forgotten.
    if (active.report.backend === 'webgpu') forgetBackend('webgpu');
    this.post({ id: 0, kind: 'event', event: { type: 'deviceLost', backend: active.report.backend, message } });
  }

  private requireModel(kind: RequestKind): Loaded {
    if (this.loaded) return this.loaded;
    if (this.deviceLost) throw new DeviceLostError(`cannot ${kind}: the GPU device was lost; load the model again`);
    throw new RequestError(`cannot ${kind}: no model is loaded`);
  }

  stats(): EngineStats {
    const memory = tf.memory() as tf.MemoryInfo & { numBytesInGPU?: number; numBytesInGPUAllocated?: number; numBytesAllocatedInGPU?: number };
    return {
      backend: this.backend?.report ?? null,
      modelId: this.loaded?.model.metadata.id ?? null,
      numTensors: memory.numTensors,
      numBytes: memory.numBytes,
      numBytesInGpu: memory.numBytesInGPU ?? null,
      numBytesAllocatedInGpu: memory.numBytesAllocatedInGPU ?? memory.numBytesInGPUAllocated ?? null,
      baselineTensors: this.baselineTensors,
      leaks: [...this.leaks],
      recentRequests: [...this.recent],
      deviceLost: this.deviceLost,
    };
  }

  // ------------------------------------------------------------------------------------------------------
  // Jobs
  // ------------------------------------------------------------------------------------------------------

  /**
   * The request's images as a tensor and their z: the one given (an edited latent), else Enc(x). Both are pushed
   * onto `owned`, which the job disposes when it ends, however it ends.
   */
  private imagesAndLatents(loaded: Loaded, request: { images: ImageBatch; z?: LatentBatch }, owned: tf.Tensor[]): { x: tf.Tensor4D; z: tf.Tensor2D } {
    const x = batchTensor(request.images, loaded.model.architecture, 'images');
    owned.push(x);
    const z = request.z ? latentTensor(request.z, loaded.model.architecture, x.shape[0], 'z') : loaded.model.encode(x);
    owned.push(z);
    return { x, z };
  }

  private async encode(request: EncodeRequest): Promise<JobOutput<'encode'>> {
    const loaded = this.requireModel('encode');
    const start = performance.now();
    const x = batchTensor(request.images, loaded.model.architecture, 'images');
    try {
      const z = loaded.model.encode(x);
      try {
        return { result: { z: await latentBatch(z), elapsedMs: performance.now() - start } satisfies EncodeResult };
      } finally {
        z.dispose();
      }
    } finally {
      x.dispose();
    }
  }

  private plan(loaded: Loaded, request: { steps: number }): Int32Array {
    const T = loaded.schedule.timesteps;
    if (!Number.isInteger(request.steps) || request.steps < 1 || request.steps > T) {
      throw new RequestError(`steps must be an integer in 1..${T}, got ${request.steps}`);
    }
    return ddimTimesteps(T, request.steps);
  }

  private async invert(request: InvertRequest, signal: AbortSignal): Promise<JobOutput<'invert'>> {
    const loaded = this.requireModel('invert');
    const plan = this.plan(loaded, request);
    const start = performance.now();
    const tensors: tf.Tensor[] = [];
    try {
      const { x: x0, z } = this.imagesAndLatents(loaded, request, tensors);
      const xNoise = await ddimInvert(loaded.eps, loaded.schedule, plan, x0, z, {
        signal,
        yieldEveryStep: this.yieldToEventLoop,
        onStep: (step) => this.progress(request.id, { phase: 'step', step: step.stepsDone, totalSteps: step.stepsTotal, t: step.t }),
      });
      tensors.push(xNoise);
      const [xNoiseBatch, zBatch] = await Promise.all([floatBatch(xNoise), latentBatch(z)]);
      return { result: { xNoise: xNoiseBatch, z: zBatch, denoiserCalls: plan.length, elapsedMs: performance.now() - start } satisfies InvertResult };
    } finally {
      tf.dispose(tensors);
    }
  }

  /**
   * The network, plan and parameterisation a sample request decodes with. The student is checked here, at the
   * boundary, so a request it cannot serve fails with words the UI can show rather than deep in the sampler.
   */
  private decoder(loaded: Loaded, request: SampleRequest): { predict: EpsPredictor; plan: Int32Array; parameterisation: Parameterisation } {
    const decoder = request.decoder ?? 'ddim';
    switch (decoder) {
      case 'ddim':
        return { predict: loaded.eps, plan: this.plan(loaded, request), parameterisation: 'eps' };
      case 'student': {
        const student = loaded.student;
        if (!student) throw new RequestError(`cannot sample with the student: model '${loaded.model.metadata.id}' has no distilled student (metadata.student)`);
        const calls = student.plan.length;
        if (!Number.isInteger(request.steps) || request.steps < 1 || request.steps > calls) {
          throw new RequestError(`steps must be an integer in 1..${calls} (the student's calls), got ${request.steps}`);
        }
        const etas = Array.isArray(request.eta) ? request.eta : [request.eta];
        if (etas.some((e) => e !== 0) || request.stepNoise) {
          throw new RequestError(`the student decodes with deterministic DDIM: eta must be 0 and stepNoise absent, got eta ${JSON.stringify(request.eta)}`);
        }
        return { predict: student.predict, plan: Int32Array.from(student.plan.slice(0, request.steps)), parameterisation: student.parameterisation };
      }
      default: {
        const _exhaustive: never = decoder;
        throw new RequestError(`decoder must be 'ddim' or 'student', got ${JSON.stringify(_exhaustive)}`);
      }
    }
  }

  private async sample(request: SampleRequest, signal: AbortSignal): Promise<JobOutput<'sample'>> {
    const loaded = this.requireModel('sample');
    const { predict, plan, parameterisation } = this.decoder(loaded, request);
    const start = performance.now();
    const arch = loaded.model.architecture;
    const z = latentTensor(request.z, arch, undefined, 'z');
    const batch = z.shape[0];
    const tensors: tf.Tensor[] = [z];
    try {
      const noise = request.noise;
      let xNoise: tf.Tensor4D;
      if (noise.kind === 'seed') {
        if (!Number.isInteger(noise.seed)) throw new RequestError(`noise.seed must be an integer, got ${noise.seed}`);
        xNoise = normalTensor4d(createRng(noise.seed), [batch, arch.imageSize, arch.imageSize, arch.imageChannels]);
      } else {
        xNoise = batchTensor(noise.xNoise, arch, 'noise.xNoise', batch);
      }
      tensors.push(xNoise);
      const eta = checkedEta(request.eta, batch);
      const stepNoise = request.stepNoise ? stepNoiseTensors(request.stepNoise, arch, plan.length, batch) : undefined;
      if (stepNoise) tensors.push(...stepNoise);
      const onStep = request.returnTrajectory
        ? async (step: DdimStepInfo) => {
            const [xt, x0Pred] = await Promise.all([floatBatch(step.xt), floatBatch(step.x0Pred)]);
            this.progress(request.id, { phase: 'step', step: step.stepsDone, totalSteps: step.stepsTotal, t: step.t, xt, x0Pred });
          }
        : (step: DdimStepInfo) => this.progress(request.id, { phase: 'step', step: step.stepsDone, totalSteps: step.stepsTotal, t: step.t });
      const x0 = await ddimSample(predict, loaded.schedule, plan, xNoise, z, {
        parameterisation,
        eta,
        // Step noise is only drawn where some eta > 0.
        seed: stepNoise ? undefined : (request.noiseSeed ?? 0),
        noise: stepNoise,
        signal,
        yieldEveryStep: this.yieldToEventLoop,
        onStep,
      });
      tensors.push(x0);
      return { result: { images: await floatBatch(x0), denoiserCalls: plan.length, elapsedMs: performance.now() - start } satisfies SampleResult };
    } finally {
      tf.dispose(tensors);
    }
  }

  private async nll(request: NllRequest, signal: AbortSignal): Promise<JobOutput<'nll'>> {
    const loaded = this.requireModel('nll');
    if (!Number.isInteger(request.samples) || request.samples < 2) throw new RequestError(`samples must be an integer >= 2, got ${request.samples}`);
    const start = performance.now();
    const tensors: tf.Tensor[] = [];
    try {
      const { x, z } = this.imagesAndLatents(loaded, request, tensors);
      const batch = x.shape[0];
      const estimates: NllResult['estimates'] = [];
      for (let b = 0; b < batch; b++) {
        const xb = tf.slice(x, [b, 0, 0, 0], [1, -1, -1, -1]) as tf.Tensor4D;
        const zb = tf.slice(z, [b, 0], [1, -1]) as tf.Tensor2D;
        try {
          const estimate = await estimateNll(loaded.eps, loaded.schedule, loaded.model.metadata.gaussianReference, xb, zb, {
            samples: request.samples,
            seed: (request.seed ?? 0) + b,
            batchSize: loaded.evaluationBatch,
            signal,
            yieldEveryBatch: this.yieldToEventLoop,
            onProgress: ({ evaluated }) =>
              this.progress(request.id, { phase: 'calls', done: b * request.samples + evaluated, total: batch * request.samples }),
          });
          estimates.push({ bitsPerDim: estimate.bitsPerDim, bitsPerDim8bit: estimate.bitsPerDim8bit, stdErr: estimate.stdErr, denoiserCalls: estimate.denoiserCalls });
        } finally {
          tf.dispose([xb, zb]);
        }
      }
      return { result: { estimates, elapsedMs: performance.now() - start } satisfies NllResult };
    } finally {
      tf.dispose(tensors);
    }
  }

  private async mmseCurve(request: MmseCurveRequest, signal: AbortSignal): Promise<JobOutput<'mmseCurve'>> {
    const loaded = this.requireModel('mmseCurve');
    if (!Number.isInteger(request.points) || request.points < 2) throw new RequestError(`points must be an integer >= 2, got ${request.points}`);
    if (!Number.isInteger(request.repeats) || request.repeats < 1) throw new RequestError(`repeats must be a positive integer, got ${request.repeats}`);
    if (request.images.shape[0] !== 1) throw new RequestError(`mmseCurve takes one image ([1,H,W,C]), got batch ${request.images.shape[0]}`);
    const start = performance.now();
    const tensors: tf.Tensor[] = [];
    try {
      const { x, z } = this.imagesAndLatents(loaded, request, tensors);
      const curve = await mmseCurve(loaded.eps, loaded.schedule, loaded.model.metadata.gaussianReference, x, z, {
        points: request.points,
        repeats: request.repeats,
        seed: request.seed ?? 0,
        batchSize: loaded.evaluationBatch,
        signal,
        yieldEveryBatch: this.yieldToEventLoop,
        onProgress: ({ evaluated, total }) => this.progress(request.id, { phase: 'calls', done: evaluated, total }),
      });
      return {
        result: {
          logSnr: curve.logSnr,
          mmse: curve.mmse,
          gaussian: curve.gaussian,
          standardNormal: curve.standardNormal,
          xSpaceMmse: curve.xSpaceMmse,
          denoiserCalls: curve.denoiserCalls,
          elapsedMs: performance.now() - start,
        } satisfies MmseCurveResult,
      };
    } finally {
      tf.dispose(tensors);
    }
  }

  private async forwardNoise(request: ForwardNoiseRequest): Promise<JobOutput<'forwardNoise'>> {
    const loaded = this.requireModel('forwardNoise');
    if (!Number.isFinite(request.logSnr)) throw new RequestError(`logSnr must be a finite number, got ${request.logSnr}`);
    if (!Number.isInteger(request.seed)) throw new RequestError(`seed must be an integer, got ${request.seed}`);
    const start = performance.now();
    const x = batchTensor(request.images, loaded.model.architecture, 'images');
    // alphaBar = sigmoid(logSnr), written to stay accurate for large |logSnr|.
    const alphaBar = request.logSnr >= 0 ? 1 / (1 + Math.exp(-request.logSnr)) : Math.exp(request.logSnr) / (1 + Math.exp(request.logSnr));
    const eps = normalTensor4d(createRng(request.seed), x.shape);
    const xt = tf.tidy(() => tf.add(tf.mul(x, Math.sqrt(alphaBar)), tf.mul(eps, Math.sqrt(1 - alphaBar))) as tf.Tensor4D);
    try {
      return {
        result: {
          xt: await floatBatch(xt),
          alphaBar,
          nearestTimestep: timestepForLogSnr(loaded.schedule, request.logSnr),
          elapsedMs: performance.now() - start,
        } satisfies ForwardNoiseResult,
      };
    } finally {
      tf.dispose([x, eps, xt]);
    }
  }

  private async profile(request: ProfileRequest): Promise<JobOutput<'profile'>> {
    const loaded = this.requireModel('profile');
    if (!Number.isInteger(request.batchSize) || request.batchSize < 1) throw new RequestError(`batchSize must be a positive integer, got ${request.batchSize}`);
    if (!Number.isInteger(request.repeats) || request.repeats < 1) throw new RequestError(`repeats must be a positive integer, got ${request.repeats}`);
    const { imageSize, imageChannels, latentDim } = loaded.model.architecture;
    const rng = createRng(request.batchSize);
    const xt = normalTensor4d(rng, [request.batchSize, imageSize, imageSize, imageChannels]);
    const z = tf.tensor2d(rng.normals(request.batchSize * latentDim), [request.batchSize, latentDim]);
    const t = tf.fill([request.batchSize], Math.floor(loaded.schedule.timesteps / 2), 'int32') as tf.Tensor1D;
    try {
      const call = async (): Promise<number> => {
        const begin = performance.now();
        const eps = loaded.eps(xt, t, z);
        await eps.data();
        eps.dispose();
        return performance.now() - begin;
      };
      await call(); // untimed: first use of this batch size may still compile or allocate
      const callMs: number[] = [];
      for (let k = 0; k < request.repeats; k++) {
        callMs.push(await call());
        await this.yieldToEventLoop();
      }
      const dispatchesPerCall = await countGpuPrograms(async () => {
        const eps = loaded.eps(xt, t, z);
        await eps.data();
        eps.dispose();
      });
      const info = await tf.profile(() => loaded.eps(xt, t, z));
      tf.dispose(info.result as tf.Tensor);
      const kernelCounts: Record<string, number> = {};
      for (const kernel of info.kernels) kernelCounts[kernel.name] = (kernelCounts[kernel.name] ?? 0) + 1;
      return {
        result: {
          backend: tf.getBackend() as ProfileResult['backend'],
          batchSize: request.batchSize,
          msPerCall: callMs.reduce((a, b) => a + b, 0) / callMs.length,
          callMs,
          kernelsPerCall: info.kernels.length,
          dispatchesPerCall,
          kernelCounts,
        } satisfies ProfileResult,
      };
    } finally {
      tf.dispose([xt, z, t]);
    }
  }
}

/**
 * The engine core: owns tfjs, the backend and the loaded model, and answers protocol requests. The worker
 * (worker.ts) is thin glue around it; Vitest drives it directly in Node through an in-memory host. This file is
 * the queue and the lifecycle (load, warm-up, dispose, device loss); what each request computes is in
 * requests.ts, and every request is checked once, as its job starts, by validation.ts.
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
import { ddimSample, ddimTimesteps, isAbortError, makeSchedule } from '../diffusion/index';
import {
  fileMapPackageFiles,
  loadModelPackage,
  PackageFileError,
  urlPackageFiles,
  type InfoDiffusionModel,
  type LoadProgress,
  type PackageFiles,
} from '../model/index';
import { forgetBackend, messageOf, selectBackend, type ActiveBackend, type BackendEnvironment } from './backend';
import type {
  AbortedResponse,
  BackendChoice,
  EngineInbound,
  EngineRequest,
  EngineResponse,
  EngineStats,
  ErrorResponse,
  LeakReport,
  LoadRequest,
  LoadResult,
  ModelSource,
  Progress,
  RequestKind,
  RequestTiming,
  ResultByKind,
} from './protocol';
import { transferablesOf } from './protocol';
import { RequestContext, runRequest, type ReadyModel } from './requests';
import { StepNoiseDrawer } from './stepNoise';
import { RequestError } from './tensors';
import { checkedWarmupBatchSizes, checkRequest } from './validation';

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
  loadModel?: (
    source: ModelSource,
    onProgress: (progress: LoadProgress) => void,
    signal: AbortSignal,
  ) => Promise<InfoDiffusionModel>;
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

const RECENT_REQUESTS = 32;

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

function loadModelFromSource(
  source: ModelSource,
  onProgress: (progress: LoadProgress) => void,
  signal: AbortSignal,
): Promise<InfoDiffusionModel> {
  return loadModelPackage(packageFilesOf(source), { onProgress, signal });
}

/** An error's terminal response; a package refusal traced to a file names it, with its byte offsets apart. */
function errorResponse(id: number, error: unknown): ErrorResponse {
  const name = error instanceof Error ? error.name : 'Error';
  if (error instanceof PackageFileError) {
    return {
      id,
      kind: 'error',
      name,
      message: error.summary,
      file: error.file,
      ...(error.details ? { details: error.details } : {}),
    };
  }
  return { id, kind: 'error', name, message: messageOf(error) };
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
  private loaded: ReadyModel | null = null;
  /** Draws the step noise of stochastic DDIM from each image's source, with a cache a drag reuses. */
  private readonly stepNoise = new StepNoiseDrawer();
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
      case 'itd':
      case 'forwardNoise':
      case 'profile':
      case 'dispose':
        this.enqueue(message);
        return;
      default: {
        const _exhaustive: never = message;
        const unknown = _exhaustive as { id?: unknown; kind?: unknown };
        if (typeof unknown.id === 'number') {
          this.post({
            id: unknown.id,
            kind: 'error',
            name: 'RequestError',
            message: `unknown request kind ${JSON.stringify(unknown.kind)}`,
          });
        }
      }
    }
  }

  private enqueue(request: EngineRequest): void {
    if (this.jobs.has(request.id)) {
      this.post({
        id: request.id,
        kind: 'error',
        name: 'RequestError',
        message: `request id ${request.id} is already in use`,
      });
      return;
    }
    const job: Job = {
      request,
      controller: new AbortController(),
      abortReason: null,
      state: 'queued',
      enqueuedAt: performance.now(),
      startedAt: 0,
    };
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
      .catch((error: unknown) =>
        this.finish(job, {
          id: request.id,
          kind: 'error',
          name: 'EngineError',
          message: `internal engine error: ${messageOf(error)}`,
        }),
      );
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
    const context = new RequestContext(
      job.controller.signal,
      (progress) => this.progress(job.request.id, progress),
      this.yieldToEventLoop,
      this.stepNoise,
      (source, signal) => this.loadCompanion(source, signal),
    );
    try {
      const result = await this.execute(job.request, context);
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
        this.finish(job, errorResponse(job.request.id, error));
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
    const leak: LeakReport = {
      id: job.request.id,
      kind: job.request.kind,
      baselineTensors: this.baselineTensors,
      numTensors,
    };
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

  /**
   * Lifecycle requests run here; every other request is checked against the model once (validation.ts) and run by
   * its body (requests.ts). The context's tensors are disposed before the job ends, so the leak check sees none.
   */
  private async execute(request: EngineRequest, context: RequestContext): Promise<ResultByKind[RequestKind]> {
    switch (request.kind) {
      case 'load':
        return this.load(request, context);
      case 'stats':
        return this.stats();
      case 'dispose':
        return { disposed: this.release() };
      default: {
        const model = this.requireModel(request.kind);
        checkRequest(model, request);
        try {
          return await runRequest(model, request, context);
        } finally {
          context.dispose();
        }
      }
    }
  }

  // ------------------------------------------------------------------------------------------------------
  // Lifecycle
  // ------------------------------------------------------------------------------------------------------

  /**
   * Loads a package into a staging slot: the model loaded now stays loaded and usable (its requests wait in the
   * queue behind this one) until the new one has been read, validated, built and warmed up; only then is it
   * released and the new one swapped in. A load that fails leaves the current model as it was. A change of
   * backend cannot stage (tensors live on one backend), so it releases the current model first.
   */
  private async load(request: LoadRequest, context: RequestContext): Promise<LoadResult> {
    const warmupBatchSizes = checkedWarmupBatchSizes(request);
    const choice = request.backend ?? 'auto';
    if (!this.backend || this.backendChoice !== choice) {
      this.release();
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
        context.progress({ phase: 'download', loadedBytes, totalBytes });
      },
      context.signal,
    );
    const loadMs = performance.now() - loadStart;
    const student = model.student;
    const staged: ReadyModel = {
      model,
      schedule: makeSchedule(model.schedule),
      predictEps: model.predictEps.bind(model),
      student: student
        ? { predict: student.predict, plan: student.plan, parameterisation: student.parameterisation }
        : null,
      evaluationBatch: Math.max(...warmupBatchSizes),
    };
    try {
      if (context.signal.aborted) throw new DOMException('load was aborted', 'AbortError');
      const compileStart = performance.now();
      await this.warmUp(staged, warmupBatchSizes, context);
      const compileMs = performance.now() - compileStart;
      // The swap: the staged model is whole and warm, so the current one can go.
      this.release();
      this.loaded = staged;
      this.baselineTensors = tf.memory().numTensors;
      return {
        metadata: model.metadata,
        backend: backend.report,
        stats: {
          parameters: model.stats.parameters,
          encoderFlops: model.stats.encoderFlops,
          denoiserFlops: model.stats.denoiserFlops,
          weightBytes,
        },
        loadMs,
        compileMs,
        baselineTensors: this.baselineTensors,
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
   * this is compile-only (pipelines are created asynchronously and nothing is computed: tfjs-backend-webgpu's
   * WEBGPU_ENGINE_COMPILE_ONLY flag, docs/sources.md §4); elsewhere one real run.
   */
  private async warmUp(loaded: ReadyModel, batchSizes: readonly number[], context: RequestContext): Promise<void> {
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
      context.progress({ phase: 'compile', done: 1, total });
      for (let k = 0; k < batchSizes.length; k++) {
        const batch = batchSizes[k];
        const xNoise = tf.zeros([batch, imageSize, imageSize, imageChannels]) as tf.Tensor4D;
        const z = tf.zeros([batch, latentDim]) as tf.Tensor2D;
        try {
          outputs.push(await ddimSample(loaded.predictEps, loaded.schedule, plan, xNoise, z));
          const student = loaded.student;
          if (student)
            outputs.push(
              await ddimSample(student.predict, loaded.schedule, student.plan.slice(0, 1), xNoise, z, {
                parameterisation: student.parameterisation,
              }),
            );
        } finally {
          tf.dispose([xNoise, z]);
        }
        context.progress({ phase: 'compile', done: k + 2, total });
      }
    } finally {
      if (compileOnly) tf.env().set('WEBGPU_ENGINE_COMPILE_ONLY', false);
    }
    try {
      if (compileOnly) {
        await (
          tf.backend() as unknown as { checkCompileCompletionAsync(): Promise<void> }
        ).checkCompileCompletionAsync();
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

  /**
   * A second package for one request (the I-MMSE comparison), on the current backend, not warmed up; the request
   * disposes it when it ends, so the tensor count is back at the baseline afterwards.
   */
  private async loadCompanion(source: ModelSource, signal: AbortSignal): Promise<ReadyModel> {
    const model = await (this.host.loadModel ?? loadModelFromSource)(source, () => {}, signal);
    return {
      model,
      schedule: makeSchedule(model.schedule),
      predictEps: model.predictEps.bind(model),
      student: null,
      evaluationBatch: this.loaded?.evaluationBatch ?? 1,
    };
  }

  private requireModel(kind: RequestKind): ReadyModel {
    if (this.loaded) return this.loaded;
    if (this.deviceLost) throw new DeviceLostError(`cannot ${kind}: the GPU device was lost; load the model again`);
    throw new RequestError(`cannot ${kind}: no model is loaded`);
  }

  stats(): EngineStats {
    const memory = tf.memory() as tf.MemoryInfo & {
      numBytesInGPU?: number;
      numBytesInGPUAllocated?: number;
      numBytesAllocatedInGPU?: number;
    };
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
}

/**
 * `EngineClient`: the main-thread side of the engine worker. Promise-returning methods, one per request kind,
 * each taking an optional `AbortSignal` and progress callback. Only stores call it; components never do.
 *
 * - Every method posts one request with a fresh, increasing id and resolves with that request's result.
 * - An abort through the signal rejects at once with a `DOMException` named 'AbortError' and tells the worker to
 *   cancel; a request the worker ends with `aborted` rejects the same way. Use `isAbortError` to tell aborts
 *   from failures.
 * - Latest-wins per channel, the app's one such mechanism: `openChannel(name)` hands out a `ChannelLease`, and
 *   opening the channel again supersedes it: the requests made with its signal, of any kind, reject at once
 *   (AbortError) and are cancelled in the engine, and later ones reject without being sent. A `sample` is the
 *   one-request case: it holds its `channel` for as long as it is pending, and since the engine aborts a channel's
 *   older sample itself when a newer one arrives, the older one rejects here with no cancel message and its late
 *   reply is discarded. Whatever a channel's holder receives is therefore its newest request's outcome: callers
 *   keep no ids, tokens or controllers of their own (src/state/jobs.ts runs the store's jobs on channels).
 * - Replies for ids no longer pending (aborted, or from before a crash) are stale and discarded.
 * - Engine errors reject with `EngineError`, whose message is the engine's own words.
 * - Nothing here imports tfjs: the class runs in the main thread of the app and of the e2e harness.
 */
import type {
  BackendChoice,
  EncodeResult,
  EngineEvent,
  EngineInbound,
  EngineRequest,
  EngineResponse,
  EngineStats,
  FloatImageBatch,
  ForwardNoiseResult,
  ImageBatch,
  InvertResult,
  LatentBatch,
  LoadResult,
  MmseCurveResult,
  ModelSource,
  NllResult,
  ProfileResult,
  Progress,
  RequestKind,
  ResultByKind,
  SampleRequest,
  SampleResult,
  DisposeResult,
  ItdRequest,
  ItdResult,
} from './protocol';
import { transferablesOf } from './protocol';

/** The part of a `Worker` the client uses; a `MessagePort`-like fake (tests, Node) fits too. */
export interface EnginePort {
  postMessage(message: EngineInbound, transfer: Transferable[]): void;
  addEventListener(type: 'message', listener: (event: MessageEvent<EngineResponse>) => void): void;
  addEventListener(type: 'error', listener: (event: ErrorEvent) => void): void;
  terminate(): void;
}

/** Failure reported by the engine; `name` is the engine-side error class ('PackageError', 'DeviceLostError', ...). */
export class EngineError extends Error {
  constructor(
    message: string,
    readonly engineErrorName: string,
    readonly requestKind: RequestKind,
    /** A model package refusal: the file at fault and the byte offsets kept apart (ErrorResponse). */
    readonly fault: { file?: string; details?: string } = {},
  ) {
    super(message);
    this.name = 'EngineError';
  }
}

/** True for the rejection of an aborted or superseded request. */
export function isAbortError(error: unknown): boolean {
  return error instanceof DOMException
    ? error.name === 'AbortError'
    : (error as { name?: unknown })?.name === 'AbortError';
}

function abortError(message: string): DOMException {
  return new DOMException(message, 'AbortError');
}

/** The holder of a latest-wins channel (`EngineClient.openChannel`): one job of one or more requests. */
export interface ChannelLease {
  /** Pass it as every request's `signal`: it aborts once a newer lease opens the channel or this one closes. */
  readonly signal: AbortSignal;
  /** True until then. */
  isCurrent(): boolean;
  /** Ends the lease: its pending requests reject with an AbortError and are cancelled in the engine. */
  close(): void;
}

/**
 * The current lease of each open channel. `EngineClient`'s bookkeeping, shared with the store tests' fake engine
 * (src/state/testing/fakeEngine.ts) so that both supersede alike.
 */
export class ChannelLeases {
  private readonly current = new Map<string, AbortController>();

  /** Makes a new lease the channel's holder, aborting the one it supersedes. */
  open(name: string): ChannelLease {
    this.close(name);
    const controller = new AbortController();
    this.current.set(name, controller);
    return {
      signal: controller.signal,
      isCurrent: () => this.current.get(name) === controller,
      // A lease no longer current is aborted already.
      close: () => {
        if (this.current.get(name) === controller) this.close(name);
      },
    };
  }

  /** Closes the channel's current lease, if any. */
  close(name: string): void {
    const controller = this.current.get(name);
    this.current.delete(name);
    controller?.abort();
  }

  /** Closes every open channel whose name starts with `prefix`. */
  closeAll(prefix: string): void {
    for (const name of [...this.current.keys()]) if (name.startsWith(prefix)) this.close(name);
  }
}

export interface CallOptions {
  signal?: AbortSignal;
}

export interface ProgressOptions<P extends Progress = Progress> extends CallOptions {
  onProgress?: (progress: P) => void;
}

type StepProgress = Extract<Progress, { phase: 'step' }>;

/** One step of a sampling trajectory, as streamed by the engine. */
export interface TrajectoryFrame {
  step: number;
  /** The timestep the network was evaluated at in this step. */
  t: number;
  /** The step's input x_t: the noisy image the network saw. */
  xt: FloatImageBatch;
  /** The step's predicted x0. */
  x0Pred: FloatImageBatch;
}

export interface SampleOutput extends SampleResult {
  /** Present when `returnTrajectory` was set: one frame per DDIM step, in order. */
  trajectory?: TrajectoryFrame[];
}

export interface LoadOptions extends ProgressOptions {
  backend?: BackendChoice;
  warmupBatchSizes?: number[];
}

export type SampleParams = Omit<SampleRequest, 'id' | 'kind'>;

interface Pending {
  kind: RequestKind;
  /** The channel a `sample` request holds while it is pending. */
  channel?: string;
  resolve: (result: unknown) => void;
  reject: (error: unknown) => void;
  onProgress?: (progress: Progress) => void;
  cleanup: () => void;
}

/** Without arguments it starts the engine worker bundled by Vite; pass a port to drive another engine. */
export class EngineClient {
  private readonly port: EnginePort;
  private readonly pending = new Map<number, Pending>();
  private readonly channels = new ChannelLeases();
  private readonly listeners = new Set<(event: EngineEvent) => void>();
  private nextId = 1;
  private terminated = false;

  constructor(port?: EnginePort) {
    this.port =
      port ??
      (new Worker(new URL('./worker.ts', import.meta.url), {
        type: 'module',
        name: 'infodiffusion-engine',
      }) as EnginePort);
    this.port.addEventListener('message', (event: MessageEvent<EngineResponse>) => this.receive(event.data));
    this.port.addEventListener('error', (event: ErrorEvent) =>
      this.crash(event.message || 'the engine worker failed to start'),
    );
  }

  /** Subscribe to engine-wide events (backend chosen, device lost, leak, worker crash). Returns the unsubscribe. */
  onEvent(listener: (event: EngineEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Opens the channel `name` for a job of any requests, superseding its current holder (a lease, or a pending
   * `sample` on it). Make each request with `{ signal: lease.signal }`; `close()` the lease to cancel the job.
   */
  openChannel(name: string): ChannelLease {
    return this.channels.open(name);
  }

  /** Cancels the job holding channel `name`, if any, as its lease's `close()` would. */
  closeChannel(name: string): void {
    this.channels.close(name);
  }

  /** Cancels the jobs of every channel whose name starts with `prefix` (a model switch ends every tool job). */
  closeChannels(prefix: string): void {
    this.channels.closeAll(prefix);
  }

  /**
   * Load a model package and warm the engine up. With `source.kind === 'files'` the ArrayBuffers are
   * transferred to the worker: they are detached (unusable) here afterwards.
   */
  load(source: ModelSource, options: LoadOptions = {}): Promise<LoadResult> {
    const transfer = source.kind === 'files' ? transferablesOf(source.files) : [];
    // The worker resolves relative URLs against its own script's URL, so hand it an absolute one.
    const resolved: ModelSource =
      source.kind === 'url' ? { kind: 'url', baseUrl: absoluteFolderUrl(source.baseUrl) } : source;
    return this.call(
      { kind: 'load', source: resolved, backend: options.backend, warmupBatchSizes: options.warmupBatchSizes },
      options,
      transfer,
    );
  }

  /** x [B,H,W,C] (model size and channels, [-1,1] float or 0..255 u8) -> z [B, latentDim]. */
  encode(images: ImageBatch, options: CallOptions = {}): Promise<EncodeResult> {
    return this.call({ kind: 'encode', images }, options);
  }

  /** x0 -> x_T by deterministic DDIM inversion in `steps` network calls, conditioned on z (default Enc(x0)). */
  invert(
    images: ImageBatch,
    params: { steps: number; z?: LatentBatch },
    options: ProgressOptions<StepProgress> = {},
  ): Promise<InvertResult> {
    return this.call({ kind: 'invert', images, steps: params.steps, z: params.z }, options as ProgressOptions);
  }

  /**
   * DDIM sampling, by the model's denoiser or (`params.decoder: 'student'`, `steps` = its calls) by the package's
   * distilled student; the engine refuses the student on a model without one. Holds `params.channel` while pending,
   * whichever the decoder: a newer call or lease on the same channel makes this one reject with an AbortError. With
   * `returnTrajectory`, frames reach `onProgress` as they are computed and the result collects them all.
   */
  async sample(params: SampleParams, options: ProgressOptions<StepProgress> = {}): Promise<SampleOutput> {
    const trajectory: TrajectoryFrame[] = [];
    const onProgress = (progress: Progress) => {
      if (progress.phase !== 'step') return;
      if (params.returnTrajectory && progress.xt && progress.x0Pred) {
        trajectory.push({ step: progress.step, t: progress.t, xt: progress.xt, x0Pred: progress.x0Pred });
      }
      options.onProgress?.(progress);
    };
    const result = await this.call({ kind: 'sample', ...params }, { signal: options.signal, onProgress });
    return params.returnTrajectory ? { ...result, trajectory } : result;
  }

  /** Bits per dimension of each image by I-MMSE with `samples` log-SNR draws (K denoiser evaluations per image). */
  nll(
    images: ImageBatch,
    params: { samples: number; z?: LatentBatch; seed?: number },
    options: ProgressOptions = {},
  ): Promise<NllResult> {
    return this.call({ kind: 'nll', images, ...params }, options);
  }

  /**
   * The I-MMSE analysis of one image (src/engine/itdRequest.ts): curves, continuous and exact-discrete likelihoods
   * with standard errors, optionally a second package's on the same draws with their ensemble, and the figures
   * without z. Progress counts noisy images scored.
   */
  itd(
    images: ImageBatch,
    params: Omit<ItdRequest, 'id' | 'kind' | 'images'>,
    options: ProgressOptions = {},
  ): Promise<ItdResult> {
    return this.call({ kind: 'itd', images, ...params }, options);
  }

  /** MMSE curve of one image over `points` log-SNR values, `repeats` noise draws each. */
  mmseCurve(
    images: ImageBatch,
    params: { points: number; repeats: number; z?: LatentBatch; seed?: number },
    options: ProgressOptions = {},
  ): Promise<MmseCurveResult> {
    return this.call({ kind: 'mmseCurve', images, ...params }, options);
  }

  /** x_t = sqrt(alphaBar) x + sqrt(1 - alphaBar) eps with alphaBar = sigmoid(logSnr), eps from `seed`. */
  forwardNoise(
    images: ImageBatch,
    params: { logSnr: number; seed: number },
    options: CallOptions = {},
  ): Promise<ForwardNoiseResult> {
    return this.call({ kind: 'forwardNoise', images, ...params }, options);
  }

  /** Time and count the kernels of one denoiser call at `batchSize` (debug HUD, benchmark). */
  profile(params: { batchSize: number; repeats: number }, options: CallOptions = {}): Promise<ProfileResult> {
    return this.call({ kind: 'profile', ...params }, options);
  }

  /** Backend, adapter, tensor counts, recent timings and leaks. Answered at once, even while a job runs. */
  stats(options: CallOptions = {}): Promise<EngineStats> {
    return this.call({ kind: 'stats' }, options);
  }

  /** Release the model; a new `load` is needed afterwards. */
  dispose(options: CallOptions = {}): Promise<DisposeResult> {
    return this.call({ kind: 'dispose' }, options);
  }

  /** Stop the worker. Pending requests reject with an AbortError. */
  terminate(): void {
    if (this.terminated) return;
    this.terminated = true;
    this.port.terminate();
    for (const [id, pending] of this.pending) {
      this.settle(id, pending);
      pending.reject(abortError('engine terminated'));
    }
  }

  private call<B extends RequestBody>(
    body: B,
    options: ProgressOptions,
    transfer: Transferable[] = [],
  ): Promise<ResultByKind[B['kind']]> {
    type R = ResultByKind[B['kind']];
    const kind = body.kind;
    if (this.terminated) return Promise.reject(new EngineError('the engine was terminated', 'TerminatedError', kind));
    const { signal, onProgress } = options;
    if (signal?.aborted) return Promise.reject(abortError(`${kind} aborted before it was sent`));
    const id = this.nextId++;
    if (body.kind === 'sample') this.dropSupersededSample(body.channel);
    const lease = body.kind === 'sample' ? this.channels.open(body.channel) : undefined;
    const signals = [signal, lease?.signal].filter((s): s is AbortSignal => s !== undefined);
    return new Promise<R>((resolve, reject) => {
      const onAbort = () => {
        const pending = this.pending.get(id);
        if (!pending) return;
        this.settle(id, pending);
        this.port.postMessage({ id: this.nextId++, kind: 'cancel', targetId: id }, []);
        reject(abortError(`${kind} #${id} aborted`));
      };
      for (const s of signals) s.addEventListener('abort', onAbort, { once: true });
      this.pending.set(id, {
        kind,
        channel: body.kind === 'sample' ? body.channel : undefined,
        resolve: resolve as (result: unknown) => void,
        reject,
        onProgress,
        cleanup: () => {
          for (const s of signals) s.removeEventListener('abort', onAbort);
          lease?.close();
        },
      });
      this.port.postMessage({ ...body, id } as EngineRequest, transfer);
    });
  }

  /**
   * Rejects the sample pending on `channel`, if any, as a newer one is about to be posted there: the engine aborts
   * the older one itself when the newer arrives (src/engine/engine.ts), so no cancel message is sent.
   */
  private dropSupersededSample(channel: string): void {
    for (const [id, pending] of this.pending) {
      if (pending.channel !== channel) continue;
      this.settle(id, pending);
      pending.reject(abortError(`${pending.kind} #${id} superseded on channel '${channel}'`));
    }
  }

  private receive(message: EngineResponse): void {
    if (message.kind === 'event') {
      this.emit(message.event);
      return;
    }
    const pending = this.pending.get(message.id);
    if (!pending) return; // stale: aborted here already, or answered before a crash
    switch (message.kind) {
      case 'progress':
        pending.onProgress?.(message.progress);
        return;
      case 'result':
        this.settle(message.id, pending);
        pending.resolve(message.result);
        return;
      case 'error':
        this.settle(message.id, pending);
        pending.reject(
          new EngineError(message.message, message.name, pending.kind, {
            file: message.file,
            details: message.details,
          }),
        );
        return;
      case 'aborted':
        this.settle(message.id, pending);
        pending.reject(abortError(`${pending.kind} #${message.id} ${message.reason}`));
        return;
      default: {
        const _exhaustive: never = message;
        throw new Error(`unknown engine response ${JSON.stringify(_exhaustive)}`);
      }
    }
  }

  private settle(id: number, pending: Pending): void {
    this.pending.delete(id);
    pending.cleanup();
  }

  private crash(message: string): void {
    for (const [id, pending] of this.pending) {
      this.settle(id, pending);
      pending.reject(new EngineError(`engine worker crashed: ${message}`, 'WorkerCrashedError', pending.kind));
    }
    this.emit({ type: 'workerCrashed', message });
  }

  private emit(event: EngineEvent): void {
    for (const listener of this.listeners) listener(event);
  }
}

/** `url` resolved against the page, with the trailing slash a folder needs. */
function absoluteFolderUrl(url: string): string {
  const base = (globalThis as { location?: { href: string } }).location?.href;
  const absolute = base ? new URL(url, base).href : url;
  return absolute.endsWith('/') ? absolute : `${absolute}/`;
}

/** Omit over each member of a union (the built-in Omit collapses the union). */
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
/** A request as the client's methods build it; `call` adds the id. */
type RequestBody = DistributiveOmit<EngineRequest, 'id'>;

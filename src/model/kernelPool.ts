/**
 * Our WASM SIMD kernels (wasmSimd.ts) on several threads, when tfjs runs its threaded binary.
 *
 * Why: with two XNNPACK threads only tfjs's convolutions use the second core; our GroupNorm passes and attention
 * ran on the engine thread alone, about 17% of a batch-11 denoiser call, which held 2 threads above 0.6x of the
 * 1-thread time (docs/benchmarks.md, "Threads: why 2 threads do not reach 0.6x"). tfjs gives kernels of our own no
 * access to its pthread pool, so we keep a small pool of our own: `threads - 1` helper workers (kernelHelper.ts),
 * each instantiating the same module on tfjs's shared WebAssembly.Memory, coordinated through one control block
 * in a SharedArrayBuffer (kernelControl.ts). A kernel call is cut along the batch (kernelSplit.ts); the engine
 * thread publishes the parts, runs parts itself and waits for the rest. Our threads run only while a kernel of
 * ours runs, when XNNPACK's are idle, so the two pools take turns on the same cores.
 *
 * Fallback: `kernelsFor(memory)` is the single-threaded instance unless a pool was started on that memory and has
 * a helper ready. A pool starts only where all of it is possible (a shared memory, SharedArrayBuffer, a thread
 * allowed to block in Atomics.wait, a way to start workers); anything failing later (a helper's error, a helper
 * that holds a part for HELPER_TIMEOUT_MS) stops the pool for good and the engine finishes the job alone.
 */
import { claimAndRun, CLAIMED, createControl, DONE, FREE, publishJob, runPart, SLOT } from './kernelControl';
import { MAX_PARTS, splitKernelCall, type KernelCall } from './kernelSplit';
import { isSharedMemory, simdKernelsFor, simdModule, type SimdKernels } from './wasmSimd';

/** What a helper receives once, in its first message. */
export interface KernelHelperInit {
  /** The kernels' module for a shared memory (wasmSimd.ts), compiled once by the engine thread. */
  module: WebAssembly.Module;
  /** tfjs's shared memory. */
  memory: WebAssembly.Memory;
  /** The control block's buffer (kernelControl.ts). */
  control: SharedArrayBuffer;
}

/**
 * Starts one helper thread with `init` (a browser Worker running kernelHelper.ts, or a Node worker thread in
 * tests); calls `onFailure` if it fails to start or dies. Returns its handle.
 */
export type KernelHelperSpawner = (
  init: KernelHelperInit,
  onFailure: (reason: string) => void,
) => { terminate(): void };

/** The pool's state, for reports and tests. */
export interface KernelThreadStats {
  /** Helper threads asked for (threads - 1). */
  helpers: number;
  /** Helpers running their loop. */
  ready: number;
  /** Whether kernel calls are split now (false once stopped). */
  active: boolean;
  /** Split kernel calls so far. */
  jobs: number;
  /** Parts of them run by helpers. */
  helperParts: number;
  /** Why the pool stopped, if it did. */
  stopped: string | null;
}

/** A helper holding a part this long is taken for dead: the engine runs the part itself and stops the pool. */
export const HELPER_TIMEOUT_MS = 2000;
/**
 * The engine polls for its helpers' last parts this long before it sleeps in Atomics.wait (1 ms slices). A part
 * takes microseconds, so a helper still holding one after this was most likely preempted: sleeping then frees
 * the engine's core for it, which matters where the threads outnumber the cores.
 */
const ENGINE_SPIN_MS = 0.05;

const now = (): number => performance.now();

class KernelPool {
  readonly control = createControl();
  readonly serial: SimdKernels;
  private readonly handles: { terminate(): void }[] = [];
  stopped: string | null = null;

  constructor(
    memory: WebAssembly.Memory,
    readonly helpers: number,
    spawn: KernelHelperSpawner,
  ) {
    this.serial = simdKernelsFor(memory);
    const init: KernelHelperInit = { module: simdModule(true), memory, control: this.control.buffer };
    for (let k = 0; k < helpers && !this.stopped; k++) {
      try {
        this.handles.push(spawn(init, (reason) => this.stop(`a kernel helper failed: ${reason}`)));
      } catch (error) {
        this.stop(`a kernel helper could not start: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
  }

  get active(): boolean {
    return (
      this.stopped === null && Atomics.load(this.control, SLOT.stop) === 0 && Atomics.load(this.control, SLOT.ready) > 0
    );
  }

  stats(): KernelThreadStats {
    const c = this.control;
    return {
      helpers: this.helpers,
      ready: Atomics.load(c, SLOT.ready),
      active: this.active,
      jobs: Atomics.load(c, SLOT.jobs),
      helperParts: Atomics.load(c, SLOT.helperParts),
      stopped: this.stopped ?? (Atomics.load(c, SLOT.stop) !== 0 ? 'a kernel helper stopped after an error' : null),
    };
  }

  /** Stops the helpers for good (they return from their loop, then are terminated). */
  stop(reason: string): void {
    if (this.stopped) return;
    this.stopped = reason;
    Atomics.store(this.control, SLOT.stop, 1);
    Atomics.add(this.control, SLOT.generation, 1);
    Atomics.notify(this.control, SLOT.generation);
    for (const handle of this.handles) handle.terminate();
  }

  /** Runs `call`, split over the threads where it is worth it; on the engine thread alone otherwise. */
  run(call: KernelCall): void {
    const parts = this.active ? splitKernelCall(call, MAX_PARTS) : [call];
    if (parts.length < 2) {
      (this.serial[call.kernel] as (...args: number[]) => void)(...call.args);
      return;
    }
    const c = this.control;
    publishJob(c, parts);
    try {
      claimAndRun(c, this.serial, false);
    } catch (error) {
      // Leave no part for a helper to start later (its memory may be freed once the error unwinds tfjs).
      for (let p = 0; p < parts.length; p++) Atomics.compareExchange(c, SLOT.states + p, FREE, DONE);
      this.awaitParts(parts.length, false);
      this.stop(`a kernel failed: ${error instanceof Error ? error.message : String(error)}`);
      throw error;
    }
    this.awaitParts(parts.length, true);
  }

  /**
   * Waits until no part is CLAIMED (and, if `count`, until all are DONE), running any part a failing helper
   * gave back. A helper that holds a part past HELPER_TIMEOUT_MS stops the pool: the engine reruns its parts
   * (every kernel writes its output from its inputs alone, so a second run, even alongside a late first one,
   * writes the same values).
   */
  private awaitParts(parts: number, count: boolean): void {
    const c = this.control;
    const start = now();
    const finished = () =>
      count
        ? Atomics.load(c, SLOT.done) >= parts
        : Array.from({ length: parts }, (_, p) => Atomics.load(c, SLOT.states + p)).every((s) => s !== CLAIMED);
    while (!finished()) {
      if (count && Atomics.load(c, SLOT.stop) !== 0) claimAndRun(c, this.serial, false); // a part given back
      const elapsed = now() - start;
      if (elapsed > HELPER_TIMEOUT_MS) {
        for (let p = 0; p < parts; p++) if (Atomics.load(c, SLOT.states + p) !== DONE) runPart(c, this.serial, p);
        this.stop(`a kernel helper held a part for over ${HELPER_TIMEOUT_MS} ms`);
        return;
      }
      if (elapsed > ENGINE_SPIN_MS) Atomics.wait(c, SLOT.done, Atomics.load(c, SLOT.done), 1);
    }
  }

  /** The kernels' interface, each call run through `run`. */
  kernels(): SimdKernels {
    const run =
      (kernel: KernelCall['kernel']) =>
      (...args: number[]) =>
        this.run({ kernel, args });
    return {
      sums: run('sums'),
      squares: run('squares'),
      affine: run('affine'),
      affineSilu: run('affineSilu'),
      attention: run('attention'),
      concat: run('concat'),
    };
  }
}

const pools = new WeakMap<WebAssembly.Memory, { pool: KernelPool; kernels: SimdKernels }>();

/** Why no pool can run on this thread and memory, or null if one can. */
export function kernelThreadsUnavailable(memory: WebAssembly.Memory): string | null {
  if (typeof SharedArrayBuffer === 'undefined') return 'no SharedArrayBuffer (the page is not cross-origin isolated)';
  if (!isSharedMemory(memory)) return 'tfjs runs a binary without threads';
  try {
    // Atomics.wait throws where the thread may not block (a page's main thread); our engine runs in a worker.
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 1, 0);
  } catch {
    return 'this thread may not block in Atomics.wait';
  }
  return null;
}

/**
 * Starts `helpers` helper threads for the kernels on `memory` (once per memory) and waits up to `readyMs` for
 * them to be ready; returns the pool's state, or the reason none runs. The pool is used as soon as one helper
 * is ready, so a slow start only delays the speed-up, never the engine for longer than `readyMs`.
 */
export async function startKernelPool(
  memory: WebAssembly.Memory,
  helpers: number,
  spawn: KernelHelperSpawner,
  readyMs = 3000,
): Promise<KernelThreadStats | string> {
  if (helpers < 1) return 'one thread: nothing to share';
  const unavailable = kernelThreadsUnavailable(memory);
  if (unavailable) return unavailable;
  let entry = pools.get(memory);
  if (!entry) {
    const pool = new KernelPool(memory, helpers, spawn);
    entry = { pool, kernels: pool.kernels() };
    pools.set(memory, entry);
  }
  const { pool } = entry;
  const deadline = now() + readyMs;
  while (pool.stopped === null && Atomics.load(pool.control, SLOT.ready) < helpers && now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return pool.stopped ?? pool.stats();
}

/** The kernels to call on `memory`: split over a running pool's threads, else the single-threaded instance. */
export function kernelsFor(memory: WebAssembly.Memory): SimdKernels {
  return pools.get(memory)?.kernels ?? simdKernelsFor(memory);
}

/** The pool's state on `memory`, or null where none was started. */
export function kernelThreadStats(memory: WebAssembly.Memory): KernelThreadStats | null {
  return pools.get(memory)?.pool.stats() ?? null;
}

/** Stops the pool on `memory`, if any (tests; the app's engine keeps its pool for the worker's life). */
export function stopKernelPool(memory: WebAssembly.Memory): void {
  pools.get(memory)?.pool.stop('closed');
  pools.delete(memory);
}

/**
 * The control block our kernel threads share (an Int32Array over a SharedArrayBuffer) and the two sides of its
 * protocol: the engine thread publishes a job (kernelPool.ts), helper threads serve jobs (kernelHelper.ts in the
 * browser, the Node test's helper). No environment here: only Atomics on the block and calls of the kernels.
 *
 * A job is a table of parts (kernelSplit.ts), one row each: the kernel id and its arguments. Every part has a
 * state word, FREE, CLAIMED or DONE, and anyone claims a part by compare-and-swap FREE -> CLAIMED, so no part
 * runs twice and no thread waits for a particular other one: the engine claims from the first part up, the
 * helpers from the last part down, and when a helper is slow to wake (Atomics.notify wakes a sleeper in tens of
 * microseconds) the engine simply does more of the parts itself. The engine then waits for the DONE count.
 *
 * Why this is safe with helpers that wake late: between jobs every state word is DONE. The engine writes the
 * part table, then the count and the DONE counter, and only then sets the states of the new parts to FREE (all
 * with Atomics, so the table is visible to whoever wins a claim); a helper still looking at an older job finds
 * nothing FREE, or claims a part of the new job and reads the new job's row after its claim. The engine
 * publishes no new job while any part is CLAIMED, so a row is never rewritten under a running part.
 */
import { KERNEL_NAMES, MAX_ARGS, MAX_PARTS, type KernelCall } from './kernelSplit';
import type { SimdKernels } from './wasmSimd';

/** Int32 slots of the block. */
export const SLOT = {
  /** Job number; helpers wait on it. */
  generation: 0,
  /** Non-zero: helpers return (the pool is closing, or a helper failed). */
  stop: 1,
  /** Helpers that have instantiated the kernels and entered their loop. */
  ready: 2,
  /** Parts of the current job. */
  parts: 3,
  /** Parts of the current job finished; the engine waits on it. */
  done: 4,
  /** Statistics: parts run by helpers, and jobs published, since the pool started. */
  helperParts: 5,
  jobs: 6,
  /** Part states from here, MAX_PARTS of them. */
  states: 8,
} as const;
const ROW = 1 + MAX_ARGS;
const TABLE = SLOT.states + MAX_PARTS;
/** Int32 length of the block. */
export const CONTROL_LENGTH = TABLE + MAX_PARTS * ROW;

export const FREE = 0;
export const CLAIMED = 1;
export const DONE = 2;

/** A new control block: every part DONE, no job. */
export function createControl(): Int32Array<SharedArrayBuffer> {
  const control = new Int32Array(new SharedArrayBuffer(CONTROL_LENGTH * 4));
  for (let p = 0; p < MAX_PARTS; p++) control[SLOT.states + p] = DONE;
  return control;
}

/** Runs part `p` of the table on `kernels`. */
export function runPart(control: Int32Array, kernels: SimdKernels, p: number): void {
  const row = TABLE + p * ROW;
  const name = KERNEL_NAMES[control[row]];
  const a = control.subarray(row + 1, row + ROW);
  // Every kernel takes at most MAX_ARGS integers; extra ones are ignored by a WebAssembly export.
  (kernels[name] as (...args: number[]) => void)(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7]);
}

/**
 * Engine side: writes `parts` as the next job and wakes the helpers. The caller has checked that the previous
 * job is finished (every part DONE).
 */
export function publishJob(control: Int32Array, parts: KernelCall[]): void {
  if (parts.length > MAX_PARTS) throw new Error(`a job has at most ${MAX_PARTS} parts, not ${parts.length}`);
  parts.forEach((part, p) => {
    const row = TABLE + p * ROW;
    control[row] = KERNEL_NAMES.indexOf(part.kernel);
    for (let k = 0; k < MAX_ARGS; k++) control[row + 1 + k] = part.args[k] ?? 0;
  });
  Atomics.store(control, SLOT.parts, parts.length);
  Atomics.store(control, SLOT.done, 0);
  for (let p = 0; p < parts.length; p++) Atomics.store(control, SLOT.states + p, FREE);
  Atomics.add(control, SLOT.jobs, 1);
  Atomics.add(control, SLOT.generation, 1);
  Atomics.notify(control, SLOT.generation);
}

/**
 * Claims and runs FREE parts of the current job, in ascending order from the engine or descending from a
 * helper; returns how many it ran. A part that throws goes back to FREE (so the engine runs it and sees the
 * error itself) and the error is rethrown.
 */
export function claimAndRun(control: Int32Array, kernels: SimdKernels, descending: boolean): number {
  const parts = Atomics.load(control, SLOT.parts);
  let ran = 0;
  for (let k = 0; k < parts; k++) {
    const p = descending ? parts - 1 - k : k;
    const state = SLOT.states + p;
    if (Atomics.compareExchange(control, state, FREE, CLAIMED) !== FREE) continue;
    try {
      runPart(control, kernels, p);
    } catch (error) {
      Atomics.store(control, state, FREE);
      Atomics.notify(control, SLOT.done);
      throw error;
    }
    Atomics.store(control, state, DONE);
    // Only the last part wakes the engine (its one waiter, waiting for all parts): a notify takes a lock. The count
    // is read again: `parts` may be an older job's when this thread found the job late, but while it holds a
    // part the job cannot change.
    if (Atomics.add(control, SLOT.done, 1) + 1 === Atomics.load(control, SLOT.parts)) {
      Atomics.notify(control, SLOT.done);
    }
    ran++;
  }
  return ran;
}

/**
 * How long a helper keeps polling for the next job before it sleeps: long enough to span the gap between a
 * GroupNorm's passes (a few microseconds of JavaScript), short enough not to take a core from XNNPACK's threads
 * during the convolution that follows (on a machine with no spare core, every spinning microsecond is stolen).
 */
export const HELPER_SPIN_MS = 0.05;

/**
 * Helper side: serves jobs until `stop` is set. Counts itself ready first. Between jobs it polls the
 * generation for HELPER_SPIN_MS (a GroupNorm's three passes follow each other within microseconds), then
 * sleeps in Atomics.wait, so it takes no core from XNNPACK's threads during a convolution. A kernel that throws
 * stops this helper (the part goes back to the engine, which then runs without helpers).
 */
export function serveKernelJobs(control: Int32Array, kernels: SimdKernels, now: () => number): void {
  Atomics.add(control, SLOT.ready, 1);
  for (;;) {
    const generation = Atomics.load(control, SLOT.generation);
    if (Atomics.load(control, SLOT.stop) !== 0) return;
    try {
      const ran = claimAndRun(control, kernels, true);
      if (ran > 0) Atomics.add(control, SLOT.helperParts, ran);
    } catch {
      Atomics.store(control, SLOT.stop, 1);
      Atomics.notify(control, SLOT.done);
      return;
    }
    const until = now() + HELPER_SPIN_MS;
    let polls = 0;
    while (Atomics.load(control, SLOT.generation) === generation) {
      if ((++polls & 63) === 0 && now() > until) {
        Atomics.wait(control, SLOT.generation, generation);
        break;
      }
    }
  }
}

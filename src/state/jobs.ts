/**
 * Per-store registry of cancellable jobs, one slot per name ('input', 'traversal', ...). Starting a job aborts
 * the one before it in the same slot, so a second click never leaves two jobs racing to write one result; a
 * model switch aborts them all. It lives inside each store instance, not at module level.
 *
 * Slices run their jobs through `run`: it starts the job, lets its work write progress while it is the newest of
 * its name, and hands its end to one callback as a `JobOutcome`, never for a job that was aborted, cancelled or
 * replaced (whose result nobody wants any more).
 */
import { isAbortError } from '../engine/client';
import { describeError } from './describeError';

/**
 * The job slots: one running job per name. Picks that may run side by side (each marked example of an attribute,
 * each image added to the z versus x_T grid) are a `JobGroup`: one numbered name per pick.
 */
export type JobName =
  | 'input'
  | 'trajectory'
  | 'forward-noise'
  | 'immse'
  | 'traversal'
  | 'interpolation-strip'
  | 'interpolation-grid'
  | 'edit-target'
  | 'edit-transfer'
  | 'swap-grid'
  | `${JobGroupName}:${number}`;

/** The groups of jobs that run side by side, each job under its own numbered name. */
export type JobGroupName = 'attribute-example' | 'swap-pick';

/** How a job that was still the newest of its name ended: its value, or the words of its failure. */
export type JobOutcome<T> = { kind: 'done'; value: T } | { kind: 'error'; message: string };

/** What a job's work receives. */
export interface Job {
  /** Aborted when the job is cancelled or replaced; pass it to every engine call. */
  signal: AbortSignal;
  /** True while this job is the newest of its name (so its progress may still be written). */
  isCurrent(): boolean;
  /** Ends the work quietly (as an abort) once the job is no longer the newest of its name. */
  throwIfSuperseded(): void;
}

export interface JobRegistry {
  /**
   * Starts job `name` (aborting the one before it), runs `work`, and calls `finish` with how it ended if it is
   * still the newest of its name then. An abort error, or any end after the job was superseded, calls nothing.
   * `finish` runs synchronously after the check, so nothing can supersede the job between the two.
   */
  run<T>(name: JobName, work: (job: Job) => Promise<T>, finish: (outcome: JobOutcome<T>) => void): Promise<void>;
  /** Aborts the running job of this name, if any, and returns the signal of the new one. */
  start(name: JobName): AbortSignal;
  /** Aborts the job of this name if it is still the running one. */
  cancel(name: JobName): void;
  /** True while `signal` belongs to the newest job of its name (so its result may still be written). */
  isCurrent(name: JobName, signal: AbortSignal): boolean;
  abortAll(): void;
}

export function createJobRegistry(): JobRegistry {
  const running = new Map<JobName, AbortController>();
  const registry: JobRegistry = {
    async run(name, work, finish) {
      const signal = registry.start(name);
      const job: Job = {
        signal,
        isCurrent: () => registry.isCurrent(name, signal),
        throwIfSuperseded() {
          if (!job.isCurrent()) throw new DOMException(`The ${name} job was superseded.`, 'AbortError');
        },
      };
      let outcome: Parameters<typeof finish>[0];
      try {
        outcome = { kind: 'done', value: await work(job) };
      } catch (error) {
        if (isAbortError(error) || !job.isCurrent()) return;
        outcome = { kind: 'error', message: describeError(error) };
      }
      if (job.isCurrent()) finish(outcome);
    },
    start(name) {
      running.get(name)?.abort();
      const controller = new AbortController();
      running.set(name, controller);
      return controller.signal;
    },
    cancel(name) {
      running.get(name)?.abort();
      running.delete(name);
    },
    isCurrent(name, signal) {
      return running.get(name)?.signal === signal && !signal.aborted;
    },
    abortAll() {
      for (const controller of running.values()) controller.abort();
      running.clear();
    },
  };
  return registry;
}

/** Jobs of one group that run side by side (a quick second mark must not abort the first), cancelled together. */
export interface JobGroup {
  /** Runs one job of the group under a fresh name, as `JobRegistry.run`. */
  run<T>(work: (job: Job) => Promise<T>, finish: (outcome: JobOutcome<T>) => void): Promise<void>;
  /** The group's jobs that have not ended yet (the one whose `finish` is running among them). */
  readonly pending: number;
  /** Aborts every job of the group (a model switch does too, through `abortAll`). */
  cancelAll(): void;
}

export function createJobGroup(jobs: JobRegistry, group: JobGroupName): JobGroup {
  let count = 0;
  const live = new Set<JobName>();
  return {
    async run(work, finish) {
      count += 1;
      const name: JobName = `${group}:${count}`;
      live.add(name);
      try {
        await jobs.run(name, work, finish);
      } finally {
        live.delete(name);
        // The name is never used again: drop its slot.
        jobs.cancel(name);
      }
    },
    get pending() {
      return live.size;
    },
    cancelAll() {
      for (const name of live) jobs.cancel(name);
    },
  };
}

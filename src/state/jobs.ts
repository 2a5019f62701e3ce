/**
 * The store's cancellable jobs, one per name ('input', 'traversal', ...), run on the engine's latest-wins channels
 * (`openChannel` in src/engine/client.ts), one channel per name: starting a job supersedes the one before it of
 * the same name, so a second click never leaves two jobs racing to write one result; a model switch closes them
 * all. The channels are the one latest-wins mechanism: nothing here keeps controllers or tokens of its own.
 *
 * Slices run their jobs through `run`: it starts the job, lets its work write progress while it is the newest of
 * its name, and hands its end to one callback as a `JobOutcome`, never for a job that was aborted, cancelled or
 * replaced (whose result nobody wants any more).
 */
import { isAbortError } from '../engine/client';
import { describeError } from './describeError';
import type { ExplorerEngine } from './types';

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
   * Starts job `name` (superseding the one before it), runs `work`, and calls `finish` with how it ended if it is
   * still the newest of its name then. An abort error, or any end after the job was superseded, calls nothing.
   * `finish` runs synchronously after the check, so nothing can supersede the job between the two.
   */
  run<T>(name: JobName, work: (job: Job) => Promise<T>, finish: (outcome: JobOutcome<T>) => void): Promise<void>;
  /** Aborts the running job of this name, if any. */
  cancel(name: JobName): void;
  abortAll(): void;
}

/** The engine's channels the jobs run on. */
export type JobChannels = Pick<ExplorerEngine, 'openChannel' | 'closeChannel' | 'closeChannels'>;

/** Job `name` holds the engine channel `job:<name>`, a namespace no `sample` channel uses. */
const JOB_CHANNEL_PREFIX = 'job:';

export function createJobRegistry(channels: JobChannels): JobRegistry {
  return {
    async run(name, work, finish) {
      const lease = channels.openChannel(`${JOB_CHANNEL_PREFIX}${name}`);
      const job: Job = {
        signal: lease.signal,
        isCurrent: () => lease.isCurrent(),
        throwIfSuperseded() {
          if (!lease.isCurrent()) throw new DOMException(`The ${name} job was superseded.`, 'AbortError');
        },
      };
      let outcome: Parameters<typeof finish>[0];
      try {
        outcome = { kind: 'done', value: await work(job) };
      } catch (error) {
        if (isAbortError(error) || !lease.isCurrent()) return;
        outcome = { kind: 'error', message: describeError(error) };
      }
      if (lease.isCurrent()) finish(outcome);
    },
    cancel(name) {
      channels.closeChannel(`${JOB_CHANNEL_PREFIX}${name}`);
    },
    abortAll() {
      channels.closeChannels(JOB_CHANNEL_PREFIX);
    },
  };
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
        // The name is never used again: close its channel.
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

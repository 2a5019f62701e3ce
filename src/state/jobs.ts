/**
 * Per-store registry of cancellable jobs, one slot per name ('input', 'traversal', ...). Starting a job aborts
 * the one before it in the same slot, so a second click never leaves two jobs racing to write one result; a
 * model switch aborts them all. It lives inside each store instance, not at module level.
 */
export interface JobRegistry {
  /** Aborts the running job of this name, if any, and returns the signal of the new one. */
  start(name: string): AbortSignal;
  /** Aborts the job of this name if it is still the running one. */
  cancel(name: string): void;
  /** True while `signal` belongs to the newest job of its name (so its result may still be written). */
  isCurrent(name: string, signal: AbortSignal): boolean;
  abortAll(): void;
}

export function createJobRegistry(): JobRegistry {
  const running = new Map<string, AbortController>();
  return {
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
}

/**
 * Cooperative cancellation for the samplers and estimators. They call throwIfAborted only at step (or batch)
 * boundaries, where every intermediate tensor of the finished step is already disposed, so an abort leaks nothing.
 */

/**
 * Throws a DOMException named 'AbortError' when `signal` has fired. Always this one error type, whatever
 * `signal.reason` holds, so callers can tell cancellation from failure with `isAbortError`.
 * @param what the operation, for the message (e.g. 'ddimSample')
 */
export function throwIfAborted(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted) throw new DOMException(`${what} was aborted`, 'AbortError');
}

/** True for the error throwIfAborted raises (and for any other error named 'AbortError'). */
export function isAbortError(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { name?: unknown }).name === 'AbortError';
}

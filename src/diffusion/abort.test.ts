import { describe, expect, it } from 'vitest';
import { isAbortError, throwIfAborted } from './abort';

describe('throwIfAborted', () => {
  it('does nothing without a signal or before the abort', () => {
    expect(() => throwIfAborted(undefined, 'job')).not.toThrow();
    expect(() => throwIfAborted(new AbortController().signal, 'job')).not.toThrow();
  });

  it('throws one uniform AbortError naming the operation, whatever reason the signal carries', () => {
    const controller = new AbortController();
    controller.abort(new Error('superseded by a newer request'));
    let caught: unknown;
    try {
      throwIfAborted(controller.signal, 'ddimSample');
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(DOMException);
    expect(caught).toMatchObject({ name: 'AbortError', message: 'ddimSample was aborted' });
    expect(isAbortError(caught)).toBe(true);
  });

  it('tells aborts from failures', () => {
    expect(isAbortError(new Error('device lost'))).toBe(false);
    expect(isAbortError('AbortError')).toBe(false);
    expect(isAbortError(null)).toBe(false);
  });
});

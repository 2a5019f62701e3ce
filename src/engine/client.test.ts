import { describe, expect, it } from 'vitest';
import { EngineClient, isAbortError, type EnginePort } from './client';
import type { EngineInbound, EngineResponse, SampleResult } from './protocol';

/** A port whose replies the test writes by hand, to put them in any order. */
function scriptedPort(): EnginePort & { posted: EngineInbound[]; reply(message: EngineResponse): void } {
  let onMessage: ((event: MessageEvent<EngineResponse>) => void) | null = null;
  return {
    posted: [],
    postMessage(message) {
      this.posted.push(message);
    },
    addEventListener(type: 'message' | 'error', listener: (event: never) => void) {
      if (type === 'message') onMessage = listener as (event: MessageEvent<EngineResponse>) => void;
    },
    terminate() {},
    reply(message) {
      onMessage?.({ data: message } as MessageEvent<EngineResponse>);
    },
  };
}

const sampleResult = (value: number): SampleResult => ({
  images: { shape: [1, 1, 1, 1], data: Float32Array.of(value) },
  denoiserCalls: 1,
  elapsedMs: 1,
});

const params = (channel: string) => ({
  channel,
  z: { shape: [1, 1] as [number, number], data: Float32Array.of(0) },
  noise: { kind: 'seed' as const, seed: 0 },
  steps: 1,
  eta: 0,
});

/** 'aborted' once the promise rejects with an AbortError; read before the engine has replied. */
const outcomeOf = (promise: Promise<unknown>) =>
  promise.then(
    () => 'resolved',
    (error: unknown) => (isAbortError(error) ? 'aborted' : 'failed'),
  );

describe('EngineClient latest-wins per channel', () => {
  it('rejects the pending sample of a channel as soon as a newer one is posted there, and drops its late reply', async () => {
    const port = scriptedPort();
    const client = new EngineClient(port);
    const older = client.sample(params('main-view'));
    const olderOutcome = outcomeOf(older);
    const other = client.sample(params('grid'));
    const newer = client.sample(params('main-view'));
    // Rejected before the engine says anything: the caller never has to tell a stale result from a fresh one.
    expect(await olderOutcome).toBe('aborted');
    const [olderId, otherId, newerId] = port.posted.map((m) => m.id);
    // The older request's result, already on its way when the newer one was posted, is discarded.
    port.reply({ id: olderId, kind: 'result', request: 'sample', result: sampleResult(1) });
    port.reply({ id: newerId, kind: 'result', request: 'sample', result: sampleResult(2) });
    port.reply({ id: otherId, kind: 'result', request: 'sample', result: sampleResult(3) });
    expect((await newer).images.data[0]).toBe(2);
    // Another channel is not touched.
    expect((await other).images.data[0]).toBe(3);
    // No cancel message: the engine supersedes the older request itself when the newer one arrives.
    expect(port.posted.map((m) => m.kind)).toEqual(['sample', 'sample', 'sample']);
  });

  it('lets a channel start afresh once its request has ended', async () => {
    const port = scriptedPort();
    const client = new EngineClient(port);
    const first = client.sample(params('main-view'));
    port.reply({ id: port.posted[0].id, kind: 'result', request: 'sample', result: sampleResult(1) });
    await first;
    const second = client.sample(params('main-view'));
    port.reply({ id: port.posted[1].id, kind: 'result', request: 'sample', result: sampleResult(2) });
    expect((await second).images.data[0]).toBe(2);
  });
});

const image = { shape: [1, 1, 1, 1] as [number, number, number, number], data: Float32Array.of(0) };

/** The ids the client asked the engine to cancel, in order. */
const cancelled = (port: ReturnType<typeof scriptedPort>) =>
  port.posted.flatMap((m) => (m.kind === 'cancel' ? [m.targetId] : []));

describe('EngineClient channel leases', () => {
  it('rejects every pending request of the older lease at once when a newer lease opens the channel, and cancels them in the engine', async () => {
    const port = scriptedPort();
    const client = new EngineClient(port);
    const older = client.openChannel('job:input');
    const { signal } = older;
    const outcomes = [
      outcomeOf(client.encode(image, { signal })),
      outcomeOf(client.invert(image, { steps: 1 }, { signal })),
      outcomeOf(client.sample(params('reconstruction'), { signal })),
    ];
    const other = client.openChannel('job:traversal');
    const otherEncode = client.encode(image, { signal: other.signal });
    const [encodeId, invertId, sampleId, otherId] = port.posted.map((m) => m.id);
    const newer = client.openChannel('job:input');
    expect(await Promise.all(outcomes)).toEqual(['aborted', 'aborted', 'aborted']);
    expect(cancelled(port)).toEqual([encodeId, invertId, sampleId]);
    expect([older.isCurrent(), newer.isCurrent(), other.isCurrent()]).toEqual([false, true, true]);
    // Another channel is not touched.
    const z = { shape: [1, 1] as [number, number], data: Float32Array.of(5) };
    port.reply({ id: otherId, kind: 'result', request: 'encode', result: { z, elapsedMs: 1 } });
    expect((await otherEncode).z.data[0]).toBe(5);
  });

  it('rejects a request made with a superseded lease without sending it', async () => {
    const port = scriptedPort();
    const client = new EngineClient(port);
    const older = client.openChannel('job:input');
    client.openChannel('job:input');
    expect(await outcomeOf(client.encode(image, { signal: older.signal }))).toBe('aborted');
    expect(port.posted).toEqual([]);
  });

  it('cancels the pending requests of a closed lease, or of a channel closed by name or prefix', async () => {
    const port = scriptedPort();
    const client = new EngineClient(port);
    const closed = client.openChannel('job:input');
    const byLease = outcomeOf(client.encode(image, { signal: closed.signal }));
    const byName = outcomeOf(client.encode(image, { signal: client.openChannel('job:traversal').signal }));
    const byPrefix = outcomeOf(client.encode(image, { signal: client.openChannel('job:swap-pick:1').signal }));
    const kept = client.openChannel('grid');
    const [leaseId, nameId, prefixId] = port.posted.map((m) => m.id);
    closed.close();
    expect(await byLease).toBe('aborted');
    client.closeChannel('job:traversal');
    expect(await byName).toBe('aborted');
    client.closeChannels('job:');
    expect(await byPrefix).toBe('aborted');
    expect(cancelled(port)).toEqual([leaseId, nameId, prefixId]);
    expect([closed.isCurrent(), kept.isCurrent()]).toEqual([false, true]);
  });

  it('lets a lease opened on a pending sample channel supersede the sample, cancelling it in the engine', async () => {
    const port = scriptedPort();
    const client = new EngineClient(port);
    const sample = outcomeOf(client.sample(params('main-view')));
    const lease = client.openChannel('main-view');
    expect(await sample).toBe('aborted');
    expect(cancelled(port)).toEqual([port.posted[0].id]);
    // A newer sample on the channel supersedes the lease in turn.
    void client.sample(params('main-view')).catch(() => undefined);
    expect(lease.isCurrent()).toBe(false);
  });
});

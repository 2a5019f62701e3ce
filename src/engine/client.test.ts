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

describe('EngineClient latest-wins per channel', () => {
  it('rejects the pending sample of a channel as soon as a newer one is posted there, and drops its late reply', async () => {
    const port = scriptedPort();
    const client = new EngineClient(port);
    const older = client.sample(params('main-view'));
    const olderOutcome = older.then(
      () => 'resolved',
      (error: unknown) => (isAbortError(error) ? 'aborted' : 'failed'),
    );
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

import { afterEach, describe, expect, it } from 'vitest';
import { createJobGroup, createJobRegistry, type Job, type JobOutcome } from './jobs';
import { createExplorerStore, type ExplorerStore } from './store';
import { createTestDeps, type TestDeps } from './testing/fakeDeps';
import { createFakeEngine, flush } from './testing/fakeEngine';

const cleanups: (() => void)[] = [];
afterEach(() => {
  while (cleanups.length) cleanups.pop()!();
});

/** A store with the fixture loaded and samples held until released (no render loop: only the tools sample). */
async function setup(): Promise<{ store: ExplorerStore; deps: TestDeps }> {
  const deps = createTestDeps({ manualSamples: true });
  const store = createExplorerStore(deps);
  cleanups.push(() => store.getState().reset());
  await store.getState().start({});
  await flush();
  return { store, deps };
}

/** Opens the fixture again with a load that fails: jobs.abortAll runs, and the current model and tools stay. */
async function failedModelSwitch(store: ExplorerStore, deps: TestDeps): Promise<void> {
  deps.engine.loadError = new Error('the new package is broken');
  await store.getState().openBundledModel('fixture');
  expect(store.getState().loadStatus).toMatchObject({ kind: 'error', kept: expect.any(String) });
}

describe('tool jobs and a model switch', () => {
  it('stops the z versus x_T grid, whose frames never land', async () => {
    const { store, deps } = await setup();
    store.getState().addSwapCurrent();
    store.getState().addSwapSeed(7);
    const rendering = store.getState().renderSwapGrid();
    await flush();
    expect(store.getState().swapGrid.status).toMatchObject({ kind: 'running' });
    expect(deps.engine.pendingSamples).toHaveLength(1);
    await failedModelSwitch(store, deps);
    await deps.engine.releaseSample();
    await rendering;
    expect(deps.engine.pendingSamples).toHaveLength(0);
    expect(store.getState().swapGrid.cells).toEqual([]);
    expect(store.getState().swapGrid.status.kind).not.toBe('done');
  });

  it('stops the edit transfer, whose before and after never land', async () => {
    const { store, deps } = await setup();
    store.getState().setLatentValue(0, store.getState().z[0] + 1);
    const picking = store.getState().setEditTargetFromGallery(0);
    await flush();
    expect(store.getState().editTransfer.targetStatus).toEqual({ kind: 'done' });
    expect(store.getState().editTransfer.status).toMatchObject({ kind: 'running' });
    expect(deps.engine.pendingSamples).toHaveLength(1);
    await failedModelSwitch(store, deps);
    await deps.engine.releaseSample();
    await picking;
    const transfer = store.getState().editTransfer;
    expect(transfer.before).toBeNull();
    expect(transfer.after).toBeNull();
    expect(transfer.status.kind).not.toBe('done');
  });
});

describe('job groups', () => {
  it('runs its jobs side by side, and a model switch (abortAll) ends them all without a result', async () => {
    const jobs = createJobRegistry(createFakeEngine());
    const group = createJobGroup(jobs, 'attribute-example');
    const finished: string[] = [];
    const held = (value: string) => (job: Job) =>
      new Promise<string>((resolve, reject) => {
        job.signal.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError')));
        queueMicrotask(() => queueMicrotask(() => resolve(value)));
      });
    const finish = (outcome: JobOutcome<string>) => finished.push(outcome.kind === 'done' ? outcome.value : 'error');
    await Promise.all([group.run(held('a'), finish), group.run(held('b'), finish)]);
    expect(finished).toEqual(['a', 'b']);
    expect(group.pending).toBe(0);
    const both = Promise.all([group.run(held('c'), finish), group.run(held('d'), finish)]);
    expect(group.pending).toBe(2);
    jobs.abortAll();
    await both;
    expect(finished).toEqual(['a', 'b']);
    expect(group.pending).toBe(0);
  });
});

/**
 * "Your image" holds the image the current picture came from, and only that: a prior draw lets go of the
 * previous upload, so neither the input panel nor the views that analyse "the user image" show a stale one.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { analysisImage } from './teachingSlice';
import { connectRenderLoop } from './renderLoop';
import { createExplorerStore } from './store';
import { flush } from './testing/fakeEngine';
import { createTestDeps } from './testing/fakeDeps';

const cleanups: (() => void)[] = [];
afterEach(() => {
  while (cleanups.length) cleanups.pop()!();
});

describe('the input after a prior draw', () => {
  it('is cleared, so the analysis views take the generated image, and a new upload works as before', async () => {
    const deps = createTestDeps();
    const store = createExplorerStore(deps);
    cleanups.push(connectRenderLoop(store, deps.engine, deps.now));
    cleanups.push(() => store.getState().reset());
    await store.getState().start({});
    await store.getState().openImageFile(new File([new Uint8Array([191])], 'shoe.png', { type: 'image/png' }));
    await flush();
    expect(store.getState().source?.name).toBe('shoe.png');
    expect(analysisImage(store.getState())?.label).toBe('shoe.png');

    store.getState().sampleFromPrior(5);
    await flush();
    const state = store.getState();
    expect(state.referenceKind).toBe('sampled');
    expect(state.source).toBeNull();
    expect(state.reconstruction).toBeNull();
    expect(state.inputStatus.kind).toBe('idle');
    expect(analysisImage(state)?.label).toBe('the generated image');

    await store.getState().openImageFile(new File([new Uint8Array([100])], 'bag.png', { type: 'image/png' }));
    await flush();
    expect(store.getState().source?.name).toBe('bag.png');
    expect(store.getState().referenceKind).toBe('encoded');
  });
});

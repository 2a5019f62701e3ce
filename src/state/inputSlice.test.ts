/**
 * "Your image" holds the image the current picture came from, and only that: a prior draw lets go of the
 * previous upload, so neither the input panel nor the views that analyse "the user image" show a stale one.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { fileSizeProblem, MAX_FILE_BYTES } from '../app/imageInput';
import { analysisImage } from './teachingSlice';
import { connectRenderLoop } from './renderLoop';
import { createExplorerStore } from './store';
import { flush } from './testing/fakeEngine';
import { createTestDeps } from './testing/fakeDeps';

const cleanups: (() => void)[] = [];
afterEach(() => {
  while (cleanups.length) cleanups.pop()!();
});

/** A started store on its render loop, with shoe.png open. */
async function startedWithShoe() {
  const deps = createTestDeps();
  const store = createExplorerStore(deps);
  cleanups.push(connectRenderLoop(store, deps.engine, deps.now));
  cleanups.push(() => store.getState().reset());
  await store.getState().start({});
  await store.getState().openImageFile(new File([new Uint8Array([191])], 'shoe.png', { type: 'image/png' }));
  await flush();
  return store;
}

describe('the input after a prior draw', () => {
  it('is cleared, so the analysis views take the generated image, and a new upload works as before', async () => {
    const store = await startedWithShoe();
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

describe('a file over 64 MB', () => {
  it('is refused by its size before its bytes are read, and the previous image stays', async () => {
    const store = await startedWithShoe();
    const source = store.getState().source;
    expect(source?.name).toBe('shoe.png');

    // A Blob that says 65 MB without holding them: reading it would fail the test.
    let read = false;
    const huge = {
      size: 65 * 2 ** 20,
      type: 'image/png',
      arrayBuffer: () => {
        read = true;
        return Promise.resolve(new ArrayBuffer(0));
      },
    } as unknown as Blob;
    await store.getState().openImageFile(huge, 'holiday.png');
    expect(read).toBe(false);
    expect(store.getState().inputStatus).toEqual({
      kind: 'error',
      message: 'The file is 65.0 MB; images up to 64.0 MB are accepted.',
    });
    expect(store.getState().source).toBe(source);

    // The limit itself: 64 MB is accepted by size, one byte more is not.
    expect(fileSizeProblem(MAX_FILE_BYTES)).toBeNull();
    expect(fileSizeProblem(MAX_FILE_BYTES + 1)).toMatch(/^The file is .* MB; images up to 64.0 MB are accepted.$/);
  });
});

/**
 * Saving latents when storage fails: a quota error, an aborted transaction or a put() that throws synchronously
 * is reported once, the latent stays listed for this page but marked as not stored, and the Saved tab stops
 * promising that saved latents survive reloads (librarySlice.saveFailure).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { openExplorerDb, type ExplorerDb } from '../app/persistence';
import { connectRenderLoop } from './renderLoop';
import { createExplorerStore, type ExplorerStore } from './store';
import { flush } from './testing/fakeEngine';
import { createTestDeps } from './testing/fakeDeps';

const cleanups: (() => void)[] = [];
afterEach(() => {
  while (cleanups.length) cleanups.pop()!();
});

/** A store whose database fails putLatent as `putLatent` says (the rest of the database works). */
async function storeWithFailingPut(
  putLatent: ExplorerDb['putLatent'],
): Promise<{ store: ExplorerStore; attempts: () => number }> {
  const deps = createTestDeps();
  let attempts = 0;
  let failing = true;
  deps.openDb = async () => {
    const real = await openExplorerDb(deps.idb);
    return {
      ...real,
      putLatent: (latent) => {
        attempts += 1;
        return failing ? putLatent(latent) : real.putLatent(latent);
      },
    };
  };
  const store = createExplorerStore(deps);
  cleanups.push(connectRenderLoop(store, deps.engine, deps.now));
  cleanups.push(() => store.getState().reset());
  await store.getState().start({});
  await flush();
  cleanups.push(() => (failing = true));
  return {
    store,
    attempts: () => {
      failing = false;
      return attempts;
    },
  };
}

const quota = () => new DOMException('The quota has been exceeded.', 'QuotaExceededError');

describe('saving a latent when storage fails', () => {
  it.each([
    ['a quota error (rejected transaction)', () => Promise.reject(quota()), 'The quota has been exceeded.'],
    [
      'an aborted transaction',
      () => Promise.reject(new DOMException('The transaction was aborted.', 'AbortError')),
      'The transaction was aborted.',
    ],
    [
      'a put() that throws synchronously',
      () => {
        throw quota();
      },
      'The quota has been exceeded.',
    ],
  ])(
    '%s: a notice, the latent marked as not stored, and no promise that it survives reloads',
    async (_, putLatent, reason) => {
      const { store, attempts } = await storeWithFailingPut(putLatent as ExplorerDb['putLatent']);
      // The save itself resolves: nothing escapes as an uncaught error.
      await expect(store.getState().saveCurrentLatent('Coat')).resolves.toBeUndefined();
      const state = store.getState();
      expect(state.saveFailure).toBe(reason);
      expect(state.savedLatents.map((l) => l.name)).toEqual(['Coat']);
      expect(state.unstoredLatentIds).toEqual([state.savedLatents[0].id]);
      expect(state.notices.map((n) => [n.tone, n.text])).toContainEqual([
        'error',
        `The latent "Coat" could not be stored, so it lasts only until the page closes: ${reason}`,
      ]);

      // Storage recovers: the next save clears the failure; the earlier latent stays marked.
      attempts();
      await store.getState().saveCurrentLatent('Boot');
      expect(store.getState().saveFailure).toBeNull();
      expect(store.getState().unstoredLatentIds).toEqual([state.savedLatents[0].id]);
    },
  );
});

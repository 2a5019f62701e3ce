/**
 * Keeps the Saved list the same in every tab: when another tab saves or deletes a latent (ExplorerDb announces
 * it on a BroadcastChannel), this tab reads its list again. Runs outside React, like sessionSync.
 */
import type { ExplorerStore } from './store';

/** Starts listening once storage is open; returns the function that stops it. */
export function connectLibrarySync(store: ExplorerStore): () => void {
  let stop: (() => void) | null = null;
  let stopped = false;
  void store
    .getState()
    .database()
    .then((db) => {
      if (!db || stopped) return;
      stop = db.onLibraryChange(() => void store.getState().loadLibrary());
    });
  return () => {
    stopped = true;
    stop?.();
  };
}

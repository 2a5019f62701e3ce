/**
 * Saved latents (z, x_T and a thumbnail, per model) kept in IndexedDB, and the storage state the UI reports.
 * The working session itself is written by sessionSync.ts.
 */
import type { StateCreator } from 'zustand';
import type { SavedLatent } from '../app/persistence';
import type { SliceContext } from './deps';
import type { ExplorerState } from './store';
import { storedNoise } from './latentSlice';
import type { LatentSnapshot } from './types';
import { describeError } from './describeError';

export type StorageState = 'unknown' | 'ready' | 'unavailable';

export interface LibrarySlice {
  savedLatents: SavedLatent[];
  storage: StorageState;
  /**
   * Why the last failed save of a latent failed (quota, an aborted transaction, a put() that threw), until a later
   * save succeeds; null when saving works. The Saved tab then stops promising that saved latents survive reloads.
   */
  saveFailure: string | null;
  /** Ids of listed latents whose save failed: they last only until the page closes. */
  unstoredLatentIds: string[];

  /** Reads this model's saved latents from storage (at load, and when another tab changed them). */
  loadLibrary(): Promise<void>;
  saveCurrentLatent(name?: string): Promise<void>;
  deleteSavedLatent(id: string): Promise<void>;
  restoreSavedLatent(id: string): void;
  /** The (z, x_T) pair a saved latent holds, as a snapshot renders take. */
  snapshotOfSaved(saved: SavedLatent): LatentSnapshot | null;
}

export function createLibrarySlice({ db, deps }: SliceContext): StateCreator<ExplorerState, [], [], LibrarySlice> {
  return (set, get) => ({
    savedLatents: [],
    storage: 'unknown',
    saveFailure: null,
    unstoredLatentIds: [],

    async loadLibrary() {
      const modelId = get().model?.id;
      const storage = await db();
      if (!modelId || !storage) return;
      try {
        const stored = await storage.listLatents(modelId);
        // Latents whose save failed exist only in this tab's list; a reload of the list keeps them.
        const unstored = get().savedLatents.filter(
          (l) => get().unstoredLatentIds.includes(l.id) && l.modelId === modelId,
        );
        if (get().model?.id === modelId) set({ savedLatents: [...stored, ...unstored] });
      } catch (error) {
        get().addNotice('warning', `Saved latents could not be read: ${describeError(error)}`);
      }
    },

    async saveCurrentLatent(name) {
      const { model, z, noise, frame, steps, savedLatents } = get();
      if (!model || !noise || !frame) return;
      const createdAt = Date.now();
      const latent: SavedLatent = {
        id: `${model.id}-${createdAt.toString(36)}-${Math.round(deps.now() * 1000).toString(36)}`,
        modelId: model.id,
        name: name?.trim() || `Latent ${savedLatents.length + 1}`,
        z,
        noise: noise.origin,
        xNoise: noise.xNoise,
        stochastic: noise.stochastic,
        steps,
        thumbnail: frame.rgba,
        thumbnailSize: frame.size,
        createdAt,
      };
      set({ savedLatents: [...savedLatents, latent] });
      const storage = await db();
      if (!storage) {
        get().addNotice(
          'warning',
          'Storage is unavailable in this browser: the saved latent lasts until the page is closed.',
        );
        return;
      }
      try {
        // Inside try, so a put() that throws before it returns a promise is caught like a rejected one.
        await storage.putLatent(latent);
        if (get().saveFailure !== null) set({ saveFailure: null });
      } catch (error) {
        const reason = describeError(error);
        set({ saveFailure: reason, unstoredLatentIds: [...get().unstoredLatentIds, latent.id] });
        get().addNotice(
          'error',
          `The latent "${latent.name}" could not be stored, so it lasts only until the page closes: ${reason}`,
        );
      }
    },

    async deleteSavedLatent(id) {
      set({
        savedLatents: get().savedLatents.filter((l) => l.id !== id),
        unstoredLatentIds: get().unstoredLatentIds.filter((u) => u !== id),
      });
      const storage = await db();
      await storage
        ?.deleteLatent(id)
        .catch((error: unknown) =>
          get().addNotice('error', `The latent could not be deleted from storage: ${describeError(error)}`),
        );
    },

    restoreSavedLatent(id) {
      const saved = get().savedLatents.find((l) => l.id === id);
      const snapshot = saved ? get().snapshotOfSaved(saved) : null;
      if (snapshot) get().applySnapshot(snapshot, 'saved');
    },

    snapshotOfSaved(saved) {
      const metadata = get().model?.metadata;
      if (!metadata || saved.z.length !== metadata.architecture.latentDim) return null;
      return { z: saved.z, noise: storedNoise(saved.noise, `saved:${saved.id}`, saved) };
    },
  });
}

/**
 * Named hooks over the own-attribute slice (attributeSlice.ts), as hooks.ts does for the rest of the store. Each
 * hook's doc says what makes it re-render.
 */
import { useStore } from 'zustand';
import { useShallow } from 'zustand/react/shallow';
import { directionScore } from '../latent/attributeFit';
import { principalAxis } from '../latent/principal';
import { currentEdit, editSize } from './editSlice';
import { useStoreApi } from './hooks';
import type { ExplorerState } from './store';

const selectOwnAttributes = (s: ExplorerState) => s.ownAttributes;
/** The loaded model's own attributes. Re-renders when one is added, deleted or imported. */
export const useOwnAttributes = () => useStore(useStoreApi(), selectOwnAttributes);

/** The score of own attribute `id` for the current z, or null. Re-renders when that score changes. */
export const useOwnAttributeScore = (id: string) =>
  useStore(useStoreApi(), (s) => {
    const attribute = s.ownAttributes.find((a) => a.id === id);
    return attribute && attribute.vector.length === s.z.length ? directionScore(s.z, attribute) : null;
  });

const selectDraft = (s: ExplorerState) => ({
  draft: s.attributeDraft,
  exampleStatus: s.exampleStatus,
  attributeImport: s.attributeImport,
});
/** The draft attribute (name, examples, fit), encoding progress and the last import. Re-renders when any changes. */
export const useAttributeDraft = () => useStore(useStoreApi(), useShallow(selectDraft));

const selectPrincipal = (s: ExplorerState) => ({ principal: s.principal, ranking: s.principalRanking });
/** The model's principal directions and their ranking. Re-renders when either changes. */
export const usePrincipal = () => useStore(useStoreApi(), useShallow(selectPrincipal));

/**
 * The current code's coordinate along principal direction k, from the training mean, or null. Re-renders when it
 * changes.
 */
export const usePrincipalScore = (k: number) =>
  useStore(useStoreApi(), (s) => {
    const metadata = s.model?.metadata;
    if (!s.principal || !metadata || k >= s.principal.components.length || s.z.length !== metadata.latent.mean.length)
      return null;
    return directionScore(s.z, principalAxis(s.principal, k, metadata.latent.mean));
  });

const selectEdits = (s: ExplorerState) => ({
  transfer: s.editTransfer,
  savedEdits: s.savedEdits,
  hasReference: s.zReference !== null,
});
/** Edit transfer (source, strength, target, before/after) and the saved edits. Re-renders when any changes. */
export const useEditTransfer = () => useStore(useStoreApi(), useShallow(selectEdits));

/** The size |z - zReference| of the current image's edit, or null when it has none. Re-renders when it changes. */
export const useCurrentEditSize = () =>
  useStore(useStoreApi(), (s) => {
    const delta = currentEdit(s);
    return delta ? editSize(delta) : null;
  });

const selectSwapGrid = (s: ExplorerState) => s.swapGrid;
/** The z versus x_T grid: its images, its cells and progress. Re-renders when any changes. */
export const useSwapGrid = () => useStore(useStoreApi(), selectSwapGrid);

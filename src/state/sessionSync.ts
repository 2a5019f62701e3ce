/**
 * Writes the working session (z, locks, x_T, steps, previews setting) of the loaded model to IndexedDB whenever it settles, so a
 * reload, a crash or a lost GPU loses nothing. Runs outside React as a store subscription; writes wait until
 * no slider is held and the values have been still for a moment, so a drag costs one write, not hundreds.
 */
import type { SessionRecord } from '../app/persistence';
import type { ExplorerStore, ExplorerState } from './store';
import { describeError } from './describeError';

/** Quiet time before a write. */
export const SESSION_WRITE_DELAY_MS = 400;

export function sessionRecordOf(state: ExplorerState): SessionRecord | null {
  const { model, z, noise } = state;
  if (!model || !noise || z.length !== model.metadata.architecture.latentDim) return null;
  return {
    modelId: model.id,
    z,
    zEncoded: state.referenceKind === 'encoded' ? state.zReference : null,
    locked: state.locked,
    noise: noise.origin,
    xNoise: noise.xNoise,
    stochastic: noise.stochastic,
    steps: state.steps,
    previews: state.previewDecoder,
    updatedAt: Date.now(),
  };
}

/** Starts syncing; returns the function that stops it (flushing a pending write first). */
export function connectSessionSync(store: ExplorerStore): () => void {
  let timer: ReturnType<typeof setTimeout> | null = null;

  async function write(): Promise<void> {
    timer = null;
    const record = sessionRecordOf(store.getState());
    const storage = record ? await store.getState().database() : null;
    if (!record || !storage) return;
    await storage.putSession(record).catch((error: unknown) => {
      store.getState().addNotice('warning', `The session could not be stored: ${describeError(error)}`);
    });
  }

  const unsubscribe = store.subscribe((state, previous) => {
    const changed =
      state.z !== previous.z ||
      state.locked !== previous.locked ||
      state.noise !== previous.noise ||
      state.steps !== previous.steps ||
      state.previewDecoder !== previous.previewDecoder;
    const released = previous.adjusting && !state.adjusting;
    if ((!changed && !released) || state.adjusting) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => void write(), SESSION_WRITE_DELAY_MS);
  });
  return () => {
    unsubscribe();
    if (timer) {
      clearTimeout(timer);
      void write();
    }
  };
}

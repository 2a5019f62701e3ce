/**
 * Keeps the page URL equal to the state that makes the current image (model, z, x_T source, steps), so copying
 * the address bar shares it. history.replaceState only: exploring does not fill the back button, and writes
 * wait until no slider is held.
 */
import type { ExplorerState, ExplorerStore } from '../state/store';
import { formatShareState, type ShareState } from './shareState';

export function shareStateOf(state: ExplorerState): ShareState {
  return {
    model: state.model?.id,
    backend: state.backendChoice,
    z: state.z.length > 0 ? state.z : undefined,
    noise: state.noise?.origin ?? undefined,
    steps: state.steps,
  };
}

/** Starts syncing; returns the function that stops it. */
export function connectUrlSync(store: ExplorerStore, history: History, location: Location): () => void {
  return store.subscribe((state, previous) => {
    if (state.adjusting || !state.model) return;
    const changed =
      state.z !== previous.z ||
      state.noise !== previous.noise ||
      state.steps !== previous.steps ||
      state.model !== previous.model ||
      state.backendChoice !== previous.backendChoice ||
      previous.adjusting;
    if (!changed) return;
    const search = formatShareState(shareStateOf(state), location.search);
    if (search !== location.search) history.replaceState(history.state, '', `${location.pathname}${search}${location.hash}`);
  });
}

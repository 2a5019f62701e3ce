/**
 * Keeps the page URL equal to the state that makes the current image (model, z, x_T source, steps), so copying
 * the address bar shares it. history.replaceState only: exploring does not fill the back button, and writes
 * wait until no slider is held.
 */
import type { ExplorerState, ExplorerStore } from './store';
import { formatShareState, type ShareState } from '../app/shareState';

export function shareStateOf(state: ExplorerState): ShareState {
  return {
    model: state.model?.id,
    backend: state.backendChoice,
    z: state.z.length > 0 ? state.z : undefined,
    noise: state.noise?.origin ?? undefined,
    steps: state.steps,
  };
}

/**
 * Whether a link to this state shows anyone else the image on screen. An uploaded image's x_T lives only in this
 * browser, so the link carries z and the upload's id, and anyone else sees z decoded from seeded noise instead: a
 * different picture. What does travel: z with x_T from a seed (`seededSearch`, the same picture for everyone, not
 * this one), or the image itself as a PNG file.
 */
export type LinkTravel = { travels: true } | { travels: false; seed: number; seededSearch: string };

export function linkTravel(state: ExplorerState, currentSearch: string): LinkTravel {
  if (state.noise?.origin?.kind !== 'upload') return { travels: true };
  const seed = state.seed;
  return {
    travels: false,
    seed,
    seededSearch: formatShareState({ ...shareStateOf(state), noise: { kind: 'seed', seed } }, currentSearch),
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
    if (search !== location.search)
      history.replaceState(history.state, '', `${location.pathname}${search}${location.hash}`);
  });
}

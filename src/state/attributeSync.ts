/**
 * Own attributes (attributeSlice.ts) follow the loaded model: each model's are read from storage when it loads,
 * and a link's `attr` values are added for the model the link opened. The page URL carries the loaded model's own
 * attributes (at most MAX_LINK_ATTRIBUTES, the newest), so a copied link gives them to whoever opens it. Other
 * query parameters are left as they are (urlSync.ts keeps parameters it does not own, such as this one).
 */
import { formatAttributeParam, MAX_LINK_ATTRIBUTES, type OwnAttribute } from '../latent/ownAttribute';
import type { ExplorerStore } from './store';

export const ATTRIBUTE_PARAM = 'attr';

/** The `attr` values of a query string. */
export function linkAttributeValues(search: string): string[] {
  return new URLSearchParams(search).getAll(ATTRIBUTE_PARAM);
}

/** `search` with its `attr` values replaced by these attributes'. */
export function withAttributeParams(search: string, attributes: readonly OwnAttribute[]): string {
  const params = new URLSearchParams(search);
  params.delete(ATTRIBUTE_PARAM);
  for (const attribute of attributes.slice(-MAX_LINK_ATTRIBUTES))
    params.append(ATTRIBUTE_PARAM, formatAttributeParam(attribute));
  const text = params.toString().replaceAll('%2C', ',').replaceAll('%3A', ':').replaceAll('%7E', '~');
  return text ? `?${text}` : '';
}

/**
 * Starts following the model; returns the function that stops it.
 * @param linkSearch the query string the page opened with: its `attr` values apply to the first model loaded.
 */
export function connectAttributeSync(
  store: ExplorerStore,
  linkSearch: string,
  location?: Pick<Location, 'pathname' | 'search' | 'hash'>,
  history?: Pick<History, 'replaceState' | 'state'>,
): () => void {
  let pendingLink = linkAttributeValues(linkSearch);
  let modelId: string | null = null;
  return store.subscribe((state, previous) => {
    const id = state.model?.id ?? null;
    if (id !== modelId) {
      modelId = id;
      state.clearOwnAttributes();
      state.clearPrincipalRanking();
      state.clearEdits();
      state.clearSwapGrid();
      if (id) {
        store.getState().preparePrincipal();
        void store.getState().loadSavedEdits();
        const link = pendingLink;
        pendingLink = [];
        void state.loadOwnAttributes().then(() => store.getState().applyLinkAttributes(link));
      }
      return;
    }
    if (!location || !history || !state.model) return;
    if (state.ownAttributes === previous.ownAttributes && !(previous.adjusting && !state.adjusting)) return;
    if (state.adjusting) return;
    const search = withAttributeParams(location.search, state.ownAttributes);
    if (search !== location.search)
      history.replaceState(history.state, '', `${location.pathname}${search}${location.hash}`);
  });
}

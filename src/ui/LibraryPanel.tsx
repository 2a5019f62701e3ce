import { useAction, useLibrary } from '../state/hooks';
import type { StorageState } from '../state/librarySlice';
import { PixelCanvas } from './PixelCanvas';

/** What the Saved tab promises about keeping latents: only what storage has actually done. */
function keepingText(storage: StorageState, saveFailure: string | null): string {
  if (storage === 'unavailable') return 'storage is unavailable here, so only until the page closes';
  if (saveFailure !== null)
    return 'but the last save failed, so what is marked "not stored" lasts only until the page closes';
  return 'they survive reloads';
}

/** Saved latents of this model, kept in the browser: make one current, use it as an endpoint, or delete it. */
export function LibraryPanel() {
  const { savedLatents, storage, saveFailure, unstoredLatentIds } = useLibrary();
  const restoreSavedLatent = useAction('restoreSavedLatent');
  const deleteSavedLatent = useAction('deleteSavedLatent');
  const setEndpointFromSaved = useAction('setEndpointFromSaved');
  return (
    <div className="tool-body">
      <div className="explain">
        <h3>Saved latents</h3>
        <p>
          &quot;Save latent&quot; keeps the current z and its noise x<sub>T</sub> in this browser (
          {keepingText(storage, saveFailure)}). Your uploaded images and the current session are kept the same way.
        </p>
        {saveFailure !== null && (
          <p className="library-save-failure" role="alert">
            Saving failed: {saveFailure.replace(/\.$/, '')}. Free some browser storage (or leave private browsing) and
            save again.
          </p>
        )}
      </div>
      {savedLatents.length === 0 ? (
        <p className="hint">Nothing saved yet.</p>
      ) : (
        <ul className="library" aria-label="Saved latents">
          {savedLatents.map((latent) => (
            <li key={latent.id} className="library-item">
              <PixelCanvas frame={{ rgba: latent.thumbnail, size: latent.thumbnailSize }} label={latent.name} />
              <span className="library-name">
                {latent.name}
                {unstoredLatentIds.includes(latent.id) && <span className="library-unstored"> (not stored)</span>}
              </span>
              <div className="library-actions">
                <button
                  type="button"
                  className="button button-small"
                  onClick={() => restoreSavedLatent(latent.id)}
                  aria-label={`Use ${latent.name}`}
                >
                  Use
                </button>
                <button
                  type="button"
                  className="button button-secondary button-small"
                  onClick={() => setEndpointFromSaved('a', latent.id)}
                  aria-label={`Set ${latent.name} as A`}
                >
                  As A
                </button>
                <button
                  type="button"
                  className="button button-secondary button-small"
                  onClick={() => setEndpointFromSaved('b', latent.id)}
                  aria-label={`Set ${latent.name} as B`}
                >
                  As B
                </button>
                <button
                  type="button"
                  className="button button-quiet button-small"
                  onClick={() => void deleteSavedLatent(latent.id)}
                  aria-label={`Delete ${latent.name}`}
                >
                  Delete
                </button>
              </div>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

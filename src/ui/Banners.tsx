import { useAction, useEngineFailure, useNotices } from '../state/hooks';

/** The engine failed under a loaded model: what happened and the ways back. Everything the user made stays. */
export function EngineFailureBanner() {
  const failure = useEngineFailure();
  const reloadModel = useAction('reloadModel');
  if (!failure) return null;
  return (
    <div className="banner banner-error" role="alert">
      <div>
        <strong>The image engine stopped.</strong> {failure} Your latents, images and edits are kept.
      </div>
      <div className="banner-actions">
        <button type="button" className="button" onClick={() => void reloadModel()}>
          Reload the model
        </button>
        <button type="button" className="button button-secondary" onClick={() => void reloadModel('wasm')}>
          Continue without the GPU
        </button>
      </div>
    </div>
  );
}

/** Messages that belong to no single control (a link that did not apply, storage unavailable). */
export function Notices() {
  const notices = useNotices();
  const dismissNotice = useAction('dismissNotice');
  if (notices.length === 0) return null;
  return (
    <ul className="notices" aria-label="Messages">
      {notices.map((notice) => (
        <li
          key={notice.id}
          className={`banner banner-${notice.tone}`}
          role={notice.tone === 'error' ? 'alert' : 'status'}
        >
          <span>{notice.text}</span>
          <button
            type="button"
            className="button button-quiet"
            onClick={() => dismissNotice(notice.id)}
            aria-label={`Dismiss: ${notice.text}`}
          >
            Dismiss
          </button>
        </li>
      ))}
    </ul>
  );
}

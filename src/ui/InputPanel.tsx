import { useEffect, useState, type DragEvent } from 'react';
import { useAction, useInput, useLoadedModel } from '../state/hooks';
import type { LoadedModel } from '../state/modelSlice';
import { PixelCanvas } from './PixelCanvas';
import { TaskStatusLine } from './TaskStatusLine';
import { useObjectUrl } from './useObjectUrl';

/** The first image file among the clipboard's or a drop's items. */
function firstImageFile(data: DataTransfer | null): File | null {
  if (!data) return null;
  return [...data.files].find((file) => file.type.startsWith('image/')) ?? data.files[0] ?? null;
}

function GalleryThumb({ model, index }: { model: LoadedModel; index: number }) {
  const openGalleryItem = useAction('openGalleryItem');
  const item = model.metadata.gallery[index];
  const assetBytes = model.origin.kind === 'files' ? model.origin.assets[item.file] : null;
  const objectUrl = useObjectUrl(assetBytes, 'image/png');
  const src = model.origin.kind === 'files' ? objectUrl : new URL(item.file, model.origin.baseUrl).href;
  return (
    <li>
      <button
        type="button"
        className="gallery-item"
        onClick={() => void openGalleryItem(index)}
        aria-label={`Gallery image ${index + 1}: ${item.label}`}
        title={item.label}
      >
        {src ? <img src={src} alt="" /> : <span className="gallery-missing">?</span>}
      </button>
    </li>
  );
}

/** The user's image in: upload, drag and drop, paste, or the model's gallery; then what the model sees and its reconstruction. */
export function InputPanel() {
  const model = useLoadedModel();
  const { source, inputStatus, reconstruction, reconstructionFidelity } = useInput();
  const openImageFile = useAction('openImageFile');
  const cancelInput = useAction('cancelInput');
  const [dragging, setDragging] = useState(false);
  const originalUrl = useObjectUrl(source?.bytes, source?.mimeType ?? 'image/png');
  const ready = model !== null;

  useEffect(() => {
    if (!ready) return;
    const onPaste = (event: ClipboardEvent) => {
      const file = firstImageFile(event.clipboardData);
      if (!file) return;
      event.preventDefault();
      void openImageFile(file, file.name && file.name !== 'image.png' ? file.name : 'pasted image');
    };
    window.addEventListener('paste', onPaste);
    return () => window.removeEventListener('paste', onPaste);
  }, [ready, openImageFile]);

  const onDrop = (event: DragEvent) => {
    event.preventDefault();
    setDragging(false);
    const file = firstImageFile(event.dataTransfer);
    if (file) void openImageFile(file);
    else
      void openImageFile(new Blob([event.dataTransfer.getData('text/plain')], { type: 'text/plain' }), 'dropped text');
  };

  const preview = source ? { rgba: source.prepared.preview, size: model?.metadata.preprocessing.imageSize ?? 0 } : null;
  return (
    <section className="card input-panel" aria-labelledby="input-heading">
      <h2 id="input-heading">Your image</h2>
      <div
        className={`drop-zone ${dragging ? 'drop-zone-active' : ''}`}
        onDragOver={(event) => {
          event.preventDefault();
          setDragging(true);
        }}
        onDragLeave={() => setDragging(false)}
        onDrop={onDrop}
        data-testid="input.dropzone"
      >
        <label className={`button ${ready ? '' : 'button-disabled'}`}>
          Upload image
          <input
            type="file"
            accept="image/*"
            className="visually-hidden"
            aria-label="Upload image"
            disabled={!ready}
            onChange={(event) => {
              const file = event.target.files?.[0];
              event.target.value = '';
              if (file) void openImageFile(file);
            }}
          />
        </label>
        <p className="hint">
          or drop an image here, or paste one ({navigator.platform.startsWith('Mac') ? '⌘' : 'Ctrl'}+V)
        </p>
      </div>

      {model && model.metadata.gallery.length > 0 && (
        <>
          <h3>Gallery</h3>
          <ul className="gallery" aria-label="Gallery">
            {model.metadata.gallery.map((item, index) => (
              <GalleryThumb key={item.file} model={model} index={index} />
            ))}
          </ul>
        </>
      )}

      <TaskStatusLine status={inputStatus} onCancel={cancelInput} name="encoding" />

      {source && (
        <div className="source-views">
          <figure>
            {originalUrl && <img src={originalUrl} alt={`Original: ${source.name}`} className="source-original" />}
            <figcaption>Original</figcaption>
          </figure>
          <figure>
            <PixelCanvas frame={preview} label="What the model sees" />
            <figcaption>Model input</figcaption>
          </figure>
          <figure>
            <PixelCanvas frame={reconstruction} label="Reconstruction" />
            <figcaption>
              Reconstruction
              {reconstructionFidelity && (
                <span
                  className="fidelity"
                  title={`PSNR against the model input after DDIM inversion and decoding at ${reconstructionFidelity.steps} steps; more steps reconstruct more faithfully`}
                >
                  {' · '}
                  {reconstructionFidelity.psnr.toFixed(1)} dB
                </span>
              )}
            </figcaption>
          </figure>
        </div>
      )}
      {source && (
        <>
          <p className="source-name">
            {source.name} · {source.prepared.sourceWidth} × {source.prepared.sourceHeight}{' '}
            {source.prepared.format.toUpperCase()}
          </p>
          {source.prepared.notes.length > 0 && (
            <ul className="notes" aria-label="Preprocessing notes">
              {source.prepared.notes.map((note) => (
                <li key={note}>{note}</li>
              ))}
            </ul>
          )}
        </>
      )}
      {!source && ready && (
        <p className="hint">
          Encoding an image gives its latent z; DDIM inversion with that z gives the noise x_T it decodes from.
        </p>
      )}
    </section>
  );
}

import { useId, useRef, useState } from 'react';
import { useLibrary, useModelMetadata } from '../state/hooks';

interface ImagePickerProps {
  /** Names the picker's controls: "Target" gives "Target gallery image", "Use gallery image as target"… */
  purpose: string;
  /** The verb on the buttons ("Apply to", "Add"). */
  verb: string;
  onGallery: (index: number) => void;
  onSaved: (id: string) => void;
  onFile: (file: File) => void;
  onCurrent?: () => void;
}

/** Choose an image the app holds (gallery, saved latent, the current image) or a file, for a tool. */
export function ImagePicker({ purpose, verb, onGallery, onSaved, onFile, onCurrent }: ImagePickerProps) {
  const metadata = useModelMetadata();
  const { savedLatents } = useLibrary();
  const [galleryIndex, setGalleryIndex] = useState(0);
  const [savedId, setSavedId] = useState('');
  const galleryId = useId();
  const savedSelectId = useId();
  const fileInput = useRef<HTMLInputElement>(null);
  const gallery = metadata?.gallery ?? [];
  const chosenSaved = savedLatents.find((l) => l.id === savedId) ?? savedLatents[0];
  return (
    <div className="example-sources">
      {onCurrent && (
        <div className="example-source">
          <span>Current image</span>
          <button type="button" className="button button-small" onClick={onCurrent}>
            {verb} current image
          </button>
        </div>
      )}
      {gallery.length > 0 && (
        <div className="example-source">
          <label htmlFor={galleryId}>{purpose} gallery image</label>
          <select id={galleryId} value={galleryIndex} onChange={(event) => setGalleryIndex(Number(event.target.value))}>
            {gallery.map((item, index) => (
              <option key={item.file} value={index}>
                {index + 1}. {item.label.length > 40 ? `${item.label.slice(0, 40)}…` : item.label}
              </option>
            ))}
          </select>
          <button type="button" className="button button-small" onClick={() => onGallery(galleryIndex)}>
            {verb} gallery image
          </button>
        </div>
      )}
      {savedLatents.length > 0 && chosenSaved && (
        <div className="example-source">
          <label htmlFor={savedSelectId}>{purpose} saved latent</label>
          <select id={savedSelectId} value={chosenSaved.id} onChange={(event) => setSavedId(event.target.value)}>
            {savedLatents.map((latent) => (
              <option key={latent.id} value={latent.id}>
                {latent.name}
              </option>
            ))}
          </select>
          <button type="button" className="button button-small" onClick={() => onSaved(chosenSaved.id)}>
            {verb} saved latent
          </button>
        </div>
      )}
      <div className="example-source">
        <span>A file</span>
        <button
          type="button"
          className="button button-secondary button-small"
          onClick={() => fileInput.current?.click()}
        >
          {verb} an image file…
        </button>
        <input
          ref={fileInput}
          type="file"
          accept="image/*"
          aria-label={`${purpose} image file`}
          className="visually-hidden-input"
          onChange={(event) => {
            const file = event.target.files?.[0];
            event.target.value = '';
            if (file) onFile(file);
          }}
        />
      </div>
    </div>
  );
}

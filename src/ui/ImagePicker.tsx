import { useRef } from 'react';
import { useImageSources } from './ImageSourceSelect';

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
  const fileInput = useRef<HTMLInputElement>(null);
  const { galleryIndex, gallerySelect, chosenSaved, savedSelect } = useImageSources({
    gallery: `${purpose} gallery image`,
    saved: `${purpose} saved latent`,
  });
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
      {gallerySelect && (
        <div className="example-source">
          {gallerySelect}
          <button type="button" className="button button-small" onClick={() => onGallery(galleryIndex)}>
            {verb} gallery image
          </button>
        </div>
      )}
      {savedSelect && chosenSaved && (
        <div className="example-source">
          {savedSelect}
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

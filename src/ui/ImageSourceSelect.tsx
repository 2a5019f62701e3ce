/**
 * The labelled choosers of the images a tool can take: a gallery image of the model, or a saved latent. The
 * attribute panel and the image picker of the other tools both show them, with their own buttons beside them.
 */
import { useId, useState, type ReactElement } from 'react';
import type { GalleryItem } from '../model/metadata';
import type { SavedLatent } from '../app/persistence';
import { useLibrary, useModelMetadata } from '../state/hooks';

/** "1. Label", shortened to 40 characters. */
function galleryOption(item: GalleryItem, index: number): string {
  return `${index + 1}. ${item.label.length > 40 ? `${item.label.slice(0, 40)}…` : item.label}`;
}

function GallerySelect(props: {
  id: string;
  label: string;
  gallery: readonly GalleryItem[];
  index: number;
  onChange: (index: number) => void;
}) {
  const { id, label, gallery, index, onChange } = props;
  return (
    <>
      <label htmlFor={id}>{label}</label>
      <select id={id} value={index} onChange={(event) => onChange(Number(event.target.value))}>
        {gallery.map((item, i) => (
          <option key={item.file} value={i}>
            {galleryOption(item, i)}
          </option>
        ))}
      </select>
    </>
  );
}

function SavedLatentSelect(props: {
  id: string;
  label: string;
  latents: readonly SavedLatent[];
  value: string;
  onChange: (id: string) => void;
}) {
  const { id, label, latents, value, onChange } = props;
  return (
    <>
      <label htmlFor={id}>{label}</label>
      <select id={id} value={value} onChange={(event) => onChange(event.target.value)}>
        {latents.map((latent) => (
          <option key={latent.id} value={latent.id}>
            {latent.name}
          </option>
        ))}
      </select>
    </>
  );
}

export interface ImageSources {
  /** The gallery image chosen, and its chooser (null when the model has no gallery). */
  galleryIndex: number;
  gallerySelect: ReactElement | null;
  /** The saved latent chosen (the first until another is), and its chooser; null when none is saved. */
  chosenSaved: SavedLatent | null;
  savedSelect: ReactElement | null;
}

/** The gallery and saved-latent choosers of a tool, labelled `labels.gallery` and `labels.saved`. */
export function useImageSources(labels: { gallery: string; saved: string }): ImageSources {
  const metadata = useModelMetadata();
  const { savedLatents } = useLibrary();
  const [galleryIndex, setGalleryIndex] = useState(0);
  const [savedId, setSavedId] = useState('');
  const galleryId = useId();
  const savedSelectId = useId();
  const gallery = metadata?.gallery ?? [];
  const chosenSaved = savedLatents.find((l) => l.id === savedId) ?? savedLatents[0] ?? null;
  return {
    galleryIndex,
    gallerySelect:
      gallery.length > 0 ? (
        <GallerySelect
          id={galleryId}
          label={labels.gallery}
          gallery={gallery}
          index={galleryIndex}
          onChange={setGalleryIndex}
        />
      ) : null,
    chosenSaved,
    savedSelect: chosenSaved ? (
      <SavedLatentSelect
        id={savedSelectId}
        label={labels.saved}
        latents={savedLatents}
        value={chosenSaved.id}
        onChange={setSavedId}
      />
    ) : null,
  };
}

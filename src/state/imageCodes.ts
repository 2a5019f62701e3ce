/**
 * The codes of images the app holds but has not made current (gallery items, uploaded files): their bytes, their
 * z from the encoder and, where a tool needs it, their inverted x_T. The input slice does the same for the image it
 * makes current; these leave the current image alone, on their own engine channels.
 */
import { fileSizeProblem } from '../app/imageInput';
import { uploadId } from '../app/persistence';
import type { ModelMetadata } from '../model/metadata';
import type { ExplorerDeps } from './deps';
import type { LoadedModel } from './modelSlice';
import type { ExplorerState } from './store';
import type { NoiseState } from './types';

/** A gallery file's bytes, from the server or from the files the model was opened from. */
export async function galleryFileBytes(model: LoadedModel, deps: ExplorerDeps, file: string): Promise<ArrayBuffer> {
  const origin = model.origin;
  if (origin.kind === 'files') {
    const bytes = origin.assets[file];
    if (!bytes)
      throw new Error(
        `${file} was not among the files the model was opened from (open the whole folder to get its gallery)`,
      );
    return bytes;
  }
  return deps.fetchBytes(new URL(file, origin.baseUrl).href);
}

export interface EncodedImage {
  z: number[];
  /** What the model sees, RGBA at the model's size. */
  thumbnail: { rgba: Uint8ClampedArray; size: number };
  /** Model-space pixels (NHWC without N), for an inversion. */
  pixels: Float32Array;
}

/** Preprocesses and encodes image bytes; rejects with the loader's or the engine's message. */
export async function encodeImageBytes(
  deps: ExplorerDeps,
  metadata: ModelMetadata,
  bytes: ArrayBuffer,
  mimeType: string,
  signal: AbortSignal,
): Promise<EncodedImage> {
  const prepared = await deps.prepareImage(new Uint8Array(bytes), mimeType, metadata.preprocessing);
  const { imageSize, channels } = metadata.preprocessing;
  const encoded = await deps.engine.encode(
    { shape: [1, imageSize, imageSize, channels], data: prepared.pixels },
    { signal },
  );
  return {
    z: Array.from(encoded.z.data),
    thumbnail: { rgba: prepared.preview, size: imageSize },
    pixels: prepared.pixels,
  };
}

/**
 * x_T of an encoded image by DDIM inversion with its own z (η = 0 decoding reproduces it), named `id` in render
 * keys. `steps` as the main view's.
 */
export async function invertEncoded(
  deps: ExplorerDeps,
  metadata: ModelMetadata,
  image: Pick<EncodedImage, 'z' | 'pixels'>,
  steps: number,
  id: string,
  signal: AbortSignal,
): Promise<NoiseState> {
  const { imageSize, channels } = metadata.preprocessing;
  const inverted = await deps.engine.invert(
    { shape: [1, imageSize, imageSize, channels], data: image.pixels },
    { steps, z: { shape: [1, image.z.length], data: Float32Array.from(image.z) } },
    { signal },
  );
  return { id: `${id}:s${steps}`, origin: null, xNoise: inverted.xNoise.data, stochastic: null };
}

/** An image a tool works on: its code z, its x_T (inverted, or the noise it was drawn from) and a thumbnail. */
export interface PickedImage {
  /** 'gallery:3', 'saved:<id>', 'upload:<id>', 'current:<noise id>'. */
  key: string;
  label: string;
  z: number[];
  noise: NoiseState;
  thumbnail: { rgba: Uint8ClampedArray; size: number } | null;
}

/** The current image (its z as edited, and its x_T), or null before there is one. */
export function pickCurrentImage(state: ExplorerState): PickedImage | null {
  const { z, noise, frame, source, referenceKind } = state;
  if (!noise || z.length === 0) return null;
  const label =
    source && referenceKind === 'encoded'
      ? source.name
      : noise.origin?.kind === 'seed'
        ? `seed ${noise.origin.seed}`
        : 'current image';
  return {
    key: `current:${noise.id}:${z.map((v) => v.toPrecision(6)).join(',')}`,
    label,
    z,
    noise,
    thumbnail: frame ? { rgba: frame.rgba, size: frame.size } : null,
  };
}

/** A saved latent's (z, x_T) and thumbnail, or null if it does not fit the model. */
export function pickSavedImage(state: ExplorerState, latentId: string): PickedImage | null {
  const saved = state.savedLatents.find((l) => l.id === latentId);
  const snapshot = saved ? state.snapshotOfSaved(saved) : null;
  if (!saved || !snapshot) return null;
  return {
    key: `saved:${saved.id}`,
    label: saved.name,
    ...snapshot,
    thumbnail: { rgba: saved.thumbnail, size: saved.thumbnailSize },
  };
}

/** Encodes and inverts image bytes (a gallery file or an upload) at `steps`; the current image stays. */
async function pickBytes(
  model: LoadedModel,
  deps: ExplorerDeps,
  bytes: ArrayBuffer,
  mimeType: string,
  key: string,
  label: string,
  steps: number,
  signal: AbortSignal,
): Promise<PickedImage> {
  const encoded = await encodeImageBytes(deps, model.metadata, bytes, mimeType, signal);
  const noise = await invertEncoded(deps, model.metadata, encoded, steps, key, signal);
  return { key, label, z: encoded.z, noise, thumbnail: encoded.thumbnail };
}

/** Gallery image `index`, encoded and inverted. */
export async function pickGalleryImage(
  state: ExplorerState,
  deps: ExplorerDeps,
  index: number,
  signal: AbortSignal,
): Promise<PickedImage> {
  const model = state.model;
  const item = model?.metadata.gallery[index];
  if (!model || !item) throw new Error(`the model's gallery has no image ${index + 1}`);
  const bytes = await galleryFileBytes(model, deps, item.file);
  const picked = await pickBytes(model, deps, bytes, 'image/png', `gallery:${index}`, item.label, state.steps, signal);
  return { ...picked, noise: { ...picked.noise, origin: { kind: 'gallery', index } } };
}

/** An image file the person chose, encoded and inverted (it is not stored: it lasts while it is picked). */
export async function pickFileImage(
  state: ExplorerState,
  deps: ExplorerDeps,
  file: Blob,
  name: string,
  signal: AbortSignal,
): Promise<PickedImage> {
  const model = state.model;
  if (!model) throw new Error('no model is loaded');
  const tooLarge = fileSizeProblem(file.size);
  if (tooLarge) throw new Error(tooLarge);
  const bytes = await file.arrayBuffer();
  const key = `upload:${uploadId(new Uint8Array(bytes))}`;
  return pickBytes(model, deps, bytes, file.type, key, name, state.steps, signal);
}

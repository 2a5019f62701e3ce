/**
 * The codes of images the app holds but has not made current (gallery items, uploaded files): their bytes, their
 * z from the encoder and, where a tool needs it, their inverted x_T. The input slice does the same for the image it
 * makes current; these leave the current image alone, on their own engine channels.
 */
import type { ModelMetadata } from '../model/metadata';
import type { ExplorerDeps } from './deps';
import type { LoadedModel } from './modelSlice';
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

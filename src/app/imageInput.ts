/**
 * Browser half of image preprocessing: file bytes -> checked header -> decoded bitmap -> centre square resized
 * to the model's size on a canvas -> toModelInput (preprocess.ts). Every refusal is an ImageInputError whose
 * message can be shown as it is; everything else the user should know (first frame only, inverted, upscaled)
 * comes back as `notes`.
 */
import type { Preprocessing } from '../model/metadata';
import { readImageHeader, type ImageFormat } from './imageFormat';
import { centreCropRect, toModelInput, type ModelInput } from './preprocess';

/** Larger files are refused before reading: no photo needs more, and the bytes are also kept in IndexedDB. */
export const MAX_FILE_BYTES = 64 * 2 ** 20;
/** Larger images are refused before decoding (about 8000 x 8000): decoding alone would need 256 MB and more. */
export const MAX_SOURCE_PIXELS = 64e6;

export class ImageInputError extends Error {
  override name = 'ImageInputError';
}

export interface PreparedImage extends ModelInput {
  format: ImageFormat;
  sourceWidth: number;
  sourceHeight: number;
  /** Things done to the image that the user should know about, one sentence each. */
  notes: string[];
}

function formatMegabytes(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MB`;
}

/** Why a file of `size` bytes is refused for its size alone, or null: asked before its bytes are read. */
export function fileSizeProblem(size: number): string | null {
  return size > MAX_FILE_BYTES
    ? `The file is ${formatMegabytes(size)}; images up to ${formatMegabytes(MAX_FILE_BYTES)} are accepted.`
    : null;
}

/** Refusals that the header alone justifies. */
function checkHeader(bytes: Uint8Array, mimeType: string): ReturnType<typeof readImageHeader> {
  if (bytes.length === 0) throw new ImageInputError('The file is empty.');
  const tooLarge = fileSizeProblem(bytes.length);
  if (tooLarge) throw new ImageInputError(tooLarge);
  const header = readImageHeader(bytes);
  if (header.format === 'svg')
    throw new ImageInputError('SVG drawings are not supported: export the drawing as a PNG first.');
  if (header.format === 'unknown' && !mimeType.startsWith('image/')) {
    throw new ImageInputError(
      `This file is not an image${mimeType ? ` (${mimeType})` : ''}: choose a PNG, JPEG, GIF, WebP or BMP file.`,
    );
  }
  if (header.width === 0 || header.height === 0)
    throw new ImageInputError('The image header says it has no pixels: the file is damaged.');
  if (header.width !== null && header.height !== null && header.width * header.height > MAX_SOURCE_PIXELS) {
    throw new ImageInputError(
      `The image is ${header.width} x ${header.height} pixels; images up to ${Math.round(MAX_SOURCE_PIXELS / 1e6)} megapixels are accepted.`,
    );
  }
  return header;
}

/** What phones call their HEIC photos; a file may carry the MIME type with bytes this module does not recognise. */
const HEIC_MIME_TYPES = new Set(['image/heic', 'image/heif', 'image/heic-sequence', 'image/heif-sequence']);

async function decode(bytes: Uint8Array, mimeType: string, format: ImageFormat): Promise<ImageBitmap> {
  try {
    return await createImageBitmap(new Blob([bytes as Uint8Array<ArrayBuffer>], { type: mimeType }));
  } catch {
    // Safari decodes HEIC, so it is tried first; Chrome and Firefox cannot, and the user can fix that in one step.
    if (format === 'heic' || HEIC_MIME_TYPES.has(mimeType.toLowerCase())) {
      throw new ImageInputError("HEIC images can't be decoded by this browser; convert to PNG or JPEG.");
    }
    const what = format === 'unknown' ? 'this file' : `this ${format.toUpperCase()} file`;
    throw new ImageInputError(`The browser could not decode ${what}: it is damaged or in a format it cannot read.`);
  }
}

type Canvas2D = OffscreenCanvasRenderingContext2D;

function context(width: number, height: number): Canvas2D {
  const ctx = new OffscreenCanvas(width, height).getContext('2d', { willReadFrequently: true });
  if (!ctx) throw new ImageInputError('This browser cannot draw images off-screen (no 2D canvas).');
  ctx.imageSmoothingEnabled = true;
  ctx.imageSmoothingQuality = 'high';
  return ctx;
}

/**
 * Crops the centred square and resizes it to size x size. Large reductions halve step by step, because one big
 * bilinear step samples only a few source pixels per output pixel and aliases fine texture.
 */
function cropAndResize(bitmap: ImageBitmap, size: number): Uint8ClampedArray {
  const { sx, sy, side } = centreCropRect(bitmap.width, bitmap.height);
  let source: CanvasImageSource = bitmap;
  let sourceRect = { x: sx, y: sy, side };
  let current = side;
  while (current / 2 >= size * 2) {
    current = Math.ceil(current / 2);
    const step = context(current, current);
    step.drawImage(source, sourceRect.x, sourceRect.y, sourceRect.side, sourceRect.side, 0, 0, current, current);
    source = step.canvas;
    sourceRect = { x: 0, y: 0, side: current };
  }
  const out = context(size, size);
  out.drawImage(source, sourceRect.x, sourceRect.y, sourceRect.side, sourceRect.side, 0, 0, size, size);
  return out.getImageData(0, 0, size, size).data;
}

/**
 * File bytes to the model's input and a preview of what the model sees.
 * @throws ImageInputError with a message fit for the user.
 */
export async function prepareImage(bytes: Uint8Array, mimeType: string, prep: Preprocessing): Promise<PreparedImage> {
  const header = checkHeader(bytes, mimeType);
  const bitmap = await decode(bytes, mimeType, header.format);
  try {
    const notes: string[] = [];
    const { width, height } = bitmap;
    if (header.animated) notes.push('Animated image: only its first frame is used.');
    if (width !== height) notes.push(`Centre-cropped from ${width} x ${height} to a square.`);
    if (Math.min(width, height) < prep.imageSize) {
      notes.push(
        `Small image (${width} x ${height}): enlarged to ${prep.imageSize} x ${prep.imageSize}, so it looks blurred to the model.`,
      );
    }
    const input = toModelInput(cropAndResize(bitmap, prep.imageSize), prep);
    if (input.flattenedAlpha) notes.push('Transparent areas were filled with a plain background.');
    if (input.inverted)
      notes.push('Dark-on-light image inverted: this model was trained on light objects on a dark background.');
    return { ...input, format: header.format, sourceWidth: width, sourceHeight: height, notes };
  } finally {
    bitmap.close();
  }
}

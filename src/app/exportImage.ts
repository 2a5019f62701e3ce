/**
 * Keeping results: PNG of one frame, animated GIF of a sequence (gifenc), both enlarged with nearest-neighbour
 * sampling so a 32-pixel model image stays crisp instead of a blur.
 */
import { applyPalette, GIFEncoder, quantize } from 'gifenc';

export interface RgbaImage {
  rgba: Uint8ClampedArray;
  size: number;
}

/** Nearest-neighbour enlargement of a square RGBA image by an integer factor. */
export function upscaleNearest(image: RgbaImage, factor: number): RgbaImage {
  const size = image.size * factor;
  const rgba = new Uint8ClampedArray(size * size * 4);
  for (let y = 0; y < size; y += 1) {
    const sourceRow = Math.floor(y / factor) * image.size;
    for (let x = 0; x < size; x += 1) {
      const from = 4 * (sourceRow + Math.floor(x / factor));
      rgba.set(image.rgba.subarray(from, from + 4), 4 * (y * size + x));
    }
  }
  return { rgba, size };
}

/** Tiles equally sized square images into a columns-wide grid with a gap (filled with `background`), row-major. */
export function tileImages(
  images: readonly RgbaImage[],
  columns: number,
  gap: number,
  background = 255,
): { rgba: Uint8ClampedArray; width: number; height: number } {
  const size = images[0].size;
  const rows = Math.ceil(images.length / columns);
  const width = columns * size + (columns - 1) * gap;
  const height = rows * size + (rows - 1) * gap;
  const rgba = new Uint8ClampedArray(width * height * 4).fill(background);
  images.forEach((image, i) => {
    const left = (i % columns) * (size + gap);
    const top = Math.floor(i / columns) * (size + gap);
    for (let y = 0; y < size; y += 1)
      rgba.set(image.rgba.subarray(y * size * 4, (y + 1) * size * 4), 4 * ((top + y) * width + left));
  });
  return { rgba, width, height };
}

/** The integer factor that brings a `size`-pixel image closest to `target` pixels, at least 1. */
export function scaleFor(size: number, target: number): number {
  return Math.max(1, Math.round(target / size));
}

/** Animated GIF, looping forever, one palette for all frames (model images share their colours). */
export function encodeGif(
  frames: readonly { rgba: Uint8ClampedArray; width: number; height: number }[],
  delayMs: number,
): Uint8Array {
  const all = new Uint8ClampedArray(frames.reduce((n, f) => n + f.rgba.length, 0));
  let offset = 0;
  for (const frame of frames) {
    all.set(frame.rgba, offset);
    offset += frame.rgba.length;
  }
  const palette = quantize(all, 256);
  const gif = GIFEncoder();
  frames.forEach((frame, i) =>
    gif.writeFrame(
      applyPalette(frame.rgba, palette),
      frame.width,
      frame.height,
      i === 0 ? { palette, delay: delayMs, repeat: 0 } : { delay: delayMs },
    ),
  );
  gif.finish();
  return gif.bytes();
}

/** encodeGif's bytes as a downloadable image/gif blob. */
export function gifBlob(
  frames: readonly { rgba: Uint8ClampedArray; width: number; height: number }[],
  delayMs: number,
): Blob {
  return new Blob([encodeGif(frames, delayMs) as Uint8Array<ArrayBuffer>], { type: 'image/gif' });
}

/** PNG bytes of an RGBA image, through a canvas. */
export async function encodePng(rgba: Uint8ClampedArray, width: number, height: number): Promise<Blob> {
  const canvas = new OffscreenCanvas(width, height);
  const context = canvas.getContext('2d');
  if (!context) throw new Error('This browser cannot draw images off-screen (no 2D canvas).');
  context.putImageData(new ImageData(rgba as Uint8ClampedArray<ArrayBuffer>, width, height), 0, 0);
  return canvas.convertToBlob({ type: 'image/png' });
}

/** Saves a blob as a file through a temporary link (no server round trip). */
export function downloadBlob(blob: Blob, fileName: string): void {
  const url = URL.createObjectURL(blob);
  const link = document.createElement('a');
  link.href = url;
  link.download = fileName;
  link.click();
  // The click has started the download synchronously; the URL can go on the next task.
  setTimeout(() => URL.revokeObjectURL(url), 0);
}

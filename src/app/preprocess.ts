/**
 * The pure half of image preprocessing (docs/model-format.md, `preprocessing`): from RGBA pixels already
 * centre-cropped and resized to the model's size, to the model-space input the encoder sees. Canvas work
 * (decoding, cropping, resizing) lives in imageInput.ts; everything here is plain arithmetic on arrays, so
 * it runs under Vitest in Node.
 */
import type { Preprocessing } from '../model/metadata';

/** ITU-R BT.601 luma weights, the conversion the training data's grayscale used. */
const LUMA_R = 0.299;
const LUMA_G = 0.587;
const LUMA_B = 0.114;

export interface CropRect {
  sx: number;
  sy: number;
  side: number;
}

/** The largest centred square inside a width x height image. */
export function centreCropRect(width: number, height: number): CropRect {
  const side = Math.min(width, height);
  return { sx: Math.floor((width - side) / 2), sy: Math.floor((height - side) / 2), side };
}

export interface ModelInput {
  /** Model-space pixels, NHWC with N = 1 dropped: length size*size*channels, values in preprocessing.valueRange. */
  pixels: Float32Array;
  /** What the model sees, as displayable RGBA (size*size*4): grayscale repeated for 1-channel models. */
  preview: Uint8ClampedArray;
  /** True when a dark-on-light image was inverted for a light-on-dark model. */
  inverted: boolean;
  /** True when transparent pixels were flattened onto a background. */
  flattenedAlpha: boolean;
}

function luma(r: number, g: number, b: number): number {
  return LUMA_R * r + LUMA_G * g + LUMA_B * b;
}

/**
 * Flattens transparency onto black or white, whichever contrasts with the visible content: a dark drawing on a
 * transparent sheet becomes dark-on-white, a light one light-on-black, so the polarity check that follows sees
 * the object and not the (arbitrary) colour stored under alpha 0. Returns a new array, or the input when opaque.
 */
export function flattenAlpha(rgba: Uint8ClampedArray): { rgba: Uint8ClampedArray; flattened: boolean } {
  let alphaSum = 0;
  let lumaSum = 0;
  let transparent = false;
  for (let i = 0; i < rgba.length; i += 4) {
    const alpha = rgba[i + 3] / 255;
    if (rgba[i + 3] < 255) transparent = true;
    alphaSum += alpha;
    lumaSum += alpha * luma(rgba[i], rgba[i + 1], rgba[i + 2]);
  }
  if (!transparent) return { rgba, flattened: false };
  const contentLuma = alphaSum > 0 ? lumaSum / alphaSum : 0;
  const background = contentLuma >= 127.5 ? 0 : 255;
  const out = new Uint8ClampedArray(rgba.length);
  for (let i = 0; i < rgba.length; i += 4) {
    const alpha = rgba[i + 3] / 255;
    for (let c = 0; c < 3; c += 1) out[i + c] = Math.round(rgba[i + c] * alpha + background * (1 - alpha));
    out[i + 3] = 255;
  }
  return { rgba: out, flattened: true };
}

/**
 * Mean luma (0..255) of the outer ring of a size x size RGBA image, ring width about a sixteenth of the side.
 * The border is where a product photo or a scanned drawing shows its background.
 */
export function borderLuma(rgba: Uint8ClampedArray, size: number): number {
  const ring = Math.max(1, Math.round(size / 16));
  let sum = 0;
  let count = 0;
  for (let y = 0; y < size; y += 1) {
    for (let x = 0; x < size; x += 1) {
      if (x >= ring && x < size - ring && y >= ring && y < size - ring) continue;
      const i = 4 * (y * size + x);
      sum += luma(rgba[i], rgba[i + 1], rgba[i + 2]);
      count += 1;
    }
  }
  return sum / count;
}

/**
 * Turns size x size RGBA into the model's input: flatten alpha, convert to grayscale (BT.601) for 1-channel
 * models, invert a light-background image for a light-on-dark model, map u8 u to valueRange linearly.
 * @param rgba size*size*4 bytes, already cropped and resized.
 */
export function toModelInput(rgba: Uint8ClampedArray, prep: Preprocessing): ModelInput {
  const size = prep.imageSize;
  if (rgba.length !== size * size * 4) {
    throw new Error(`expected ${size}x${size} RGBA (${size * size * 4} bytes), got ${rgba.length} bytes`);
  }
  const { rgba: opaque, flattened } = flattenAlpha(rgba);
  const inverted = prep.lightOnDark && borderLuma(opaque, size) > 127.5;
  const [lo, hi] = prep.valueRange;
  const pixels = new Float32Array(size * size * prep.channels);
  const preview = new Uint8ClampedArray(size * size * 4);
  for (let p = 0; p < size * size; p += 1) {
    const r = opaque[4 * p];
    const g = opaque[4 * p + 1];
    const b = opaque[4 * p + 2];
    const sourceValues = prep.channels === 1 ? [Math.round(luma(r, g, b))] : [r, g, b];
    const values = inverted ? sourceValues.map((u) => 255 - u) : sourceValues;
    values.forEach((u, c) => {
      pixels[p * prep.channels + c] = lo + ((hi - lo) * u) / 255;
    });
    preview[4 * p] = values[0];
    preview[4 * p + 1] = values[prep.channels === 1 ? 0 : 1];
    preview[4 * p + 2] = values[prep.channels === 1 ? 0 : 2];
    preview[4 * p + 3] = 255;
  }
  return { pixels, preview, inverted, flattenedAlpha: flattened };
}

/**
 * Model-space pixels back to displayable RGBA: the inverse of the value mapping, clamped, grayscale repeated.
 * @param pixels length size*size*channels, NHWC without N.
 */
export function modelPixelsToRgba(
  pixels: Float32Array,
  channels: 1 | 3,
  valueRange: [number, number],
): Uint8ClampedArray {
  const [lo, hi] = valueRange;
  const count = pixels.length / channels;
  const rgba = new Uint8ClampedArray(count * 4);
  const scale = 255 / (hi - lo);
  for (let p = 0; p < count; p += 1) {
    for (let c = 0; c < 3; c += 1) {
      // Uint8ClampedArray rounds and clamps on assignment.
      rgba[4 * p + c] = (pixels[p * channels + (channels === 1 ? 0 : c)] - lo) * scale;
    }
    rgba[4 * p + 3] = 255;
  }
  return rgba;
}

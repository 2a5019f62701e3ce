import { describe, expect, it } from 'vitest';
import type { Preprocessing } from '../model/metadata';
import { borderLuma, centreCropRect, flattenAlpha, modelPixelsToRgba, toModelInput } from './preprocess';

const GRAY_LIGHT_ON_DARK: Preprocessing = { imageSize: 4, channels: 1, valueRange: [-1, 1], lightOnDark: true };
const RGB_PHOTO: Preprocessing = { imageSize: 4, channels: 3, valueRange: [-1, 1], lightOnDark: false };

/** size x size RGBA filled with one colour, with an optional different centre 2x2 block. */
function image(size: number, background: number[], centre?: number[]): Uint8ClampedArray {
  const rgba = new Uint8ClampedArray(size * size * 4);
  for (let y = 0; y < size; y += 1) {
    for (let x = 0; x < size; x += 1) {
      const inCentre = centre && x >= size / 2 - 1 && x < size / 2 + 1 && y >= size / 2 - 1 && y < size / 2 + 1;
      rgba.set(inCentre ? centre : background, 4 * (y * size + x));
    }
  }
  return rgba;
}

describe('centreCropRect', () => {
  it('takes the centred square of landscape and portrait images', () => {
    expect(centreCropRect(640, 480)).toEqual({ sx: 80, sy: 0, side: 480 });
    expect(centreCropRect(3, 8)).toEqual({ sx: 0, sy: 2, side: 3 });
  });
});

describe('toModelInput', () => {
  it('maps u8 to [-1, 1] with BT.601 luma for a 1-channel model', () => {
    const input = toModelInput(image(4, [0, 0, 0, 255], [255, 0, 0, 255]), GRAY_LIGHT_ON_DARK);
    expect(input.inverted).toBe(false);
    expect(input.pixels).toHaveLength(16);
    expect(input.pixels[0]).toBeCloseTo(-1, 6);
    // Pure red: luma 0.299 * 255 = 76.245, rounded to 76.
    expect(input.pixels[5]).toBeCloseTo(76 / 127.5 - 1, 6);
    expect(Array.from(input.preview.subarray(20, 24))).toEqual([76, 76, 76, 255]);
  });

  it('inverts a dark-on-light image for a light-on-dark model, and says so', () => {
    const input = toModelInput(image(4, [250, 250, 250, 255], [10, 10, 10, 255]), GRAY_LIGHT_ON_DARK);
    expect(input.inverted).toBe(true);
    expect(input.pixels[0]).toBeCloseTo(5 / 127.5 - 1, 6); // 255 - 250
    expect(input.pixels[5]).toBeCloseTo(245 / 127.5 - 1, 6); // 255 - 10
  });

  it('never inverts for a model without the light-on-dark flag, and keeps RGB channels in NHWC order', () => {
    const input = toModelInput(image(4, [255, 255, 255, 255], [255, 0, 0, 255]), RGB_PHOTO);
    expect(input.inverted).toBe(false);
    expect(input.pixels).toHaveLength(48);
    expect(Array.from(input.pixels.subarray(15, 18))).toEqual([1, -1, -1]);
  });

  it('refuses pixels of the wrong size, naming the expected size', () => {
    expect(() => toModelInput(new Uint8ClampedArray(8 * 8 * 4), GRAY_LIGHT_ON_DARK)).toThrow(
      /expected 4x4 RGBA \(64 bytes\), got 256/,
    );
  });
});

describe('flattenAlpha', () => {
  it('puts dark transparent-background content on white, so it then reads as dark-on-light', () => {
    const transparentBlackShirt = image(4, [0, 0, 0, 0], [20, 20, 20, 255]);
    const { rgba, flattened } = flattenAlpha(transparentBlackShirt);
    expect(flattened).toBe(true);
    expect(Array.from(rgba.subarray(0, 4))).toEqual([255, 255, 255, 255]);
    expect(Array.from(rgba.subarray(20, 24))).toEqual([20, 20, 20, 255]);
    expect(toModelInput(transparentBlackShirt, GRAY_LIGHT_ON_DARK).inverted).toBe(true);
  });

  it('puts light content on black and leaves opaque images untouched', () => {
    expect(Array.from(flattenAlpha(image(4, [9, 9, 9, 0], [240, 240, 240, 255])).rgba.subarray(0, 4))).toEqual([
      0, 0, 0, 255,
    ]);
    const opaque = image(4, [1, 2, 3, 255]);
    expect(flattenAlpha(opaque)).toEqual({ rgba: opaque, flattened: false });
  });
});

describe('borderLuma', () => {
  it('averages only the outer ring', () => {
    expect(borderLuma(image(4, [200, 200, 200, 255], [0, 0, 0, 255]), 4)).toBeCloseTo(200, 6);
  });
});

describe('modelPixelsToRgba', () => {
  it('inverts the value mapping, clamping values a sampler pushed outside the range', () => {
    const rgba = modelPixelsToRgba(new Float32Array([-1, 0, 1, 1.7, -3]), 1, [-1, 1]);
    expect(Array.from(rgba.filter((_, i) => i % 4 === 0))).toEqual([0, 128, 255, 255, 0]);
    expect(rgba[3]).toBe(255);
  });
});

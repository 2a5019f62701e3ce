import { describe, expect, it } from 'vitest';
import { encodeGif, scaleFor, tileImages, upscaleNearest } from './exportImage';
import { readImageHeader } from './imageFormat';

const pixel = (value: number) => [value, value, value, 255];

describe('upscaleNearest', () => {
  it('repeats each pixel factor x factor times', () => {
    const image = { rgba: new Uint8ClampedArray([...pixel(0), ...pixel(10), ...pixel(20), ...pixel(30)]), size: 2 };
    const big = upscaleNearest(image, 2);
    expect(big.size).toBe(4);
    const firstChannel = Array.from(big.rgba.filter((_, i) => i % 4 === 0));
    expect(firstChannel).toEqual([0, 0, 10, 10, 0, 0, 10, 10, 20, 20, 30, 30, 20, 20, 30, 30]);
  });
});

describe('tileImages', () => {
  it('lays images out row-major with a background-filled gap', () => {
    const a = { rgba: new Uint8ClampedArray(pixel(1)), size: 1 };
    const b = { rgba: new Uint8ClampedArray(pixel(2)), size: 1 };
    const c = { rgba: new Uint8ClampedArray(pixel(3)), size: 1 };
    const grid = tileImages([a, b, c], 2, 1, 9);
    expect([grid.width, grid.height]).toEqual([3, 3]);
    expect(Array.from(grid.rgba.filter((_, i) => i % 4 === 0))).toEqual([1, 9, 2, 9, 9, 9, 3, 9, 9]);
  });
});

describe('encodeGif', () => {
  it('writes an animated GIF that the header reader sees as animated, at the frame size', () => {
    const frame = (v: number) => ({ rgba: new Uint8ClampedArray(4 * 4 * 4).fill(v), width: 4, height: 4 });
    const bytes = encodeGif([frame(0), frame(128), frame(255)], 100);
    expect(readImageHeader(bytes)).toEqual({ format: 'gif', width: 4, height: 4, animated: true });
  });
});

describe('scaleFor', () => {
  it('picks the integer factor nearest a target size, never below 1', () => {
    expect(scaleFor(32, 256)).toBe(8);
    expect(scaleFor(512, 256)).toBe(1);
  });
});

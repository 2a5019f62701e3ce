import { describe, expect, it } from 'vitest';
import { reconstructionPsnr } from './imageQuality';

describe('reconstructionPsnr', () => {
  it('measures on [0, 1]: a uniform error of 0.1 in [-1, 1] is 0.05 there, 26.02 dB', () => {
    const reference = new Float32Array([-0.5, 0, 0.5, 1]);
    const image = reference.map((v) => v - 0.1);
    expect(reconstructionPsnr(image, reference, [-1, 1])).toBeCloseTo(10 * Math.log10(1 / 0.0025), 4);
  });
  it('clips values outside the range first, as the pipeline does (unclipped DDIM outputs)', () => {
    expect(reconstructionPsnr(new Float32Array([3, -5]), new Float32Array([1, -1]), [-1, 1])).toBe(100);
  });
  it('caps identical images at 100 dB', () => {
    expect(reconstructionPsnr(new Float32Array([0.2, 0.4]), new Float32Array([0.2, 0.4]), [0, 1])).toBe(100);
  });
  it('refuses images of different sizes', () => {
    expect(() => reconstructionPsnr(new Float32Array(3), new Float32Array(4), [-1, 1])).toThrow(/same size/);
  });
});

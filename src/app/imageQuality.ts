/**
 * How close a reconstruction is to its input, measured the way the training pipeline's evaluation does
 * (`reconstruction_psnr` in train/infodiff/metrics.py), so the number the explorer shows can be read against
 * docs/results.md: both images clipped to the model's value range and mapped to [0, 1], PSNR = 10 log10(1 / MSE).
 */

/** The MSE floor of the pipeline: identical images give 100 dB, not Infinity. */
const MSE_FLOOR = 1e-10;

/** PSNR in dB of `image` against `reference`, model-space pixels of the same length in `valueRange`. */
export function reconstructionPsnr(
  image: Float32Array,
  reference: Float32Array,
  valueRange: readonly [number, number],
): number {
  if (image.length !== reference.length || image.length === 0) {
    throw new Error(`PSNR needs two images of the same size, got ${image.length} and ${reference.length} values`);
  }
  const [lo, hi] = valueRange;
  const unit = (v: number) => (Math.min(hi, Math.max(lo, v)) - lo) / (hi - lo);
  let sum = 0;
  for (let i = 0; i < image.length; i++) sum += (unit(image[i]) - unit(reference[i])) ** 2;
  return 10 * Math.log10(1 / Math.max(sum / image.length, MSE_FLOOR));
}

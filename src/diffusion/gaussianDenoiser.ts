/**
 * The exact denoiser of Gaussian data, a closed-form stand-in for the network: with it DDIM inversion and sampling
 * are near-exact inverses and the I-MMSE estimate must equal -ln N(x; m, diag v) in expectation. Used by the
 * tests here and usable as an engine self-check, since it needs no weights.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { NoiseSchedule } from './schedule';
import { sigmoid } from './sigmoid';

/**
 * xt [B,H,W,C], t int32 [B], z [B,D] (ignored), optional exact logSnr [B] -> eps [B,H,W,C]. It satisfies both
 * EpsPredictor and ItdEpsPredictor. Inputs are not disposed; the caller owns the result.
 */
export type GaussianEpsPredictor = (
  xt: tf.Tensor4D,
  t: tf.Tensor1D,
  z: tf.Tensor2D,
  logSnr?: Float64Array,
) => tf.Tensor4D;

/**
 * The posterior-mean noise prediction for data x ~ N(mean, diag(variances)) noised as x_t = √ᾱ x + √(1-ᾱ) ε:
 *   ε̂ = √(1-ᾱ) (x_t - √ᾱ mean) / (ᾱ v + 1 - ᾱ), per dimension.
 * The level ᾱ is σ(logSnr) when the I-MMSE estimators pass the exact log-SNR, else alphaBar[t] of `schedule`.
 * @param mean the data mean, d = H*W*C values in NHWC order
 * @param variances the per-dimension data variances, d positive values in NHWC order
 * @param imageShape [H, W, C]
 */
export function gaussianEpsPredictor(
  schedule: NoiseSchedule,
  mean: ArrayLike<number>,
  variances: ArrayLike<number>,
  imageShape: [number, number, number],
): GaussianEpsPredictor {
  const d = imageShape[0] * imageShape[1] * imageShape[2];
  if (mean.length !== d || variances.length !== d) {
    throw new RangeError(
      `gaussianEpsPredictor: mean and variances need d = ${d} entries, got ${mean.length} and ${variances.length}`,
    );
  }
  if (Array.from(variances).some((v) => !(v > 0)))
    throw new RangeError('gaussianEpsPredictor: variances must be positive');
  const meanValues = Float32Array.from(mean);
  const varianceValues = Float32Array.from(variances);
  // Square roots taken in float64: in float32, 1 - ᾱ would lose all its digits near t = 0.
  const sqrtAlphaBarTable = Float32Array.from(schedule.alphaBar, (a) => Math.sqrt(a));
  const sqrtOneMinusAlphaBarTable = Float32Array.from(schedule.alphaBar, (a) => Math.sqrt(1 - a));

  return (xt, t, _z, logSnr) =>
    tf.tidy(() => {
      const batch = xt.shape[0];
      const levelShape: [number, number, number, number] = [batch, 1, 1, 1];
      const [sqrtAlphaBar, sqrtOneMinusAlphaBar] =
        logSnr !== undefined
          ? [
              tf.tensor4d(
                Float32Array.from(logSnr, (a) => Math.sqrt(sigmoid(a))),
                levelShape,
              ),
              tf.tensor4d(
                Float32Array.from(logSnr, (a) => Math.sqrt(sigmoid(-a))),
                levelShape,
              ),
            ]
          : [
              tf.reshape(tf.gather(tf.tensor1d(sqrtAlphaBarTable), t), levelShape),
              tf.reshape(tf.gather(tf.tensor1d(sqrtOneMinusAlphaBarTable), t), levelShape),
            ];
      const dataMean = tf.tensor4d(meanValues, [1, ...imageShape]);
      const dataVariance = tf.tensor4d(varianceValues, [1, ...imageShape]);
      const residual = tf.sub(xt, tf.mul(sqrtAlphaBar, dataMean));
      const noisyVariance = tf.add(tf.mul(tf.square(sqrtAlphaBar), dataVariance), tf.square(sqrtOneMinusAlphaBar));
      return tf.div(tf.mul(sqrtOneMinusAlphaBar, residual), noisyVariance) as tf.Tensor4D;
    });
}

import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from './random';

/**
 * A tensor of standard-normal values drawn from `rng` (x_T, DDIM noise, I-MMSE noise).
 * @param shape [B,H,W,C]
 * @returns float32 [B,H,W,C]; the caller disposes it
 */
export function normalTensor4d(rng: Rng, shape: [number, number, number, number]): tf.Tensor4D {
  return tf.tensor4d(rng.normals(shape[0] * shape[1] * shape[2] * shape[3]), shape, 'float32');
}

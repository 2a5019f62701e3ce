/**
 * Conversions between protocol payloads (typed arrays with shapes) and tensors, and the payload checks that turn a
 * malformed request into a message naming the field, the expected and the actual shape. validation.ts runs the
 * checks when a request arrives; the conversions after it trust them.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { ArchitectureConfig } from '../model/config';
import type { FloatImageBatch, ImageBatch, LatentBatch, StepNoiseBatch } from './protocol';

/** A request the engine refuses; the message says which field is wrong and how. */
export class RequestError extends Error {
  override name = 'RequestError';
}

function describeShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

/** Model-space float32 values of an image payload: u8 u maps to u / 127.5 - 1 (docs/model-format.md). */
export function modelSpaceValues(data: Float32Array | Uint8Array): Float32Array {
  if (data instanceof Float32Array) return data;
  const out = new Float32Array(data.length);
  for (let k = 0; k < data.length; k++) out[k] = data[k] / 127.5 - 1;
  return out;
}

/**
 * Checks an image batch against the model: NHWC with H = W = imageSize and C = imageChannels.
 * @param what the request field, for error messages
 * @param expectedBatch when given, the batch size the images must have
 * @returns the batch size
 */
export function checkImageBatch(
  images: ImageBatch,
  arch: ArchitectureConfig,
  what: string,
  expectedBatch?: number,
): number {
  const shape = images?.shape;
  if (!Array.isArray(shape) || shape.length !== 4 || !shape.every((n) => Number.isInteger(n) && n > 0)) {
    throw new RequestError(
      `${what}.shape must be [batch, height, width, channels] of positive integers, got ${JSON.stringify(shape)}`,
    );
  }
  if (!(images.data instanceof Float32Array || images.data instanceof Uint8Array)) {
    throw new RequestError(`${what}.data must be a Float32Array or a Uint8Array`);
  }
  const [batch, height, width, channels] = shape;
  if (images.data.length !== batch * height * width * channels) {
    throw new RequestError(
      `${what}.data has ${images.data.length} values, but shape ${describeShape(shape)} needs ${batch * height * width * channels}`,
    );
  }
  if (height !== arch.imageSize || width !== arch.imageSize || channels !== arch.imageChannels) {
    throw new RequestError(
      `${what} must be ${arch.imageSize}x${arch.imageSize} with ${arch.imageChannels} channel(s) for this model, got ${describeShape(shape)} (preprocess first)`,
    );
  }
  if (expectedBatch !== undefined && batch !== expectedBatch) {
    throw new RequestError(`${what} has batch ${batch}, but the request has ${expectedBatch} latent(s)`);
  }
  return batch;
}

/**
 * An image batch as a tensor; checkImageBatch has passed it.
 * @param images the payload; float32 model space or u8 0..255
 * @returns float32 [B,H,W,C] in model space; the caller disposes it
 */
export function imageTensor(images: ImageBatch): tf.Tensor4D {
  return tf.tensor4d(modelSpaceValues(images.data), images.shape, 'float32');
}

/**
 * Checks a latent batch against the model's latentDim; every value must be finite.
 * @param expectedBatch when given, the batch size z must have (one latent per image)
 * @returns the batch size
 */
export function checkLatentBatch(
  latents: LatentBatch,
  arch: ArchitectureConfig,
  expectedBatch: number | undefined,
  what: string,
): number {
  const shape = latents?.shape;
  if (!Array.isArray(shape) || shape.length !== 2 || !shape.every((n) => Number.isInteger(n) && n > 0)) {
    throw new RequestError(
      `${what}.shape must be [batch, latentDim] of positive integers, got ${JSON.stringify(shape)}`,
    );
  }
  if (!(latents.data instanceof Float32Array)) throw new RequestError(`${what}.data must be a Float32Array`);
  const [batch, dim] = shape;
  if (latents.data.length !== batch * dim) {
    throw new RequestError(
      `${what}.data has ${latents.data.length} values, but shape ${describeShape(shape)} needs ${batch * dim}`,
    );
  }
  if (dim !== arch.latentDim)
    throw new RequestError(`${what} must have ${arch.latentDim} dimensions for this model, got ${dim}`);
  if (expectedBatch !== undefined && batch !== expectedBatch) {
    throw new RequestError(
      `${what} has batch ${batch}, but there are ${expectedBatch} image(s) (one latent per image)`,
    );
  }
  for (let k = 0; k < latents.data.length; k++) {
    if (!Number.isFinite(latents.data[k]))
      throw new RequestError(`${what}.data[${k}] is ${latents.data[k]}; latents must be finite`);
  }
  return batch;
}

/**
 * A latent batch as a tensor; checkLatentBatch has passed it.
 * @returns float32 [B, latentDim]; the caller disposes it
 */
export function latentTensor(latents: LatentBatch): tf.Tensor2D {
  return tf.tensor2d(latents.data, latents.shape, 'float32');
}

/**
 * The values of a tensor in an array the engine may transfer. Some backends hand out their own storage from
 * `data()` (the CPU backend returns the tensor's backing array, WASM can return a view of its heap), and a
 * transfer would detach it, so the values are copied once.
 */
async function ownedValues(t: tf.Tensor): Promise<Float32Array> {
  return Float32Array.from((await t.data()) as Float32Array);
}

/** Reads an image tensor back (one `await data()`); does not dispose it. */
export async function floatBatch(t: tf.Tensor4D): Promise<FloatImageBatch> {
  return { shape: [t.shape[0], t.shape[1], t.shape[2], t.shape[3]], data: await ownedValues(t) };
}

/** Reads a latent tensor back (one `await data()`); does not dispose it. */
export async function latentBatch(t: tf.Tensor2D): Promise<LatentBatch> {
  return { shape: [t.shape[0], t.shape[1]], data: await ownedValues(t) };
}

/** Checks explicit per-step noise [steps, batch, H, W, C] against the request's steps, batch and the model. */
export function checkStepNoiseBatch(
  noise: StepNoiseBatch,
  arch: ArchitectureConfig,
  steps: number,
  batch: number,
): void {
  const shape = noise?.shape;
  if (!Array.isArray(shape) || shape.length !== 5 || !shape.every((n) => Number.isInteger(n) && n > 0)) {
    throw new RequestError(
      `stepNoise.shape must be [steps, batch, height, width, channels] of positive integers, got ${JSON.stringify(shape)}`,
    );
  }
  if (!(noise.data instanceof Float32Array)) throw new RequestError('stepNoise.data must be a Float32Array');
  const expected = [steps, batch, arch.imageSize, arch.imageSize, arch.imageChannels];
  if (!tf.util.arraysEqual(shape, expected))
    throw new RequestError(
      `stepNoise must have shape [${expected.join(', ')}] (steps, batch, image), got [${shape.join(', ')}]`,
    );
  const perStep = batch * arch.imageSize * arch.imageSize * arch.imageChannels;
  if (noise.data.length !== steps * perStep)
    throw new RequestError(`stepNoise.data has ${noise.data.length} values, but its shape needs ${steps * perStep}`);
}

/** Per-step noise [steps, batch, H, W, C] (checked, or drawn by the engine) as one [batch, H, W, C] tensor per step. */
export function stepNoiseTensors(noise: StepNoiseBatch): tf.Tensor4D[] {
  const [steps, ...stepShape] = noise.shape;
  const perStep = noise.data.length / steps;
  return Array.from({ length: steps }, (_, i) =>
    tf.tensor4d(noise.data.subarray(i * perStep, (i + 1) * perStep), stepShape, 'float32'),
  );
}

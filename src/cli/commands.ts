/**
 * The CLI's commands as functions (Node only): each reads .npy inputs (NHWC float32 images, int32 timesteps),
 * runs the same src/model + src/diffusion code the browser runs, and writes .npy or JSON. `infodiff.ts` parses
 * the command line into these options; the tests call the functions directly.
 */
import { readFile, writeFile } from 'node:fs/promises';
import * as tf from '@tensorflow/tfjs-core';
import { createRng, ddimInvert, ddimSample, ddimTimesteps, estimateNll, makeSchedule, normalTensor4d } from '../diffusion/index';
import { loadModelPackage, npyArray, npyToFloat32, npyToInt32, parseNpy, serializeNpy, type InfoDiffusionModel, type NpyArray } from '../model/index';
import { fsPackageFiles } from './fsPackageFiles';

/** A refusal of the command line or of an input file; printed without a stack trace. */
export class CliError extends Error {
  override name = 'CliError';
}

/** Where progress lines go (stderr in the CLI, a collector in tests). */
export type Log = (line: string) => void;

export async function openModel(folder: string): Promise<InfoDiffusionModel> {
  try {
    return await loadModelPackage(fsPackageFiles(folder));
  } catch (error) {
    throw new CliError(`cannot load the model package in ${folder}: ${(error as Error).message}`);
  }
}

async function readNpyFile(path: string, what: string): Promise<NpyArray> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new CliError(code === 'ENOENT' ? `${what}: file not found: ${path}` : `${what}: cannot read ${path}: ${(error as Error).message}`);
  }
  try {
    return parseNpy(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  } catch (error) {
    throw new CliError(`${what}: ${path} is not a readable .npy file: ${(error as Error).message}`);
  }
}

async function writeNpyFile(path: string, data: Float32Array, shape: number[]): Promise<void> {
  await writeFile(path, serializeNpy(npyArray(data, shape)));
}

function shapeText(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

/** Model-space float32 values of an image array: float arrays as they are, u8 via u / 127.5 - 1. */
function imageValues(array: NpyArray): Float32Array {
  if (array.dtype === '|u1') return Float32Array.from(array.data as Uint8Array, (u) => u / 127.5 - 1);
  if (array.dtype === '<f4' || array.dtype === '<f8') return npyToFloat32(array);
  throw new CliError(`images must be float32, float64 or uint8, got ${array.dtype}`);
}

/** Reads NHWC images and checks them against the model. The caller disposes the tensor. */
async function readImages(path: string, model: InfoDiffusionModel, what: string, expectedBatch?: number): Promise<tf.Tensor4D> {
  const array = await readNpyFile(path, what);
  const { imageSize, imageChannels } = model.architecture;
  const [batch, height, width, channels] = array.shape;
  if (array.shape.length !== 4 || height !== imageSize || width !== imageSize || channels !== imageChannels) {
    throw new CliError(`${what}: ${path} has shape ${shapeText(array.shape)}; this model takes NHWC [B, ${imageSize}, ${imageSize}, ${imageChannels}]`);
  }
  if (expectedBatch !== undefined && batch !== expectedBatch) throw new CliError(`${what}: ${path} has batch ${batch}, expected ${expectedBatch}`);
  let values: Float32Array;
  try {
    values = imageValues(array);
  } catch (error) {
    throw new CliError(`${what}: ${path}: ${(error as Error).message}`);
  }
  return tf.tensor4d(values, [batch, height, width, channels]);
}

/** Reads latents [B, D]. The caller disposes the tensor. */
async function readLatents(path: string, model: InfoDiffusionModel, expectedBatch?: number): Promise<tf.Tensor2D> {
  const array = await readNpyFile(path, '--z');
  const d = model.architecture.latentDim;
  if (array.shape.length !== 2 || array.shape[1] !== d) throw new CliError(`--z: ${path} has shape ${shapeText(array.shape)}; this model takes [B, ${d}]`);
  if (expectedBatch !== undefined && array.shape[0] !== expectedBatch) {
    throw new CliError(`--z: ${path} has batch ${array.shape[0]}, but there are ${expectedBatch} image(s)`);
  }
  if (array.dtype !== '<f4' && array.dtype !== '<f8') throw new CliError(`--z: ${path} must be float32 or float64, got ${array.dtype}`);
  return tf.tensor2d(npyToFloat32(array), [array.shape[0], d]);
}

/** Reads timesteps [B] as int32, checking each lies in 0..T-1. The caller disposes the tensor. */
async function readTimesteps(path: string, model: InfoDiffusionModel, batch: number): Promise<tf.Tensor1D> {
  const array = await readNpyFile(path, '--t');
  if (array.dtype !== '<i4' && array.dtype !== '<i8') throw new CliError(`--t: ${path} must hold integers (int32 or int64), got ${array.dtype}`);
  if (array.shape.length !== 1 || array.shape[0] !== batch) throw new CliError(`--t: ${path} has shape ${shapeText(array.shape)}; expected [${batch}]`);
  const T = model.schedule.timesteps;
  let values: Int32Array;
  try {
    values = npyToInt32(array);
  } catch (error) {
    throw new CliError(`--t: ${path}: ${(error as Error).message}`);
  }
  values.forEach((t, k) => {
    if (t < 0 || t >= T) throw new CliError(`--t: ${path}[${k}] = ${t} is outside 0..${T - 1}`);
  });
  return tf.tensor1d(values, 'int32');
}

function checkSteps(steps: number, model: InfoDiffusionModel): Int32Array {
  const T = model.schedule.timesteps;
  if (!Number.isInteger(steps) || steps < 1 || steps > T) throw new CliError(`--steps must be an integer in 1..${T}, got ${steps}`);
  return ddimTimesteps(T, steps);
}

const stepLogger = (log: Log, what: string) => (info: { stepsDone: number; stepsTotal: number; t: number }) =>
  log(`${what}: step ${info.stepsDone}/${info.stepsTotal} (t = ${info.t})`);

export interface EncodeOptions {
  model: string;
  images: string;
  out: string;
}

/** x [B,H,W,C] -> z [B,D]. Returns the shape written. */
export async function encodeCommand(options: EncodeOptions, log: Log): Promise<number[]> {
  const model = await openModel(options.model);
  try {
    const x = await readImages(options.images, model, '--images');
    const z = model.encode(x);
    try {
      await writeNpyFile(options.out, (await z.data()) as Float32Array, z.shape);
      log(`encode: wrote z ${shapeText(z.shape)} to ${options.out}`);
      return z.shape;
    } finally {
      tf.dispose([x, z]);
    }
  } finally {
    model.dispose();
  }
}

export interface DenoiseOptions {
  model: string;
  xt: string;
  t: string;
  z: string;
  out: string;
}

/** eps_theta(x_t, t, z): one denoiser call. Returns the shape written. */
export async function denoiseCommand(options: DenoiseOptions, log: Log): Promise<number[]> {
  const model = await openModel(options.model);
  const tensors: tf.Tensor[] = [];
  try {
    const xt = await readImages(options.xt, model, '--xt');
    tensors.push(xt);
    const t = await readTimesteps(options.t, model, xt.shape[0]);
    tensors.push(t);
    const z = await readLatents(options.z, model, xt.shape[0]);
    tensors.push(z);
    const eps = model.predictEps(xt, t, z);
    tensors.push(eps);
    await writeNpyFile(options.out, (await eps.data()) as Float32Array, eps.shape);
    log(`denoise: wrote eps ${shapeText(eps.shape)} to ${options.out}`);
    return eps.shape;
  } finally {
    tf.dispose(tensors);
    model.dispose();
  }
}

export interface SampleOptions {
  model: string;
  z: string;
  /** x_T file; when absent, x_T ~ N(0, I) from `seed`. */
  xT?: string;
  seed?: number;
  steps: number;
  eta: number;
  /** Seed of the per-step noise when eta > 0 (default 0, as in the engine). */
  noiseSeed?: number;
  out: string;
}

/** DDIM sampling from x_T conditioned on z. Returns the shape written. */
export async function sampleCommand(options: SampleOptions, log: Log): Promise<number[]> {
  if (options.xT !== undefined && options.seed !== undefined) throw new CliError('give either --xT or --seed, not both');
  if (!(options.eta >= 0 && options.eta <= 1)) throw new CliError(`--eta must be in [0, 1], got ${options.eta}`);
  const model = await openModel(options.model);
  const tensors: tf.Tensor[] = [];
  try {
    const plan = checkSteps(options.steps, model);
    const z = await readLatents(options.z, model);
    tensors.push(z);
    const { imageSize, imageChannels } = model.architecture;
    const xNoise =
      options.xT !== undefined
        ? await readImages(options.xT, model, '--xT', z.shape[0])
        : normalTensor4d(createRng(options.seed ?? 0), [z.shape[0], imageSize, imageSize, imageChannels]);
    tensors.push(xNoise);
    const x0 = await ddimSample(model.predictEps.bind(model), makeSchedule(model.schedule), plan, xNoise, z, {
      eta: options.eta,
      seed: options.eta > 0 ? (options.noiseSeed ?? 0) : undefined,
      onStep: stepLogger(log, 'sample'),
    });
    tensors.push(x0);
    await writeNpyFile(options.out, (await x0.data()) as Float32Array, x0.shape);
    log(`sample: wrote x0 ${shapeText(x0.shape)} to ${options.out}`);
    return x0.shape;
  } finally {
    tf.dispose(tensors);
    model.dispose();
  }
}

export interface InvertOptions {
  model: string;
  images: string;
  /** Latents to condition on; default Enc(x0). */
  z?: string;
  steps: number;
  out: string;
}

/** Deterministic DDIM inversion x0 -> x_T. Returns the shape written. */
export async function invertCommand(options: InvertOptions, log: Log): Promise<number[]> {
  const model = await openModel(options.model);
  const tensors: tf.Tensor[] = [];
  try {
    const plan = checkSteps(options.steps, model);
    const x0 = await readImages(options.images, model, '--images');
    tensors.push(x0);
    const z = options.z !== undefined ? await readLatents(options.z, model, x0.shape[0]) : model.encode(x0);
    tensors.push(z);
    const xNoise = await ddimInvert(model.predictEps.bind(model), makeSchedule(model.schedule), plan, x0, z, { onStep: stepLogger(log, 'invert') });
    tensors.push(xNoise);
    await writeNpyFile(options.out, (await xNoise.data()) as Float32Array, xNoise.shape);
    log(`invert: wrote x_T ${shapeText(xNoise.shape)} to ${options.out}`);
    return xNoise.shape;
  } finally {
    tf.dispose(tensors);
    model.dispose();
  }
}

export interface NllOptions {
  model: string;
  images: string;
  samples: number;
  seed?: number;
  out: string;
}

/** What `nll` writes: one estimate per image, and their mean. */
export interface NllReport {
  model: string;
  images: string;
  samples: number;
  seed: number;
  estimates: { bitsPerDim: number; bitsPerDim8bit: number; stdErr: number; nats: number; denoiserCalls: number }[];
  mean: { bitsPerDim: number; bitsPerDim8bit: number; stdErr: number };
}

/** -log p(x) per image by I-MMSE with K log-SNR samples, z = Enc(x). Writes and returns the report. */
export async function nllCommand(options: NllOptions, log: Log): Promise<NllReport> {
  if (!Number.isInteger(options.samples) || options.samples < 2) throw new CliError(`--samples must be an integer >= 2, got ${options.samples}`);
  const seed = options.seed ?? 0;
  const model = await openModel(options.model);
  const tensors: tf.Tensor[] = [];
  try {
    const x = await readImages(options.images, model, '--images');
    tensors.push(x);
    const z = model.encode(x);
    tensors.push(z);
    const schedule = makeSchedule(model.schedule);
    const estimates: NllReport['estimates'] = [];
    for (let b = 0; b < x.shape[0]; b++) {
      const xb = tf.slice(x, [b, 0, 0, 0], [1, -1, -1, -1]) as tf.Tensor4D;
      const zb = tf.slice(z, [b, 0], [1, -1]) as tf.Tensor2D;
      try {
        const e = await estimateNll(model.predictEps.bind(model), schedule, model.metadata.gaussianReference, xb, zb, { samples: options.samples, seed: seed + b });
        estimates.push({ bitsPerDim: e.bitsPerDim, bitsPerDim8bit: e.bitsPerDim8bit, stdErr: e.stdErr, nats: e.nats, denoiserCalls: e.denoiserCalls });
        log(`nll: image ${b + 1}/${x.shape[0]}: ${e.bitsPerDim8bit.toFixed(3)} bits/dim (8-bit) +- ${e.stdErr.toFixed(3)}`);
      } finally {
        tf.dispose([xb, zb]);
      }
    }
    const n = estimates.length;
    const mean = {
      bitsPerDim: estimates.reduce((s, e) => s + e.bitsPerDim, 0) / n,
      bitsPerDim8bit: estimates.reduce((s, e) => s + e.bitsPerDim8bit, 0) / n,
      // Independent estimates: the standard error of their mean.
      stdErr: Math.sqrt(estimates.reduce((s, e) => s + e.stdErr ** 2, 0)) / n,
    };
    const report: NllReport = { model: options.model, images: options.images, samples: options.samples, seed, estimates, mean };
    await writeFile(options.out, `${JSON.stringify(report, null, 2)}\n`);
    log(`nll: wrote ${n} estimate(s) to ${options.out}`);
    return report;
  } finally {
    tf.dispose(tensors);
    model.dispose();
  }
}

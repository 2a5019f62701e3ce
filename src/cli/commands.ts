/**
 * The CLI's commands as functions (Node only): each reads .npy inputs (NHWC float32 images, int32 timesteps),
 * runs the same src/model + src/diffusion code the browser runs, and writes .npy or JSON. `infodiff.ts` parses
 * the command line into these options; the tests call the functions directly.
 *
 * Every command runs its batch in chunks of `chunkSize` images (default DEFAULT_CHUNK_SIZE), with a progress
 * line per chunk, so the backend holds one chunk's activations at a time whatever the batch size: whole batches
 * of a few hundred 32x32 images ran the 4 GiB WebAssembly heap out (issue 32). Inputs are checked before any
 * network call: non-finite values anywhere, and pixel values far outside [-1, 1], are refused with the file, the
 * index and the allowed range, because they would otherwise run to all-NaN outputs and exit 0.
 */
import { stat, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { createRng, ddimInvert, ddimSample, ddimTimesteps, estimateNll, makeSchedule } from '../diffusion/index';
import {
  loadModelPackage,
  npyArray,
  npyToFloat32,
  npyToInt32,
  parseNpy,
  serializeNpy,
  type InfoDiffusionModel,
  type NpyArray,
} from '../model/index';
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
    throw new CliError(
      code === 'ENOENT'
        ? `${what}: file not found: ${path}`
        : `${what}: cannot read ${path}: ${(error as Error).message}`,
    );
  }
  try {
    return parseNpy(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  } catch (error) {
    throw new CliError(`${what}: ${path} is not a readable .npy file: ${(error as Error).message}`);
  }
}

/**
 * Images per chunk when a command is not told otherwise. The fashion-mnist U-Net holds about 15 MB of activations
 * per 32x32 image during a denoiser call, so `sample` used to abort at about 290 images (encode at 400, invert at
 * 300); 32 images keep a chunk near 0.5 GB while still amortising each kernel launch over a batch.
 */
export const DEFAULT_CHUNK_SIZE = 32;

/**
 * How far outside [-1, 1] a float image's values may lie. Samplers return x0 unclipped (ddim.ts), and a trained
 * model's samples overshoot the range by a few tenths at most, so `sample` output must still be accepted by
 * `encode` or `invert`; 1.5 leaves that margin while refusing the usual mistakes, pixels in 0..255 and NaN.
 * Noisy inputs (--xt, --xT) and latents are only required to be finite: their values are Gaussian, unbounded.
 */
export const IMAGE_VALUE_LIMIT = 1.5;

/** Refuses a missing or non-folder parent of `--out` before any work, in one line instead of an ENOENT stack. */
async function checkOutFolder(path: string): Promise<void> {
  const folder = dirname(path);
  let isFolder: boolean;
  try {
    isFolder = (await stat(folder)).isDirectory();
  } catch {
    throw new CliError(`--out: the folder ${folder} does not exist; create it first or write elsewhere (${path})`);
  }
  if (!isFolder) throw new CliError(`--out: ${folder} is not a folder, so ${path} cannot be written`);
}

async function writeOut(path: string, contents: Uint8Array | string): Promise<void> {
  try {
    await writeFile(path, contents);
  } catch (error) {
    throw new CliError(`--out: cannot write ${path}: ${(error as Error).message}`);
  }
}

async function writeNpyFile(path: string, data: Float32Array, shape: number[]): Promise<void> {
  await writeOut(path, serializeNpy(npyArray(data, shape)));
}

function checkChunkSize(chunkSize: number | undefined): number {
  const size = chunkSize ?? DEFAULT_CHUNK_SIZE;
  if (!Number.isInteger(size) || size < 1) throw new CliError(`--chunk must be an integer >= 1, got ${size}`);
  return size;
}

/** The multi-index [b, y, x, c] (or [b, d]) of flat position `flat` in a C-order array of `shape`. */
function indexText(flat: number, shape: readonly number[]): string {
  const index: number[] = [];
  let rest = flat;
  for (let k = shape.length - 1; k >= 0; k--) {
    index.unshift(rest % shape[k]);
    rest = Math.floor(rest / shape[k]);
  }
  return `[${index.join(', ')}]`;
}

/**
 * Refuses the first value that is not finite or, with `limit`, lies outside [-limit, limit], naming the flag, the
 * file, the index and the allowed range.
 */
function checkValues(values: Float32Array, shape: readonly number[], what: string, path: string, limit?: number): void {
  const allowed = limit === undefined ? 'finite numbers' : `finite numbers in [-1, 1] (up to ±${limit} is accepted)`;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (Number.isFinite(v) && (limit === undefined || Math.abs(v) <= limit)) continue;
    throw new CliError(`${what}: ${path}${indexText(i, shape)} = ${v}; values must be ${allowed}`);
  }
}

/**
 * Runs `run` on images [b0, b1) of a batch, chunk by chunk, and gathers its per-image outputs (`outPerImage` values
 * each) in batch order. Logs one progress line per chunk.
 */
async function inChunks(
  batch: number,
  chunkSize: number,
  outPerImage: number,
  progress: { log: Log; what: string },
  run: (b0: number, b1: number, chunk: number) => Promise<Float32Array>,
): Promise<Float32Array> {
  const out = new Float32Array(batch * outPerImage);
  const chunks = Math.ceil(batch / chunkSize);
  for (let k = 0; k < chunks; k++) {
    const b0 = k * chunkSize;
    const b1 = Math.min(batch, b0 + chunkSize);
    const values = await run(b0, b1, k);
    if (values.length !== (b1 - b0) * outPerImage)
      throw new Error(`chunk ${k + 1}: expected ${(b1 - b0) * outPerImage} values, got ${values.length}`);
    out.set(values, b0 * outPerImage);
    progress.log(`${progress.what}: images ${b0 + 1}-${b1} of ${batch} done (chunk ${k + 1}/${chunks})`);
  }
  return out;
}

/** Rows [b0, b1) of a host array of `perRow` values per row, as a tensor of `shape` (its first entry is b1 - b0). */
function rows<R extends tf.Rank>(
  values: Float32Array,
  perRow: number,
  b0: number,
  b1: number,
  shape: number[],
): tf.Tensor<R> {
  return tf.tensor<tf.Rank>(values.subarray(b0 * perRow, b1 * perRow), shape) as tf.Tensor<R>;
}

/** Reads a tensor's values and disposes it. */
async function take(tensor: tf.Tensor): Promise<Float32Array> {
  try {
    return (await tensor.data()) as Float32Array;
  } finally {
    tensor.dispose();
  }
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

/** Images read from a file, on the host: values [B*H*W*C] in NHWC order and their shape. */
interface HostImages {
  values: Float32Array;
  shape: [number, number, number, number];
}

/**
 * Reads NHWC images and checks them against the model: shape, batch, and values (finite; with `pixels`, also
 * within IMAGE_VALUE_LIMIT). They stay on the host; chunks are uploaded as they run.
 */
async function readImages(
  path: string,
  model: InfoDiffusionModel,
  what: string,
  expectedBatch?: number,
  pixels = true,
): Promise<HostImages> {
  const array = await readNpyFile(path, what);
  const { imageSize, imageChannels } = model.architecture;
  const [batch, height, width, channels] = array.shape;
  if (array.shape.length !== 4 || height !== imageSize || width !== imageSize || channels !== imageChannels) {
    throw new CliError(
      `${what}: ${path} has shape ${shapeText(array.shape)}; this model takes NHWC [B, ${imageSize}, ${imageSize}, ${imageChannels}]`,
    );
  }
  if (expectedBatch !== undefined && batch !== expectedBatch)
    throw new CliError(`${what}: ${path} has batch ${batch}, expected ${expectedBatch}`);
  let values: Float32Array;
  try {
    values = imageValues(array);
  } catch (error) {
    throw new CliError(`${what}: ${path}: ${(error as Error).message}`);
  }
  checkValues(values, array.shape, what, path, pixels ? IMAGE_VALUE_LIMIT : undefined);
  return { values, shape: [batch, height, width, channels] };
}

/** Reads latents [B, D] onto the host, checking their shape and that every value is finite. */
async function readLatents(path: string, model: InfoDiffusionModel, expectedBatch?: number): Promise<Float32Array> {
  const array = await readNpyFile(path, '--z');
  const d = model.architecture.latentDim;
  if (array.shape.length !== 2 || array.shape[1] !== d)
    throw new CliError(`--z: ${path} has shape ${shapeText(array.shape)}; this model takes [B, ${d}]`);
  if (expectedBatch !== undefined && array.shape[0] !== expectedBatch) {
    throw new CliError(`--z: ${path} has batch ${array.shape[0]}, but there are ${expectedBatch} image(s)`);
  }
  if (array.dtype !== '<f4' && array.dtype !== '<f8')
    throw new CliError(`--z: ${path} must be float32 or float64, got ${array.dtype}`);
  const values = npyToFloat32(array);
  checkValues(values, array.shape, '--z', path);
  return values;
}

/** Reads timesteps [B] as int32 onto the host, checking each lies in 0..T-1. */
async function readTimesteps(path: string, model: InfoDiffusionModel, batch: number): Promise<Int32Array> {
  const array = await readNpyFile(path, '--t');
  if (array.dtype !== '<i4' && array.dtype !== '<i8')
    throw new CliError(`--t: ${path} must hold integers (int32 or int64), got ${array.dtype}`);
  if (array.shape.length !== 1 || array.shape[0] !== batch)
    throw new CliError(`--t: ${path} has shape ${shapeText(array.shape)}; expected [${batch}]`);
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
  return values;
}

function checkSteps(steps: number, model: InfoDiffusionModel): Int32Array {
  const T = model.schedule.timesteps;
  if (!Number.isInteger(steps) || steps < 1 || steps > T)
    throw new CliError(`--steps must be an integer in 1..${T}, got ${steps}`);
  return ddimTimesteps(T, steps);
}

const stepLogger = (log: Log, what: string) => (info: { stepsDone: number; stepsTotal: number; t: number }) =>
  log(`${what}: step ${info.stepsDone}/${info.stepsTotal} (t = ${info.t})`);

/** What every command takes besides its files. */
interface ChunkOption {
  /**
   * Images per chunk (default DEFAULT_CHUNK_SIZE). Results do not depend on it beyond float32 rounding (the WASM
   * kernels block their sums by batch size), except sample's step noise at eta > 0 (see SampleOptions.noiseSeed).
   */
  chunkSize?: number;
}

const PER_LATENT = (model: InfoDiffusionModel) => model.architecture.latentDim;
const PER_IMAGE = (model: InfoDiffusionModel) => model.architecture.imageSize ** 2 * model.architecture.imageChannels;
const imageShape = (model: InfoDiffusionModel, batch: number): [number, number, number, number] => [
  batch,
  model.architecture.imageSize,
  model.architecture.imageSize,
  model.architecture.imageChannels,
];

/** Enc(x) of every image, chunk by chunk; the latents [B*D] on the host. */
function encodeInChunks(
  model: InfoDiffusionModel,
  x: HostImages,
  chunkSize: number,
  log: Log,
  what: string,
): Promise<Float32Array> {
  const perImage = PER_IMAGE(model);
  return inChunks(x.shape[0], chunkSize, PER_LATENT(model), { log, what }, async (b0, b1) => {
    const xb = rows<tf.Rank.R4>(x.values, perImage, b0, b1, imageShape(model, b1 - b0));
    try {
      return await take(model.encode(xb));
    } finally {
      xb.dispose();
    }
  });
}

export interface EncodeOptions extends ChunkOption {
  model: string;
  images: string;
  out: string;
}

/** x [B,H,W,C] -> z [B,D]. Returns the shape written. */
export async function encodeCommand(options: EncodeOptions, log: Log): Promise<number[]> {
  const chunkSize = checkChunkSize(options.chunkSize);
  await checkOutFolder(options.out);
  const model = await openModel(options.model);
  try {
    const x = await readImages(options.images, model, '--images');
    const z = await encodeInChunks(model, x, chunkSize, log, 'encode');
    const shape = [x.shape[0], PER_LATENT(model)];
    await writeNpyFile(options.out, z, shape);
    log(`encode: wrote z ${shapeText(shape)} to ${options.out}`);
    return shape;
  } finally {
    model.dispose();
  }
}

export interface DenoiseOptions extends ChunkOption {
  model: string;
  xt: string;
  t: string;
  z: string;
  out: string;
}

/** eps_theta(x_t, t, z): one denoiser call per chunk. Returns the shape written. */
export async function denoiseCommand(options: DenoiseOptions, log: Log): Promise<number[]> {
  const chunkSize = checkChunkSize(options.chunkSize);
  await checkOutFolder(options.out);
  const model = await openModel(options.model);
  try {
    const xt = await readImages(options.xt, model, '--xt', undefined, false);
    const batch = xt.shape[0];
    const t = await readTimesteps(options.t, model, batch);
    const z = await readLatents(options.z, model, batch);
    const perImage = PER_IMAGE(model);
    const d = PER_LATENT(model);
    const eps = await inChunks(batch, chunkSize, perImage, { log, what: 'denoise' }, async (b0, b1) => {
      const inputs = [
        rows<tf.Rank.R4>(xt.values, perImage, b0, b1, imageShape(model, b1 - b0)),
        tf.tensor1d(t.subarray(b0, b1), 'int32'),
        rows<tf.Rank.R2>(z, d, b0, b1, [b1 - b0, d]),
      ] as const;
      try {
        return await take(model.predictEps(...inputs));
      } finally {
        tf.dispose([...inputs]);
      }
    });
    await writeNpyFile(options.out, eps, xt.shape);
    log(`denoise: wrote eps ${shapeText(xt.shape)} to ${options.out}`);
    return xt.shape;
  } finally {
    model.dispose();
  }
}

export interface SampleOptions extends ChunkOption {
  model: string;
  z: string;
  /** x_T file; when absent, x_T ~ N(0, I) from `seed`. */
  xT?: string;
  seed?: number;
  steps: number;
  eta: number;
  /**
   * Seed of the per-step noise when eta > 0 (default 0, as in the engine). The first chunk draws from this seed;
   * chunk k > 0 from a seed derived from it and k (chunkNoiseSeed), so a batch of one chunk samples as before.
   */
  noiseSeed?: number;
  out: string;
}

/**
 * The seed of chunk k's step noise: the given seed for the first chunk, and for later chunks one scattered by the
 * golden-ratio constant, so chunk 1 of seed s does not replay chunk 0 of seed s + 1.
 */
export function chunkNoiseSeed(noiseSeed: number, chunk: number): number {
  return chunk === 0 ? noiseSeed : (noiseSeed + Math.imul(chunk, 0x9e3779b9)) | 0;
}

/** DDIM sampling from x_T conditioned on z. Returns the shape written. */
export async function sampleCommand(options: SampleOptions, log: Log): Promise<number[]> {
  if (options.xT !== undefined && options.seed !== undefined)
    throw new CliError('give either --xT or --seed, not both');
  if (!(options.eta >= 0 && options.eta <= 1)) throw new CliError(`--eta must be in [0, 1], got ${options.eta}`);
  const chunkSize = checkChunkSize(options.chunkSize);
  await checkOutFolder(options.out);
  const model = await openModel(options.model);
  try {
    const plan = checkSteps(options.steps, model);
    const z = await readLatents(options.z, model);
    const d = PER_LATENT(model);
    const batch = z.length / d;
    const shape = imageShape(model, batch);
    const perImage = PER_IMAGE(model);
    // The whole x_T is drawn on the host from one stream, so each image's x_T is the same whatever the chunking.
    const xNoise =
      options.xT !== undefined
        ? (await readImages(options.xT, model, '--xT', batch, false)).values
        : createRng(options.seed ?? 0).normals(batch * perImage);
    const schedule = makeSchedule(model.schedule);
    const x0 = await inChunks(batch, chunkSize, perImage, { log, what: 'sample' }, async (b0, b1, chunk) => {
      const inputs = [
        rows<tf.Rank.R4>(xNoise, perImage, b0, b1, imageShape(model, b1 - b0)),
        rows<tf.Rank.R2>(z, d, b0, b1, [b1 - b0, d]),
      ] as const;
      try {
        return await take(
          await ddimSample(model.predictEps.bind(model), schedule, plan, inputs[0], inputs[1], {
            eta: options.eta,
            seed: options.eta > 0 ? chunkNoiseSeed(options.noiseSeed ?? 0, chunk) : undefined,
            onStep: stepLogger(log, 'sample'),
          }),
        );
      } finally {
        tf.dispose([...inputs]);
      }
    });
    await writeNpyFile(options.out, x0, shape);
    log(`sample: wrote x0 ${shapeText(shape)} to ${options.out}`);
    return shape;
  } finally {
    model.dispose();
  }
}

export interface InvertOptions extends ChunkOption {
  model: string;
  images: string;
  /** Latents to condition on; default Enc(x0). */
  z?: string;
  steps: number;
  out: string;
}

/** Deterministic DDIM inversion x0 -> x_T. Returns the shape written. */
export async function invertCommand(options: InvertOptions, log: Log): Promise<number[]> {
  const chunkSize = checkChunkSize(options.chunkSize);
  await checkOutFolder(options.out);
  const model = await openModel(options.model);
  try {
    const plan = checkSteps(options.steps, model);
    const x0 = await readImages(options.images, model, '--images');
    const batch = x0.shape[0];
    const givenZ = options.z !== undefined ? await readLatents(options.z, model, batch) : undefined;
    const perImage = PER_IMAGE(model);
    const d = PER_LATENT(model);
    const schedule = makeSchedule(model.schedule);
    const xNoise = await inChunks(batch, chunkSize, perImage, { log, what: 'invert' }, async (b0, b1) => {
      const xb = rows<tf.Rank.R4>(x0.values, perImage, b0, b1, imageShape(model, b1 - b0));
      const zb = givenZ !== undefined ? rows<tf.Rank.R2>(givenZ, d, b0, b1, [b1 - b0, d]) : model.encode(xb);
      try {
        return await take(
          await ddimInvert(model.predictEps.bind(model), schedule, plan, xb, zb, { onStep: stepLogger(log, 'invert') }),
        );
      } finally {
        tf.dispose([xb, zb]);
      }
    });
    await writeNpyFile(options.out, xNoise, x0.shape);
    log(`invert: wrote x_T ${shapeText(x0.shape)} to ${options.out}`);
    return x0.shape;
  } finally {
    model.dispose();
  }
}

export interface NllOptions extends ChunkOption {
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

/**
 * -log p(x) per image by I-MMSE with K log-SNR samples, z = Enc(x). The encoder runs in chunks; the estimator
 * already takes one image at a time (K denoiser calls each), with a progress line per image. Writes and returns
 * the report.
 */
export async function nllCommand(options: NllOptions, log: Log): Promise<NllReport> {
  if (!Number.isInteger(options.samples) || options.samples < 2)
    throw new CliError(`--samples must be an integer >= 2, got ${options.samples}`);
  const chunkSize = checkChunkSize(options.chunkSize);
  await checkOutFolder(options.out);
  const seed = options.seed ?? 0;
  const model = await openModel(options.model);
  try {
    const x = await readImages(options.images, model, '--images');
    const batch = x.shape[0];
    const z = await encodeInChunks(model, x, chunkSize, log, 'nll: encode');
    const schedule = makeSchedule(model.schedule);
    const perImage = PER_IMAGE(model);
    const d = PER_LATENT(model);
    const estimates: NllReport['estimates'] = [];
    for (let b = 0; b < batch; b++) {
      const xb = rows<tf.Rank.R4>(x.values, perImage, b, b + 1, imageShape(model, 1));
      const zb = rows<tf.Rank.R2>(z, d, b, b + 1, [1, d]);
      try {
        const e = await estimateNll(model.predictEps.bind(model), schedule, model.metadata.gaussianReference, xb, zb, {
          samples: options.samples,
          seed: seed + b,
        });
        estimates.push({
          bitsPerDim: e.bitsPerDim,
          bitsPerDim8bit: e.bitsPerDim8bit,
          stdErr: e.stdErr,
          nats: e.nats,
          denoiserCalls: e.denoiserCalls,
        });
        log(`nll: image ${b + 1}/${batch}: ${e.bitsPerDim8bit.toFixed(3)} bits/dim (8-bit) +- ${e.stdErr.toFixed(3)}`);
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
    const report: NllReport = {
      model: options.model,
      images: options.images,
      samples: options.samples,
      seed,
      estimates,
      mean,
    };
    await writeOut(options.out, `${JSON.stringify(report, null, 2)}\n`);
    log(`nll: wrote ${n} estimate(s) to ${options.out}`);
    return report;
  } finally {
    model.dispose();
  }
}

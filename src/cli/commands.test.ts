/**
 * The CLI commands on the fixture package (public/models/fixture), in Node on the WASM backend as the CLI runs:
 * outputs agree with the runtime called directly, sampling is reproducible from a seed, and bad command lines
 * and files are refused with messages that name the problem.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRng } from '../diffusion/index';
import { npyArray, parseNpy, serializeNpy, type NpyArray } from '../model/index';
import { selectBackend } from '../engine/backend';
import {
  DEFAULT_CHUNK_SIZE,
  IMAGE_VALUE_LIMIT,
  denoiseCommand,
  encodeCommand,
  invertCommand,
  nllCommand,
  openModel,
  sampleCommand,
} from './commands';
import { main, parseFlags } from './infodiff';

const FIXTURE = resolve(import.meta.dirname, '../../public/models/fixture');
const quiet = () => {};

let dir: string;
let images: string;
let arch: { imageSize: number; imageChannels: number; latentDim: number };

async function readNpy(path: string): Promise<NpyArray> {
  return parseNpy(await readFile(path));
}

async function writeNpy(path: string, data: Float32Array | Int32Array, shape: number[]): Promise<string> {
  await writeFile(path, serializeNpy(npyArray(data, shape)));
  return path;
}

beforeAll(async () => {
  if (!existsSync(join(FIXTURE, 'model.json'))) {
    throw new Error(
      `the fixture model is missing (${FIXTURE}); run \`cd train && /usr/bin/python3 -m infodiff.fixture\` to write it`,
    );
  }
  await selectBackend('wasm');
  dir = await mkdtemp(join(tmpdir(), 'infodiff-cli-'));
  const model = await openModel(FIXTURE);
  arch = model.architecture;
  model.dispose();
  const pixels = arch.imageSize * arch.imageSize * arch.imageChannels;
  const values = Float32Array.from(createRng(11).uniforms(2 * pixels), (u) => 2 * u - 1);
  images = await writeNpy(join(dir, 'x.npy'), values, [2, arch.imageSize, arch.imageSize, arch.imageChannels]);
});

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('infodiff CLI commands (fixture model)', () => {
  it('encode writes Enc(x), as the runtime computes it', async () => {
    const out = join(dir, 'z.npy');
    expect(await encodeCommand({ model: FIXTURE, images, out }, quiet)).toEqual([2, arch.latentDim]);
    const written = await readNpy(out);
    expect(written.dtype).toBe('<f4');
    const model = await openModel(FIXTURE);
    const x = tf.tensor4d((await readNpy(images)).data as Float32Array, [
      2,
      arch.imageSize,
      arch.imageSize,
      arch.imageChannels,
    ]);
    const z = model.encode(x);
    expect(Array.from(written.data as Float32Array)).toEqual(Array.from(await z.data()));
    tf.dispose([x, z]);
    model.dispose();
  });

  it('denoise, sample and invert write arrays of the image shape; sampling is reproducible from its seed', async () => {
    const z = join(dir, 'z.npy');
    await encodeCommand({ model: FIXTURE, images, out: z }, quiet);
    const imageShape = [2, arch.imageSize, arch.imageSize, arch.imageChannels];
    const t = await writeNpy(join(dir, 't.npy'), Int32Array.of(0, 999), [2]);
    expect(await denoiseCommand({ model: FIXTURE, xt: images, t, z, out: join(dir, 'eps.npy') }, quiet)).toEqual(
      imageShape,
    );

    const steps: string[] = [];
    await sampleCommand({ model: FIXTURE, z, seed: 4, steps: 2, eta: 0, out: join(dir, 'a.npy') }, (line) =>
      steps.push(line),
    );
    expect(steps.filter((line) => line.includes('step'))).toEqual([
      'sample: step 1/2 (t = 999)',
      'sample: step 2/2 (t = 0)',
    ]);
    await sampleCommand({ model: FIXTURE, z, seed: 4, steps: 2, eta: 0, out: join(dir, 'b.npy') }, quiet);
    const a = await readFile(join(dir, 'a.npy'));
    expect(a.equals(await readFile(join(dir, 'b.npy')))).toBe(true);

    // An explicit x_T equal to the seeded draw gives the same images as the seed.
    const pixels = imageShape.reduce((p, n) => p * n, 1);
    const xNoise = await writeNpy(join(dir, 'xT-seed4.npy'), createRng(4).normals(pixels), imageShape);
    await sampleCommand({ model: FIXTURE, z, xT: xNoise, steps: 2, eta: 0, out: join(dir, 'c.npy') }, quiet);
    expect(a.equals(await readFile(join(dir, 'c.npy')))).toBe(true);

    expect(await invertCommand({ model: FIXTURE, images, steps: 2, out: join(dir, 'xT.npy') }, quiet)).toEqual(
      imageShape,
    );
    const withGivenZ = join(dir, 'xT-given-z.npy');
    await invertCommand({ model: FIXTURE, images, z, steps: 2, out: withGivenZ }, quiet);
    expect((await readFile(join(dir, 'xT.npy'))).equals(await readFile(withGivenZ))).toBe(true);
  });

  it('nll writes one finite estimate per image and their mean', async () => {
    const out = join(dir, 'nll.json');
    const report = await nllCommand({ model: FIXTURE, images, samples: 4, out }, quiet);
    expect(report.estimates).toHaveLength(2);
    for (const e of report.estimates) {
      expect(Number.isFinite(e.bitsPerDim) && Number.isFinite(e.stdErr)).toBe(true);
      expect(e.bitsPerDim8bit - e.bitsPerDim).toBeCloseTo(Math.log2(127.5), 10);
    }
    expect(JSON.parse(await readFile(out, 'utf8'))).toEqual(report);
  });

  it('refuses bad inputs with messages naming the file and the problem', async () => {
    const wrongShape = await writeNpy(join(dir, 'wrong.npy'), new Float32Array(12), [1, 2, 2, 3]);
    await expect(encodeCommand({ model: FIXTURE, images: wrongShape, out: join(dir, 'o.npy') }, quiet)).rejects.toThrow(
      `--images: ${wrongShape} has shape [1, 2, 2, 3]; this model takes NHWC [B, ${arch.imageSize}, ${arch.imageSize}, ${arch.imageChannels}]`,
    );
    await expect(
      encodeCommand({ model: join(dir, 'missing-model'), images, out: join(dir, 'o.npy') }, quiet),
    ).rejects.toThrow(/cannot load the model package in .*missing-model/);
    await expect(
      encodeCommand({ model: FIXTURE, images: join(dir, 'nothing.npy'), out: join(dir, 'o.npy') }, quiet),
    ).rejects.toThrow(/--images: file not found/);
    const badT = await writeNpy(join(dir, 'bad-t.npy'), Int32Array.of(0, 5000), [2]);
    const z = join(dir, 'z.npy');
    await expect(
      denoiseCommand({ model: FIXTURE, xt: images, t: badT, z, out: join(dir, 'o.npy') }, quiet),
    ).rejects.toThrow(`--t: ${badT}[1] = 5000 is outside 0..999`);
    await expect(
      sampleCommand({ model: FIXTURE, z, steps: 0, eta: 0, out: join(dir, 'o.npy') }, quiet),
    ).rejects.toThrow('--steps must be an integer in 1..1000, got 0');
  });
});

describe('infodiff CLI: any batch size, in chunks (fixture model)', () => {
  // The fixture is too small to exhaust the WASM heap at the batch sizes that broke fashion-mnist (290 for sample),
  // and a full-size run takes minutes on two cores; so these tests prove the chunking itself with a small
  // chunk size: the outputs equal a one-chunk run's to float32 rounding (the WASM kernels block their sums by batch
  // size, so the last bits differ), one progress line per chunk, no tensor left.
  const B = 5;
  let batch: string;
  let zBatch: string;

  beforeAll(async () => {
    const pixels = arch.imageSize * arch.imageSize * arch.imageChannels;
    batch = await writeNpy(
      join(dir, 'x5.npy'),
      Float32Array.from(createRng(12).uniforms(B * pixels), (u) => 2 * u - 1),
      [B, arch.imageSize, arch.imageSize, arch.imageChannels],
    );
    zBatch = join(dir, 'z5.npy');
    await encodeCommand({ model: FIXTURE, images: batch, out: zBatch }, quiet);
  });

  async function chunkedEqualsWhole(
    run: (out: string, chunkSize: number, log: (line: string) => void) => Promise<unknown>,
    what: string,
  ): Promise<string[]> {
    const whole = join(dir, `${what}-whole.npy`);
    const chunked = join(dir, `${what}-chunked.npy`);
    await run(whole, B, quiet);
    const lines: string[] = [];
    const tensorsBefore = tf.memory().numTensors;
    await run(chunked, 2, (line) => lines.push(line));
    expect(tf.memory().numTensors).toBe(tensorsBefore);
    const a = (await readNpy(chunked)).data as Float32Array;
    const b = (await readNpy(whole)).data as Float32Array;
    expect(a.length).toBe(b.length);
    const scale = b.reduce((m, v) => Math.max(m, Math.abs(v)), 1);
    expect(a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0)).toBeLessThan(1e-5 * scale);
    return lines.filter((line) => line.includes(' done (chunk'));
  }

  it('encode, denoise, sample and invert give the same arrays in chunks of 2 as in one chunk, with a progress line per chunk', async () => {
    expect(
      await chunkedEqualsWhole(
        (out, chunkSize, log) => encodeCommand({ model: FIXTURE, images: batch, out, chunkSize }, log),
        'encode',
      ),
    ).toEqual([
      'encode: images 1-2 of 5 done (chunk 1/3)',
      'encode: images 3-4 of 5 done (chunk 2/3)',
      'encode: images 5-5 of 5 done (chunk 3/3)',
    ]);
    const t = await writeNpy(join(dir, 't5.npy'), Int32Array.of(0, 10, 500, 900, 999), [B]);
    expect(
      await chunkedEqualsWhole(
        (out, chunkSize, log) => denoiseCommand({ model: FIXTURE, xt: batch, t, z: zBatch, out, chunkSize }, log),
        'denoise',
      ),
    ).toHaveLength(3);
    expect(
      await chunkedEqualsWhole(
        (out, chunkSize, log) =>
          sampleCommand({ model: FIXTURE, z: zBatch, seed: 3, steps: 2, eta: 0, out, chunkSize }, log),
        'sample',
      ),
    ).toEqual([
      'sample: images 1-2 of 5 done (chunk 1/3)',
      'sample: images 3-4 of 5 done (chunk 2/3)',
      'sample: images 5-5 of 5 done (chunk 3/3)',
    ]);
    expect(
      await chunkedEqualsWhole(
        (out, chunkSize, log) => invertCommand({ model: FIXTURE, images: batch, steps: 2, out, chunkSize }, log),
        'invert',
      ),
    ).toHaveLength(3);
  });

  it('nll encodes in chunks and gives the same estimates; a batch larger than the default chunk is split by default', async () => {
    const lines: string[] = [];
    const chunked = await nllCommand(
      { model: FIXTURE, images: batch, samples: 2, out: join(dir, 'nll5.json'), chunkSize: 2 },
      (line) => lines.push(line),
    );
    expect(lines.filter((line) => line.includes(' done (chunk'))).toHaveLength(3);
    const whole = await nllCommand(
      { model: FIXTURE, images: batch, samples: 2, out: join(dir, 'nll5-whole.json'), chunkSize: B },
      quiet,
    );
    chunked.estimates.forEach((e, b) => expect(e.bitsPerDim).toBeCloseTo(whole.estimates[b].bitsPerDim, 4));

    // No chunkSize: a batch of 2 * DEFAULT_CHUNK_SIZE + 1 runs in three chunks, so no batch holds more than
    // DEFAULT_CHUNK_SIZE images' activations at once (the fashion-mnist sampler ran out of memory at 290).
    expect(DEFAULT_CHUNK_SIZE).toBeLessThan(290);
    const n = 2 * DEFAULT_CHUNK_SIZE + 1;
    const pixels = arch.imageSize * arch.imageSize * arch.imageChannels;
    const many = await writeNpy(join(dir, 'many.npy'), new Float32Array(n * pixels).fill(0.25), [
      n,
      arch.imageSize,
      arch.imageSize,
      arch.imageChannels,
    ]);
    const progress: string[] = [];
    expect(
      await encodeCommand({ model: FIXTURE, images: many, out: join(dir, 'many-z.npy') }, (line) =>
        progress.push(line),
      ),
    ).toEqual([n, arch.latentDim]);
    expect(progress.filter((line) => line.includes(' done (chunk'))).toEqual([
      `encode: images 1-${DEFAULT_CHUNK_SIZE} of ${n} done (chunk 1/3)`,
      `encode: images ${DEFAULT_CHUNK_SIZE + 1}-${2 * DEFAULT_CHUNK_SIZE} of ${n} done (chunk 2/3)`,
      `encode: images ${n}-${n} of ${n} done (chunk 3/3)`,
    ]);
    await expect(
      encodeCommand({ model: FIXTURE, images: many, out: join(dir, 'o.npy'), chunkSize: 0 }, quiet),
    ).rejects.toThrow('--chunk must be an integer >= 1, got 0');
  });
});

describe('infodiff CLI: non-finite and out-of-range inputs, and --out', () => {
  const shape = () => [2, arch.imageSize, arch.imageSize, arch.imageChannels];
  const pixels = () => 2 * arch.imageSize * arch.imageSize * arch.imageChannels;
  /** A batch of 2 mid-grey images with one value replaced at flat position `at`. */
  async function imagesWith(name: string, at: number, value: number): Promise<string> {
    const values = new Float32Array(pixels()).fill(0.1);
    values[at] = value;
    return writeNpy(join(dir, name), values, shape());
  }

  it('refuses NaN, infinite and far out-of-range pixels, naming the file, the index and the allowed range', async () => {
    const out = join(dir, 'o.npy');
    // Flat index of [1, 3, 4, 0] in NHWC.
    const at = ((1 * arch.imageSize + 3) * arch.imageSize + 4) * arch.imageChannels;
    const nan = await imagesWith('nan.npy', at, Number.NaN);
    const range = `values must be finite numbers in [-1, 1] (up to ±${IMAGE_VALUE_LIMIT} is accepted)`;
    await expect(encodeCommand({ model: FIXTURE, images: nan, out }, quiet)).rejects.toThrow(
      `--images: ${nan}[1, 3, 4, 0] = NaN; ${range}`,
    );
    await expect(invertCommand({ model: FIXTURE, images: nan, steps: 2, out }, quiet)).rejects.toThrow(
      `--images: ${nan}[1, 3, 4, 0] = NaN; ${range}`,
    );
    await expect(nllCommand({ model: FIXTURE, images: nan, samples: 2, out }, quiet)).rejects.toThrow(
      `--images: ${nan}[1, 3, 4, 0] = NaN; ${range}`,
    );
    const bytes = await imagesWith('bytes.npy', 7, 255);
    await expect(encodeCommand({ model: FIXTURE, images: bytes, out }, quiet)).rejects.toThrow(
      `--images: ${bytes}[0, 0, ${7 / arch.imageChannels}, 0] = 255; ${range}`,
    );
    const infinite = await imagesWith('inf.npy', 0, Number.NEGATIVE_INFINITY);
    await expect(encodeCommand({ model: FIXTURE, images: infinite, out }, quiet)).rejects.toThrow(
      `--images: ${infinite}[0, 0, 0, 0] = -Infinity; ${range}`,
    );
    // An unclipped sampler output overshoots [-1, 1] a little; it is still an image.
    const overshoot = await imagesWith('overshoot.npy', 0, 1.3);
    expect(await encodeCommand({ model: FIXTURE, images: overshoot, out }, quiet)).toEqual([2, arch.latentDim]);
  });

  it('refuses non-finite latents, x_T and x_t, which may otherwise take any value', async () => {
    const out = join(dir, 'o.npy');
    const zValues = new Float32Array(2 * arch.latentDim).fill(0.5);
    zValues[arch.latentDim + 1] = Number.POSITIVE_INFINITY;
    const z = await writeNpy(join(dir, 'z-inf.npy'), zValues, [2, arch.latentDim]);
    await expect(sampleCommand({ model: FIXTURE, z, seed: 0, steps: 2, eta: 0, out }, quiet)).rejects.toThrow(
      `--z: ${z}[1, 1] = Infinity; values must be finite numbers`,
    );
    const goodZ = await writeNpy(join(dir, 'z-ok.npy'), new Float32Array(2 * arch.latentDim).fill(0.5), [
      2,
      arch.latentDim,
    ]);
    const xNoise = await imagesWith('xT-nan.npy', 1, Number.NaN);
    await expect(sampleCommand({ model: FIXTURE, z: goodZ, xT: xNoise, steps: 2, eta: 0, out }, quiet)).rejects.toThrow(
      `--xT: ${xNoise}[0, 0, ${Math.floor(1 / arch.imageChannels)}, ${1 % arch.imageChannels}] = NaN; values must be finite numbers`,
    );
    const t = await writeNpy(join(dir, 't2.npy'), Int32Array.of(0, 999), [2]);
    await expect(denoiseCommand({ model: FIXTURE, xt: xNoise, t, z: goodZ, out }, quiet)).rejects.toThrow(
      `--xt: ${xNoise}`,
    );
    // Noisy inputs are Gaussian: large finite values are fine.
    const loud = await imagesWith('xt-loud.npy', 0, 4.5);
    expect(await denoiseCommand({ model: FIXTURE, xt: loud, t, z: goodZ, out }, quiet)).toEqual(shape());
  });

  it('--out into a missing folder is one line, before any work', async () => {
    const lines: string[] = [];
    const missing = join(dir, 'no-such-folder', 'z.npy');
    expect(
      await main(['encode', '--model', FIXTURE, '--images', images, '--out', missing], (line) => lines.push(line)),
    ).toBe(1);
    expect(lines.at(-1)).toBe(
      `infodiff encode: --out: the folder ${join(dir, 'no-such-folder')} does not exist; create it first or write elsewhere (${missing})`,
    );
    expect(lines.join('\n')).not.toMatch(/ENOENT|\n\s+at /);
    await expect(
      nllCommand({ model: FIXTURE, images, samples: 2, out: join(dir, 'none', 'nll.json') }, quiet),
    ).rejects.toThrow(/--out: the folder .*none does not exist/);
  });
});

describe('infodiff command line', () => {
  it('parses flags in both spellings and refuses unknown, missing, duplicate and mistyped ones', () => {
    expect(
      parseFlags('sample', [
        '--model',
        'm',
        '--z=z.npy',
        '--steps',
        '5',
        '--eta=0.5',
        '--out',
        'o.npy',
        '--backend',
        'cpu',
      ]),
    ).toEqual({
      values: { model: 'm', z: 'z.npy', steps: 5, eta: 0.5, out: 'o.npy' },
      backend: 'cpu',
    });
    expect(() => parseFlags('paint', [])).toThrow(
      "unknown command 'paint'; commands: encode, denoise, sample, invert, nll",
    );
    expect(() => parseFlags('encode', ['--model', 'm', '--out', 'o'])).toThrow('encode needs --images');
    expect(() => parseFlags('encode', ['--colour', 'red'])).toThrow(/encode has no flag --colour/);
    expect(() => parseFlags('sample', ['--steps', '2.5'])).toThrow("--steps must be an integer, got '2.5'");
    expect(() => parseFlags('encode', ['--model', 'a', '--model', 'b'])).toThrow('--model is given twice');
    expect(() => parseFlags('encode', ['--model'])).toThrow('--model needs a value');
    expect(() => parseFlags('encode', ['--backend', 'gpu'])).toThrow("--backend must be wasm or cpu, got 'gpu'");
  });

  it('exits 2 on usage errors and 1 on failures, saying why', async () => {
    const lines: string[] = [];
    expect(await main(['encode', '--model', FIXTURE], (line) => lines.push(line))).toBe(2);
    expect(lines[0]).toBe('infodiff: encode needs --images, --out');
    lines.length = 0;
    expect(
      await main(
        ['encode', '--model', FIXTURE, '--images', join(dir, 'nothing.npy'), '--out', join(dir, 'o.npy')],
        (line) => lines.push(line),
      ),
    ).toBe(1);
    expect(lines.at(-1)).toBe(`infodiff encode: --images: file not found: ${join(dir, 'nothing.npy')}`);
  });
});

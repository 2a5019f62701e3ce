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
import { denoiseCommand, encodeCommand, invertCommand, nllCommand, openModel, sampleCommand } from './commands';
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
    throw new Error(`the fixture model is missing (${FIXTURE}); run \`cd train && /usr/bin/python3 -m infodiff.fixture\` to write it`);
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
    const x = tf.tensor4d((await readNpy(images)).data as Float32Array, [2, arch.imageSize, arch.imageSize, arch.imageChannels]);
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
    expect(await denoiseCommand({ model: FIXTURE, xt: images, t, z, out: join(dir, 'eps.npy') }, quiet)).toEqual(imageShape);

    const steps: string[] = [];
    await sampleCommand({ model: FIXTURE, z, seed: 4, steps: 2, eta: 0, out: join(dir, 'a.npy') }, (line) => steps.push(line));
    expect(steps.filter((line) => line.includes('step'))).toEqual(['sample: step 1/2 (t = 999)', 'sample: step 2/2 (t = 0)']);
    await sampleCommand({ model: FIXTURE, z, seed: 4, steps: 2, eta: 0, out: join(dir, 'b.npy') }, quiet);
    const a = await readFile(join(dir, 'a.npy'));
    expect(a.equals(await readFile(join(dir, 'b.npy')))).toBe(true);

    // An explicit x_T equal to the seeded draw gives the same images as the seed.
    const pixels = imageShape.reduce((p, n) => p * n, 1);
    const xNoise = await writeNpy(join(dir, 'xT-seed4.npy'), createRng(4).normals(pixels), imageShape);
    await sampleCommand({ model: FIXTURE, z, xT: xNoise, steps: 2, eta: 0, out: join(dir, 'c.npy') }, quiet);
    expect(a.equals(await readFile(join(dir, 'c.npy')))).toBe(true);

    expect(await invertCommand({ model: FIXTURE, images, steps: 2, out: join(dir, 'xT.npy') }, quiet)).toEqual(imageShape);
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
    await expect(encodeCommand({ model: join(dir, 'missing-model'), images, out: join(dir, 'o.npy') }, quiet)).rejects.toThrow(/cannot load the model package in .*missing-model/);
    await expect(encodeCommand({ model: FIXTURE, images: join(dir, 'nothing.npy'), out: join(dir, 'o.npy') }, quiet)).rejects.toThrow(/--images: file not found/);
    const badT = await writeNpy(join(dir, 'bad-t.npy'), Int32Array.of(0, 5000), [2]);
    const z = join(dir, 'z.npy');
    await expect(denoiseCommand({ model: FIXTURE, xt: images, t: badT, z, out: join(dir, 'o.npy') }, quiet)).rejects.toThrow(`--t: ${badT}[1] = 5000 is outside 0..999`);
    await expect(sampleCommand({ model: FIXTURE, z, steps: 0, eta: 0, out: join(dir, 'o.npy') }, quiet)).rejects.toThrow('--steps must be an integer in 1..1000, got 0');
  });
});

describe('infodiff command line', () => {
  it('parses flags in both spellings and refuses unknown, missing, duplicate and mistyped ones', () => {
    expect(parseFlags('sample', ['--model', 'm', '--z=z.npy', '--steps', '5', '--eta=0.5', '--out', 'o.npy', '--backend', 'cpu'])).toEqual({
      values: { model: 'm', z: 'z.npy', steps: 5, eta: 0.5, out: 'o.npy' },
      backend: 'cpu',
    });
    expect(() => parseFlags('paint', [])).toThrow("unknown command 'paint'; commands: encode, denoise, sample, invert, nll");
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
    expect(await main(['encode', '--model', FIXTURE, '--images', join(dir, 'nothing.npy'), '--out', join(dir, 'o.npy')], (line) => lines.push(line))).toBe(1);
    expect(lines.at(-1)).toBe(`infodiff encode: --images: file not found: ${join(dir, 'nothing.npy')}`);
  });
});

/**
 * Golden parity with PyTorch: the fixture package (public/models/fixture) run by the TypeScript runtime on the
 * tfjs CPU backend must reproduce what train/infodiff computes from the same package (in float64), to 1e-4
 * relative error (max|a - b| / max|b|): encoder, denoiser, a 3-step DDIM run, DDIM inversion, and the distilled
 * student's 1- and 2-call decodes (its own plan and parameterisation); the encoder and denoiser also on the WASM
 * backend, whose GroupNorm is the pooled composite of layers.ts rather than the fused kernel.
 *
 * The golden files are written by `cd train && /usr/bin/python3 -m infodiff.fixture` into e2e/fixtures/golden/.
 * When they are missing the tests fail, saying so: a parity check that silently skips cannot catch drift.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fsPackageFiles } from '../cli/fsPackageFiles';
import { ddimInvert, ddimSample, ddimTimesteps, makeSchedule } from '../diffusion/index';
import { loadModelPackage, npyToFloat32, npyToInt32, parseNpy, type InfoDiffusionModel, type NpyArray } from './index';

const ROOT = resolve(import.meta.dirname, '../..');
const GOLDEN_DIR = join(ROOT, 'e2e/fixtures/golden');
const REGENERATE = 'run `cd train && /usr/bin/python3 -m infodiff.fixture` to write them';
const TOLERANCE = 1e-4;

/** golden.json, as train/infodiff/fixture.py writes it. */
interface GoldenIndex {
  /** Package folder relative to the repository root. */
  model: string;
  ddimSteps: number;
  /** The plan PyTorch used; ours must be the same. */
  ddimTimesteps: number[];
  eta: number;
  /** The student's plan and parameterisation as PyTorch decoded with them (metadata.student of the package). */
  studentPlan: number[];
  studentParameterisation: string;
}

function readGoldenIndex(): GoldenIndex {
  const path = join(GOLDEN_DIR, 'golden.json');
  if (!existsSync(path)) throw new Error(`golden parity files are missing (${path} not found); ${REGENERATE}`);
  return JSON.parse(readFileSync(path, 'utf8')) as GoldenIndex;
}

function readGolden(name: string): NpyArray {
  const path = join(GOLDEN_DIR, name);
  if (!existsSync(path)) throw new Error(`golden file ${path} is missing; ${REGENERATE}`);
  return parseNpy(readFileSync(path));
}

function tensor4d(name: string): tf.Tensor4D {
  const array = readGolden(name);
  if (array.shape.length !== 4) throw new Error(`${name} must be NHWC [B,H,W,C], got [${array.shape}]`);
  return tf.tensor4d(npyToFloat32(array), array.shape as [number, number, number, number]);
}

function tensor2d(name: string): tf.Tensor2D {
  const array = readGolden(name);
  if (array.shape.length !== 2) throw new Error(`${name} must be [B,D], got [${array.shape}]`);
  return tf.tensor2d(npyToFloat32(array), array.shape as [number, number]);
}

/** max|actual - expected| / max|expected|, after checking the shapes agree. */
async function relativeError(actual: tf.Tensor, expectedName: string): Promise<number> {
  const expected = readGolden(expectedName);
  expect(actual.shape, `shape of the result compared with ${expectedName}`).toEqual(expected.shape);
  const a = await actual.data();
  const b = npyToFloat32(expected);
  let diff = 0;
  let scale = 0;
  for (let k = 0; k < b.length; k++) {
    diff = Math.max(diff, Math.abs(a[k] - b[k]));
    scale = Math.max(scale, Math.abs(b[k]));
  }
  if (scale === 0) throw new Error(`${expectedName} is all zeros: a degenerate golden file cannot check anything`);
  return diff / scale;
}

describe('golden parity with PyTorch (fixture model)', () => {
  let index: GoldenIndex;
  let model: InfoDiffusionModel;
  let tensorsBefore: number;

  beforeAll(async () => {
    await tf.setBackend('cpu');
    index = readGoldenIndex();
    tensorsBefore = tf.memory().numTensors;
    model = await loadModelPackage(fsPackageFiles(join(ROOT, index.model)));
  });

  afterAll(() => {
    model?.dispose();
    expect(tf.memory().numTensors).toBe(tensorsBefore);
  });

  it('encoder: Enc(x) matches', async () => {
    const x = tensor4d('encoder_x.npy');
    const z = model.encode(x);
    expect(await relativeError(z, 'encoder_z.npy')).toBeLessThan(TOLERANCE);
    tf.dispose([x, z]);
  });

  it('denoiser: eps_theta(x_t, t, z) matches', async () => {
    const xt = tensor4d('denoiser_xt.npy');
    const tArray = readGolden('denoiser_t.npy');
    const t = tf.tensor1d(npyToInt32(tArray), 'int32');
    const z = tensor2d('denoiser_z.npy');
    const eps = model.predictEps(xt, t, z);
    expect(await relativeError(eps, 'denoiser_eps.npy')).toBeLessThan(TOLERANCE);
    tf.dispose([xt, t, z, eps]);
  });

  it('uses the same DDIM plan as PyTorch', () => {
    expect(Array.from(ddimTimesteps(model.schedule.timesteps, index.ddimSteps))).toEqual(index.ddimTimesteps);
  });

  it('DDIM sampling matches', async () => {
    const xNoise = tensor4d('ddim_xT.npy');
    const z = tensor2d('ddim_z.npy');
    const schedule = makeSchedule(model.schedule);
    const x0 = await ddimSample(
      model.predictEps.bind(model),
      schedule,
      ddimTimesteps(schedule.timesteps, index.ddimSteps),
      xNoise,
      z,
      { eta: index.eta },
    );
    expect(await relativeError(x0, 'ddim_x0.npy')).toBeLessThan(TOLERANCE);
    tf.dispose([xNoise, z, x0]);
  });

  it("the student's plan and parameterisation are the ones PyTorch decoded with", () => {
    expect(model.student, 'the fixture package has no student; regenerate it').toBeDefined();
    expect([...model.student!.plan]).toEqual(index.studentPlan);
    expect(model.student!.parameterisation).toBe(index.studentParameterisation);
  });

  it('student decoding matches: its full plan and its first call alone', async () => {
    const student = model.student!;
    const xNoise = tensor4d('ddim_xT.npy');
    const z = tensor2d('ddim_z.npy');
    const schedule = makeSchedule(model.schedule);
    const decode = (calls: number) =>
      ddimSample(student.predict, schedule, student.plan.slice(0, calls), xNoise, z, {
        parameterisation: student.parameterisation,
      });
    const x0 = await decode(student.plan.length);
    expect(await relativeError(x0, 'student_x0.npy')).toBeLessThan(TOLERANCE);
    const x0Calls1 = await decode(1);
    expect(await relativeError(x0Calls1, 'student_x0_calls1.npy')).toBeLessThan(TOLERANCE);
    tf.dispose([xNoise, z, x0, x0Calls1]);
  });

  it('DDIM inversion with z = Enc(x0) matches', async () => {
    const x0 = tensor4d('invert_x0.npy');
    const z = model.encode(x0);
    expect(await relativeError(z, 'invert_z.npy')).toBeLessThan(TOLERANCE);
    const schedule = makeSchedule(model.schedule);
    const xNoise = await ddimInvert(
      model.predictEps.bind(model),
      schedule,
      ddimTimesteps(schedule.timesteps, index.ddimSteps),
      x0,
      z,
    );
    expect(await relativeError(xNoise, 'invert_xT.npy')).toBeLessThan(TOLERANCE);
    tf.dispose([x0, z, xNoise]);
  });
});

describe('golden parity with PyTorch on the WASM backend (pooled GroupNorm composite)', () => {
  let model: InfoDiffusionModel;
  let tensorsBefore: number;

  beforeAll(async () => {
    await import('@tensorflow/tfjs-backend-wasm');
    await tf.setBackend('wasm');
    const index = readGoldenIndex();
    tensorsBefore = tf.memory().numTensors;
    model = await loadModelPackage(fsPackageFiles(join(ROOT, index.model)));
  });

  afterAll(async () => {
    model?.dispose();
    expect(tf.memory().numTensors).toBe(tensorsBefore);
    await tf.setBackend('cpu');
  });

  it('encoder and denoiser match', async () => {
    const x = tensor4d('encoder_x.npy');
    const z = model.encode(x);
    expect(await relativeError(z, 'encoder_z.npy')).toBeLessThan(TOLERANCE);
    const xt = tensor4d('denoiser_xt.npy');
    const t = tf.tensor1d(npyToInt32(readGolden('denoiser_t.npy')), 'int32');
    const zDenoiser = tensor2d('denoiser_z.npy');
    const eps = model.predictEps(xt, t, zDenoiser);
    expect(await relativeError(eps, 'denoiser_eps.npy')).toBeLessThan(TOLERANCE);
    tf.dispose([x, z, xt, t, zDenoiser, eps]);
  });
});

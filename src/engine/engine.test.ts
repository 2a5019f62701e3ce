/**
 * The engine core in Node on the tfjs CPU backend, with a synthetic random model: every request kind, the
 * exactly-once ending, latest-wins, cancellation, refusals, leak detection, device loss, and the client
 * over an in-process port.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createRng, ddimSample, ddimTimesteps, makeSchedule, normalTensor4d } from '../diffusion/index';
import { slerp } from '../diffusion/slerp';
import { OFFICIAL_SCHEDULE } from '../model/config';
import { createInfoDiffusionModel, type InfoDiffusionModel } from '../model/model';
import { randomParameters, randomStudent, syntheticModelMetadata } from '../model/random';
import { selectBackend, type ActiveBackend } from './backend';
import { EngineClient, isAbortError, type EnginePort } from './client';
import { Engine, type EngineHost } from './engine';
import type { EngineInbound, EngineRequest, EngineResponse, ImageBatch, Progress, ResultByKind } from './protocol';
import { TINY_ARCHITECTURE } from '../model/testing/tinyArchitecture';
import { relativeError as maxRelativeError } from '../model/testing/torchReference';

const ARCH = TINY_ARCHITECTURE;
const PIXELS = ARCH.imageSize * ARCH.imageSize * ARCH.imageChannels;

function syntheticModel(): InfoDiffusionModel {
  return createInfoDiffusionModel(
    syntheticModelMetadata(ARCH, OFFICIAL_SCHEDULE, 'engine-test'),
    randomParameters(ARCH, OFFICIAL_SCHEDULE.timesteps, 7),
  );
}

/** The synthetic model with a random v-parameterised student decoding along [999, 600, 200]. */
function syntheticStudentModel(): InfoDiffusionModel {
  const student = randomStudent(ARCH, OFFICIAL_SCHEDULE.timesteps, 8, { plan: [999, 600, 200] });
  const metadata = { ...syntheticModelMetadata(ARCH, OFFICIAL_SCHEDULE, 'engine-student'), student: student.metadata };
  return createInfoDiffusionModel(
    metadata,
    new Map([...randomParameters(ARCH, OFFICIAL_SCHEDULE.timesteps, 7), ...student.parameters]),
  );
}

/** The fixture package's files by package path. */
function readFixture(folder: string, manifest: { weightsManifest: { paths: string[] }[] }): Map<string, ArrayBuffer> {
  const files = new Map<string, ArrayBuffer>();
  for (const path of ['model.json', ...manifest.weightsManifest.flatMap((group) => group.paths)]) {
    const bytes = readFileSync(join(folder, path));
    files.set(path, bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);
  }
  return files;
}

function images(batch: number, seed = 1): ImageBatch & { data: Float32Array } {
  const rng = createRng(seed);
  const data = Float32Array.from(rng.uniforms(batch * PIXELS), (u) => 2 * u - 1);
  return { shape: [batch, ARCH.imageSize, ARCH.imageSize, ARCH.imageChannels], data };
}

/** An engine in this process; `send` resolves with the request's terminal response and its progress events. */
class Harness {
  readonly messages: EngineResponse[] = [];
  readonly engine: Engine;
  private nextId = 1;
  private readonly waiters = new Map<number, (response: EngineResponse) => void>();

  constructor(overrides: Partial<EngineHost> = {}) {
    this.engine = new Engine({
      post: (message) => {
        this.messages.push(message);
        if (message.kind !== 'progress' && message.kind !== 'event') this.waiters.get(message.id)?.(message);
      },
      selectBackend: (choice, environment) => selectBackend(choice === 'auto' ? 'cpu' : choice, environment),
      loadModel: async (_source, onProgress) => {
        onProgress({ loadedBytes: 100, totalBytes: 100 });
        return syntheticModel();
      },
      ...overrides,
    });
  }

  send(body: DistributiveOmit<EngineRequest, 'id'>): { id: number; done: Promise<EngineResponse> } {
    const id = this.nextId++;
    const done = new Promise<EngineResponse>((resolve) => this.waiters.set(id, resolve));
    this.engine.receive({ ...body, id } as EngineInbound);
    return { id, done };
  }

  async result<K extends EngineRequest['kind']>(
    body: DistributiveOmit<Extract<EngineRequest, { kind: K }>, 'id'>,
  ): Promise<ResultByKind[K]> {
    const response = await this.send(body as DistributiveOmit<EngineRequest, 'id'>).done;
    if (response.kind !== 'result') throw new Error(`expected a result, got ${JSON.stringify(response)}`);
    return response.result as ResultByKind[K];
  }

  progressOf(id: number): Progress[] {
    return this.messages.flatMap((m) => (m.kind === 'progress' && m.id === id ? [m.progress] : []));
  }

  terminalsOf(id: number): EngineResponse[] {
    return this.messages.filter((m) => m.id === id && m.kind !== 'progress');
  }

  load() {
    return this.result<'load'>({ kind: 'load', source: { kind: 'url', baseUrl: 'unused/' }, backend: 'cpu' });
  }
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

type SampleBody = DistributiveOmit<Extract<EngineRequest, { kind: 'sample' }>, 'id'>;

/** A sample request on channel a from a seeded noise, eta 0 unless `extra` says otherwise. */
function sampleBody(z: SampleBody['z'], seed: number, steps: number, extra: Partial<SampleBody> = {}): SampleBody {
  return { kind: 'sample', channel: 'a', z, noise: { kind: 'seed', seed }, steps, eta: 0, ...extra };
}

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('Engine', () => {
  let harness: Harness;
  afterEach(async () => {
    if (harness) await harness.result<'dispose'>({ kind: 'dispose' });
  });

  it('loads, reports the backend and its reason, and sets the tensor baseline', async () => {
    harness = new Harness();
    const { id, done } = harness.send({
      kind: 'load',
      source: { kind: 'url', baseUrl: 'unused/' },
      backend: 'cpu',
      warmupBatchSizes: [1, 3],
    });
    const response = await done;
    expect(response.kind).toBe('result');
    const result = (response as { result: ResultByKind['load'] }).result;
    expect(result.backend.backend).toBe('cpu');
    expect(result.backend.reason).toMatch(/forced/);
    expect(result.metadata.id).toBe('engine-test');
    expect(result.stats.denoiserFlops).toBeGreaterThan(0);
    expect(result.baselineTensors).toBe(tf.memory().numTensors);
    const phases = harness.progressOf(id).map((p) => p.phase);
    expect(phases).toEqual(['download', 'compile', 'compile', 'compile']);
    expect(harness.messages.some((m) => m.kind === 'event' && m.event.type === 'backend')).toBe(true);
  });

  it('encodes, samples, inverts and estimates, returning to the tensor baseline after each job', async () => {
    harness = new Harness();
    const loaded = await harness.load();
    const x = images(2);

    const encoded = await harness.result<'encode'>({ kind: 'encode', images: x });
    expect(encoded.z.shape).toEqual([2, ARCH.latentDim]);

    const sampled = await harness.result<'sample'>({
      kind: 'sample',
      channel: 'a',
      z: encoded.z,
      noise: { kind: 'seed', seed: 5 },
      steps: 3,
      eta: 0,
    });
    expect(sampled.images.shape).toEqual([2, 8, 8, 1]);
    expect(sampled.denoiserCalls).toBe(3);

    const inverted = await harness.result<'invert'>({ kind: 'invert', images: x, steps: 3 });
    expect(inverted.xNoise.shape).toEqual([2, 8, 8, 1]);
    expect(Array.from(inverted.z.data)).toEqual(Array.from(encoded.z.data));

    const nll = await harness.result<'nll'>({ kind: 'nll', images: images(1), samples: 4, seed: 1 });
    expect(nll.estimates).toHaveLength(1);
    expect(Number.isFinite(nll.estimates[0].bitsPerDim)).toBe(true);
    expect(nll.estimates[0].bitsPerDim8bit - nll.estimates[0].bitsPerDim).toBeCloseTo(Math.log2(127.5), 10);

    const curve = await harness.result<'mmseCurve'>({ kind: 'mmseCurve', images: images(1), points: 3, repeats: 1 });
    expect(curve.logSnr).toHaveLength(3);
    expect(curve.mmse).toHaveLength(3);

    const noised = await harness.result<'forwardNoise'>({
      kind: 'forwardNoise',
      images: images(1),
      logSnr: 0,
      seed: 3,
    });
    expect(noised.alphaBar).toBeCloseTo(0.5, 12);
    expect(noised.nearestTimestep).toBeGreaterThan(0);

    const stats = await harness.result<'stats'>({ kind: 'stats' });
    expect(stats.leaks).toEqual([]);
    expect(stats.numTensors).toBe(loaded.baselineTensors);
    expect(stats.recentRequests.map((r) => r.kind)).toEqual([
      'load',
      'encode',
      'sample',
      'invert',
      'nll',
      'mmseCurve',
      'forwardNoise',
    ]);
  });

  it('scores one image by I-MMSE beside a second package, with the ensemble and no z, and leaks nothing', async () => {
    const loads: string[] = [];
    harness = new Harness({
      loadModel: async (source, onProgress) => {
        loads.push(source.kind === 'url' ? source.baseUrl : 'files');
        onProgress({ loadedBytes: 100, totalBytes: 100 });
        return syntheticModel();
      },
    });
    const loaded = await harness.load();
    const zPrior = { shape: [2, ARCH.latentDim] as [number, number], data: Float32Array.of(0.1, 0.2, 0.3, -1, 0, 1) };
    const request = harness.send({
      kind: 'itd',
      images: images(1),
      samples: 4,
      points: 3,
      repeats: 2,
      seed: 2,
      zPrior,
      compareWith: { kind: 'url', baseUrl: 'http://test/models/other/' },
    });
    const response = await request.done;
    if (response.kind !== 'result') throw new Error(`expected a result, got ${JSON.stringify(response)}`);
    const result = response.result as ResultByKind['itd'];
    expect(loads).toEqual(['unused/', 'http://test/models/other/']);
    expect(result.members).toHaveLength(2);
    expect(result.ensemble?.winner).toHaveLength(3);
    for (const figures of [...result.members, result.ensemble!, result.unconditional!]) {
      for (const figure of [figures.discrete, figures.continuous, figures.dequantisedBound]) {
        expect(Number.isFinite(figure.bitsPerDim) && figure.stdErr > 0).toBe(true);
      }
    }
    // The same synthetic weights on the same draws: the second member is the first, and so is the ensemble.
    expect(result.members[1].discrete.bitsPerDim).toBeCloseTo(result.members[0].discrete.bitsPerDim, 5);
    expect(result.ensemble!.discrete.bitsPerDim).toBeCloseTo(result.members[0].discrete.bitsPerDim, 5);
    expect(Number.isFinite(result.zSaves!.perPixel.bitsPerDim)).toBe(true);
    // Counts agree: the progress total is what the result says was scored, and the last event reaches it.
    const progress = harness.progressOf(request.id).filter((p) => p.phase === 'calls');
    expect(result.scored).toBe(3 * (3 * 2 + 2 * 4));
    expect(progress.at(-1)).toEqual({ phase: 'calls', done: result.scored, total: result.scored });
    const stats = await harness.result<'stats'>({ kind: 'stats' });
    expect(stats.leaks).toEqual([]);
    expect(stats.numTensors).toBe(loaded.baselineTensors);
  });

  it('samples exactly what ddimSample computes from the same seed, with and without a trajectory', async () => {
    harness = new Harness();
    await harness.load();
    const z = { shape: [1, ARCH.latentDim] as [number, number], data: Float32Array.of(0.3, -1, 2) };
    const plain = await harness.result<'sample'>(sampleBody(z, 9, 2));
    const traced = harness.send(sampleBody(z, 9, 2, { returnTrajectory: true }));
    const tracedResult = ((await traced.done) as { result: ResultByKind['sample'] }).result;
    expect(Array.from(tracedResult.images.data)).toEqual(Array.from(plain.images.data));
    const frames = harness.progressOf(traced.id);
    expect(frames.map((p) => p.phase === 'step' && p.step)).toEqual([1, 2]);
    expect(
      frames.every((p) => p.phase === 'step' && p.xt?.data.length === PIXELS && p.x0Pred?.data.length === PIXELS),
    ).toBe(true);

    const model = syntheticModel();
    const schedule = makeSchedule(OFFICIAL_SCHEDULE);
    const xNoise = normalTensor4d(createRng(9), [1, 8, 8, 1]);
    const zTensor = tf.tensor2d(z.data, [1, ARCH.latentDim]);
    const expected = await ddimSample(model.predictEps.bind(model), schedule, ddimTimesteps(1000, 2), xNoise, zTensor);
    expect(maxRelativeError(plain.images.data, await expected.data())).toBeLessThan(1e-6);
    tf.dispose([xNoise, zTensor, expected]);
    model.dispose();
  });

  it('draws the step noise from per-latent sources bit for bit as the main thread used to ship it', async () => {
    harness = new Harness();
    await harness.load();
    const z = {
      shape: [3, ARCH.latentDim] as [number, number],
      data: Float32Array.of(0.3, -1, 2, 1, 0.5, -0.2, -0.4, 0.1, 0.9),
    };
    const steps = 3;
    const sources = [
      { kind: 'seed' as const, seed: 5 },
      null,
      { kind: 'slerp' as const, a: { kind: 'seed' as const, seed: 5 }, b: { kind: 'seed' as const, seed: 6 }, e: 0.3 },
    ];
    // The old way: the main thread's draws (x_T's stream continued, slerped per step), laid out [steps, batch, H, W, C].
    const seedDraws = (seed: number) =>
      createRng(seed)
        .normals((steps + 1) * PIXELS)
        .subarray(PIXELS);
    const [five, six] = [seedDraws(5), seedDraws(6)];
    const perStep = (draws: Float32Array, s: number) => draws.subarray(s * PIXELS, (s + 1) * PIXELS);
    const shipped = new Float32Array(steps * 3 * PIXELS);
    for (let s = 0; s < steps; s++) {
      shipped.set(perStep(five, s), (s * 3 + 0) * PIXELS);
      shipped.set(slerp(perStep(five, s), perStep(six, s), 0.3), (s * 3 + 2) * PIXELS);
    }
    const common = {
      kind: 'sample' as const,
      channel: 'a',
      noise: { kind: 'seed' as const, seed: 9 },
      steps,
      eta: [1, 0, 0.7],
    };
    const old = await harness.result<'sample'>({
      ...common,
      z: { ...z, data: z.data.slice() },
      stepNoise: { shape: [steps, 3, 8, 8, 1], data: shipped },
    });
    const drawn = await harness.result<'sample'>({
      ...common,
      z: { ...z, data: z.data.slice() },
      stepNoiseSources: sources,
    });
    expect(Array.from(drawn.images.data)).toEqual(Array.from(old.images.data));
    // Drawn again from the engine's cache, still the same frame.
    const again = await harness.result<'sample'>({
      ...common,
      z: { ...z, data: z.data.slice() },
      stepNoiseSources: sources,
    });
    expect(Array.from(again.images.data)).toEqual(Array.from(old.images.data));
    expect((await harness.result<'stats'>({ kind: 'stats' })).leaks).toEqual([]);
  });

  it('samples with one eta per latent and explicit per-step noise exactly as ddimSample does', async () => {
    harness = new Harness();
    await harness.load();
    const z = { shape: [2, ARCH.latentDim] as [number, number], data: Float32Array.of(0.3, -1, 2, 1, 0.5, -0.2) };
    const stepNoise = {
      shape: [3, 2, 8, 8, 1] as [number, number, number, number, number],
      data: createRng(4).normals(3 * 2 * PIXELS),
    };
    const eta = [0, 1];
    const sampled = await harness.result<'sample'>({
      kind: 'sample',
      channel: 'a',
      z,
      noise: { kind: 'seed', seed: 9 },
      steps: 3,
      eta,
      stepNoise: { ...stepNoise, data: stepNoise.data.slice() },
    });

    const model = syntheticModel();
    const xNoise = normalTensor4d(createRng(9), [2, 8, 8, 1]);
    const zTensor = tf.tensor2d(z.data, [2, ARCH.latentDim]);
    const noise = [0, 1, 2].map((i) =>
      tf.tensor4d(stepNoise.data.subarray(i * 2 * PIXELS, (i + 1) * 2 * PIXELS), [2, 8, 8, 1]),
    );
    const plan = ddimTimesteps(1000, 3);
    const expected = await ddimSample(
      model.predictEps.bind(model),
      makeSchedule(OFFICIAL_SCHEDULE),
      plan,
      xNoise,
      zTensor,
      { eta, noise },
    );
    const deterministic = await ddimSample(
      model.predictEps.bind(model),
      makeSchedule(OFFICIAL_SCHEDULE),
      plan,
      xNoise,
      zTensor,
    );
    expect(maxRelativeError(sampled.images.data, await expected.data())).toBeLessThan(1e-6);
    // The eta-0 row is the deterministic sample; the eta-1 row is not.
    const [expectedValues, deterministicValues] = [await expected.data(), await deterministic.data()];
    expect(maxRelativeError(sampled.images.data.slice(0, PIXELS), deterministicValues.slice(0, PIXELS))).toBeLessThan(
      1e-6,
    );
    expect(maxRelativeError(expectedValues.slice(PIXELS), deterministicValues.slice(PIXELS))).toBeGreaterThan(1e-3);
    tf.dispose([xNoise, zTensor, expected, deterministic, ...noise]);
    model.dispose();
    expect((await harness.result<'stats'>({ kind: 'stats' })).leaks).toEqual([]);
  });

  it('decodes with the student along the first `steps` entries of its plan, exactly as ddimSample with its parameterisation', async () => {
    harness = new Harness({ loadModel: async () => syntheticStudentModel() });
    const loaded = await harness.load();
    expect(loaded.metadata.student?.plan).toEqual([999, 600, 200]);
    const z = { shape: [2, ARCH.latentDim] as [number, number], data: Float32Array.of(0.3, -1, 2, 1, 0.5, -0.2) };
    const sample = (decoder: 'ddim' | 'student', steps: number) =>
      harness.result<'sample'>({
        kind: 'sample',
        channel: 'a',
        z,
        noise: { kind: 'seed', seed: 9 },
        decoder,
        steps,
        eta: 0,
      });
    const [twoCalls, oneCall, teacher] = [
      await sample('student', 2),
      await sample('student', 1),
      await sample('ddim', 2),
    ];
    expect(twoCalls.denoiserCalls).toBe(2);

    const model = syntheticStudentModel();
    const student = model.student!;
    const schedule = makeSchedule(OFFICIAL_SCHEDULE);
    const xNoise = normalTensor4d(createRng(9), [2, 8, 8, 1]);
    const zTensor = tf.tensor2d(z.data, [2, ARCH.latentDim]);
    const decode = (plan: number[]) =>
      ddimSample(student.predict, schedule, plan, xNoise, zTensor, { parameterisation: 'v' });
    const [expectedTwo, expectedOne] = [await decode([999, 600]), await decode([999])];
    expect(maxRelativeError(twoCalls.images.data, await expectedTwo.data())).toBeLessThan(1e-6);
    expect(maxRelativeError(oneCall.images.data, await expectedOne.data())).toBeLessThan(1e-6);
    // The teacher's two steps (999, 0) are another image: the request really chose the network.
    expect(maxRelativeError(teacher.images.data, await expectedTwo.data())).toBeGreaterThan(1e-3);
    tf.dispose([xNoise, zTensor, expectedTwo, expectedOne]);
    model.dispose();
    const stats = await harness.result<'stats'>({ kind: 'stats' });
    expect(stats.leaks).toEqual([]);
    expect(stats.numTensors).toBe(loaded.baselineTensors);
  });

  it("runs the student with the request's sampler: step noise from the seed between its calls", async () => {
    harness = new Harness({ loadModel: async () => syntheticStudentModel() });
    await harness.load();
    const z = { shape: [1, ARCH.latentDim] as [number, number], data: Float32Array.of(0.3, -1, 2) };
    const sample = (steps: number, eta: number) =>
      harness.result<'sample'>({
        kind: 'sample',
        channel: 'a',
        z,
        noise: { kind: 'seed', seed: 9 },
        decoder: 'student',
        steps,
        eta,
        ...(eta > 0 ? { stepNoiseSources: [{ kind: 'seed' as const, seed: 9 }] } : {}),
      });
    const [stochastic, again, deterministic] = [await sample(2, 1), await sample(2, 1), await sample(2, 0)];
    expect(stochastic.images.data).toEqual(again.images.data);
    expect(maxRelativeError(stochastic.images.data, deterministic.images.data)).toBeGreaterThan(1e-3);
    // One call ends at x_0, where a DDIM step draws no noise: the sampler cannot change it.
    expect(maxRelativeError((await sample(1, 1)).images.data, (await sample(1, 0)).images.data)).toBeLessThan(1e-6);
  });

  it('supersedes across decoders on one channel: a full render replaces a student preview in flight', async () => {
    harness = new Harness({ loadModel: async () => syntheticStudentModel() });
    await harness.load();
    const z = { shape: [1, ARCH.latentDim] as [number, number], data: Float32Array.of(0, 0, 0) };
    const preview = harness.send(sampleBody(z, 1, 3, { channel: 'view', decoder: 'student' }));
    while (harness.progressOf(preview.id).length === 0) await new Promise((resolve) => setTimeout(resolve, 1));
    const full = harness.send(sampleBody(z, 1, 4, { channel: 'view', eta: 1 }));
    expect(await preview.done).toEqual({ id: preview.id, kind: 'aborted', reason: 'superseded' });
    expect((await full.done).kind).toBe('result');
  });

  it('refuses the student on a model without one and outside its plan', async () => {
    harness = new Harness();
    await harness.load();
    const z = { shape: [1, 3] as [number, number], data: new Float32Array(3) };
    const none = await harness.send(sampleBody(z, 0, 1, { decoder: 'student' })).done;
    expect(none).toMatchObject({
      kind: 'error',
      name: 'RequestError',
      message: "cannot sample with the student: model 'engine-test' has no distilled student (metadata.student)",
    });
    await harness.result<'dispose'>({ kind: 'dispose' });

    harness = new Harness({ loadModel: async () => syntheticStudentModel() });
    await harness.load();
    const send = (extra: { steps: number; eta: number | number[]; decoder?: unknown }) =>
      harness.send({
        kind: 'sample',
        channel: 'a',
        z,
        noise: { kind: 'seed', seed: 0 },
        decoder: 'student',
        ...extra,
      } as DistributiveOmit<EngineRequest, 'id'>).done;
    expect(await send({ steps: 4, eta: 0 })).toMatchObject({
      kind: 'error',
      message: "steps must be an integer in 1..3 (the student's calls), got 4",
    });
    expect(await send({ steps: 2, eta: 0, decoder: 'fast' })).toMatchObject({
      kind: 'error',
      message: `decoder must be 'ddim' or 'student', got "fast"`,
    });
  });

  it('lets a newer sample on the same channel supersede the running one between steps', async () => {
    harness = new Harness();
    await harness.load();
    const z = { shape: [1, ARCH.latentDim] as [number, number], data: Float32Array.of(0, 0, 0) };
    const first = harness.send(sampleBody(z, 1, 20, { channel: 'view' }));
    const otherChannel = harness.send(sampleBody(z, 1, 2, { channel: 'other' }));
    // Wait until the first job has taken a step, so the abort has to reach a running job.
    while (harness.progressOf(first.id).length === 0) await new Promise((resolve) => setTimeout(resolve, 1));
    const second = harness.send(sampleBody(z, 2, 2, { channel: 'view' }));
    expect(await first.done).toEqual({ id: first.id, kind: 'aborted', reason: 'superseded' });
    expect((await second.done).kind).toBe('result');
    expect((await otherChannel.done).kind).toBe('result');
    expect(harness.progressOf(first.id).length).toBeLessThan(20);
    for (const id of [first.id, second.id, otherChannel.id]) expect(harness.terminalsOf(id)).toHaveLength(1);
    expect((await harness.result<'stats'>({ kind: 'stats' })).leaks).toEqual([]);
  });

  it('ends a queued request at once when it is cancelled, and ignores unknown ids', async () => {
    harness = new Harness();
    await harness.load();
    const z = { shape: [1, ARCH.latentDim] as [number, number], data: Float32Array.of(0, 0, 0) };
    const running = harness.send(sampleBody(z, 1, 3));
    const queued = harness.send({ kind: 'encode', images: images(1) });
    harness.engine.receive({ id: 999, kind: 'cancel', targetId: queued.id });
    harness.engine.receive({ id: 1000, kind: 'cancel', targetId: 12345 });
    expect(harness.terminalsOf(queued.id)).toEqual([{ id: queued.id, kind: 'aborted', reason: 'cancelled' }]);
    expect((await running.done).kind).toBe('result');
    expect(harness.terminalsOf(queued.id)).toHaveLength(1);
  });

  it('stops a running request that is cancelled at its next step, leaking nothing', async () => {
    harness = new Harness();
    const loaded = await harness.load();
    const running = harness.send({ kind: 'invert', images: images(2), steps: 40 });
    while (harness.progressOf(running.id).length === 0) await new Promise((resolve) => setTimeout(resolve, 1));
    harness.engine.receive({ id: 999, kind: 'cancel', targetId: running.id });
    expect(await running.done).toEqual({ id: running.id, kind: 'aborted', reason: 'cancelled' });
    expect(harness.progressOf(running.id).length).toBeLessThan(40);
    const stats = await harness.result<'stats'>({ kind: 'stats' });
    expect(stats.numTensors).toBe(loaded.baselineTensors);
    expect(stats.recentRequests.at(-1)).toMatchObject({ id: running.id, kind: 'invert', outcome: 'aborted' });
  });

  it('loads a package from a map of user-chosen files with the package loader', async () => {
    const folder = resolve(import.meta.dirname, '../../public/models/fixture');
    const files = new Map<string, ArrayBuffer>();
    const manifest = JSON.parse(readFileSync(join(folder, 'model.json'), 'utf8')) as {
      weightsManifest: { paths: string[] }[];
    };
    for (const path of ['model.json', ...manifest.weightsManifest.flatMap((group) => group.paths)]) {
      const bytes = readFileSync(join(folder, path));
      files.set(
        `fixture/${path}`,
        bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer,
      );
    }
    harness = new Harness({ loadModel: undefined });
    const { id, done } = harness.send({ kind: 'load', source: { kind: 'files', files }, backend: 'cpu' });
    const response = await done;
    expect(response).toMatchObject({ kind: 'result', result: { metadata: { id: 'fixture' } } });
    const download = harness.progressOf(id).filter((p) => p.phase === 'download');
    // Every shard counts, the student's group2 too when the fixture has one.
    const shardBytes = [...files]
      .filter(([path]) => path.endsWith('.bin'))
      .reduce((sum, [, bytes]) => sum + bytes.byteLength, 0);
    expect(download.at(-1)).toEqual({ phase: 'download', loadedBytes: shardBytes, totalBytes: shardBytes });
    files.delete('fixture/group1-shard1of1.bin');
    const broken = await harness.send({ kind: 'load', source: { kind: 'files', files }, backend: 'cpu' }).done;
    expect(broken).toMatchObject({
      kind: 'error',
      name: 'ModelPackageError',
      message: 'group1-shard1of1.bin is missing from the chosen files',
    });
  });

  it('stages a new package: a load that fails keeps the loaded model usable, and names the file at fault', async () => {
    const folder = resolve(import.meta.dirname, '../../public/models/fixture');
    const manifest = JSON.parse(readFileSync(join(folder, 'model.json'), 'utf8')) as {
      weightsManifest: { paths: string[] }[];
    };
    const files = readFixture(folder, manifest);
    files.set('group1-shard1of1.bin', (files.get('group1-shard1of1.bin') as ArrayBuffer).slice(0, 100));
    harness = new Harness({ loadModel: undefined });
    const good = await harness.result<'load'>({
      kind: 'load',
      source: { kind: 'files', files: readFixture(folder, manifest) },
      backend: 'cpu',
    });
    expect(good.metadata.id).toBe('fixture');

    const broken = await harness.send({ kind: 'load', source: { kind: 'files', files }, backend: 'cpu' }).done;
    expect(broken).toMatchObject({
      kind: 'error',
      name: 'ModelPackageError',
      file: 'group1-shard1of1.bin',
      message: expect.stringMatching(/^group1-shard1of1.bin is too short: weight group 1/),
    });
    expect((broken as { message: string }).message).not.toMatch(/needs bytes/);
    expect((broken as { details?: string }).details).toMatch(
      /^short shard: weight .* needs bytes \d+\.\.\d+ but group1-shard1of1.bin ends the data at byte 100$/,
    );

    // The fixture is still loaded: it samples, and nothing of the refused package was left behind.
    const z = {
      shape: [1, good.metadata.architecture.latentDim] as [number, number],
      data: new Float32Array(good.metadata.architecture.latentDim),
    };
    const sampled = await harness.result<'sample'>(sampleBody(z, 1, 2));
    expect(sampled.images.shape[0]).toBe(1);
    const stats = await harness.result<'stats'>({ kind: 'stats' });
    expect(stats.modelId).toBe('fixture');
    expect(stats.numTensors).toBe(good.baselineTensors);
    expect(stats.leaks).toEqual([]);
  });

  it('refuses malformed requests with messages that name the problem', async () => {
    harness = new Harness();
    const early = await harness.send({ kind: 'encode', images: images(1) }).done;
    expect(early).toMatchObject({ kind: 'error', name: 'RequestError', message: 'cannot encode: no model is loaded' });
    await harness.load();
    const wrongSize = await harness.send({
      kind: 'encode',
      images: { shape: [1, 4, 4, 1], data: new Float32Array(16) },
    }).done;
    expect(wrongSize).toMatchObject({
      kind: 'error',
      message: expect.stringContaining('must be 8x8 with 1 channel(s)'),
    });
    const shortData = await harness.send({
      kind: 'encode',
      images: { shape: [1, 8, 8, 1], data: new Float32Array(10) },
    }).done;
    expect(shortData).toMatchObject({
      kind: 'error',
      message: 'images.data has 10 values, but shape [1, 8, 8, 1] needs 64',
    });
    const z = { shape: [1, 2] as [number, number], data: new Float32Array(2) };
    const wrongLatent = await harness.send(sampleBody(z, 0, 2)).done;
    expect(wrongLatent).toMatchObject({ kind: 'error', message: 'z must have 3 dimensions for this model, got 2' });
    const okZ = { shape: [1, 3] as [number, number], data: new Float32Array(3) };
    const badSteps = await harness.send(sampleBody(okZ, 0, 0)).done;
    expect(badSteps).toMatchObject({ kind: 'error', message: 'steps must be an integer in 1..1000, got 0' });
    const badEta = await harness.send(sampleBody(okZ, 0, 2, { eta: 2 })).done;
    expect(badEta).toMatchObject({ kind: 'error', message: 'eta must be in [0, 1], got 2' });
    const shortEta = await harness.send(sampleBody(okZ, 0, 2, { eta: [0, 1] })).done;
    expect(shortEta).toMatchObject({
      kind: 'error',
      message: 'eta must be one number or one per latent (1), got 2 values',
    });
    const stepNoise = {
      shape: [3, 1, 8, 8, 1] as [number, number, number, number, number],
      data: new Float32Array(3 * 64),
    };
    const wrongSteps = await harness.send(sampleBody(okZ, 0, 2, { eta: 1, stepNoise })).done;
    expect(wrongSteps).toMatchObject({
      kind: 'error',
      message: 'stepNoise must have shape [2, 1, 8, 8, 1] (steps, batch, image), got [3, 1, 8, 8, 1]',
    });
    const sampleWith = (extra: Partial<SampleBody>) => harness.send(sampleBody(okZ, 0, 2, { eta: 1, ...extra })).done;
    const seedSource = { kind: 'seed', seed: 1 } as const;
    expect(await sampleWith({ stepNoiseSources: [seedSource, seedSource] })).toMatchObject({
      kind: 'error',
      message: 'stepNoiseSources must hold one source (or null) per latent (1), got 2',
    });
    expect(await sampleWith({ stepNoiseSources: [{ kind: 'seed', seed: 1.5 }] })).toMatchObject({
      kind: 'error',
      message: 'stepNoiseSources[0].seed must be an integer, got 1.5',
    });
    expect(
      await sampleWith({ stepNoiseSources: [{ kind: 'slerp', a: seedSource, b: seedSource, e: 2 }] }),
    ).toMatchObject({ kind: 'error', message: 'stepNoiseSources[0].e must be in [0, 1], got 2' });
    expect(await sampleWith({ stepNoiseSources: [seedSource], stepNoise })).toMatchObject({
      kind: 'error',
      message: 'give stepNoise or stepNoiseSources, not both',
    });
    const u8 = await harness.send({
      kind: 'encode',
      images: { shape: [1, 8, 8, 1], data: new Uint8Array(64).fill(255) },
    }).done;
    expect(u8.kind).toBe('result');
  });

  it('reports a job that leaves tensors behind', async () => {
    harness = new Harness({
      loadModel: async () => {
        const model = syntheticModel();
        const encode = model.encode.bind(model);
        return Object.assign(Object.create(model) as InfoDiffusionModel, {
          encode: (x: tf.Tensor4D) => {
            tf.keep(tf.zeros([1])); // the leak
            return encode(x);
          },
          dispose: () => model.dispose(),
        });
      },
    });
    await harness.load();
    const before = harness.messages.length;
    await harness.result<'encode'>({ kind: 'encode', images: images(1) });
    const leakEvents = harness.messages.slice(before).filter((m) => m.kind === 'event' && m.event.type === 'leak');
    expect(leakEvents).toHaveLength(1);
    const stats = await harness.result<'stats'>({ kind: 'stats' });
    expect(stats.leaks).toEqual([expect.objectContaining({ kind: 'encode', numTensors: stats.baselineTensors })]);
    expect(stats.leaks[0].numTensors - stats.leaks[0].baselineTensors).toBe(1);
  });

  it('turns a lost device into errors for pending jobs, an event, and a state that a new load recovers', async () => {
    let loseDevice!: (message: string) => void;
    const fakeGpu = async (): Promise<ActiveBackend> => {
      const active = await selectBackend('cpu');
      return {
        report: { ...active.report, backend: 'cpu', reason: 'test: a cpu backend standing in for a GPU' },
        deviceLost: new Promise<string>((resolve) => (loseDevice = resolve)),
      };
    };
    harness = new Harness({ selectBackend: fakeGpu });
    await harness.load();
    const z = { shape: [1, ARCH.latentDim] as [number, number], data: Float32Array.of(0, 0, 0) };
    const running = harness.send(sampleBody(z, 1, 50));
    const queued = harness.send({ kind: 'encode', images: images(1) });
    while (harness.progressOf(running.id).length === 0) await new Promise((resolve) => setTimeout(resolve, 1));
    loseDevice('simulated loss');
    expect(await running.done).toMatchObject({
      kind: 'error',
      name: 'DeviceLostError',
      message: expect.stringContaining('simulated loss'),
    });
    expect(await queued.done).toMatchObject({ kind: 'error', name: 'DeviceLostError' });
    expect(harness.messages.some((m) => m.kind === 'event' && m.event.type === 'deviceLost')).toBe(true);
    const after = await harness.send({ kind: 'encode', images: images(1) }).done;
    expect(after).toMatchObject({
      kind: 'error',
      name: 'DeviceLostError',
      message: 'cannot encode: the GPU device was lost; load the model again',
    });
    // The aborted chain must not post anything more for the old jobs.
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(harness.terminalsOf(running.id)).toHaveLength(1);
    const reloaded = await harness.load();
    expect(reloaded.backend.backend).toBe('cpu');
    expect((await harness.result<'encode'>({ kind: 'encode', images: images(1) })).z.shape).toEqual([1, 3]);
  });
});

/** A client wired to an engine in this process: what the worker does with postMessage, without a worker. */
function inProcessPort(overrides: Partial<EngineHost> = {}): EnginePort {
  const listeners: ((event: MessageEvent<EngineResponse>) => void)[] = [];
  const engine = new Engine({
    post: (message) => {
      // Delivered on a later task, as a worker's messages are.
      setTimeout(() => listeners.forEach((listener) => listener({ data: message } as MessageEvent<EngineResponse>)), 0);
    },
    selectBackend: () => selectBackend('cpu'),
    loadModel: async () => syntheticModel(),
    ...overrides,
  });
  return {
    postMessage: (message: EngineInbound) => setTimeout(() => engine.receive(message), 0),
    addEventListener: ((type: string, listener: (event: MessageEvent<EngineResponse>) => void) => {
      if (type === 'message') listeners.push(listener);
    }) as EnginePort['addEventListener'],
    terminate: () => {},
  };
}

describe('EngineClient', () => {
  it('resolves results, collects trajectories, and rejects aborted requests with an AbortError', async () => {
    const client = new EngineClient(inProcessPort());
    const events: string[] = [];
    client.onEvent((event) => events.push(event.type));
    const loaded = await client.load({ kind: 'url', baseUrl: 'models/x/' });
    expect(loaded.backend.backend).toBe('cpu');
    expect(events).toContain('backend');

    const z = { shape: [1, ARCH.latentDim] as [number, number], data: Float32Array.of(1, 2, 3) };
    const steps: number[] = [];
    const traced = await client.sample(
      { channel: 'main', z, noise: { kind: 'seed', seed: 4 }, steps: 3, eta: 0, returnTrajectory: true },
      { onProgress: (p) => steps.push(p.step) },
    );
    expect(steps).toEqual([1, 2, 3]);
    expect(traced.trajectory?.map((f) => f.step)).toEqual([1, 2, 3]);
    expect(z.data).toEqual(Float32Array.of(1, 2, 3)); // the caller's latents are copied, never detached

    const controller = new AbortController();
    const aborted = client.sample(
      { channel: 'main', z, noise: { kind: 'seed', seed: 4 }, steps: 30, eta: 0 },
      { signal: controller.signal },
    );
    controller.abort();
    await expect(aborted).rejects.toSatisfy(isAbortError);

    const superseded = client.sample({ channel: 'main', z, noise: { kind: 'seed', seed: 4 }, steps: 30, eta: 0 });
    const latest = client.sample({ channel: 'main', z, noise: { kind: 'seed', seed: 5 }, steps: 2, eta: 0 });
    await expect(superseded).rejects.toSatisfy(isAbortError);
    expect((await latest).images.shape).toEqual([1, 8, 8, 1]);

    await expect(client.encode({ shape: [1, 2, 2, 1], data: new Float32Array(4) })).rejects.toThrow(/must be 8x8/);
    const stats = await client.stats();
    expect(stats.leaks).toEqual([]);
    expect(stats.numTensors).toBe(loaded.baselineTensors);
    await client.dispose();
  });
});

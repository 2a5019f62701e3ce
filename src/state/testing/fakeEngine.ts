/**
 * A closed-form stand-in for the engine, for store tests in Node. Its "model" is exact and invertible, so
 * results can be checked by hand:
 *   encode: z_k = mean(x) + k;  invert: x_T = x - z_0;  sample: x0 = x_T + z_0 + η (mean over steps of the step noise);
 *   sample with the student (a metadata with `student`): x0 = x_T + z_0 + STUDENT_SHIFT · calls.
 * Hence decoding an image's own (z, x_T) with η = 0 gives the image back, and a student frame is told apart. Sampling can run in manual mode, where each
 * call waits until the test releases it, to check pacing and cancellation.
 */
import type { EngineEvent, FloatImageBatch, LoadResult, Progress } from '../../engine/protocol';
import { ChannelLeases, type SampleOutput, type SampleParams } from '../../engine/client';
import type { ModelMetadata } from '../../model/metadata';
import { StepNoiseDrawer } from '../../engine/stepNoise';
import type { ExplorerEngine } from '../types';

export const FAKE_SIZE = 4;
export const FAKE_LATENT_DIM = 3;
/** What each student call adds to the fake decode, so a test can tell a student frame from the full sampler's. */
export const STUDENT_SHIFT = 0.25;

/** A metadata.student block for the fake model: a v student of two calls. */
export const FAKE_STUDENT = {
  parameterisation: 'v',
  plan: [999, 500],
  teacherSteps: 20,
  training: {},
  fidelity: {},
} satisfies ModelMetadata['student'];

export function fakeMetadata(overrides: Partial<ModelMetadata> = {}): ModelMetadata {
  const d = FAKE_SIZE * FAKE_SIZE;
  return {
    id: 'fixture',
    displayName: 'Fixture',
    description: 'Tiny random model',
    architecture: {
      imageSize: FAKE_SIZE,
      imageChannels: 1,
      baseChannels: 8,
      channelMultipliers: [1, 2],
      numResBlocks: 1,
      attentionLevels: [],
      latentDim: FAKE_LATENT_DIM,
      groupNormGroups: 4,
      dropout: 0,
      latentHead: 'a',
    },
    schedule: { kind: 'linear', timesteps: 1000, betaStart: 1e-5, betaEnd: 0.01, cosineOffset: 0.008 },
    preprocessing: { imageSize: FAKE_SIZE, channels: 1, valueRange: [-1, 1], lightOnDark: true },
    latent: { mean: [0, 0, 0], std: [1, 1, 1], min: [-3, -3, -3], max: [3, 3, 3], prior: 'normal' },
    dimensionNames: [null, 'width', null],
    attributeDirections: [{ name: 'Trouser', group: 'class', vector: [1, 0, 0], bias: 0 }],
    gaussianReference: {
      kind: 'diagonal',
      mean: new Array(d).fill(0),
      variance: 1,
      logEigenvalues: new Array(d).fill(0),
      logSnrLoc: 0,
      logSnrScale: 1,
    },
    gallery: [{ file: 'gallery/0.png', label: 'Ankle boot' }],
    provenance: {
      source: 'fixture',
      dataset: 'none',
      objective: {},
      steps: 0,
      batchSize: 1,
      wallTimeSeconds: 0,
      hardware: 'none',
      ema: false,
      metrics: {},
      createdAt: '2024-01-01T00:00:00Z',
      notes: '',
    },
    ...overrides,
  };
}

interface PendingSample {
  params: SampleParams;
  resolve: () => void;
}

function abortError(message: string): DOMException {
  return new DOMException(message, 'AbortError');
}

export interface FakeEngine extends ExplorerEngine {
  /** Every call made, in order: kind plus the arguments that matter. */
  calls: {
    kind: string;
    channel?: string;
    decoder?: 'student';
    steps?: number;
    batch?: number;
    z?: number[];
    eta?: number | number[];
  }[];
  /** Sample calls waiting in manual mode. */
  pendingSamples: PendingSample[];
  /** Releases the oldest waiting sample call. */
  releaseSample(): Promise<void>;
  emit(event: EngineEvent): void;
  loadError: Error | null;
}

/** Lets queued promise callbacks run. */
export async function flush(): Promise<void> {
  for (let i = 0; i < 20; i += 1) await Promise.resolve();
}

export function createFakeEngine(options: { manualSamples?: boolean; metadata?: ModelMetadata } = {}): FakeEngine {
  const metadata = options.metadata ?? fakeMetadata();
  const listeners = new Set<(event: EngineEvent) => void>();
  // The client's own channel bookkeeping, so jobs and samples supersede here as they do in the app.
  const channels = new ChannelLeases();
  const engine: FakeEngine = {
    calls: [],
    pendingSamples: [],
    loadError: null,

    async releaseSample() {
      engine.pendingSamples.shift()?.resolve();
      await flush();
    },

    emit(event) {
      for (const listener of listeners) listener(event);
    },

    onEvent(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },

    openChannel: (name) => channels.open(name),
    closeChannel: (name) => channels.close(name),
    closeChannels: (prefix) => channels.closeAll(prefix),

    async load(source, loadOptions = {}) {
      engine.calls.push({ kind: 'load', batch: loadOptions.warmupBatchSizes?.at(-1) });
      loadOptions.onProgress?.({ phase: 'download', loadedBytes: 50, totalBytes: 100 });
      loadOptions.onProgress?.({ phase: 'compile', done: 1, total: 2 });
      if (engine.loadError) throw engine.loadError;
      const result: LoadResult = {
        metadata: source.kind === 'url' ? metadata : { ...metadata, id: 'from-files' },
        backend: { backend: 'cpu', reason: `asked for ${loadOptions.backend ?? 'auto'}`, adapter: null, probes: [] },
        stats: { parameters: 3, encoderFlops: 3, denoiserFlops: 4, weightBytes: 5 },
        loadMs: 1,
        compileMs: 2,
        baselineTensors: 10,
      };
      return result;
    },

    async encode(images) {
      engine.calls.push({ kind: 'encode', batch: images.shape[0] });
      const data = Array.from(images.data, Number);
      const mean = data.reduce((s, v) => s + v, 0) / data.length;
      return {
        z: { shape: [1, FAKE_LATENT_DIM], data: Float32Array.from({ length: FAKE_LATENT_DIM }, (_, k) => mean + k) },
        elapsedMs: 1,
      };
    },

    async invert(images, params, callOptions = {}) {
      engine.calls.push({ kind: 'invert', steps: params.steps });
      const z0 = params.z!.data[0];
      for (let step = 1; step <= params.steps; step += 1)
        callOptions.onProgress?.({ phase: 'step', step, totalSteps: params.steps, t: 0 });
      const xNoise: FloatImageBatch = {
        shape: images.shape,
        data: Float32Array.from(images.data, (v) => Number(v) - z0),
      };
      return { xNoise, z: params.z!, denoiserCalls: params.steps, elapsedMs: 1 };
    },

    sample(params, callOptions = {}): Promise<SampleOutput> {
      const batch = params.z.shape[0];
      const student = params.decoder === 'student';
      engine.calls.push({
        kind: 'sample',
        channel: params.channel,
        ...(student ? { decoder: 'student' as const } : {}),
        steps: params.steps,
        batch,
        z: Array.from(params.z.data.subarray(0, FAKE_LATENT_DIM)),
        eta: params.eta,
      });
      const held = channels.open(params.channel);
      return new Promise<SampleOutput>((resolve, reject) => {
        // The real engine's refusal, at the same boundary.
        if (student && !metadata.student) {
          reject(
            new Error(
              `cannot sample with the student: model '${metadata.id}' has no distilled student (metadata.student)`,
            ),
          );
          return;
        }
        held.signal.addEventListener('abort', () => reject(abortError('superseded')), { once: true });
        const signal = callOptions.signal;
        if (signal?.aborted) {
          reject(abortError('aborted'));
          return;
        }
        signal?.addEventListener('abort', () => reject(abortError('aborted')), { once: true });
        const finish = () => {
          if (params.noise.kind !== 'tensor') throw new Error('the fake engine only takes explicit x_T');
          const latentDim = params.z.shape[1];
          const xNoise = params.noise.xNoise;
          const perImage = xNoise.data.length / batch;
          const etaOf = (b: number) => (typeof params.eta === 'number' ? params.eta : params.eta[b]);
          // The step noise the real engine draws from each row's source, laid out as it lays it out.
          const stepNoise = params.stepNoiseSources
            ? new StepNoiseDrawer().batch(params.stepNoiseSources, params.steps, [
                xNoise.shape[1],
                xNoise.shape[2],
                xNoise.shape[3],
              ])
            : params.stepNoise;
          const meanStepNoise = (i: number) => {
            if (!stepNoise) return 0;
            let sum = 0;
            for (let s = 0; s < params.steps; s += 1) sum += stepNoise.data[s * batch * perImage + i];
            return sum / params.steps;
          };
          const data = Float32Array.from(xNoise.data, (v, i) => {
            const b = Math.floor(i / perImage);
            if (student) return Number(v) + params.z.data[b * latentDim] + STUDENT_SHIFT * params.steps;
            return Number(v) + params.z.data[b * latentDim] + etaOf(b) * meanStepNoise(i);
          });
          const steps: Progress[] = Array.from({ length: params.steps }, (_, i) => ({
            phase: 'step',
            step: i + 1,
            totalSteps: params.steps,
            t: 999 - i,
            ...(params.returnTrajectory
              ? { xt: { shape: xNoise.shape, data }, x0Pred: { shape: xNoise.shape, data } }
              : {}),
          }));
          for (const progress of steps) callOptions.onProgress?.(progress as Extract<Progress, { phase: 'step' }>);
          resolve({ images: { shape: xNoise.shape, data }, denoiserCalls: params.steps, elapsedMs: 1 });
          held.close();
        };
        if (options.manualSamples) engine.pendingSamples.push({ params, resolve: finish });
        else queueMicrotask(finish);
      });
    },

    async nll(_images, params) {
      engine.calls.push({ kind: 'nll' });
      return {
        estimates: [{ bitsPerDim: -4, bitsPerDim8bit: 2.99, stdErr: 0.05, denoiserCalls: params.samples }],
        elapsedMs: 1,
      };
    },

    async itd(_images, params, options = {}) {
      engine.calls.push({ kind: 'itd' });
      const logSnr = Array.from({ length: params.points }, (_, i) => i - params.points / 2);
      const curve = {
        logSnr,
        mmse: logSnr.map(() => 1),
        discrete: logSnr.map(() => 0.5),
        gaussian: logSnr.map(() => 2),
        standardNormal: logSnr.map(() => 3),
        xSpaceMmse: logSnr.map((a) => Math.exp(-a)),
        trainedLogSnrRange: [-5, 11.5] as [number, number],
        denoiserCalls: 1,
      };
      const figure = (bitsPerDim: number) => ({ bitsPerDim, stdErr: 0.05 });
      const figures = { continuous: figure(-4), dequantisedBound: figure(2.99), discrete: figure(3.5) };
      const members = params.compareWith ? 2 : 1;
      const scored = (params.points * params.repeats + 2 * params.samples) * (members + (params.zPrior ? 1 : 0));
      options.onProgress?.({ phase: 'calls', done: scored, total: scored });
      return {
        members: Array.from({ length: members }, (_, m) => ({
          id: m === 0 ? 'fake' : 'fake-baseline',
          displayName: m === 0 ? 'Fake' : 'Fake baseline',
          baselineOf: m === 0 ? null : 'fake',
          curve,
          ...figures,
          networkCalls: 1,
          networkEvaluations: 1,
        })),
        unconditional: params.zPrior
          ? { ...figures, discrete: figure(3.6), curve, priorDraws: params.zPrior.shape[0] }
          : null,
        zSaves: params.zPrior ? { perPixel: figure(0.1), totalBits: 102.4 } : null,
        ensemble: params.compareWith
          ? { ...figures, mmse: curve.mmse, discreteMmse: curve.discrete, winner: logSnr.map(() => 0) }
          : null,
        trainedLogSnrRange: [-5, 11.5],
        logSnrRange: [-10, 23],
        scored,
        networkCalls: 1,
        networkEvaluations: 1,
        elapsedMs: 1,
      };
    },

    async mmseCurve(_images, params) {
      engine.calls.push({ kind: 'mmseCurve' });
      const logSnr = Array.from({ length: params.points }, (_, i) => i - params.points / 2);
      return {
        logSnr,
        mmse: logSnr.map(() => 1),
        discrete: logSnr.map(() => 0.5),
        trainedLogSnrRange: null,
        gaussian: logSnr.map(() => 2),
        standardNormal: logSnr.map(() => 3),
        xSpaceMmse: logSnr.map((a) => Math.exp(-a)),
        denoiserCalls: params.points * params.repeats,
        elapsedMs: 1,
      };
    },

    async forwardNoise(images, params) {
      engine.calls.push({ kind: 'forwardNoise' });
      const alphaBar = 1 / (1 + Math.exp(-params.logSnr));
      return {
        xt: {
          shape: images.shape as FloatImageBatch['shape'],
          data: Float32Array.from(images.data, (v) => Math.sqrt(alphaBar) * Number(v)),
        },
        alphaBar,
        nearestTimestep: 500,
        elapsedMs: 1,
      };
    },

    async stats() {
      throw new Error('not used by the stores');
    },
  };
  return engine;
}

/**
 * Engine harness page: exposes `window.__harness` (see api.ts) so Playwright specs and the benchmark drive real
 * engine workers, through the same `EngineClient` the app uses.
 */
import { EngineClient, isAbortError } from '../../src/engine/client';
import type {
  EngineEvent,
  FloatImageBatch,
  ImageBatch,
  LatentBatch,
  NoiseSource,
  SampleRequest,
} from '../../src/engine/protocol';
import type { HarnessApi, HarnessSampleParams, HarnessSupersede, PlainImages, PlainLatents } from './api';

interface NamedEngine {
  client: EngineClient;
  events: EngineEvent[];
}

const engines = new Map<string, NamedEngine>();

function engine(name: string): NamedEngine {
  const found = engines.get(name);
  if (!found) throw new Error(`no engine named '${name}'; call createEngine first`);
  return found;
}

const toImages = (plain: PlainImages): ImageBatch => ({ shape: plain.shape, data: Float32Array.from(plain.data) });
const toLatents = (plain: PlainLatents): LatentBatch => ({ shape: plain.shape, data: Float32Array.from(plain.data) });
const fromImages = (batch: FloatImageBatch): PlainImages => ({ shape: batch.shape, data: Array.from(batch.data) });
const fromLatents = (batch: LatentBatch): PlainLatents => ({ shape: batch.shape, data: Array.from(batch.data) });

/** Folder URL relative to the site root (this page lives two levels down, at e2e/harness/). */
const siteUrl = (path: string): string => new URL(path, new URL('../../', location.href)).href;

function sampleRequest(params: HarnessSampleParams): Omit<SampleRequest, 'id' | 'kind'> {
  let noise: NoiseSource;
  if (params.xNoise) noise = { kind: 'tensor', xNoise: toImages(params.xNoise) };
  else noise = { kind: 'seed', seed: params.seed ?? 0 };
  return {
    channel: params.channel ?? 'harness',
    z: toLatents(params.z),
    noise,
    steps: params.steps,
    eta: params.eta ?? 0,
    returnTrajectory: params.returnTrajectory ?? false,
  };
}

type Outcome = HarnessSupersede['first'];
const outcomeOf = (promise: Promise<unknown>): Promise<Outcome> =>
  promise.then(
    () => 'result' as const,
    (error: unknown) => (isAbortError(error) ? 'aborted' : 'error'),
  );

const harness: HarnessApi = {
  createEngine(name) {
    engines.get(name)?.client.terminate();
    const client = new EngineClient();
    const events: EngineEvent[] = [];
    client.onEvent((event) => events.push(event));
    engines.set(name, { client, events });
  },

  async load(name, options) {
    const phases: string[] = [];
    const begin = performance.now();
    const result = await engine(name).client.load(
      { kind: 'url', baseUrl: siteUrl(options.modelPath) },
      {
        backend: options.backend,
        warmupBatchSizes: options.warmupBatchSizes,
        onProgress: (progress) => {
          if (!phases.includes(progress.phase)) phases.push(progress.phase);
        },
      },
    );
    const { metadata, ...rest } = result;
    return {
      ...rest,
      modelId: metadata.id,
      architecture: metadata.architecture,
      wallMs: performance.now() - begin,
      phases,
    };
  },

  async encode(name, images) {
    const begin = performance.now();
    const result = await engine(name).client.encode(toImages(images));
    return { ...fromLatents(result.z), elapsedMs: result.elapsedMs, wallMs: performance.now() - begin };
  },

  async sample(name, params) {
    let stepEvents = 0;
    const begin = performance.now();
    const result = await engine(name).client.sample(sampleRequest(params), { onProgress: () => stepEvents++ });
    return {
      images: fromImages(result.images),
      trajectoryFrames: result.trajectory?.length ?? 0,
      stepEvents,
      elapsedMs: result.elapsedMs,
      wallMs: performance.now() - begin,
    };
  },

  async invert(name, images, params) {
    const begin = performance.now();
    const result = await engine(name).client.invert(toImages(images), {
      steps: params.steps,
      z: params.z ? toLatents(params.z) : undefined,
    });
    return {
      xNoise: fromImages(result.xNoise),
      z: fromLatents(result.z),
      elapsedMs: result.elapsedMs,
      wallMs: performance.now() - begin,
    };
  },

  nll(name, images, params) {
    return engine(name).client.nll(toImages(images), {
      samples: params.samples,
      seed: params.seed,
      z: params.z ? toLatents(params.z) : undefined,
    });
  },

  mmseCurve(name, images, params) {
    return engine(name).client.mmseCurve(toImages(images), params);
  },

  async forwardNoise(name, images, params) {
    const result = await engine(name).client.forwardNoise(toImages(images), params);
    return { xt: fromImages(result.xt), alphaBar: result.alphaBar, nearestTimestep: result.nearestTimestep };
  },

  profile(name, params) {
    return engine(name).client.profile(params);
  },

  async supersede(name, first, second) {
    const { client } = engine(name);
    let firstSteps = 0;
    let sendSecond!: () => void;
    const secondSent = new Promise<void>((resolve) => (sendSecond = resolve));
    // The second request goes out after the first one's first step, so it lands while the first is running.
    const firstPromise = client.sample(sampleRequest(first), {
      onProgress: () => {
        firstSteps++;
        sendSecond();
      },
    });
    const firstOutcome = outcomeOf(firstPromise);
    await Promise.race([secondSent, firstOutcome]);
    const secondOutcome = outcomeOf(client.sample(sampleRequest(second)));
    return { first: await firstOutcome, second: await secondOutcome, firstSteps };
  },

  stats(name) {
    return engine(name).client.stats();
  },

  events(name) {
    return [...engine(name).events];
  },

  terminate(name) {
    engines.get(name)?.client.terminate();
    engines.delete(name);
  },
};

window.__harness = harness;
document.getElementById('harness-status')!.textContent = 'ready';

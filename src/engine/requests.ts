/**
 * What each request does, as functions of (model, request, context), in the manner of a diffusers pipeline: the
 * engine (engine.ts) owns the queue and the lifecycle, has checked the request (validation.ts) and lends a
 * `RequestContext` that owns the abort signal, the tensors to dispose, the clock and the progress events, so a
 * body says only what it computes. The numerics below assert what validation.ts already refused.
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  createRng,
  ddimInvert,
  ddimSample,
  ddimTimesteps,
  estimateNll,
  mmseCurve,
  normalTensor4d,
  sigmoid,
  timestepForLogSnr,
  trainedLogSnrRange,
  type DdimRunOptions,
  type DdimStepInfo,
  type EpsPredictor,
  type ItdRunOptions,
  type NoiseSchedule,
} from '../diffusion/index';
import type { InfoDiffusionModel } from '../model/index';
import type { Parameterisation } from '../model/metadata';
import { countGpuPrograms } from './backend';
import type {
  EncodeRequest,
  ForwardNoiseRequest,
  ImageBatch,
  InvertRequest,
  LatentBatch,
  MmseCurveRequest,
  NllRequest,
  Progress,
  ProfileRequest,
  ProfileResult,
  ResultByKind,
  SampleRequest,
} from './protocol';
import { itdAnalysis, type CompanionLoader } from './itdRequest';
import type { StepNoiseDrawer } from './stepNoise';
import { floatBatch, imageTensor, latentBatch, latentTensor, stepNoiseTensors } from './tensors';
import type { ModelRequest } from './validation';

/** The model and everything derived from it, present between a successful load and dispose/device loss. */
export interface ReadyModel {
  model: InfoDiffusionModel;
  schedule: NoiseSchedule;
  predictEps: EpsPredictor;
  /** The package's distilled student as a predictor for ddimSample, or null when it has none. */
  student: { predict: EpsPredictor; plan: readonly number[]; parameterisation: Parameterisation } | null;
  /**
   * Noisy images per network call in the I-MMSE estimators: the largest warm-up batch, so those calls reuse
   * shapes whose programs are already compiled.
   */
  evaluationBatch: number;
}

/** The engine's side of a running request: timing, the tensors it owns, progress, aborts and yields. */
export class RequestContext {
  private readonly owned: tf.Tensor[] = [];
  private readonly startedAt = performance.now();

  /**
   * @param post delivers a progress event of this request
   * @param yieldToEventLoop awaited between steps and batches, so a newer message (an abort) gets in
   * @param stepNoise the engine's step-noise drawer (its cache outlives the request)
   * @param loadCompanion loads a second package for the request ('itd' compareWith); the request disposes it
   */
  constructor(
    readonly signal: AbortSignal,
    private readonly post: (progress: Progress) => void,
    readonly yieldToEventLoop: () => Promise<void>,
    readonly stepNoise: StepNoiseDrawer,
    readonly loadCompanion: CompanionLoader = () => Promise.reject(new Error('no second model can be loaded here')),
  ) {}

  /** Keeps tensors until the request ends, however it ends; returns the first. */
  own<T extends tf.Tensor>(tensor: T, ...more: tf.Tensor[]): T {
    this.owned.push(tensor, ...more);
    return tensor;
  }

  /** Milliseconds since the request started running. */
  elapsedMs(): number {
    return performance.now() - this.startedAt;
  }

  progress(progress: Progress): void {
    this.post(progress);
  }

  /** Options of a DDIM run: abort checks, a yield and one 'step' event per step, with x_t and x0Pred if asked. */
  ddimRun(returnTrajectory = false): DdimRunOptions {
    const event = (step: DdimStepInfo) => ({
      phase: 'step' as const,
      step: step.stepsDone,
      totalSteps: step.stepsTotal,
      t: step.t,
    });
    const onStep = returnTrajectory
      ? async (step: DdimStepInfo) => {
          const [xt, x0Pred] = await Promise.all([floatBatch(step.xt), floatBatch(step.x0Pred)]);
          this.progress({ ...event(step), xt, x0Pred });
        }
      : (step: DdimStepInfo) => this.progress(event(step));
    return { signal: this.signal, yieldEveryStep: this.yieldToEventLoop, onStep };
  }

  /** Options of an I-MMSE run: abort checks, a yield and 'calls' events (offset by calls done before it). */
  itdRun(model: ReadyModel, seed: number, calls: { before: number; total?: number } = { before: 0 }): ItdRunOptions {
    return {
      seed,
      batchSize: model.evaluationBatch,
      // The network is not queried outside the log-SNRs it was trained on (src/diffusion/itd.ts header).
      trainedLogSnrRange: trainedLogSnrRange(model.schedule),
      signal: this.signal,
      yieldEveryBatch: this.yieldToEventLoop,
      onProgress: ({ evaluated, total }) =>
        this.progress({ phase: 'calls', done: calls.before + evaluated, total: calls.total ?? total }),
    };
  }

  /** Disposes every tensor the request owns (the engine calls it once the request has ended). */
  dispose(): void {
    tf.dispose(this.owned);
    this.owned.length = 0;
  }
}

/** The request's images as a tensor and their z: the one given (an edited latent), else Enc(x). Both owned. */
function imagesAndLatents(
  model: ReadyModel,
  request: { images: ImageBatch; z?: LatentBatch },
  context: RequestContext,
): { x: tf.Tensor4D; z: tf.Tensor2D } {
  const x = context.own(imageTensor(request.images));
  const z = context.own(request.z ? latentTensor(request.z) : model.model.encode(x));
  return { x, z };
}

async function encode(
  model: ReadyModel,
  request: EncodeRequest,
  context: RequestContext,
): Promise<ResultByKind['encode']> {
  const z = context.own(model.model.encode(context.own(imageTensor(request.images))));
  return { z: await latentBatch(z), elapsedMs: context.elapsedMs() };
}

async function invert(
  model: ReadyModel,
  request: InvertRequest,
  context: RequestContext,
): Promise<ResultByKind['invert']> {
  const plan = ddimTimesteps(model.schedule.timesteps, request.steps);
  const { x: x0, z } = imagesAndLatents(model, request, context);
  const xNoise = context.own(await ddimInvert(model.predictEps, model.schedule, plan, x0, z, context.ddimRun()));
  const [xNoiseBatch, zBatch] = await Promise.all([floatBatch(xNoise), latentBatch(z)]);
  return { xNoise: xNoiseBatch, z: zBatch, denoiserCalls: plan.length, elapsedMs: context.elapsedMs() };
}

/** The network, plan and parameterisation a (checked) sample request decodes with. */
function decoder(
  model: ReadyModel,
  request: SampleRequest,
): { predict: EpsPredictor; plan: Int32Array; parameterisation: Parameterisation } {
  const student = model.student;
  if (request.decoder === 'student' && student) {
    return {
      predict: student.predict,
      plan: Int32Array.from(student.plan.slice(0, request.steps)),
      parameterisation: student.parameterisation,
    };
  }
  return {
    predict: model.predictEps,
    plan: ddimTimesteps(model.schedule.timesteps, request.steps),
    parameterisation: 'eps',
  };
}

/** The step noise of a sample request as one tensor per step (owned), or undefined where it is drawn from noiseSeed. */
function stepNoise(
  request: SampleRequest,
  shape: readonly [number, number, number, number],
  context: RequestContext,
): tf.Tensor4D[] | undefined {
  const [, height, width, channels] = shape;
  const batch = request.stepNoiseSources
    ? context.stepNoise.batch(request.stepNoiseSources, request.steps, [height, width, channels])
    : request.stepNoise;
  if (!batch) return undefined;
  const tensors = stepNoiseTensors(batch);
  for (const t of tensors) context.own(t);
  return tensors;
}

async function sample(
  model: ReadyModel,
  request: SampleRequest,
  context: RequestContext,
): Promise<ResultByKind['sample']> {
  const { predict, plan, parameterisation } = decoder(model, request);
  const { imageSize, imageChannels } = model.model.architecture;
  const z = context.own(latentTensor(request.z));
  const shape = [z.shape[0], imageSize, imageSize, imageChannels] as const;
  const noise = request.noise;
  const xNoise = context.own(
    noise.kind === 'seed' ? normalTensor4d(createRng(noise.seed), [...shape]) : imageTensor(noise.xNoise),
  );
  const stepNoiseTensors = stepNoise(request, shape, context);
  const x0 = await ddimSample(predict, model.schedule, plan, xNoise, z, {
    ...context.ddimRun(request.returnTrajectory),
    parameterisation,
    eta: request.eta,
    // Step noise is only drawn where some eta > 0.
    seed: stepNoiseTensors ? undefined : (request.noiseSeed ?? 0),
    noise: stepNoiseTensors,
  });
  context.own(x0);
  return { images: await floatBatch(x0), denoiserCalls: plan.length, elapsedMs: context.elapsedMs() };
}

async function nll(model: ReadyModel, request: NllRequest, context: RequestContext): Promise<ResultByKind['nll']> {
  const { x, z } = imagesAndLatents(model, request, context);
  const batch = x.shape[0];
  const total = batch * request.samples;
  const estimates: ResultByKind['nll']['estimates'] = [];
  for (let b = 0; b < batch; b++) {
    const xb = context.own(tf.slice(x, [b, 0, 0, 0], [1, -1, -1, -1]) as tf.Tensor4D);
    const zb = context.own(tf.slice(z, [b, 0], [1, -1]) as tf.Tensor2D);
    const run = context.itdRun(model, (request.seed ?? 0) + b, { before: b * request.samples, total });
    const estimate = await estimateNll(
      model.predictEps,
      model.schedule,
      model.model.metadata.gaussianReference,
      xb,
      zb,
      { ...run, samples: request.samples },
    );
    estimates.push({
      bitsPerDim: estimate.bitsPerDim,
      bitsPerDim8bit: estimate.bitsPerDim8bit,
      stdErr: estimate.stdErr,
      denoiserCalls: estimate.denoiserCalls,
    });
  }
  return { estimates, elapsedMs: context.elapsedMs() };
}

async function mmse(
  model: ReadyModel,
  request: MmseCurveRequest,
  context: RequestContext,
): Promise<ResultByKind['mmseCurve']> {
  const { x, z } = imagesAndLatents(model, request, context);
  const run = context.itdRun(model, request.seed ?? 0);
  const curve = await mmseCurve(model.predictEps, model.schedule, model.model.metadata.gaussianReference, x, z, {
    ...run,
    points: request.points,
    repeats: request.repeats,
  });
  return { ...curve, elapsedMs: context.elapsedMs() };
}

async function forwardNoise(
  model: ReadyModel,
  request: ForwardNoiseRequest,
  context: RequestContext,
): Promise<ResultByKind['forwardNoise']> {
  const x = context.own(imageTensor(request.images));
  const alphaBar = sigmoid(request.logSnr);
  const eps = context.own(normalTensor4d(createRng(request.seed), x.shape));
  const xt = context.own(
    tf.tidy(() => tf.add(tf.mul(x, Math.sqrt(alphaBar)), tf.mul(eps, Math.sqrt(1 - alphaBar))) as tf.Tensor4D),
  );
  return {
    xt: await floatBatch(xt),
    alphaBar,
    nearestTimestep: timestepForLogSnr(model.schedule, request.logSnr),
    elapsedMs: context.elapsedMs(),
  };
}

async function profile(
  model: ReadyModel,
  request: ProfileRequest,
  context: RequestContext,
): Promise<ResultByKind['profile']> {
  const { imageSize, imageChannels, latentDim } = model.model.architecture;
  const rng = createRng(request.batchSize);
  const xt = context.own(normalTensor4d(rng, [request.batchSize, imageSize, imageSize, imageChannels]));
  const z = context.own(tf.tensor2d(rng.normals(request.batchSize * latentDim), [request.batchSize, latentDim]));
  const t = context.own(tf.fill([request.batchSize], Math.floor(model.schedule.timesteps / 2), 'int32') as tf.Tensor1D);
  const callAndRead = async (): Promise<void> => {
    const eps = model.predictEps(xt, t, z);
    await eps.data();
    eps.dispose();
  };
  const timedCall = async (): Promise<number> => {
    const begin = performance.now();
    await callAndRead();
    return performance.now() - begin;
  };
  await timedCall(); // untimed: first use of this batch size may still compile or allocate
  const callMs: number[] = [];
  for (let k = 0; k < request.repeats; k++) {
    callMs.push(await timedCall());
    await context.yieldToEventLoop();
  }
  const dispatchesPerCall = await countGpuPrograms(callAndRead);
  const info = await tf.profile(() => model.predictEps(xt, t, z));
  tf.dispose(info.result as tf.Tensor);
  const kernelCounts: Record<string, number> = {};
  for (const kernel of info.kernels) kernelCounts[kernel.name] = (kernelCounts[kernel.name] ?? 0) + 1;
  return {
    backend: tf.getBackend() as ProfileResult['backend'],
    batchSize: request.batchSize,
    msPerCall: callMs.reduce((a, b) => a + b, 0) / callMs.length,
    callMs,
    kernelsPerCall: info.kernels.length,
    dispatchesPerCall,
    kernelCounts,
  };
}

/** Runs a checked request on the model. The caller disposes the context afterwards, whatever the outcome. */
export function runRequest(
  model: ReadyModel,
  request: ModelRequest,
  context: RequestContext,
): Promise<ResultByKind[ModelRequest['kind']]> {
  switch (request.kind) {
    case 'encode':
      return encode(model, request, context);
    case 'invert':
      return invert(model, request, context);
    case 'sample':
      return sample(model, request, context);
    case 'nll':
      return nll(model, request, context);
    case 'mmseCurve':
      return mmse(model, request, context);
    case 'itd':
      return itdAnalysis(model, request, context, context.loadCompanion);
    case 'forwardNoise':
      return forwardNoise(model, request, context);
    case 'profile':
      return profile(model, request, context);
    default: {
      const _exhaustive: never = request;
      throw new Error(`runRequest: unknown request ${JSON.stringify(_exhaustive)}`);
    }
  }
}

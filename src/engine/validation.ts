/**
 * The one place a request is checked. The engine calls `checkRequest` as a job starts, with the model the job
 * will run on, before any tensor exists; a refusal becomes an `error` response whose message names the field,
 * what it must be and what it was. Below this boundary (requests.ts, src/diffusion) the same conditions are only
 * asserted: a failure there is a bug in the engine, not a bad request.
 *
 * The payload checks (shapes, lengths, finiteness) live beside the conversions in tensors.ts; this module
 * decides which field is checked against what, and in which order (the first problem found is the one reported).
 */
import type { ArchitectureConfig } from '../model/config';
import { checkImageBatch, checkLatentBatch, checkStepNoiseBatch, RequestError } from './tensors';
import type {
  EncodeRequest,
  EngineRequest,
  ForwardNoiseRequest,
  InvertRequest,
  LoadRequest,
  ItdRequest,
  MmseCurveRequest,
  NllRequest,
  ProfileRequest,
  SampleRequest,
  StepNoiseSource,
} from './protocol';
import type { ReadyModel } from './requests';

/** The requests that run on a loaded model (everything but the lifecycle and the counters). */
export type ModelRequest = Exclude<EngineRequest, LoadRequest | { kind: 'stats' } | { kind: 'dispose' }>;

/** The default warm-up batch sizes of a load request. */
export const DEFAULT_WARMUP_BATCHES: readonly number[] = [1];

/** A load request's warm-up batch sizes, checked: positive integers (default [1]). */
export function checkedWarmupBatchSizes(request: LoadRequest): readonly number[] {
  const sizes = request.warmupBatchSizes ?? DEFAULT_WARMUP_BATCHES;
  for (const b of sizes) {
    if (!Number.isInteger(b) || b < 1)
      throw new RequestError(`warmupBatchSizes must hold positive integers, got ${JSON.stringify(sizes)}`);
  }
  return sizes;
}

function checkInteger(value: number, what: string): void {
  if (!Number.isInteger(value)) throw new RequestError(`${what} must be an integer, got ${value}`);
}

function checkAtLeast(value: number, min: number, what: string, words = `an integer >= ${min}`): void {
  if (!Number.isInteger(value) || value < min) throw new RequestError(`${what} must be ${words}, got ${value}`);
}

/** DDIM steps of the model's own denoiser: an integer in 1..T. */
function checkDdimSteps(model: ReadyModel, steps: number): void {
  const T = model.schedule.timesteps;
  if (!Number.isInteger(steps) || steps < 1 || steps > T)
    throw new RequestError(`steps must be an integer in 1..${T}, got ${steps}`);
}

/** The request's eta: one value in [0, 1], or one per latent of the batch. */
function checkEta(eta: unknown, batch: number): void {
  if (Array.isArray(eta) && eta.length !== batch)
    throw new RequestError(`eta must be one number or one per latent (${batch}), got ${eta.length} values`);
  for (const e of Array.isArray(eta) ? eta : [eta]) {
    if (typeof e !== 'number' || !(e >= 0 && e <= 1)) throw new RequestError(`eta must be in [0, 1], got ${String(e)}`);
  }
}

function checkStepNoiseSource(source: StepNoiseSource, what: string): void {
  switch (source?.kind) {
    case 'seed':
      checkInteger(source.seed, `${what}.seed`);
      return;
    case 'slerp':
      if (!(source.e >= 0 && source.e <= 1)) throw new RequestError(`${what}.e must be in [0, 1], got ${source.e}`);
      checkStepNoiseSource(source.a, `${what}.a`);
      checkStepNoiseSource(source.b, `${what}.b`);
      return;
    default:
      throw new RequestError(
        `${what} must be a step-noise source of kind 'seed' or 'slerp', got ${JSON.stringify(source)}`,
      );
  }
}

/**
 * Sampling with the student: the package has one, steps within its calls. It takes the sampler (η, step noise)
 * of the decode it stands in for, checked with the rest of the request: a prior draw's η = 1 between its calls
 * keeps the modes that a deterministic student averages away (docs/model-format.md, `student`).
 */
function checkStudentSample(model: ReadyModel, request: SampleRequest): void {
  const student = model.student;
  if (!student)
    throw new RequestError(
      `cannot sample with the student: model '${model.model.metadata.id}' has no distilled student (metadata.student)`,
    );
  const calls = student.plan.length;
  if (!Number.isInteger(request.steps) || request.steps < 1 || request.steps > calls) {
    throw new RequestError(`steps must be an integer in 1..${calls} (the student's calls), got ${request.steps}`);
  }
}

function checkSample(model: ReadyModel, request: SampleRequest): void {
  const arch = model.model.architecture;
  const decoder = request.decoder ?? 'ddim';
  switch (decoder) {
    case 'ddim':
      checkDdimSteps(model, request.steps);
      break;
    case 'student':
      checkStudentSample(model, request);
      break;
    default: {
      const _exhaustive: never = decoder;
      throw new RequestError(`decoder must be 'ddim' or 'student', got ${JSON.stringify(_exhaustive)}`);
    }
  }
  const batch = checkLatentBatch(request.z, arch, undefined, 'z');
  const noise = request.noise;
  if (noise.kind === 'seed') checkInteger(noise.seed, 'noise.seed');
  else checkImageBatch(noise.xNoise, arch, 'noise.xNoise', batch);
  checkEta(request.eta, batch);
  if (request.stepNoise && request.stepNoiseSources)
    throw new RequestError('give stepNoise or stepNoiseSources, not both');
  if (request.stepNoise) checkStepNoiseBatch(request.stepNoise, arch, request.steps, batch);
  if (request.stepNoiseSources) {
    const sources = request.stepNoiseSources;
    if (!Array.isArray(sources) || sources.length !== batch) {
      throw new RequestError(
        `stepNoiseSources must hold one source (or null) per latent (${batch}), got ${Array.isArray(sources) ? sources.length : JSON.stringify(sources)}`,
      );
    }
    sources.forEach((source, b) => {
      if (source !== null) checkStepNoiseSource(source, `stepNoiseSources[${b}]`);
    });
  }
}

/** Images, and the optional z given with them (one latent per image). */
function checkImagesAndLatents(
  arch: ArchitectureConfig,
  request: EncodeRequest | InvertRequest | NllRequest | MmseCurveRequest,
): void {
  const batch = checkImageBatch(request.images, arch, 'images');
  if ('z' in request && request.z) checkLatentBatch(request.z, arch, batch, 'z');
}

function checkMmseCurve(arch: ArchitectureConfig, request: MmseCurveRequest): void {
  checkAtLeast(request.points, 2, 'points');
  checkAtLeast(request.repeats, 1, 'repeats', 'a positive integer');
  if (request.images.shape[0] !== 1)
    throw new RequestError(`mmseCurve takes one image ([1,H,W,C]), got batch ${request.images.shape[0]}`);
  checkImagesAndLatents(arch, request);
}

/** One image, the sample and grid sizes, its z and the prior draws of the unconditional figures. */
function checkItd(arch: ArchitectureConfig, request: ItdRequest): void {
  checkAtLeast(request.samples, 2, 'samples');
  checkAtLeast(request.points, 2, 'points');
  checkAtLeast(request.repeats, 1, 'repeats', 'a positive integer');
  if (request.images.shape[0] !== 1)
    throw new RequestError(`itd takes one image ([1,H,W,C]), got batch ${request.images.shape[0]}`);
  checkImageBatch(request.images, arch, 'images');
  if (request.z) checkLatentBatch(request.z, arch, 1, 'z');
  if (request.zPrior) checkLatentBatch(request.zPrior, arch, request.zPrior.shape[0], 'zPrior');
}

function checkForwardNoise(arch: ArchitectureConfig, request: ForwardNoiseRequest): void {
  if (!Number.isFinite(request.logSnr)) throw new RequestError(`logSnr must be a finite number, got ${request.logSnr}`);
  checkInteger(request.seed, 'seed');
  checkImageBatch(request.images, arch, 'images');
}

function checkProfile(request: ProfileRequest): void {
  checkAtLeast(request.batchSize, 1, 'batchSize', 'a positive integer');
  checkAtLeast(request.repeats, 1, 'repeats', 'a positive integer');
}

/**
 * Refuses a request the model cannot serve, with a RequestError naming the field; returns nothing, so the request
 * bodies read the request's own fields, which from here on hold.
 */
export function checkRequest(model: ReadyModel, request: ModelRequest): void {
  const arch = model.model.architecture;
  switch (request.kind) {
    case 'encode':
      checkImagesAndLatents(arch, request);
      return;
    case 'invert':
      checkDdimSteps(model, request.steps);
      checkImagesAndLatents(arch, request);
      return;
    case 'sample':
      checkSample(model, request);
      return;
    case 'nll':
      checkAtLeast(request.samples, 2, 'samples');
      checkImagesAndLatents(arch, request);
      return;
    case 'mmseCurve':
      checkMmseCurve(arch, request);
      return;
    case 'itd':
      checkItd(arch, request);
      return;
    case 'forwardNoise':
      checkForwardNoise(arch, request);
      return;
    case 'profile':
      checkProfile(request);
      return;
    default: {
      const _exhaustive: never = request;
      throw new RequestError(`unknown request ${JSON.stringify(_exhaustive)}`);
    }
  }
}

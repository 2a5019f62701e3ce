/**
 * Deterministic random models for tests and benchmarks: parameters with the official names and shapes,
 * the official sinusoid time table, and a valid metadata block to go with them.
 */
import { createRng } from '../diffusion/random';
import type { ArchitectureConfig, ScheduleConfig } from './config';
import type { ModelMetadata, Parameterisation, StudentMetadata } from './metadata';
import { expectedParameters, shapeSize, STUDENT_PREFIX, TIME_TABLE_NAME } from './parameters';

/** Uniform numbers in [0, 1) for a seed: the project's one seeded stream (src/diffusion/random.ts). */
export function seededUniform(seed: number): () => number {
  return createRng(seed).uniform;
}

/** Standard normal numbers for a seed, one per call, from the same stream. */
export function seededNormal(seed: number): () => number {
  const rng = createRng(seed);
  let pair: Float32Array = new Float32Array(0);
  let next = 0;
  return () => {
    if (next >= pair.length) {
      pair = rng.normals(2);
      next = 0;
    }
    return pair[next++];
  };
}

/**
 * The official frozen time table (`TimeEmbedding` in modules.py): row t = [sin(t f_0), cos(t f_0),
 * sin(t f_1), cos(t f_1), ...] with f_i = exp(-(2i / ch) ln 10000), interleaved (not DiffAE's [cos | sin]).
 * Computed in float64; PyTorch computes it in float32, so a table exported from PyTorch can differ by a few
 * float32 ulps of the argument (packages always carry the exported table, so the runtime never recomputes it).
 * @returns row-major [T, ch]
 */
export function sinusoidTimeTable(timesteps: number, channels: number): Float32Array {
  if (channels % 2 !== 0) throw new Error(`sinusoidTimeTable: channels must be even, got ${channels}`);
  const table = new Float32Array(timesteps * channels);
  for (let t = 0; t < timesteps; t++) {
    for (let i = 0; i < channels / 2; i++) {
      const angle = t * Math.exp(-((2 * i) / channels) * Math.log(10000));
      table[t * channels + 2 * i] = Math.sin(angle);
      table[t * channels + 2 * i + 1] = Math.cos(angle);
    }
  }
  return table;
}

/**
 * Random but well-conditioned parameters for every expected name, in expectedParameters order:
 * conv/linear weights N(0, 1/fan_in), GroupNorm weights 1 + N(0, 0.1^2), all biases N(0, 0.05^2), and the
 * official sinusoid time table. Unlike the official initialisation (zero biases, 1e-5 gains on the tail and
 * attention output), every path contributes to the output, so tests see every weight.
 */
export function randomParameters(
  arch: ArchitectureConfig,
  scheduleTimesteps: number,
  seed: number,
): Map<string, Float32Array> {
  const normal = seededNormal(seed);
  const out = new Map<string, Float32Array>();
  for (const [name, shape] of expectedParameters(arch, scheduleTimesteps)) {
    if (name === TIME_TABLE_NAME) {
      out.set(name, sinusoidTimeTable(shape[0], shape[1]));
      continue;
    }
    const values = new Float32Array(shapeSize(shape));
    if (name.endsWith('.bias')) {
      for (let i = 0; i < values.length; i++) values[i] = 0.05 * normal();
    } else if (shape.length === 1) {
      for (let i = 0; i < values.length; i++) values[i] = 1 + 0.1 * normal(); // GroupNorm weight
    } else {
      const std = 1 / Math.sqrt(shapeSize(shape.slice(1))); // fan_in = in * kh * kw
      for (let i = 0; i < values.length; i++) values[i] = std * normal();
    }
    out.set(name, values);
  }
  return out;
}

/**
 * A random student for a synthetic model (tests, benchmarks): the `student.backbone.*` weights of
 * studentParameters, drawn as randomParameters draws the teacher's (from another seed, so the two differ), and
 * a metadata.student block decoding along `plan` (default: two calls, T - 1 and T / 2).
 */
export function randomStudent(
  arch: ArchitectureConfig,
  scheduleTimesteps: number,
  seed: number,
  options: { parameterisation?: Parameterisation; plan?: number[] } = {},
): { parameters: Map<string, Float32Array>; metadata: StudentMetadata } {
  const parameters = new Map<string, Float32Array>();
  for (const [name, values] of randomParameters(arch, scheduleTimesteps, seed)) {
    if (name.startsWith('backbone.')) parameters.set(`${STUDENT_PREFIX}${name}`, values);
  }
  const metadata: StudentMetadata = {
    parameterisation: options.parameterisation ?? 'v',
    plan: options.plan ?? [scheduleTimesteps - 1, Math.floor(scheduleTimesteps / 2)],
    teacherSteps: 20,
    training: { steps: 0, batchSize: 0, wallTimeSeconds: 0, hardware: 'none', teacherSteps: 0 },
    fidelity: {},
  };
  return { parameters, metadata };
}

/**
 * A complete, valid metadata block for a synthetic model (random weights in tests and benchmarks): standard
 * normal latent statistics, an isotropic unit-variance Gaussian reference, provenance 'fixture'.
 */
export function syntheticModelMetadata(
  arch: ArchitectureConfig,
  schedule: ScheduleConfig,
  id = 'synthetic',
): ModelMetadata {
  const d = arch.latentDim;
  const pixels = arch.imageSize * arch.imageSize * arch.imageChannels;
  return {
    id,
    displayName: `Synthetic ${arch.imageSize}x${arch.imageSize} model`,
    description: 'Random weights with the official InfoDiffusion layout, for tests and benchmarks.',
    architecture: arch,
    schedule,
    preprocessing: { imageSize: arch.imageSize, channels: arch.imageChannels, valueRange: [-1, 1], lightOnDark: true },
    latent: {
      mean: new Array<number>(d).fill(0),
      std: new Array<number>(d).fill(1),
      min: new Array<number>(d).fill(-3),
      max: new Array<number>(d).fill(3),
      prior: 'normal',
    },
    dimensionNames: new Array<string | null>(d).fill(null),
    attributeDirections: [],
    gaussianReference: {
      kind: 'diagonal',
      mean: new Array<number>(pixels).fill(0),
      variance: 1,
      logEigenvalues: new Array<number>(pixels).fill(0),
      logSnrLoc: 0,
      logSnrScale: 1,
    },
    gallery: [],
    provenance: {
      source: 'fixture',
      dataset: 'none',
      objective: {},
      steps: 0,
      batchSize: 0,
      wallTimeSeconds: 0,
      hardware: 'none',
      ema: false,
      metrics: {},
      createdAt: '2024-01-01T00:00:00Z',
      notes: 'Random weights (src/model/random.ts); not a trained model.',
    },
  };
}

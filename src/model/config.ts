/**
 * Network and schedule configuration: types plus validation driven by schema.json, the single
 * source of truth shared with the PyTorch side (train/infodiff/config.py reads the same file).
 */
import schema from './schema.json';

/** Architecture of the InfoDiffusion encoder and conditional denoiser (official `main` branch layout). */
export interface ArchitectureConfig {
  /** Height and width of the square input, in pixels. */
  imageSize: number;
  /** 1 for grayscale, 3 for RGB. */
  imageChannels: 1 | 3;
  /** ch: channels after the head conv; the time-embedding width is 4 * ch. */
  baseChannels: number;
  /** ch_mult: one entry per resolution level. */
  channelMultipliers: number[];
  /** Residual blocks per level on the down path; the up path has one more. */
  numResBlocks: number;
  /** Level indices (0 = full resolution) whose residual blocks end in self-attention. */
  attentionLevels: number[];
  /** a_dim: size of the latent z. */
  latentDim: number;
  /** GroupNorm groups; divides every channel count. */
  groupNormGroups: number;
  /** Dropout rate used in training; ignored at inference. */
  dropout: number;
  /** Which encoder output is z: 'a' (deterministic) or 'mu' = fc_mu(a) (KL variants). */
  latentHead: 'a' | 'mu';
}

/** Beta schedule of the forward process. */
export interface ScheduleConfig {
  kind: 'linear' | 'cosine';
  /** T; the network's time input is the integer index 0..T-1. */
  timesteps: number;
  betaStart: number;
  betaEnd: number;
  cosineOffset: number;
}

type FieldSpec = {
  type: 'integer' | 'number' | 'string' | 'integer[]';
  default: unknown;
  enum?: unknown[];
  minimum?: number;
  maximum?: number;
  minItems?: number;
  doc: string;
};

/** Thrown for any configuration that does not satisfy schema.json; the message names the field. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

function checkScalar(path: string, spec: FieldSpec, value: unknown, integer: boolean): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || (integer && !Number.isInteger(value))) {
    throw new ConfigError(
      `${path} must be ${integer ? 'an integer' : 'a finite number'}, got ${JSON.stringify(value)}`,
    );
  }
  if (spec.minimum !== undefined && value < spec.minimum)
    throw new ConfigError(`${path} must be >= ${spec.minimum}, got ${value}`);
  if (spec.maximum !== undefined && value > spec.maximum)
    throw new ConfigError(`${path} must be <= ${spec.maximum}, got ${value}`);
}

function checkField(path: string, spec: FieldSpec, value: unknown): void {
  if (spec.type === 'integer[]') {
    if (!Array.isArray(value))
      throw new ConfigError(`${path} must be an array of integers, got ${JSON.stringify(value)}`);
    if (spec.minItems !== undefined && value.length < spec.minItems)
      throw new ConfigError(`${path} needs at least ${spec.minItems} entries`);
    value.forEach((v, i) => checkScalar(`${path}[${i}]`, spec, v, true));
  } else if (spec.type === 'string') {
    if (typeof value !== 'string') throw new ConfigError(`${path} must be a string, got ${JSON.stringify(value)}`);
  } else {
    checkScalar(path, spec, value, spec.type === 'integer');
  }
  if (spec.enum && !spec.enum.includes(value)) {
    throw new ConfigError(
      `${path} must be one of ${spec.enum.map((e) => JSON.stringify(e)).join(', ')}, got ${JSON.stringify(value)}`,
    );
  }
}

/** Fills defaults from the schema, rejects unknown keys and values outside the schema. */
function resolveSection<T>(section: string, fields: Record<string, FieldSpec>, input: unknown): T {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw new ConfigError(`${section} must be an object`);
  }
  const given = input as Record<string, unknown>;
  const unknownKeys = Object.keys(given).filter((k) => !(k in fields));
  if (unknownKeys.length > 0) {
    throw new ConfigError(
      `${section} has unknown field(s) ${unknownKeys.join(', ')}; allowed: ${Object.keys(fields).join(', ')}`,
    );
  }
  const out: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(fields)) {
    const value = key in given ? given[key] : structuredClone(spec.default);
    checkField(`${section}.${key}`, spec, value);
    out[key] = value;
  }
  return out as T;
}

/** Validates a (possibly partial) architecture and returns it with every field filled. */
export function resolveArchitecture(input: unknown): ArchitectureConfig {
  const arch = resolveSection<ArchitectureConfig>(
    'architecture',
    schema.architecture as Record<string, FieldSpec>,
    input,
  );
  const levels = arch.channelMultipliers.length;
  if (arch.imageSize % 2 ** (levels - 1) !== 0) {
    throw new ConfigError(
      `architecture.imageSize ${arch.imageSize} must be divisible by 2^(levels-1) = ${2 ** (levels - 1)}`,
    );
  }
  for (const level of arch.attentionLevels) {
    if (level >= levels)
      throw new ConfigError(`architecture.attentionLevels contains ${level}, but there are only ${levels} levels`);
  }
  const channelCounts = new Set([arch.baseChannels, ...arch.channelMultipliers.map((m) => m * arch.baseChannels)]);
  for (const c of channelCounts) {
    if (c % arch.groupNormGroups !== 0) {
      throw new ConfigError(
        `architecture.groupNormGroups ${arch.groupNormGroups} does not divide the channel count ${c}`,
      );
    }
  }
  return arch;
}

/** Validates a (possibly partial) schedule and returns it with every field filled. */
export function resolveSchedule(input: unknown): ScheduleConfig {
  const s = resolveSection<ScheduleConfig>('schedule', schema.schedule as Record<string, FieldSpec>, input);
  if (s.kind === 'linear' && !(s.betaStart > 0 && s.betaStart <= s.betaEnd && s.betaEnd < 1)) {
    throw new ConfigError(`schedule needs 0 < betaStart <= betaEnd < 1, got ${s.betaStart}, ${s.betaEnd}`);
  }
  return s;
}

/** The official InfoDiffusion schedule: linear beta 1e-5 -> 1e-2, T = 1000. */
export const OFFICIAL_SCHEDULE: ScheduleConfig = resolveSchedule({});
/** The DDPM (Ho et al. 2020) linear schedule: beta 1e-4 -> 0.02, T = 1000. */
export const DDPM_SCHEDULE: ScheduleConfig = resolveSchedule({ betaStart: 1e-4, betaEnd: 0.02 });

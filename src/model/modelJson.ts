/**
 * model.json of a model package (docs/model-format.md, version 1): types and the validating parser.
 * The parser refuses anything that does not match the format, with a message that names the field.
 */
import { ConfigError, resolveArchitecture, resolveSchedule, type ArchitectureConfig } from './config';
import {
  LATENT_PRIORS, MAX_STUDENT_CALLS, MODEL_FORMAT, MODEL_FORMAT_VERSION, packedIndex, PARAMETERISATIONS,
  type AttributeDirection, type DataDraw, type GalleryItem, type GaussianReference, type LatentMixture, type LatentStats,
  type ModelMetadata, type Preprocessing, type Provenance, type StudentMetadata,
} from './metadata';

/** Thrown by every model-package reader and writer; the message names the weight, file or field at fault. */
export class ModelPackageError extends Error {
  override name = 'ModelPackageError';
}

/** One weight of the manifest, in byte order within its group. */
export interface WeightSpec {
  /** Official PyTorch state_dict key. */
  name: string;
  /** PyTorch shape (OIHW convs, [out, in] linears). */
  shape: number[];
  dtype: 'float32';
  /** Present when the values are stored as IEEE half (2 bytes each). */
  quantization?: { dtype: 'float16' };
}

/** A group of weights stored as the concatenation of its shard files. */
export interface WeightGroup {
  paths: string[];
  weights: WeightSpec[];
}

export interface ModelJson {
  format: typeof MODEL_FORMAT;
  formatVersion: typeof MODEL_FORMAT_VERSION;
  weightsManifest: WeightGroup[];
  metadata: ModelMetadata;
}

/** Largest shard the format allows. */
export const MAX_SHARD_BYTES = 4 * 1024 * 1024;

/** Bytes one stored value of a weight takes. */
export function bytesPerValue(spec: WeightSpec): number {
  return spec.quantization ? 2 : 4;
}

type Json = Record<string, unknown>;

function fail(path: string, problem: string): never {
  throw new ModelPackageError(`model.json: ${path} ${problem}`);
}

function show(value: unknown): string {
  const text = JSON.stringify(value);
  return text === undefined ? String(value) : text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function object(value: unknown, path: string): Json {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) fail(path, `must be an object, got ${show(value)}`);
  return value as Json;
}

/** Checks an object has exactly the given keys: lists the missing and the unknown ones. */
function exactKeys(value: Json, path: string, required: string[], optional: string[] = []): void {
  const missing = required.filter((k) => !(k in value));
  if (missing.length > 0) fail(path, `is missing field(s) ${missing.join(', ')}`);
  const unknown = Object.keys(value).filter((k) => !required.includes(k) && !optional.includes(k));
  if (unknown.length > 0) fail(path, `has unknown field(s) ${unknown.join(', ')}`);
}

function string(value: unknown, path: string): string {
  if (typeof value !== 'string') fail(path, `must be a string, got ${show(value)}`);
  return value;
}

function boolean(value: unknown, path: string): boolean {
  if (typeof value !== 'boolean') fail(path, `must be true or false, got ${show(value)}`);
  return value;
}

function finite(value: unknown, path: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) fail(path, `must be a finite number, got ${show(value)}`);
  return value;
}

function integer(value: unknown, path: string, minimum: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < minimum) fail(path, `must be an integer >= ${minimum}, got ${show(value)}`);
  return value;
}

function array(value: unknown, path: string, length?: number, lengthName?: string): unknown[] {
  if (!Array.isArray(value)) fail(path, `must be an array, got ${show(value)}`);
  if (length !== undefined && value.length !== length) fail(path, `must have ${length} entries (${lengthName}), got ${value.length}`);
  return value;
}

function finiteArray(value: unknown, path: string, length?: number, lengthName?: string): number[] {
  return array(value, path, length, lengthName).map((v, i) => finite(v, `${path}[${i}]`));
}

function oneOf<T extends string>(value: unknown, path: string, allowed: readonly T[]): T {
  if (typeof value !== 'string' || !allowed.includes(value as T)) fail(path, `must be one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}, got ${show(value)}`);
  return value as T;
}

/** A file name inside the package folder: relative, forward slashes, no '..', no scheme. */
function packagePath(value: unknown, path: string): string {
  const text = string(value, path);
  if (!/^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)*$/.test(text) || text.split('/').some((s) => s === '..' || s === '.')) {
    fail(path, `must be a relative path inside the package (letters, digits, '_', '-', '.', '/'), got ${show(text)}`);
  }
  return text;
}

function parseConfig<T>(resolve: (input: unknown) => T, value: unknown): T {
  try {
    return resolve(value);
  } catch (error) {
    if (error instanceof ConfigError) throw new ModelPackageError(`model.json: metadata.${error.message}`);
    throw error;
  }
}

function parsePreprocessing(value: unknown, arch: ArchitectureConfig): Preprocessing {
  const path = 'metadata.preprocessing';
  const p = object(value, path);
  exactKeys(p, path, ['imageSize', 'channels', 'valueRange', 'lightOnDark']);
  if (p.imageSize !== arch.imageSize) fail(`${path}.imageSize`, `must equal architecture.imageSize ${arch.imageSize}, got ${show(p.imageSize)}`);
  if (p.channels !== arch.imageChannels) fail(`${path}.channels`, `must equal architecture.imageChannels ${arch.imageChannels}, got ${show(p.channels)}`);
  const [low, high] = finiteArray(p.valueRange, `${path}.valueRange`, 2, '[low, high]');
  if (!(low < high)) fail(`${path}.valueRange`, `must be increasing, got [${low}, ${high}]`);
  return { imageSize: arch.imageSize, channels: arch.imageChannels, valueRange: [low, high], lightOnDark: boolean(p.lightOnDark, `${path}.lightOnDark`) };
}

function parseLatent(value: unknown, d: number): LatentStats {
  const path = 'metadata.latent';
  const l = object(value, path);
  exactKeys(l, path, ['mean', 'std', 'min', 'max', 'prior'], ['fitted']);
  const stats: LatentStats = {
    mean: finiteArray(l.mean, `${path}.mean`, d, 'latentDim'),
    std: finiteArray(l.std, `${path}.std`, d, 'latentDim'),
    min: finiteArray(l.min, `${path}.min`, d, 'latentDim'),
    max: finiteArray(l.max, `${path}.max`, d, 'latentDim'),
    prior: oneOf(l.prior, `${path}.prior`, LATENT_PRIORS),
  };
  if (stats.prior === '10mix' && d % 2 !== 0) fail(`${path}.prior`, `'10mix' draws pairs of dimensions, but latentDim ${d} is odd`);
  stats.std.forEach((s, i) => { if (!(s >= 0)) fail(`${path}.std[${i}]`, `must be >= 0, got ${s}`); });
  stats.min.forEach((lo, i) => { if (lo > stats.max[i]) fail(`${path}.min[${i}]`, `must be <= max[${i}] (${stats.max[i]}), got ${lo}`); });
  if (l.fitted !== undefined) stats.fitted = parseLatentMixture(l.fitted, d);
  return stats;
}

/** Tolerance on the mixture weights' sum (they are rounded to 7 digits on export). */
const WEIGHT_SUM_TOLERANCE = 1e-3;

function parseLatentMixture(value: unknown, d: number): LatentMixture {
  const path = 'metadata.latent.fitted';
  const f = object(value, path);
  exactKeys(f, path, ['kind', 'fittedOn', 'weights', 'means', 'scaleTril']);
  if (f.kind !== 'gaussianMixture') fail(`${path}.kind`, `must be "gaussianMixture", got ${show(f.kind)}`);
  if (!Number.isInteger(f.fittedOn) || (f.fittedOn as number) < 1) fail(`${path}.fittedOn`, `must be a positive integer, got ${show(f.fittedOn)}`);
  const weights = finiteArray(f.weights, `${path}.weights`);
  if (weights.length === 0) fail(`${path}.weights`, 'must not be empty');
  const sum = weights.reduce((a, b) => a + b, 0);
  if (weights.some((w) => !(w > 0)) || Math.abs(sum - 1) > WEIGHT_SUM_TOLERANCE) fail(`${path}.weights`, `must be positive and sum to 1, sum to ${sum}`);
  const rows = (key: 'means' | 'scaleTril', length: number, what: string) =>
    array(f[key], `${path}.${key}`, weights.length, 'one per component').map((row, k) => finiteArray(row, `${path}.${key}[${k}]`, length, what));
  const means = rows('means', d, 'latentDim');
  const scaleTril = rows('scaleTril', (d * (d + 1)) / 2, 'latentDim (latentDim + 1) / 2');
  scaleTril.forEach((row, k) => {
    for (let i = 0; i < d; i++) if (!(row[packedIndex(i, i)] > 0)) fail(`${path}.scaleTril[${k}]`, `must have a positive diagonal (a Cholesky factor); L[${i}][${i}] is ${row[packedIndex(i, i)]}`);
  });
  return { kind: 'gaussianMixture', fittedOn: f.fittedOn as number, weights, means, scaleTril };
}

function parseDimensionNames(value: unknown, d: number): (string | null)[] {
  return array(value, 'metadata.dimensionNames', d, 'latentDim').map((v, i) => (v === null ? null : string(v, `metadata.dimensionNames[${i}]`)));
}

function parseAttributeDirections(value: unknown, d: number): AttributeDirection[] {
  return array(value, 'metadata.attributeDirections').map((entry, k) => {
    const path = `metadata.attributeDirections[${k}]`;
    const a = object(entry, path);
    exactKeys(a, path, ['name', 'group', 'vector', 'bias']);
    const vector = finiteArray(a.vector, `${path}.vector`, d, 'latentDim');
    const norm = Math.hypot(...vector);
    if (Math.abs(norm - 1) > 1e-3) fail(`${path}.vector`, `must have unit norm, got norm ${norm}`);
    return { name: string(a.name, `${path}.name`), group: string(a.group, `${path}.group`), vector, bias: finite(a.bias, `${path}.bias`) };
  });
}

function parseGaussianReference(value: unknown, pixels: number): GaussianReference {
  const path = 'metadata.gaussianReference';
  const g = object(value, path);
  exactKeys(g, path, ['kind', 'mean', 'variance', 'logEigenvalues', 'logSnrLoc', 'logSnrScale']);
  const variance = finite(g.variance, `${path}.variance`);
  if (!(variance > 0)) fail(`${path}.variance`, `must be > 0, got ${variance}`);
  const logSnrScale = finite(g.logSnrScale, `${path}.logSnrScale`);
  if (!(logSnrScale > 0)) fail(`${path}.logSnrScale`, `must be > 0, got ${logSnrScale}`);
  return {
    kind: oneOf(g.kind, `${path}.kind`, ['spectrum', 'diagonal'] as const),
    mean: finiteArray(g.mean, `${path}.mean`, pixels, 'H*W*C'),
    variance,
    logEigenvalues: finiteArray(g.logEigenvalues, `${path}.logEigenvalues`, pixels, 'H*W*C'),
    logSnrLoc: finite(g.logSnrLoc, `${path}.logSnrLoc`),
    logSnrScale,
  };
}

function parseGallery(value: unknown): GalleryItem[] {
  return array(value, 'metadata.gallery').map((entry, k) => {
    const path = `metadata.gallery[${k}]`;
    const item = object(entry, path);
    exactKeys(item, path, ['file', 'label']);
    return { file: packagePath(item.file, `${path}.file`), label: string(item.label, `${path}.label`) };
  });
}

function parseDataDraw(value: unknown): DataDraw {
  const path = 'metadata.provenance.data';
  const d = object(value, path);
  exactKeys(d, path, ['seed', 'size']);
  return { seed: integer(d.seed, `${path}.seed`, 0), size: integer(d.size, `${path}.size`, 1) };
}

function parseProvenance(value: unknown): Provenance {
  const path = 'metadata.provenance';
  const p = object(value, path);
  exactKeys(p, path, ['source', 'dataset', 'objective', 'steps', 'batchSize', 'wallTimeSeconds', 'hardware', 'ema', 'metrics', 'createdAt', 'notes'], ['data']);
  const createdAt = string(p.createdAt, `${path}.createdAt`);
  if (!/^\d{4}-\d{2}-\d{2}T/.test(createdAt) || Number.isNaN(Date.parse(createdAt))) fail(`${path}.createdAt`, `must be an ISO 8601 date-time, got ${show(createdAt)}`);
  const wallTimeSeconds = finite(p.wallTimeSeconds, `${path}.wallTimeSeconds`);
  if (wallTimeSeconds < 0) fail(`${path}.wallTimeSeconds`, `must be >= 0, got ${wallTimeSeconds}`);
  const provenance: Provenance = {
    source: oneOf(p.source, `${path}.source`, ['trained', 'converted-official', 'fixture'] as const),
    dataset: string(p.dataset, `${path}.dataset`),
    objective: object(p.objective, `${path}.objective`),
    steps: integer(p.steps, `${path}.steps`, 0),
    batchSize: integer(p.batchSize, `${path}.batchSize`, 0),
    wallTimeSeconds,
    hardware: string(p.hardware, `${path}.hardware`),
    ema: boolean(p.ema, `${path}.ema`),
    metrics: object(p.metrics, `${path}.metrics`),
    createdAt,
    notes: string(p.notes, `${path}.notes`),
  };
  if (p.data !== undefined) provenance.data = parseDataDraw(p.data);
  return provenance;
}

/**
 * `metadata.student`: the plan must be one a student can decode along (strictly decreasing timesteps that start
 * at T - 1, where x_T sits, 1..MAX_STUDENT_CALLS of them); `training` and `fidelity` are free-form records.
 */
function parseStudent(value: unknown, timesteps: number): StudentMetadata {
  const path = 'metadata.student';
  const s = object(value, path);
  exactKeys(s, path, ['parameterisation', 'plan', 'teacherSteps', 'training', 'fidelity']);
  const plan = array(s.plan, `${path}.plan`).map((t, i) => integer(t, `${path}.plan[${i}]`, 0));
  if (plan.length < 1 || plan.length > MAX_STUDENT_CALLS) fail(`${path}.plan`, `must have 1 to ${MAX_STUDENT_CALLS} entries, got ${plan.length}`);
  if (plan[0] !== timesteps - 1) fail(`${path}.plan[0]`, `must be T - 1 = ${timesteps - 1} (where x_T sits), got ${plan[0]}`);
  plan.forEach((t, i) => {
    if (i > 0 && t >= plan[i - 1]) fail(`${path}.plan`, `must be strictly decreasing, but plan[${i}] = ${t} >= plan[${i - 1}] = ${plan[i - 1]}`);
  });
  return {
    parameterisation: oneOf(s.parameterisation, `${path}.parameterisation`, PARAMETERISATIONS),
    plan,
    teacherSteps: integer(s.teacherSteps, `${path}.teacherSteps`, 1),
    training: object(s.training, `${path}.training`),
    fidelity: object(s.fidelity, `${path}.fidelity`),
  };
}

/** Validates the metadata block and returns it typed, with architecture and schedule fully resolved. */
export function parseMetadata(value: unknown): ModelMetadata {
  const m = object(value, 'metadata');
  exactKeys(m, 'metadata', [
    'id', 'displayName', 'description', 'architecture', 'schedule', 'preprocessing', 'latent', 'dimensionNames',
    'attributeDirections', 'gaussianReference', 'gallery', 'provenance',
  ], ['student']);
  const id = string(m.id, 'metadata.id');
  if (!/^[a-z0-9-]+$/.test(id)) fail('metadata.id', `must match [a-z0-9-]+, got ${show(id)}`);
  const architecture = parseConfig(resolveArchitecture, m.architecture);
  const schedule = parseConfig(resolveSchedule, m.schedule);
  const d = architecture.latentDim;
  const metadata: ModelMetadata = {
    id,
    displayName: string(m.displayName, 'metadata.displayName'),
    description: string(m.description, 'metadata.description'),
    architecture,
    schedule,
    preprocessing: parsePreprocessing(m.preprocessing, architecture),
    latent: parseLatent(m.latent, d),
    dimensionNames: parseDimensionNames(m.dimensionNames, d),
    attributeDirections: parseAttributeDirections(m.attributeDirections, d),
    gaussianReference: parseGaussianReference(m.gaussianReference, architecture.imageSize ** 2 * architecture.imageChannels),
    gallery: parseGallery(m.gallery),
    provenance: parseProvenance(m.provenance),
  };
  if (m.student !== undefined) metadata.student = parseStudent(m.student, schedule.timesteps);
  return metadata;
}

function parseWeightSpec(value: unknown, path: string): WeightSpec {
  const w = object(value, path);
  exactKeys(w, path, ['name', 'shape', 'dtype'], ['quantization']);
  const name = string(w.name, `${path}.name`);
  const where = `${path} (${name})`;
  const shape = array(w.shape, `${where}.shape`).map((d, i) => integer(d, `${where}.shape[${i}]`, 0));
  if (w.dtype !== 'float32') fail(`${where}.dtype`, `must be "float32", got ${show(w.dtype)}`);
  const spec: WeightSpec = { name, shape, dtype: 'float32' };
  if (w.quantization !== undefined) {
    const q = object(w.quantization, `${where}.quantization`);
    if (q.dtype !== 'float16' || Object.keys(q).length !== 1) fail(`${where}.quantization`, `must be {"dtype": "float16"} or absent, got ${show(q)}`);
    spec.quantization = { dtype: 'float16' };
  }
  return spec;
}

function parseManifest(value: unknown): WeightGroup[] {
  const groups = array(value, 'weightsManifest').map((entry, g) => {
    const path = `weightsManifest[${g}]`;
    const group = object(entry, path);
    exactKeys(group, path, ['paths', 'weights']);
    const paths = array(group.paths, `${path}.paths`).map((p, i) => packagePath(p, `${path}.paths[${i}]`));
    if (paths.length === 0) fail(`${path}.paths`, 'must name at least one shard');
    const weights = array(group.weights, `${path}.weights`).map((w, i) => parseWeightSpec(w, `${path}.weights[${i}]`));
    return { paths, weights };
  });
  const seen = new Set<string>();
  const duplicates = new Set<string>();
  for (const group of groups) {
    for (const spec of group.weights) {
      if (seen.has(spec.name)) duplicates.add(spec.name);
      seen.add(spec.name);
    }
  }
  if (duplicates.size > 0) fail('weightsManifest', `lists weight(s) more than once: ${[...duplicates].join(', ')}`);
  const shardPaths = groups.flatMap((g) => g.paths);
  const repeated = shardPaths.filter((p, i) => shardPaths.indexOf(p) !== i);
  if (repeated.length > 0) fail('weightsManifest', `uses shard file(s) more than once: ${[...new Set(repeated)].join(', ')}`);
  return groups;
}

/**
 * Validates a parsed model.json: format and version, the metadata block (every field of
 * docs/model-format.md with its type and length) and the weights manifest (unique names, float32 with
 * optional float16 quantisation, safe shard paths). Names and shapes against the architecture are checked
 * by the loader, which lists every mismatch at once.
 */
export function parseModelJson(json: unknown): ModelJson {
  const root = object(json, '(root)');
  if (root.format !== MODEL_FORMAT) fail('format', `must be ${JSON.stringify(MODEL_FORMAT)}, got ${show(root.format)}`);
  if (root.formatVersion !== MODEL_FORMAT_VERSION) {
    fail('formatVersion', `${show(root.formatVersion)} is not supported (this reader knows version ${MODEL_FORMAT_VERSION})`);
  }
  exactKeys(root, '(root)', ['format', 'formatVersion', 'weightsManifest', 'metadata']);
  const metadata = parseMetadata(root.metadata);
  const weightsManifest = parseManifest(root.weightsManifest);
  return { format: MODEL_FORMAT, formatVersion: MODEL_FORMAT_VERSION, weightsManifest, metadata };
}

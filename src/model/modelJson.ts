/**
 * model.json of a model package (docs/model-format.md, version 1): types and the validating parser.
 * The parser refuses anything that does not match the format, with a message that names the field: first the
 * structure, against contract/model.schema.json (shared with train/infodiff/webpackage.py), then the rules a
 * schema cannot say, written once here and once in Python with the same words.
 */
import { ConfigError, resolveArchitecture, resolveSchedule, type ArchitectureConfig } from './config';
import modelSchema from './contract/model.schema.json';
import {
  MODEL_FORMAT,
  MODEL_FORMAT_VERSION,
  packedIndex,
  type AttributeDirection,
  type GaussianReference,
  type LatentMixture,
  type LatentPrincipal,
  type LatentStats,
  type ModelMetadata,
  type Preprocessing,
  type StudentMetadata,
} from './metadata';
import { checkSchema, show, SchemaViolation, type JsonSchema } from './schemaCheck';

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

/** The whole document's structure: contract/model.schema.json, shared with train/infodiff/webpackage.py. */
const MODEL_SCHEMA = modelSchema as JsonSchema;
const METADATA_SCHEMA = (MODEL_SCHEMA.properties as Record<string, JsonSchema>).metadata;

function fail(path: string, problem: string): never {
  throw new ModelPackageError(`model.json: ${path} ${problem}`);
}

/** Runs the schema checker, turning its violation into the readers' error. */
function checkStructure(value: unknown, schema: JsonSchema, path: string): void {
  try {
    checkSchema(value, schema, path);
  } catch (error) {
    if (error instanceof SchemaViolation) throw new ModelPackageError(`model.json: ${error.message}`);
    throw error;
  }
}

function length(values: unknown[], path: string, expected: number, what: string): void {
  if (values.length !== expected) fail(path, `must have ${expected} entries (${what}), got ${values.length}`);
}

function parseConfig<T>(resolve: (input: unknown) => T, value: unknown): T {
  try {
    return resolve(value);
  } catch (error) {
    if (error instanceof ConfigError) throw new ModelPackageError(`model.json: metadata.${error.message}`);
    throw error;
  }
}

/*
 * The rules below are the ones a schema cannot say; train/infodiff/webpackage.py (`_metadata_rules`) states each
 * once more, in the same order and words. They run after the schema, so every field has its type here.
 */

function checkPreprocessing(p: Preprocessing, arch: ArchitectureConfig): void {
  const path = 'metadata.preprocessing';
  if (p.imageSize !== arch.imageSize)
    fail(`${path}.imageSize`, `must equal architecture.imageSize ${arch.imageSize}, got ${show(p.imageSize)}`);
  if (p.channels !== arch.imageChannels)
    fail(`${path}.channels`, `must equal architecture.imageChannels ${arch.imageChannels}, got ${show(p.channels)}`);
  const [low, high] = p.valueRange;
  if (!(low < high)) fail(`${path}.valueRange`, `must be increasing, got [${low}, ${high}]`);
}

/** Tolerance on the mixture weights' sum (they are rounded to 7 digits on export). */
const WEIGHT_SUM_TOLERANCE = 1e-3;

function checkLatent(l: LatentStats, d: number): void {
  const path = 'metadata.latent';
  for (const key of ['mean', 'std', 'min', 'max'] as const) length(l[key], `${path}.${key}`, d, 'latentDim');
  if (l.prior === '10mix' && d % 2 !== 0)
    fail(`${path}.prior`, `'10mix' draws pairs of dimensions, but latentDim ${d} is odd`);
  l.min.forEach((lo, i) => {
    if (lo > l.max[i]) fail(`${path}.min[${i}]`, `must be <= max[${i}] (${l.max[i]}), got ${lo}`);
  });
  if (l.fitted !== undefined) checkLatentMixture(l.fitted, d);
  if (l.principal !== undefined) checkPrincipal(l.principal, d);
}

/**
 * `metadata.latent.principal`: at most latentDim unit rows of length latentDim, one variance each, non-increasing,
 * and no more in all than the total (rounded to 7 digits on export, hence the tolerances).
 */
function checkPrincipal(p: LatentPrincipal, d: number): void {
  const path = 'metadata.latent.principal';
  if (p.components.length > d)
    fail(`${path}.components`, `must have at most ${d} rows (latentDim), got ${p.components.length}`);
  p.components.forEach((row, k) => {
    length(row, `${path}.components[${k}]`, d, 'latentDim');
    const norm = Math.hypot(...row);
    if (Math.abs(norm - 1) > 1e-3) fail(`${path}.components[${k}]`, `must have unit norm, got norm ${norm}`);
  });
  length(p.variance, `${path}.variance`, p.components.length, 'one per component');
  p.variance.forEach((v, k) => {
    if (k > 0 && v > p.variance[k - 1] * (1 + 1e-6))
      fail(
        `${path}.variance`,
        `must be non-increasing, but variance[${k}] = ${v} > variance[${k - 1}] = ${p.variance[k - 1]}`,
      );
  });
  const sum = p.variance.reduce((a, b) => a + b, 0);
  if (sum > p.totalVariance * (1 + 1e-3))
    fail(`${path}.totalVariance`, `must be at least the sum of variance (${sum}), got ${p.totalVariance}`);
}

function checkLatentMixture(f: LatentMixture, d: number): void {
  const path = 'metadata.latent.fitted';
  const sum = f.weights.reduce((a, b) => a + b, 0);
  if (Math.abs(sum - 1) > WEIGHT_SUM_TOLERANCE) fail(`${path}.weights`, `must be positive and sum to 1, sum to ${sum}`);
  const rows = (key: 'means' | 'scaleTril', rowLength: number, what: string) => {
    length(f[key], `${path}.${key}`, f.weights.length, 'one per component');
    f[key].forEach((row, k) => length(row, `${path}.${key}[${k}]`, rowLength, what));
  };
  rows('means', d, 'latentDim');
  rows('scaleTril', (d * (d + 1)) / 2, 'latentDim (latentDim + 1) / 2');
  f.scaleTril.forEach((row, k) => {
    for (let i = 0; i < d; i++)
      if (!(row[packedIndex(i, i)] > 0))
        fail(
          `${path}.scaleTril[${k}]`,
          `must have a positive diagonal (a Cholesky factor); L[${i}][${i}] is ${row[packedIndex(i, i)]}`,
        );
  });
}

function checkAttributeDirections(directions: AttributeDirection[], d: number): void {
  directions.forEach((a, k) => {
    const path = `metadata.attributeDirections[${k}].vector`;
    length(a.vector, path, d, 'latentDim');
    const norm = Math.hypot(...a.vector);
    if (Math.abs(norm - 1) > 1e-3) fail(path, `must have unit norm, got norm ${norm}`);
  });
}

function checkGaussianReference(g: GaussianReference, pixels: number): void {
  length(g.mean, 'metadata.gaussianReference.mean', pixels, 'H*W*C');
  length(g.logEigenvalues, 'metadata.gaussianReference.logEigenvalues', pixels, 'H*W*C');
}

/**
 * `metadata.student.plan` must be one a student can decode along: strictly decreasing timesteps that start at
 * T - 1, where x_T sits (its length, 1..MAX_STUDENT_CALLS, is the schema's).
 */
function checkStudent(s: StudentMetadata, timesteps: number): void {
  const path = 'metadata.student';
  const { plan } = s;
  if (plan[0] !== timesteps - 1)
    fail(`${path}.plan[0]`, `must be T - 1 = ${timesteps - 1} (where x_T sits), got ${plan[0]}`);
  plan.forEach((t, i) => {
    if (i > 0 && t >= plan[i - 1])
      fail(`${path}.plan`, `must be strictly decreasing, but plan[${i}] = ${t} >= plan[${i - 1}] = ${plan[i - 1]}`);
  });
}

/** Validates the metadata block and returns it typed, with architecture and schedule fully resolved. */
export function parseMetadata(value: unknown): ModelMetadata {
  checkStructure(value, METADATA_SCHEMA, 'metadata');
  const m = value as ModelMetadata;
  const architecture = parseConfig(resolveArchitecture, m.architecture);
  const schedule = parseConfig(resolveSchedule, m.schedule);
  const d = architecture.latentDim;
  checkPreprocessing(m.preprocessing, architecture);
  checkLatent(m.latent, d);
  length(m.dimensionNames, 'metadata.dimensionNames', d, 'latentDim');
  checkAttributeDirections(m.attributeDirections, d);
  checkGaussianReference(m.gaussianReference, architecture.imageSize ** 2 * architecture.imageChannels);
  if (m.student !== undefined) checkStudent(m.student, schedule.timesteps);
  if (m.baselineOf === m.id)
    fail('metadata.baselineOf', `must name another model than the package itself, got ${show(m.id)}`);
  return { ...structuredClone(m), architecture, schedule };
}

/** Shards are named `group{G}-shard{M}of{K}.bin` (docs/model-format.md); no weight or shard appears twice. */
function checkManifest(groups: WeightGroup[]): void {
  groups.forEach((group, g) =>
    group.paths.forEach((shard, m) => {
      const expected = `group${g + 1}-shard${m + 1}of${group.paths.length}.bin`;
      if (shard !== expected)
        fail(`weightsManifest[${g}].paths[${m}]`, `must be ${JSON.stringify(expected)}, got ${show(shard)}`);
    }),
  );
  const seen = new Set<string>();
  const duplicates = new Set<string>();
  for (const group of groups) {
    for (const spec of group.weights) {
      if (seen.has(spec.name)) duplicates.add(spec.name);
      seen.add(spec.name);
    }
  }
  if (duplicates.size > 0) fail('weightsManifest', `lists weight(s) more than once: ${[...duplicates].join(', ')}`);
}

/**
 * Validates a parsed model.json: format and version, the metadata block (every field of
 * docs/model-format.md with its type and length) and the weights manifest (unique names, float32 with
 * optional float16 quantisation, safe shard paths). Names and shapes against the architecture are checked
 * by the loader, which lists every mismatch at once.
 */
export function parseModelJson(json: unknown): ModelJson {
  const root =
    json !== null && typeof json === 'object' && !Array.isArray(json)
      ? (json as Json)
      : fail('(root)', `must be an object, got ${show(json)}`);
  if (root.format !== MODEL_FORMAT) fail('format', `must be ${JSON.stringify(MODEL_FORMAT)}, got ${show(root.format)}`);
  if (root.formatVersion !== MODEL_FORMAT_VERSION) {
    fail(
      'formatVersion',
      `${show(root.formatVersion)} is not supported (this reader knows version ${MODEL_FORMAT_VERSION})`,
    );
  }
  checkStructure(root, MODEL_SCHEMA, '(root)');
  const metadata = parseMetadata(root.metadata);
  const weightsManifest = structuredClone(root.weightsManifest) as WeightGroup[];
  checkManifest(weightsManifest);
  return { format: MODEL_FORMAT, formatVersion: MODEL_FORMAT_VERSION, weightsManifest, metadata };
}

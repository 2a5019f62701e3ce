/**
 * Model package reader and writer (docs/model-format.md). Reading is all-or-nothing: model.json is
 * validated and the weight names and shapes are checked against the architecture before any shard is
 * fetched; shards are checked for length and every value for finiteness before a single tensor is made; if
 * building the tensors fails, those already made are disposed. Every failure is a ModelPackageError whose
 * message names the weight, the file or the field.
 */
import { float16BitsToFloat32, float32ToFloat16Bits } from './float16';
import type { ArchitectureConfig, ScheduleConfig } from './config';
import { MODEL_FORMAT, MODEL_FORMAT_VERSION, type ModelMetadata } from './metadata';
import { createInfoDiffusionModel, type InfoDiffusionModel } from './model';
import {
  bytesPerValue,
  MAX_SHARD_BYTES,
  ModelPackageError,
  parseModelJson,
  type ModelJson,
  type WeightGroup,
  type WeightSpec,
} from './modelJson';
import {
  expectedParameters,
  packageWeightProblems,
  parameterArrayProblems,
  parameterSetProblems,
  shapeSize,
  STUDENT_PREFIX,
  studentParameters,
  studentPresenceProblem,
  TIME_TABLE_NAME,
} from './parameters';

/**
 * A package failure traced to one file of the package. `file` names it ("group1-shard1of1.bin", "model.json"),
 * `summary` says what is wrong in words a person can act on, and `details` keeps what only a developer needs
 * (byte offsets, indices); the message joins the two, as the command line prints it.
 */
export class PackageFileError extends ModelPackageError {
  readonly file: string;
  readonly summary: string;
  readonly details: string | null;

  constructor(file: string, summary: string, details: string | null = null, options?: ErrorOptions) {
    super(details ? `${summary} (${details})` : summary, options);
    this.file = file;
    this.summary = summary;
    this.details = details;
  }
}

/** Where a package's files come from: a URL folder, files chosen in the browser, or (in Node tools) the disk. */
export interface PackageFiles {
  /** Reads one file of the package by its path relative to the package folder (e.g. `model.json`). */
  read(path: string): Promise<ArrayBuffer>;
}

/** Minimal fetch signature, so tests and tools can supply their own. */
export type FetchLike = (url: string) => Promise<Pick<Response, 'ok' | 'status' | 'statusText' | 'arrayBuffer'>>;

/**
 * Package files served over HTTP under `baseUrl` (e.g. `models/fashion-mnist/`).
 * @param fetchFn defaults to the global fetch (called unbound, which browsers require)
 */
export function urlPackageFiles(baseUrl: string, fetchFn: FetchLike = (url) => fetch(url)): PackageFiles {
  const base = baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`;
  return {
    async read(path: string): Promise<ArrayBuffer> {
      const url = `${base}${path}`;
      const response = await fetchFn(url);
      if (!response.ok)
        throw new PackageFileError(path, `cannot fetch ${url}: HTTP ${response.status} ${response.statusText}`.trim());
      return response.arrayBuffer();
    },
  };
}

/**
 * Package files from an in-memory map, e.g. the files of a folder chosen with `<input webkitdirectory>`.
 * A path is looked up exactly, else as the unique key ending in `/path` (so keys may keep the folder
 * prefix of `webkitRelativePath`, like `fashion-mnist/model.json`).
 */
export function fileMapPackageFiles(map: ReadonlyMap<string, Blob | ArrayBuffer | Uint8Array>): PackageFiles {
  return {
    async read(path: string): Promise<ArrayBuffer> {
      let entry = map.get(path);
      if (entry === undefined) {
        const matches = [...map.keys()].filter((key) => key.endsWith(`/${path}`));
        if (matches.length > 1)
          throw new PackageFileError(path, `${path} is ambiguous among the chosen files: ${matches.join(', ')}`);
        if (matches.length === 1) entry = map.get(matches[0]);
      }
      if (entry === undefined) throw new PackageFileError(path, `${path} is missing from the chosen files`);
      if (entry instanceof ArrayBuffer) return entry;
      if (entry instanceof Uint8Array) return entry.slice().buffer as ArrayBuffer;
      return entry.arrayBuffer();
    },
  };
}

/** Progress of a package load, in weight bytes. */
export interface LoadProgress {
  /** Weight bytes read so far. */
  loadedBytes: number;
  /** Weight bytes the manifest declares. */
  totalBytes: number;
}

export interface LoadOptions {
  /** Called once before the shards are read and after each shard arrives. */
  onProgress?: (progress: LoadProgress) => void;
  /** Aborts between stages (the signal's reason is thrown); nothing stays allocated. */
  signal?: AbortSignal;
}

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

async function readFile(files: PackageFiles, path: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await files.read(path));
  } catch (error) {
    if (error instanceof PackageFileError) throw error;
    throw new PackageFileError(
      path,
      error instanceof ModelPackageError ? error.message : `cannot read ${path}: ${errorMessage(error)}`,
    );
  }
}

function decodeModelJson(bytes: Uint8Array): unknown {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new PackageFileError('model.json', 'model.json is not valid UTF-8');
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new PackageFileError('model.json', `model.json is not valid JSON: ${errorMessage(error)}`);
  }
}

function groupBytes(group: WeightGroup): number {
  return group.weights.reduce((sum, spec) => sum + shapeSize(spec.shape) * bytesPerValue(spec), 0);
}

/** Runs a model.json check: a refusal without a file of its own is model.json's. */
function inModelJson<T>(check: () => T): T {
  try {
    return check();
  } catch (error) {
    if (error instanceof ModelPackageError && !(error instanceof PackageFileError))
      throw new PackageFileError('model.json', error.message, null, { cause: error });
    throw error;
  }
}

/** Little-endian float32 values starting at any byte offset. */
function readFloat32(bytes: Uint8Array, offset: number, count: number): Float32Array {
  if (LITTLE_ENDIAN_HOST) return new Float32Array(bytes.slice(offset, offset + 4 * count).buffer);
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset, 4 * count);
  return Float32Array.from({ length: count }, (_, i) => view.getFloat32(4 * i, true));
}

/** Little-endian IEEE half values starting at any byte offset, decoded to float32. */
function readFloat16(bytes: Uint8Array, offset: number, count: number): Float32Array {
  if (LITTLE_ENDIAN_HOST) return float16BitsToFloat32(new Uint16Array(bytes.slice(offset, offset + 2 * count).buffer));
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset, 2 * count);
  return float16BitsToFloat32(Uint16Array.from({ length: count }, (_, i) => view.getUint16(2 * i, true)));
}

/** The shard file that holds byte `offset` of a group. */
function shardAt(group: WeightGroup, shardSizes: number[], offset: number): string {
  let end = 0;
  for (let i = 0; i < shardSizes.length; i++) {
    end += shardSizes[i];
    if (offset < end) return group.paths[i];
  }
  return group.paths[group.paths.length - 1];
}

/** Decodes one group's concatenated shards into float32 arrays, checking length and finiteness. */
function decodeGroup(group: WeightGroup, index: number, shards: Uint8Array[], out: Map<string, Float32Array>): void {
  const shardSizes = shards.map((s) => s.length);
  const actual = shardSizes.reduce((a, b) => a + b, 0);
  const needed = groupBytes(group);
  const files = group.paths.join(', ');
  if (actual !== needed) {
    let offset = 0;
    let cutOff: WeightSpec | undefined;
    let cutStart = 0;
    for (const spec of group.weights) {
      const size = shapeSize(spec.shape) * bytesPerValue(spec);
      if (offset + size > actual) {
        cutOff = spec;
        cutStart = offset;
        break;
      }
      offset += size;
    }
    // The group's data ends in its last shard: that file is short (or long), whichever shard was cut.
    const file = group.paths[group.paths.length - 1];
    const summary = `${file} is ${actual < needed ? 'too short' : 'too long'}: weight group ${index + 1} (${files}) holds ${actual} bytes, its weights need ${needed}`;
    const detail = cutOff
      ? `short shard: weight ${cutOff.name} needs bytes ${cutStart}..${cutStart + shapeSize(cutOff.shape) * bytesPerValue(cutOff)} but ${shardAt(group, shardSizes, cutStart)} ends the data at byte ${actual}`
      : `${actual - needed} unexpected trailing byte(s)`;
    throw new PackageFileError(file, summary, detail);
  }
  const bytes = new Uint8Array(actual);
  let position = 0;
  for (const shard of shards) {
    bytes.set(shard, position);
    position += shard.length;
  }
  let offset = 0;
  for (const spec of group.weights) {
    const count = shapeSize(spec.shape);
    const values = spec.quantization ? readFloat16(bytes, offset, count) : readFloat32(bytes, offset, count);
    for (let i = 0; i < count; i++) {
      if (!Number.isFinite(values[i])) {
        const file = shardAt(group, shardSizes, offset);
        throw new PackageFileError(
          file,
          `weight ${spec.name} (in ${file}) has a non-finite value ${values[i]} at index ${i}`,
          `byte ${offset + i * bytesPerValue(spec)} of weight group ${index + 1}`,
        );
      }
    }
    out.set(spec.name, values);
    offset += count * bytesPerValue(spec);
  }
}

/** A package read and validated but not yet turned into tensors. */
export interface PackageContents {
  modelJson: ModelJson;
  /** Every weight by official name, decoded to float32 in its PyTorch shape (C order). */
  parameters: Map<string, Float32Array>;
}

/**
 * Reads and validates a package without creating tensors: model.json (format, version, metadata, manifest),
 * the weight names and shapes against the architecture (before any shard is read), shard sizes, byte
 * lengths and finiteness of every value. Used by loadModelPackage and by tools that inspect or convert.
 * @throws ModelPackageError naming the weight, file or field at fault (or the signal's reason when aborted)
 */
export async function readModelPackage(files: PackageFiles, options: LoadOptions = {}): Promise<PackageContents> {
  const { onProgress, signal } = options;
  signal?.throwIfAborted();
  const readBytes = await readFile(files, 'model.json');
  const modelJson = inModelJson(() => parseModelJson(decodeModelJson(readBytes)));
  const { metadata, weightsManifest } = modelJson;

  const manifestShapes = new Map<string, number[]>();
  for (const group of weightsManifest) for (const spec of group.weights) manifestShapes.set(spec.name, spec.shape);
  const { architecture, schedule } = metadata;
  const hasStudent = metadata.student !== undefined;
  const presence = studentPresenceProblem(
    hasStudent,
    manifestShapes.keys(),
    studentParameters(architecture, schedule.timesteps).size,
  );
  if (presence) throw new PackageFileError('model.json', `model.json: ${presence}`);
  const problems = packageWeightProblems(
    architecture,
    schedule.timesteps,
    hasStudent,
    manifestShapes,
    parameterSetProblems,
  );
  if (problems.length > 0) {
    throw new PackageFileError(
      'model.json',
      `model.json: the weights do not match the architecture in metadata: ${problems.join('; ')}`,
    );
  }

  const totalBytes = weightsManifest.reduce((sum, group) => sum + groupBytes(group), 0);
  let loadedBytes = 0;
  onProgress?.({ loadedBytes, totalBytes });
  signal?.throwIfAborted();
  const shardsByGroup = await Promise.all(
    weightsManifest.map((group) =>
      Promise.all(
        group.paths.map(async (path) => {
          const bytes = await readFile(files, path);
          if (bytes.length > MAX_SHARD_BYTES)
            throw new PackageFileError(
              path,
              `${path} is ${bytes.length} bytes, over the ${MAX_SHARD_BYTES}-byte shard limit`,
            );
          loadedBytes += bytes.length;
          onProgress?.({ loadedBytes, totalBytes });
          return bytes;
        }),
      ),
    ),
  );
  signal?.throwIfAborted();

  const parameters = new Map<string, Float32Array>();
  weightsManifest.forEach((group, index) => decodeGroup(group, index, shardsByGroup[index], parameters));
  return { modelJson, parameters };
}

/**
 * Reads, validates and builds a model package: all or nothing.
 * @throws ModelPackageError naming the weight, file or field at fault (or the signal's reason when aborted)
 */
export async function loadModelPackage(files: PackageFiles, options: LoadOptions = {}): Promise<InfoDiffusionModel> {
  const { modelJson, parameters } = await readModelPackage(files, options);
  options.signal?.throwIfAborted();
  try {
    return createInfoDiffusionModel(modelJson.metadata, parameters);
  } catch (error) {
    throw new ModelPackageError(`cannot build model '${modelJson.metadata.id}': ${errorMessage(error)}`, {
      cause: error,
    });
  }
}

/** A package built in memory: the model.json object and the shard files by name. */
export interface WrittenPackage {
  modelJson: ModelJson;
  shards: Map<string, Uint8Array>;
}

export interface WriteOptions {
  /** Store every weight but the frozen time table as IEEE half (the table stays float32). */
  float16?: boolean;
}

/** Names stored in float32 even in a float16 package: the frozen sinusoid tables (the teacher's and the student's). */
const FLOAT32_ONLY = new Set([TIME_TABLE_NAME, `${STUDENT_PREFIX}${TIME_TABLE_NAME}`]);

/**
 * One weight group: the weights of `expected` in its order, as one byte stream cut into shards of at most
 * 4 MiB named `group{G}-shardMofK.bin`.
 */
function writeGroup(
  groupNumber: number,
  expected: Map<string, number[]>,
  weights: ReadonlyMap<string, Float32Array>,
  options: WriteOptions,
): { group: WeightGroup; shards: Map<string, Uint8Array> } {
  const specs: WeightSpec[] = [];
  const chunks: Uint8Array[] = [];
  for (const [name, shape] of expected) {
    const values = weights.get(name) as Float32Array;
    const quantize = options.float16 === true && !FLOAT32_ONLY.has(name);
    const bits = quantize ? float32ToFloat16Bits(values) : null;
    const stored = bits ? float16BitsToFloat32(bits) : values;
    for (let i = 0; i < values.length; i++) {
      if (!Number.isFinite(stored[i])) {
        const why = Number.isFinite(values[i]) ? ' (overflows float16)' : '';
        throw new ModelPackageError(`weight ${name} has a non-finite value ${values[i]} at index ${i}${why}`);
      }
    }
    const bytes = new Uint8Array(values.length * (bits ? 2 : 4));
    const view = new DataView(bytes.buffer);
    if (bits) bits.forEach((b, i) => view.setUint16(2 * i, b, true));
    else values.forEach((v, i) => view.setFloat32(4 * i, v, true));
    chunks.push(bytes);
    specs.push(
      bits
        ? { name, shape: [...shape], dtype: 'float32', quantization: { dtype: 'float16' } }
        : { name, shape: [...shape], dtype: 'float32' },
    );
  }

  const total = chunks.reduce((sum, c) => sum + c.length, 0);
  const stream = new Uint8Array(total);
  let position = 0;
  for (const chunk of chunks) {
    stream.set(chunk, position);
    position += chunk.length;
  }
  const shardCount = Math.max(1, Math.ceil(total / MAX_SHARD_BYTES));
  const shards = new Map<string, Uint8Array>();
  for (let m = 0; m < shardCount; m++) {
    shards.set(
      `group${groupNumber}-shard${m + 1}of${shardCount}.bin`,
      stream.slice(m * MAX_SHARD_BYTES, Math.min(total, (m + 1) * MAX_SHARD_BYTES)),
    );
  }
  return { group: { paths: [...shards.keys()], weights: specs }, shards };
}

/**
 * Builds a package in memory, in the format loadModelPackage reads: weights in expectedParameters order,
 * one group split into shards of at most 4 MiB named `group1-shardMofK.bin`; with `metadata.student`, the
 * student's `student.backbone.*` weights follow in a second group, `group2-shardMofK.bin`, as
 * infodiff.export writes them. Refuses (ModelPackageError) a weight set that does not match the architecture
 * (or a student's weights without metadata.student, and the reverse), non-finite values, values that overflow
 * float16, and metadata the reader would refuse.
 * @param metadata everything but architecture and schedule, which come from the arguments
 */
export function writeModelPackage(
  arch: ArchitectureConfig,
  schedule: ScheduleConfig,
  metadata: Omit<ModelMetadata, 'architecture' | 'schedule'>,
  weights: ReadonlyMap<string, Float32Array>,
  options: WriteOptions = {},
): WrittenPackage {
  const hasStudent = metadata.student !== undefined;
  const student = studentParameters(arch, schedule.timesteps);
  const presence = studentPresenceProblem(hasStudent, weights.keys(), student.size);
  if (presence) throw new ModelPackageError(presence);
  const problems = packageWeightProblems(arch, schedule.timesteps, hasStudent, weights, parameterArrayProblems);
  if (problems.length > 0) throw new ModelPackageError(`weights do not match the architecture: ${problems.join('; ')}`);

  const groups = [writeGroup(1, expectedParameters(arch, schedule.timesteps), weights, options)];
  if (hasStudent) groups.push(writeGroup(2, student, weights, options));
  const candidate = {
    format: MODEL_FORMAT,
    formatVersion: MODEL_FORMAT_VERSION,
    weightsManifest: groups.map((g) => g.group),
    metadata: { ...metadata, architecture: arch, schedule },
  };
  // Round-trip through JSON and the reader's own validation, so the writer never emits what the reader refuses.
  const modelJson = parseModelJson(JSON.parse(JSON.stringify(candidate)));
  return { modelJson, shards: new Map(groups.flatMap((g) => [...g.shards])) };
}

/** model.json as the UTF-8 bytes of its JSON text. */
export function encodeModelJson(modelJson: ModelJson): Uint8Array {
  return new TextEncoder().encode(`${JSON.stringify(modelJson, null, 1)}\n`);
}

/** Every file of a written package by path (model.json included), e.g. to save it or to load it back. */
export function writtenPackageFiles(pkg: WrittenPackage): Map<string, Uint8Array> {
  return new Map([['model.json', encodeModelJson(pkg.modelJson)], ...pkg.shards]);
}

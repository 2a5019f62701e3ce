import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { resolveArchitecture, resolveSchedule } from './config';
import { createInfoDiffusionModel } from './model';
import { ModelPackageError, type ModelJson } from './modelJson';
import {
  encodeModelJson,
  fileMapPackageFiles,
  loadModelPackage,
  readModelPackage,
  urlPackageFiles,
  writeModelPackage,
  PackageFileError,
  writtenPackageFiles,
  type FetchLike,
  type WrittenPackage,
} from './package';
import { shapeSize, studentParameters, TIME_TABLE_NAME } from './parameters';
import { randomParameters, randomStudent, syntheticModelMetadata } from './random';
import { TINY_ARCHITECTURE } from './testing/tinyArchitecture';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const ARCH = TINY_ARCHITECTURE;
const SCHEDULE = resolveSchedule({ timesteps: 10 });
const PARAMS = randomParameters(ARCH, SCHEDULE.timesteps, 7);
const METADATA = syntheticModelMetadata(ARCH, SCHEDULE, 'tiny');

function writePackage(options: { float16?: boolean } = {}): WrittenPackage {
  return writeModelPackage(ARCH, SCHEDULE, METADATA, PARAMS, options);
}

/** The package's files, with model.json replaced by an edited copy when `edit` is given. */
function files(
  pkg: WrittenPackage,
  edit?: (json: ModelJson & Record<string, unknown>) => void,
): Map<string, Uint8Array> {
  const map = writtenPackageFiles(pkg);
  if (edit) {
    const json = structuredClone(pkg.modelJson) as ModelJson & Record<string, unknown>;
    edit(json);
    map.set('model.json', encodeModelJson(json));
  }
  return map;
}

/** Loads and expects a ModelPackageError whose message contains every fragment; no tensor may be left over. */
async function expectLoadError(map: Map<string, Uint8Array>, ...fragments: string[]): Promise<string> {
  const before = tf.memory().numTensors;
  const error = await loadModelPackage(fileMapPackageFiles(map)).then(
    () => {
      throw new Error('the package loaded but should have been refused');
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ModelPackageError);
  const message = (error as Error).message;
  for (const fragment of fragments) expect(message).toContain(fragment);
  expect(tf.memory().numTensors).toBe(before);
  return message;
}

/** Byte offset of a weight inside the single group of a float32 package. */
function byteOffset(pkg: WrittenPackage, name: string): number {
  let offset = 0;
  for (const spec of pkg.modelJson.weightsManifest[0].weights) {
    if (spec.name === name) return offset;
    offset += shapeSize(spec.shape) * (spec.quantization ? 2 : 4);
  }
  throw new Error(`no weight ${name}`);
}

describe('writeModelPackage + loadModelPackage', () => {
  it('loads a valid float32 package into a model identical to one built from the same parameters', async () => {
    const pkg = writePackage();
    expect([...pkg.shards.keys()]).toEqual(['group1-shard1of1.bin']);
    const progress: [number, number][] = [];
    const model = await loadModelPackage(fileMapPackageFiles(files(pkg)), {
      onProgress: (p) => progress.push([p.loadedBytes, p.totalBytes]),
    });
    const direct = createInfoDiffusionModel(METADATA, PARAMS);
    const totalBytes = pkg.shards.get('group1-shard1of1.bin')?.length;
    expect(progress).toEqual([
      [0, totalBytes],
      [totalBytes, totalBytes],
    ]);
    expect(model.metadata).toEqual(METADATA);

    const x = tf.tensor4d(
      Float32Array.from({ length: 64 }, (_, k) => Math.sin(k)),
      [1, 8, 8, 1],
    );
    const t = tf.tensor1d([4], 'int32');
    const [zLoaded, zDirect] = [model.encode(x), direct.encode(x)];
    const [epsLoaded, epsDirect] = [model.predictEps(x, t, zLoaded), direct.predictEps(x, t, zDirect)];
    expect(Array.from(await epsLoaded.data())).toEqual(Array.from(await epsDirect.data()));
    tf.dispose([x, t, zLoaded, zDirect, epsLoaded, epsDirect]);
    model.dispose();
    direct.dispose();
  });

  it('round-trips float16 weights within half precision and keeps the time table in float32', async () => {
    const pkg = writePackage({ float16: true });
    const specs = pkg.modelJson.weightsManifest[0].weights;
    expect(specs.find((s) => s.name === TIME_TABLE_NAME)?.quantization).toBeUndefined();
    expect(specs.filter((s) => s.quantization?.dtype === 'float16').length).toBe(specs.length - 1);
    const { parameters } = await readModelPackage(fileMapPackageFiles(files(pkg)));
    expect(Array.from(parameters.get(TIME_TABLE_NAME) as Float32Array)).toEqual(
      Array.from(PARAMS.get(TIME_TABLE_NAME) as Float32Array),
    );
    for (const [name, original] of PARAMS) {
      const back = parameters.get(name) as Float32Array;
      for (let i = 0; i < original.length; i++) {
        // Half precision: relative error 2^-11 for normals, absolute 2^-25 below the normal range.
        const bound = Math.max(Math.abs(original[i]) * 2 ** -11, 2 ** -25);
        if (Math.abs(back[i] - original[i]) > bound) throw new Error(`${name}[${i}]: ${back[i]} vs ${original[i]}`);
      }
    }
    const model = await loadModelPackage(fileMapPackageFiles(files(pkg)));
    expect(model.architecture).toEqual(ARCH);
    model.dispose();
  });

  it('splits the byte stream into 4 MiB shards named group1-shardMofK.bin', async () => {
    const arch = resolveArchitecture({
      imageSize: 16,
      baseChannels: 64,
      channelMultipliers: [1, 2],
      attentionLevels: [],
      latentDim: 4,
    });
    const params = randomParameters(arch, 10, 3);
    const pkg = writeModelPackage(arch, SCHEDULE, syntheticModelMetadata(arch, SCHEDULE), params);
    const sizes = [...pkg.shards.values()].map((s) => s.length);
    const total = sizes.reduce((a, b) => a + b, 0);
    expect(total).toBe([...params.values()].reduce((sum, v) => sum + 4 * v.length, 0));
    const k = Math.ceil(total / (4 * 1024 * 1024));
    expect(k).toBeGreaterThan(1);
    expect([...pkg.shards.keys()]).toEqual(Array.from({ length: k }, (_, m) => `group1-shard${m + 1}of${k}.bin`));
    expect(sizes.slice(0, -1).every((s) => s === 4 * 1024 * 1024)).toBe(true);
    const { parameters } = await readModelPackage(fileMapPackageFiles(writtenPackageFiles(pkg)));
    // Compare bytes directly: deep equality over millions of typed-array elements is very slow in vitest.
    const differing = [...params].filter(([name, values]) => {
      const back = parameters.get(name);
      return !back || back.length !== values.length || back.some((v, i) => v !== values[i]);
    });
    expect(differing.map(([name]) => name)).toEqual([]);
  });

  it('refuses to write weights that do not match the architecture, are not finite or overflow float16', () => {
    const missing = new Map(PARAMS);
    missing.delete('encoder.fc_mu.bias');
    expect(() => writeModelPackage(ARCH, SCHEDULE, METADATA, missing)).toThrow(
      /missing 1 weight\(s\): encoder\.fc_mu\.bias/,
    );
    const nan = new Map(PARAMS);
    nan.set('backbone.head.bias', Float32Array.from([0, NaN, 0, 0]));
    expect(() => writeModelPackage(ARCH, SCHEDULE, METADATA, nan)).toThrow(
      'weight backbone.head.bias has a non-finite value NaN at index 1',
    );
    const huge = new Map(PARAMS);
    huge.set('backbone.head.bias', Float32Array.from([1e6, 0, 0, 0]));
    expect(() => writeModelPackage(ARCH, SCHEDULE, METADATA, huge, { float16: true })).toThrow(
      /index 0 \(overflows float16\)/,
    );
    expect(() => writeModelPackage(ARCH, SCHEDULE, { ...METADATA, id: 'Bad Id' }, PARAMS)).toThrow(
      /metadata\.id must match/,
    );
  });
});

describe('loadModelPackage refuses corrupt packages, naming the problem', () => {
  const pkg = writePackage();

  it('a missing weight', async () => {
    await expectLoadError(
      files(pkg, (json) => {
        const weights = json.weightsManifest[0].weights;
        weights.splice(
          weights.findIndex((w) => w.name === 'encoder.fc_var.weight'),
          1,
        );
      }),
      'missing 1 weight(s): encoder.fc_var.weight',
    );
  });

  it('an unexpected weight, listed together with every other problem', async () => {
    await expectLoadError(
      files(pkg, (json) => {
        const weights = json.weightsManifest[0].weights;
        weights.push({ name: 'backbone.downblocks.0.crossattn.proj.bias', shape: [4], dtype: 'float32' });
        weights.splice(
          weights.findIndex((w) => w.name === 'backbone.head.bias'),
          1,
        );
        weights.splice(
          weights.findIndex((w) => w.name === 'encoder.head.bias'),
          1,
        );
      }),
      'missing 2 weight(s): backbone.head.bias, encoder.head.bias',
      'unexpected 1 weight(s): backbone.downblocks.0.crossattn.proj.bias',
    );
  });

  it('a wrong shape', async () => {
    await expectLoadError(
      files(pkg, (json) => {
        const spec = json.weightsManifest[0].weights.find((w) => w.name === 'encoder.fc_a.weight');
        if (spec) spec.shape = [64, 3];
      }),
      'encoder.fc_a.weight: expected shape [3, 64], got [64, 3]',
    );
  });

  it('a short shard', async () => {
    const map = files(pkg);
    const shard = map.get('group1-shard1of1.bin') as Uint8Array;
    map.set('group1-shard1of1.bin', shard.slice(0, shard.length - 10));
    await expectLoadError(
      map,
      'short shard',
      'weight encoder.fc_var.bias',
      'group1-shard1of1.bin',
      `holds ${shard.length - 10} bytes, its weights need ${shard.length}`,
    );
  });

  it('names the file at fault, and keeps byte offsets out of the summary, in a group of two shards', async () => {
    // The one shard cut in two files, as a package over the 4 MiB shard size is written.
    const split = (map: Map<string, Uint8Array>, edit?: (first: Uint8Array, second: Uint8Array) => void) => {
      const whole = map.get('group1-shard1of1.bin') as Uint8Array;
      const half = Math.floor(whole.length / 2);
      const [first, second] = [whole.slice(0, half), whole.slice(half)];
      edit?.(first, second);
      const json = structuredClone(pkg.modelJson);
      json.weightsManifest[0].paths = ['group1-shard1of2.bin', 'group1-shard2of2.bin'];
      map.delete('group1-shard1of1.bin');
      map.set('model.json', encodeModelJson(json));
      map.set('group1-shard1of2.bin', first);
      map.set('group1-shard2of2.bin', second);
      return map;
    };
    const refusal = async (map: Map<string, Uint8Array>) => {
      const error = await loadModelPackage(fileMapPackageFiles(map)).then(
        () => null,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(PackageFileError);
      return error as PackageFileError;
    };

    const short = split(files(pkg));
    short.set('group1-shard2of2.bin', (short.get('group1-shard2of2.bin') as Uint8Array).slice(0, -10));
    const shortError = await refusal(short);
    expect(shortError.file).toBe('group1-shard2of2.bin');
    expect(shortError.summary).toMatch(
      /^group1-shard2of2.bin is too short: weight group 1 \(group1-shard1of2.bin, group1-shard2of2.bin\) holds \d+ bytes, its weights need \d+$/,
    );
    expect(shortError.details).toMatch(
      /^short shard: weight encoder.fc_var.bias needs bytes \d+\.\.\d+ but group1-shard2of2.bin ends the data at byte \d+$/,
    );

    const nan = split(files(pkg), (first) => new DataView(first.buffer).setFloat32(0, NaN, true));
    const nanError = await refusal(nan);
    expect(nanError.file).toBe('group1-shard1of2.bin');
    expect(nanError.details).toBe('byte 0 of weight group 1');

    const missing = split(files(pkg));
    missing.delete('group1-shard1of2.bin');
    expect((await refusal(missing)).file).toBe('group1-shard1of2.bin');

    const badJson = files(pkg, (json) => {
      json.metadata.latent.mean = [0, 0];
    });
    const jsonError = await refusal(badJson);
    expect(jsonError.file).toBe('model.json');
    expect(jsonError.details).toBeNull();
  });

  it('trailing bytes after the last weight', async () => {
    const map = files(pkg);
    const shard = map.get('group1-shard1of1.bin') as Uint8Array;
    const longer = new Uint8Array(shard.length + 8);
    longer.set(shard);
    map.set('group1-shard1of1.bin', longer);
    await expectLoadError(map, '8 unexpected trailing byte(s)');
  });

  it('a NaN value', async () => {
    const map = files(pkg);
    const shard = (map.get('group1-shard1of1.bin') as Uint8Array).slice();
    new DataView(shard.buffer).setFloat32(byteOffset(pkg, 'backbone.tail.2.weight') + 4 * 5, NaN, true);
    map.set('group1-shard1of1.bin', shard);
    await expectLoadError(
      map,
      'weight backbone.tail.2.weight (in group1-shard1of1.bin) has a non-finite value NaN at index 5',
    );
  });

  it('an infinite float16 value', async () => {
    const half = writePackage({ float16: true });
    const map = files(half);
    const shard = (map.get('group1-shard1of1.bin') as Uint8Array).slice();
    new DataView(shard.buffer).setUint16(byteOffset(half, 'encoder.head.bias'), 0xfc00, true);
    map.set('group1-shard1of1.bin', shard);
    await expectLoadError(map, 'weight encoder.head.bias', 'non-finite value -Infinity at index 0');
  });

  it('an unknown format version or format', async () => {
    await expectLoadError(
      files(pkg, (json) => {
        (json as Record<string, unknown>).formatVersion = 2;
      }),
      'formatVersion 2 is not supported (this reader knows version 1)',
    );
    await expectLoadError(
      files(pkg, (json) => {
        (json as Record<string, unknown>).format = 'tfjs-graph';
      }),
      'format must be "infodiffusion-explorer/model"',
    );
  });

  it('bad metadata fields', async () => {
    await expectLoadError(
      files(pkg, (json) => {
        json.metadata.latent.mean = [0, 0];
      }),
      'metadata.latent.mean must have 3 entries (latentDim), got 2',
    );
    await expectLoadError(
      files(pkg, (json) => {
        json.metadata.latent.prior = '10mix';
      }),
      "metadata.latent.prior '10mix' draws pairs of dimensions, but latentDim 3 is odd",
    );
    await expectLoadError(
      files(pkg, (json) => {
        json.metadata.preprocessing.imageSize = 32;
      }),
      'metadata.preprocessing.imageSize must equal architecture.imageSize 8, got 32',
    );
    await expectLoadError(
      files(pkg, (json) => {
        json.metadata.gaussianReference.logEigenvalues = [1];
      }),
      'metadata.gaussianReference.logEigenvalues must have 64 entries (H*W*C), got 1',
    );
    await expectLoadError(
      files(pkg, (json) => {
        (json.metadata as unknown as Record<string, unknown>).dimensionNames = ['a', 7, null];
      }),
      'metadata.dimensionNames[1] must be a string or null, got 7',
    );
    await expectLoadError(
      files(pkg, (json) => {
        json.metadata.provenance.source = 'downloaded' as 'fixture';
      }),
      'metadata.provenance.source must be one of "trained", "converted-official", "fixture", got "downloaded"',
    );
    await expectLoadError(
      files(pkg, (json) => {
        json.metadata.provenance.createdAt = 'yesterday';
      }),
      'metadata.provenance.createdAt must be an ISO 8601 date-time',
    );
    await expectLoadError(
      files(pkg, (json) => {
        json.metadata.attributeDirections = [{ name: 'Trouser', group: 'class', vector: [1, 1, 0], bias: 0 }];
      }),
      'metadata.attributeDirections[0].vector must have unit norm',
    );
    await expectLoadError(
      files(pkg, (json) => {
        (json.metadata as unknown as Record<string, unknown>).colour = 'red';
      }),
      'metadata has unknown field(s) colour',
    );
    await expectLoadError(
      files(pkg, (json) => {
        delete (json.metadata as unknown as Record<string, unknown>).gallery;
      }),
      'metadata is missing field(s) gallery',
    );
    await expectLoadError(
      files(pkg, (json) => {
        json.metadata.architecture.groupNormGroups = 3;
      }),
      'model.json: metadata.architecture.groupNormGroups 3 does not divide the channel count 4',
    );
    await expectLoadError(
      files(pkg, (json) => {
        json.metadata.gallery = [{ file: '../secret.png', label: 'x' }];
      }),
      'metadata.gallery[0].file must be a relative path inside the package',
    );
  });

  it('a bad manifest', async () => {
    await expectLoadError(
      files(pkg, (json) => {
        json.weightsManifest[0].paths = ['../outside.bin'];
      }),
      'weightsManifest[0].paths[0] must be a relative path inside the package',
    );
    await expectLoadError(
      files(pkg, (json) => {
        const weights = json.weightsManifest[0].weights;
        weights.push({ ...weights[3] });
      }),
      `weightsManifest lists weight(s) more than once: ${pkg.modelJson.weightsManifest[0].weights[3].name}`,
    );
    await expectLoadError(
      files(pkg, (json) => {
        (json.weightsManifest[0].weights[0] as unknown as Record<string, unknown>).dtype = 'int32';
      }),
      'weightsManifest[0].weights[0].dtype must be "float32", got "int32"',
    );
    await expectLoadError(
      files(pkg, (json) => {
        (json.weightsManifest[0].weights[1] as unknown as Record<string, unknown>).quantization = {
          dtype: 'uint8',
          scale: 1,
          min: 0,
        };
      }),
      'weightsManifest[0].weights[1].quantization has unknown field(s) scale, min',
    );
  });

  it('a missing shard file or invalid JSON', async () => {
    const map = files(pkg);
    map.delete('group1-shard1of1.bin');
    await expectLoadError(map, 'group1-shard1of1.bin is missing from the chosen files');
    const broken = files(pkg);
    broken.set('model.json', new TextEncoder().encode('{"format": '));
    await expectLoadError(broken, 'model.json is not valid JSON');
  });
});

describe('packages with a distilled student', () => {
  const STUDENT = randomStudent(ARCH, SCHEDULE.timesteps, 11, { plan: [9, 4] });
  const STUDENT_METADATA = { ...METADATA, student: STUDENT.metadata };
  const STUDENT_PARAMS = new Map([...PARAMS, ...STUDENT.parameters]);
  const studentCount = studentParameters(ARCH, SCHEDULE.timesteps).size;

  function writeStudentPackage(options: { float16?: boolean } = {}): WrittenPackage {
    return writeModelPackage(ARCH, SCHEDULE, STUDENT_METADATA, STUDENT_PARAMS, options);
  }

  /** eps of a model at one fixed input, as plain numbers. */
  async function outputAt(
    predict: (xt: tf.Tensor4D, t: tf.Tensor1D, z: tf.Tensor2D) => tf.Tensor4D,
  ): Promise<number[]> {
    const x = tf.tensor4d(
      Float32Array.from({ length: 64 }, (_, k) => Math.cos(k)),
      [1, 8, 8, 1],
    );
    const t = tf.tensor1d([7], 'int32');
    const z = tf.tensor2d([[0.3, -0.2, 0.9]]);
    const out = predict(x, t, z);
    const values = Array.from(await out.data());
    tf.dispose([x, t, z, out]);
    return values;
  }

  it('writes the student into group2 and loads it as a second denoiser with its own weights, freed by dispose', async () => {
    const pkg = writeStudentPackage({ float16: true });
    expect([...pkg.shards.keys()]).toEqual(['group1-shard1of1.bin', 'group2-shard1of1.bin']);
    const group2 = pkg.modelJson.weightsManifest[1].weights;
    expect(group2.map((w) => w.name)).toEqual([...studentParameters(ARCH, SCHEDULE.timesteps).keys()]);
    expect(group2.find((w) => w.name === `student.${TIME_TABLE_NAME}`)?.quantization).toBeUndefined();

    const before = tf.memory().numTensors;
    const model = await loadModelPackage(fileMapPackageFiles(files(pkg)));
    expect(model.metadata.student).toEqual(STUDENT.metadata);
    const student = model.student!;
    expect({
      plan: student.plan,
      parameterisation: student.parameterisation,
      teacherSteps: student.teacherSteps,
      fidelity: student.fidelity,
    }).toEqual({ plan: [9, 4], parameterisation: 'v', teacherSteps: 20, fidelity: {} });

    // The student's network is the teacher's architecture with the student's weights: a model whose backbone
    // is the student's gives the same output, and the teacher's differs.
    const { parameters } = await readModelPackage(fileMapPackageFiles(files(pkg)));
    const swapped = new Map([...parameters].filter(([name]) => !name.startsWith('student.')));
    for (const [name, values] of parameters)
      if (name.startsWith('student.')) swapped.set(name.slice('student.'.length), values);
    const studentAsTeacher = createInfoDiffusionModel(METADATA, swapped);
    const [fromStudent, fromSwapped, fromTeacher] = [
      await outputAt(student.predict),
      await outputAt((xt, t, z) => studentAsTeacher.predictEps(xt, t, z)),
      await outputAt((xt, t, z) => model.predictEps(xt, t, z)),
    ];
    studentAsTeacher.dispose();
    expect(fromStudent).toEqual(fromSwapped);
    expect(fromStudent).not.toEqual(fromTeacher);

    model.dispose();
    expect(tf.memory().numTensors).toBe(before);
    const x = tf.zeros([1, 8, 8, 1]) as tf.Tensor4D;
    const t = tf.tensor1d([0], 'int32');
    const z = tf.zeros([1, 3]) as tf.Tensor2D;
    expect(() => student.predict(x, t, z)).toThrow("student.predict: model 'tiny' has been disposed");
    tf.dispose([x, t, z]);
  });

  it('loads a package without a student exactly as before: no student, one group', async () => {
    const pkg = writePackage();
    expect(pkg.modelJson.weightsManifest).toHaveLength(1);
    expect('student' in pkg.modelJson.metadata).toBe(false);
    const model = await loadModelPackage(fileMapPackageFiles(files(pkg)));
    expect(model.student).toBeUndefined();
    model.dispose();
  });

  it('refuses metadata.student without student weights, and student weights without metadata.student', async () => {
    const pkg = writeStudentPackage();
    const noWeights = files(pkg, (json) => {
      json.weightsManifest.splice(1, 1);
    });
    noWeights.delete('group2-shard1of1.bin');
    await expectLoadError(
      noWeights,
      `model.json: metadata.student describes a distilled student but the weights hold none of its ${studentCount} student.backbone.* tensors`,
    );
    await expectLoadError(
      files(pkg, (json) => {
        delete json.metadata.student;
      }),
      `model.json: the weights hold ${studentCount} student tensor(s) (student.${TIME_TABLE_NAME}, `,
      'but metadata.student is absent',
    );
    expect(() => writeModelPackage(ARCH, SCHEDULE, METADATA, STUDENT_PARAMS)).toThrow(
      /student tensor\(s\) .* but metadata\.student is absent/,
    );
    expect(() => writeModelPackage(ARCH, SCHEDULE, STUDENT_METADATA, PARAMS)).toThrow(
      /weights hold none of its \d+ student\.backbone\.\* tensors/,
    );
    expect(() => createInfoDiffusionModel(STUDENT_METADATA, PARAMS)).toThrow(/weights hold none of its/);
  });

  it('refuses part of a student, naming the student weights at fault', async () => {
    const pkg = writeStudentPackage();
    await expectLoadError(
      files(pkg, (json) => {
        const weights = json.weightsManifest[1].weights;
        weights.splice(
          weights.findIndex((w) => w.name === 'student.backbone.head.bias'),
          1,
        );
      }),
      'the weights do not match the architecture in metadata: student weights: missing 1 weight(s): student.backbone.head.bias',
    );
    await expectLoadError(
      files(pkg, (json) => {
        json.weightsManifest[1].weights.push({ name: 'student.encoder.head.bias', shape: [4], dtype: 'float32' });
      }),
      'student weights: unexpected 1 weight(s): student.encoder.head.bias',
    );
    const before = tf.memory().numTensors;
    const partial = new Map(STUDENT_PARAMS);
    partial.delete('student.backbone.fc_a.weight');
    expect(() => createInfoDiffusionModel(STUDENT_METADATA, partial)).toThrow(
      'student weights: missing 1 weight(s): student.backbone.fc_a.weight',
    );
    expect(tf.memory().numTensors).toBe(before);
  });

  it('refuses a bad metadata.student, naming the field', async () => {
    const pkg = writeStudentPackage();
    const edit = (change: (student: Record<string, unknown>) => void) =>
      files(pkg, (json) => change(json.metadata.student as unknown as Record<string, unknown>));
    await expectLoadError(
      edit((s) => {
        s.plan = [8, 4];
      }),
      'metadata.student.plan[0] must be T - 1 = 9 (where x_T sits), got 8',
    );
    await expectLoadError(
      edit((s) => {
        s.plan = [9, 4, 4];
      }),
      'metadata.student.plan must be strictly decreasing, but plan[2] = 4 >= plan[1] = 4',
    );
    await expectLoadError(
      edit((s) => {
        s.plan = [];
      }),
      'metadata.student.plan must have 1 to 8 entries, got 0',
    );
    await expectLoadError(
      edit((s) => {
        s.plan = [9, 8, 7, 6, 5, 4, 3, 2, 1];
      }),
      'metadata.student.plan must have 1 to 8 entries, got 9',
    );
    await expectLoadError(
      edit((s) => {
        s.plan = [9, 2.5];
      }),
      'metadata.student.plan[1] must be an integer >= 0, got 2.5',
    );
    await expectLoadError(
      edit((s) => {
        s.parameterisation = 'sample';
      }),
      'metadata.student.parameterisation must be one of "eps", "x0", "v", got "sample"',
    );
    await expectLoadError(
      edit((s) => {
        s.teacherSteps = 0;
      }),
      'metadata.student.teacherSteps must be an integer >= 1, got 0',
    );
    await expectLoadError(
      edit((s) => {
        s.fidelity = 'good';
      }),
      'metadata.student.fidelity must be an object, got "good"',
    );
    await expectLoadError(
      edit((s) => {
        delete s.training;
      }),
      'metadata.student is missing field(s) training',
    );
    await expectLoadError(
      edit((s) => {
        s.steps = 3;
      }),
      'metadata.student has unknown field(s) steps',
    );
  });
});

describe('package file sources', () => {
  it('fileMapPackageFiles accepts Blobs under a folder prefix and refuses ambiguous names', async () => {
    const pkg = writePackage();
    const map = new Map<string, Blob>();
    for (const [path, bytes] of writtenPackageFiles(pkg))
      map.set(`tiny/${path}`, new Blob([bytes.slice().buffer as ArrayBuffer]));
    const model = await loadModelPackage(fileMapPackageFiles(map));
    expect(model.metadata.id).toBe('tiny');
    model.dispose();
    map.set('other/model.json', new Blob(['{}']));
    await expect(fileMapPackageFiles(map).read('model.json')).rejects.toThrow(
      'model.json is ambiguous among the chosen files: tiny/model.json, other/model.json',
    );
  });

  it('urlPackageFiles fetches under the base URL and reports HTTP errors by URL', async () => {
    const served = writtenPackageFiles(writePackage());
    const requested: string[] = [];
    const fakeFetch: FetchLike = async (url) => {
      requested.push(url);
      const body = served.get(url.replace('https://example.test/models/tiny/', ''));
      return body
        ? { ok: true, status: 200, statusText: 'OK', arrayBuffer: async () => body.slice().buffer }
        : { ok: false, status: 404, statusText: 'Not Found', arrayBuffer: async () => new ArrayBuffer(0) };
    };
    const model = await loadModelPackage(urlPackageFiles('https://example.test/models/tiny', fakeFetch));
    expect(requested).toEqual([
      'https://example.test/models/tiny/model.json',
      'https://example.test/models/tiny/group1-shard1of1.bin',
    ]);
    model.dispose();
    served.delete('group1-shard1of1.bin');
    await expect(loadModelPackage(urlPackageFiles('https://example.test/models/tiny/', fakeFetch))).rejects.toThrow(
      'cannot fetch https://example.test/models/tiny/group1-shard1of1.bin: HTTP 404 Not Found',
    );
  });

  it('stops when aborted, with the signal reason', async () => {
    const controller = new AbortController();
    controller.abort(new Error('user cancelled'));
    await expect(
      loadModelPackage(fileMapPackageFiles(writtenPackageFiles(writePackage())), { signal: controller.signal }),
    ).rejects.toThrow('user cancelled');
  });
});

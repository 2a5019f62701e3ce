/**
 * The layout of the official InfoDiffusion networks (isjakewong/InfoDiffusion, branch `main`: `models.py`
 * `AuxiliaryUNet` and `Encoder`, blocks in `modules.py`) as plain data: the U-Net module plan and the full
 * list of state_dict keys with their PyTorch shapes. Both the loader (name/shape checks) and the networks
 * (which weights to convert) are driven by this one description.
 */
import type { ArchitectureConfig } from './config';

/** Which ModuleList of the U-Net a module sits in. */
export type UNetPath = 'down' | 'middle' | 'up';

interface UNetModuleBase {
  path: UNetPath;
  /** Position inside its ModuleList: the N of `downblocks.N`. */
  index: number;
  /** State-dict prefix relative to the network, e.g. `downblocks.3`. */
  key: string;
  /** Channels entering the module (for up-path residual blocks: the concatenation [h, skip]). */
  inChannels: number;
  outChannels: number;
  /** Height (= width) of the module's input map. */
  resolution: number;
  /** Height (= width) of the module's output map. */
  outResolution: number;
}

/** A residual block (`AuxResBlock` in the denoiser, `ResBlock_encoder` in the encoder). */
export interface ResModule extends UNetModuleBase {
  kind: 'res';
  /** Whether the block ends in single-head self-attention. */
  attention: boolean;
  /** Channels of the skip tensor concatenated after h (up path only; 0 elsewhere). */
  skipChannels: number;
}

/** Stride-2 3x3 convolution between levels (`DownSample`). */
export interface DownSampleModule extends UNetModuleBase {
  kind: 'down';
}

/** Nearest x2 up-sampling followed by a 3x3 convolution (`UpSample`). */
export interface UpSampleModule extends UNetModuleBase {
  kind: 'up';
}

export type UNetModule = ResModule | DownSampleModule | UpSampleModule;

/** The module sequence of one U-Net, in forward order. Identical for the encoder and the denoiser. */
export interface UNetPlan {
  /** Channels of the head conv output (ch). */
  baseChannels: number;
  /** Width of the time embedding, 4 * ch (denoiser only). */
  timeChannels: number;
  down: (ResModule | DownSampleModule)[];
  /** Two residual blocks: the first with attention, the second without. */
  middle: ResModule[];
  up: (ResModule | UpSampleModule)[];
  /** Channels entering the tail (ch * channelMultipliers[0]). */
  finalChannels: number;
}

const LIST_NAMES: Record<UNetPath, string> = { down: 'downblocks', middle: 'middleblocks', up: 'upblocks' };

/**
 * Enumerates the U-Net modules exactly as the official constructors build them. The skip stack `hs` starts
 * with the head output and every down module pushes its output; each up residual block pops one and
 * concatenates it after h, so its input has `now + skip` channels.
 */
export function unetPlan(arch: ArchitectureConfig): UNetPlan {
  const ch = arch.baseChannels;
  const levels = arch.channelMultipliers.length;
  const down: (ResModule | DownSampleModule)[] = [];
  const skipStack: number[] = [ch];
  let now = ch;
  let resolution = arch.imageSize;
  const key = (path: UNetPath, index: number) => `${LIST_NAMES[path]}.${index}`;

  arch.channelMultipliers.forEach((mult, level) => {
    const out = ch * mult;
    for (let r = 0; r < arch.numResBlocks; r++) {
      const index = down.length;
      down.push({
        kind: 'res',
        path: 'down',
        index,
        key: key('down', index),
        inChannels: now,
        outChannels: out,
        resolution,
        outResolution: resolution,
        attention: arch.attentionLevels.includes(level),
        skipChannels: 0,
      });
      now = out;
      skipStack.push(now);
    }
    if (level !== levels - 1) {
      const index = down.length;
      down.push({
        kind: 'down',
        path: 'down',
        index,
        key: key('down', index),
        inChannels: now,
        outChannels: now,
        resolution,
        outResolution: resolution / 2,
      });
      resolution /= 2;
      skipStack.push(now);
    }
  });

  const middle: ResModule[] = [true, false].map((attention, index) => ({
    kind: 'res',
    path: 'middle',
    index,
    key: key('middle', index),
    inChannels: now,
    outChannels: now,
    resolution,
    outResolution: resolution,
    attention,
    skipChannels: 0,
  }));

  const up: (ResModule | UpSampleModule)[] = [];
  for (let level = levels - 1; level >= 0; level--) {
    const out = ch * arch.channelMultipliers[level];
    for (let r = 0; r < arch.numResBlocks + 1; r++) {
      const skip = skipStack.pop();
      if (skip === undefined) throw new Error('unetPlan: skip stack exhausted (internal error)');
      const index = up.length;
      up.push({
        kind: 'res',
        path: 'up',
        index,
        key: key('up', index),
        inChannels: now + skip,
        outChannels: out,
        resolution,
        outResolution: resolution,
        attention: arch.attentionLevels.includes(level),
        skipChannels: skip,
      });
      now = out;
    }
    if (level !== 0) {
      const index = up.length;
      up.push({
        kind: 'up',
        path: 'up',
        index,
        key: key('up', index),
        inChannels: now,
        outChannels: now,
        resolution,
        outResolution: resolution * 2,
      });
      resolution *= 2;
    }
  }
  if (skipStack.length !== 0) throw new Error('unetPlan: unused skips left (internal error)');
  return { baseChannels: ch, timeChannels: 4 * ch, down, middle, up, finalChannels: now };
}

/** All modules of a plan in forward order. */
export function planModules(plan: UNetPlan): UNetModule[] {
  return [...plan.down, ...plan.middle, ...plan.up];
}

/** Residual blocks of a plan in forward order (the blocks that carry weights beyond a single conv). */
export function planResModules(plan: UNetPlan): ResModule[] {
  return planModules(plan).filter((m): m is ResModule => m.kind === 'res');
}

/** Name of the frozen sinusoid table, kept in float32 by the exporter. */
export const TIME_TABLE_NAME = 'backbone.time_embedding.timembedding.0.weight';

type ShapeMap = Map<string, number[]>;

function addConv(out: ShapeMap, name: string, outCh: number, inCh: number, kernel: number): void {
  out.set(`${name}.weight`, [outCh, inCh, kernel, kernel]);
  out.set(`${name}.bias`, [outCh]);
}

function addLinear(out: ShapeMap, name: string, outFeatures: number, inFeatures: number): void {
  out.set(`${name}.weight`, [outFeatures, inFeatures]);
  out.set(`${name}.bias`, [outFeatures]);
}

function addNorm(out: ShapeMap, name: string, channels: number): void {
  out.set(`${name}.weight`, [channels]);
  out.set(`${name}.bias`, [channels]);
}

function addAttention(out: ShapeMap, prefix: string, channels: number): void {
  addNorm(out, `${prefix}.group_norm`, channels);
  for (const proj of ['proj_q', 'proj_k', 'proj_v', 'proj']) addConv(out, `${prefix}.${proj}`, channels, channels, 1);
}

/** `AuxResBlock` keys in registration order: block1, temb_proj, aemb_proj, block2, block3, shortcut, attn. */
function addAuxResBlock(out: ShapeMap, prefix: string, m: ResModule, timeChannels: number): void {
  addNorm(out, `${prefix}.block1.0`, m.inChannels);
  addConv(out, `${prefix}.block1.2`, m.outChannels, m.inChannels, 3);
  addLinear(out, `${prefix}.temb_proj.1`, 2 * m.outChannels, timeChannels);
  addLinear(out, `${prefix}.aemb_proj.1`, 2 * m.outChannels, timeChannels);
  addNorm(out, `${prefix}.block2.0`, m.outChannels);
  addConv(out, `${prefix}.block2.3`, m.outChannels, m.outChannels, 3);
  addNorm(out, `${prefix}.block3.0`, m.outChannels);
  addConv(out, `${prefix}.block3.3`, m.outChannels, m.outChannels, 3);
  if (m.inChannels !== m.outChannels) addConv(out, `${prefix}.shortcut`, m.outChannels, m.inChannels, 1);
  if (m.attention) addAttention(out, `${prefix}.attn`, m.outChannels);
}

/** `ResBlock_encoder` keys: block1, block2, shortcut, attn. */
function addEncoderResBlock(out: ShapeMap, prefix: string, m: ResModule): void {
  addNorm(out, `${prefix}.block1.0`, m.inChannels);
  addConv(out, `${prefix}.block1.2`, m.outChannels, m.inChannels, 3);
  addNorm(out, `${prefix}.block2.0`, m.outChannels);
  addConv(out, `${prefix}.block2.3`, m.outChannels, m.outChannels, 3);
  if (m.inChannels !== m.outChannels) addConv(out, `${prefix}.shortcut`, m.outChannels, m.inChannels, 1);
  if (m.attention) addAttention(out, `${prefix}.attn`, m.outChannels);
}

function addTrunk(
  out: ShapeMap,
  prefix: string,
  plan: UNetPlan,
  arch: ArchitectureConfig,
  denoiser: boolean,
  tailChannels: number,
): void {
  addConv(out, `${prefix}.head`, plan.baseChannels, arch.imageChannels, 3);
  for (const m of planModules(plan)) {
    const modulePrefix = `${prefix}.${m.key}`;
    if (m.kind === 'res') {
      if (denoiser) addAuxResBlock(out, modulePrefix, m, plan.timeChannels);
      else addEncoderResBlock(out, modulePrefix, m);
    } else {
      addConv(out, `${modulePrefix}.main`, m.outChannels, m.inChannels, 3);
    }
  }
  addNorm(out, `${prefix}.tail.0`, plan.finalChannels);
  addConv(out, `${prefix}.tail.2`, tailChannels, plan.finalChannels, 3);
}

/**
 * Every tensor of a model package, name -> PyTorch shape, in the official state_dict order (backbone, then
 * encoder), without the unused `*.crossattn.*` keys. `scheduleTimesteps` is T, the row count of the frozen
 * time table.
 */
export function expectedParameters(arch: ArchitectureConfig, scheduleTimesteps: number): Map<string, number[]> {
  const plan = unetPlan(arch);
  const ch = plan.baseChannels;
  const tdim = plan.timeChannels;
  const out: ShapeMap = new Map();

  out.set(TIME_TABLE_NAME, [scheduleTimesteps, ch]);
  addLinear(out, 'backbone.time_embedding.timembedding.1', tdim, ch);
  addLinear(out, 'backbone.time_embedding.timembedding.3', tdim, tdim);
  addLinear(out, 'backbone.fc_a', tdim, arch.latentDim);
  addTrunk(out, 'backbone', plan, arch, true, arch.imageChannels);

  addTrunk(out, 'encoder', plan, arch, false, 1);
  addLinear(out, 'encoder.fc_a', arch.latentDim, arch.imageSize * arch.imageSize);
  addLinear(out, 'encoder.fc_mu', arch.latentDim, arch.latentDim);
  addLinear(out, 'encoder.fc_var', arch.latentDim, arch.latentDim);
  return out;
}

/** Prefix of a distilled student's denoiser weights: `student.backbone.*` (docs/model-format.md, weightsManifest). */
export const STUDENT_PREFIX = 'student.';

/**
 * The weights of a package's distilled student: every `backbone.*` entry of expectedParameters (the sinusoid table
 * included), prefixed `student.`, in the same order. The student is a copy of the denoiser, so it has no encoder.
 */
export function studentParameters(arch: ArchitectureConfig, scheduleTimesteps: number): Map<string, number[]> {
  const out: ShapeMap = new Map();
  for (const [name, shape] of expectedParameters(arch, scheduleTimesteps)) {
    if (name.startsWith('backbone.')) out.set(`${STUDENT_PREFIX}${name}`, shape);
  }
  return out;
}

/**
 * Checks that student weights appear exactly when the metadata describes a student, and returns the problem in
 * words, or null. Asked before the per-name comparison so that a student dropped from one side is reported as
 * such, not as hundreds of missing or unexpected names.
 * @param hasStudent whether metadata.student is present
 * @param names every weight name of the package
 */
export function studentPresenceProblem(
  hasStudent: boolean,
  names: Iterable<string>,
  expectedCount: number,
): string | null {
  const studentNames = [...names].filter((name) => name.startsWith(STUDENT_PREFIX));
  if (hasStudent && studentNames.length === 0) {
    return `metadata.student describes a distilled student but the weights hold none of its ${expectedCount} ${STUDENT_PREFIX}backbone.* tensors`;
  }
  if (!hasStudent && studentNames.length > 0) {
    const shown = studentNames.slice(0, 3).join(', ') + (studentNames.length > 3 ? ', ...' : '');
    return `the weights hold ${studentNames.length} student tensor(s) (${shown}) but metadata.student is absent; student weights appear exactly when metadata.student does`;
  }
  return null;
}

/** Number of elements of a shape. */
export function shapeSize(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Total number of values in a package (including the frozen time table). */
export function parameterCount(arch: ArchitectureConfig, scheduleTimesteps: number): number {
  let total = 0;
  for (const shape of expectedParameters(arch, scheduleTimesteps).values()) total += shapeSize(shape);
  return total;
}

/**
 * Compares a set of named shapes against the expected ones and returns every problem (missing names,
 * unexpected names, shape mismatches), or an empty list when they agree. Used by the loader and the writer
 * so both report the same, complete list.
 */
export function parameterSetProblems(
  expected: Map<string, number[]>,
  actual: Map<string, readonly number[]>,
): string[] {
  const missing = [...expected.keys()].filter((name) => !actual.has(name));
  const unexpected = [...actual.keys()].filter((name) => !expected.has(name));
  const mismatched: string[] = [];
  for (const [name, shape] of actual) {
    const want = expected.get(name);
    if (want && (want.length !== shape.length || want.some((d, i) => d !== shape[i]))) {
      mismatched.push(`${name}: expected shape [${want.join(', ')}], got [${shape.join(', ')}]`);
    }
  }
  const problems: string[] = [];
  if (missing.length > 0) problems.push(`missing ${missing.length} weight(s): ${missing.join(', ')}`);
  if (unexpected.length > 0) problems.push(`unexpected ${unexpected.length} weight(s): ${unexpected.join(', ')}`);
  if (mismatched.length > 0) problems.push(`${mismatched.length} shape mismatch(es): ${mismatched.join('; ')}`);
  return problems;
}

/**
 * Like parameterSetProblems, for flat value arrays (which carry no shape): names must match and each array
 * must hold exactly product(shape) values.
 */
export function parameterArrayProblems(
  expected: Map<string, number[]>,
  arrays: ReadonlyMap<string, { length: number }>,
): string[] {
  const shapes = new Map<string, number[]>();
  const lengthProblems: string[] = [];
  for (const [name, values] of arrays) {
    const shape = expected.get(name);
    if (shape && values.length !== shapeSize(shape)) {
      lengthProblems.push(
        `${name}: ${values.length} values for shape [${shape.join(', ')}] (${shapeSize(shape)} values)`,
      );
    }
    shapes.set(name, shape ?? [values.length]);
  }
  return [...parameterSetProblems(expected, shapes), ...lengthProblems];
}

/**
 * Compares a package's weight set (shapes, or flat arrays) with what its metadata implies: the teacher's
 * expectedParameters, and studentParameters when `hasStudent`. Returns every name or shape problem, the
 * student's prefixed "student weights:", or [] when they agree. Call studentPresenceProblem first.
 * @param compare parameterSetProblems or parameterArrayProblems
 */
export function packageWeightProblems<V>(
  arch: ArchitectureConfig,
  scheduleTimesteps: number,
  hasStudent: boolean,
  actual: ReadonlyMap<string, V>,
  compare: (expected: Map<string, number[]>, actual: Map<string, V>) => string[],
): string[] {
  const teacher = new Map<string, V>();
  const student = new Map<string, V>();
  for (const [name, value] of actual)
    (hasStudent && name.startsWith(STUDENT_PREFIX) ? student : teacher).set(name, value);
  const problems = compare(expectedParameters(arch, scheduleTimesteps), teacher);
  if (hasStudent)
    problems.push(...compare(studentParameters(arch, scheduleTimesteps), student).map((p) => `student weights: ${p}`));
  return problems;
}

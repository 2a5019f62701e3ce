/**
 * A fused GroupNorm (+ optional SiLU) kernel for the tfjs CPU, WebGPU and WASM backends.
 *
 * Why: GroupNorm followed by SiLU sits in front of nearly every convolution (73 times per denoiser call of
 * the FashionMNIST model). Built from tfjs ops it costs about 15 kernel launches (two reductions, the
 * normalisation, the affine, the activation and their small helpers), about 80% of all launches of a
 * denoiser call. One launch per GroupNorm (reading the modulated affine in place) cuts a call from ~1,300
 * launches to under 300 (under 450 on WASM). On WebGPU the launch overhead, not arithmetic, dominates a
 * small U-Net, and on WASM each tfjs kernel costs several microseconds of JavaScript around XNNPACK (the WASM
 * kernel is SIMD code of ours, wasmSimd.ts). WebGL uses the composite in layers.ts, which computes the same
 * function (`groupNormComposite`); WASM falls back to `groupNormPooled` where its kernel cannot run.
 *
 * Kernel contract (every backend): inputs x [B, H, W, C] float32, scale and shift [S, W] float32 with S = 1
 * (one affine for the batch) or S = B (per sample); attrs groups, epsilon, silu, and the columns
 * scaleColumn / shiftColumn where the C affine values start (scale and shift may be one packed matrix).
 * Output y = (x - mean_g) / sqrt(var_g + epsilon) * scale[., scaleColumn + c] + shift[., shiftColumn + c],
 * then SiLU when asked, with mean and biased variance per sample and group of C / groups channels over all
 * pixels (PyTorch nn.GroupNorm).
 */
import * as tf from '@tensorflow/tfjs-core';
import { kernelsFor } from './kernelPool';
import { simdKernelsFor } from './wasmSimd';

export const GROUP_NORM_KERNEL = 'InfoDiffusionGroupNorm';

export interface GroupNormAttrs {
  groups: number;
  epsilon: number;
  silu: boolean;
  /** Column of `scale` holding channel 0's scale. */
  scaleColumn: number;
  /** Column of `shift` holding channel 0's shift. */
  shiftColumn: number;
}

interface CpuBackendLike {
  data: { get(dataId: object): { values?: unknown } };
  makeTensorInfo(shape: number[], dtype: tf.DataType, values?: tf.backend_util.BackendValues): tf.TensorInfo;
}

/** The part of tfjs-backend-webgpu's WebGPUProgram this kernel fills in (structural, no package import). */
interface WebGPUProgramLike {
  variableNames: string[];
  outputShape: number[];
  shaderKey: string;
  dispatchLayout: { x: number[] };
  dispatch: [number, number, number];
  workgroupSize: [number, number, number];
  uniforms: string;
  getUserCode(): string;
}

interface WebGPUBackendLike {
  runWebGPUProgram(
    program: WebGPUProgramLike,
    inputs: tf.TensorInfo[],
    outputDtype: tf.DataType,
    uniforms: { type: string; data: number[] }[],
  ): tf.TensorInfo;
}

/** The kernel's three inputs, checked against its contract. */
function kernelInputs(
  inputs: tf.NamedTensorInfoMap,
  attrs: GroupNormAttrs,
): { x: tf.TensorInfo; scale: tf.TensorInfo; shift: tf.TensorInfo } {
  const { x, scale, shift } = inputs;
  if (!x || !scale || !shift) throw new Error(`${GROUP_NORM_KERNEL}: needs inputs x, scale and shift`);
  const [b, , , c] = x.shape;
  const rowsOk = (t: tf.TensorInfo, column: number) =>
    t.shape.length === 2 && (t.shape[0] === 1 || t.shape[0] === b) && column >= 0 && column + c <= t.shape[1];
  if (
    x.shape.length !== 4 ||
    c % attrs.groups !== 0 ||
    !rowsOk(scale, attrs.scaleColumn) ||
    !rowsOk(shift, attrs.shiftColumn) ||
    scale.shape[0] !== shift.shape[0]
  ) {
    throw new Error(
      `${GROUP_NORM_KERNEL}: needs x [B,H,W,C] with C divisible by ${attrs.groups} and scale/shift [1 or B, >= column + C]; ` +
        `got x [${x.shape}], scale [${scale.shape}] from column ${attrs.scaleColumn}, shift [${shift.shape}] from column ${attrs.shiftColumn}`,
    );
  }
  return { x, scale, shift };
}

/** The arguments tfjs passes a kernel function. */
interface KernelArgs {
  inputs: tf.NamedTensorInfoMap;
  backend: unknown;
  attrs?: tf.NamedAttrMap;
}

/** A kernel call's backend, attributes and checked inputs. */
function kernelArgs({ inputs, backend, attrs }: KernelArgs): GroupNormAttrs & {
  backend: unknown;
  x: tf.TensorInfo;
  scale: tf.TensorInfo;
  shift: tf.TensorInfo;
} {
  const kernelAttrs = attrs as unknown as GroupNormAttrs;
  return { ...kernelAttrs, ...kernelInputs(inputs, kernelAttrs), backend };
}

/** Plain-JS implementation, statistics accumulated in float64. */
function groupNormCpu(args: KernelArgs): tf.TensorInfo {
  const { backend, groups, epsilon, silu, scaleColumn, shiftColumn, x, scale, shift } = kernelArgs(args);
  const cpu = backend as CpuBackendLike;
  const values = cpu.data.get(x.dataId).values as Float32Array;
  const scaleValues = cpu.data.get(scale.dataId).values as Float32Array;
  const shiftValues = cpu.data.get(shift.dataId).values as Float32Array;
  const [b, h, w, c] = x.shape;
  const pixels = h * w;
  const groupSize = c / groups;
  const count = pixels * groupSize;
  const out = new Float32Array(values.length);
  for (let n = 0; n < b; n++) {
    const sampleBase = n * pixels * c;
    const scaleRow = (scale.shape[0] === 1 ? 0 : n * scale.shape[1]) + scaleColumn;
    const shiftRow = (shift.shape[0] === 1 ? 0 : n * shift.shape[1]) + shiftColumn;
    for (let g = 0; g < groups; g++) {
      const first = g * groupSize;
      let sum = 0;
      for (let p = 0; p < pixels; p++) {
        const base = sampleBase + p * c + first;
        for (let j = 0; j < groupSize; j++) sum += values[base + j];
      }
      const mean = sum / count;
      let squares = 0;
      for (let p = 0; p < pixels; p++) {
        const base = sampleBase + p * c + first;
        for (let j = 0; j < groupSize; j++) squares += (values[base + j] - mean) ** 2;
      }
      const invStd = 1 / Math.sqrt(squares / count + epsilon);
      for (let j = 0; j < groupSize; j++) {
        const s = scaleValues[scaleRow + first + j] * invStd;
        const t = shiftValues[shiftRow + first + j] - mean * s;
        for (let p = 0; p < pixels; p++) {
          const i = sampleBase + p * c + first + j;
          const y = values[i] * s + t;
          out[i] = silu ? y / (1 + Math.exp(-y)) : y;
        }
      }
    }
  }
  return cpu.makeTensorInfo(x.shape, 'float32', out);
}

/**
 * One workgroup per (sample, group): two strided passes for the mean and the biased variance (each summed
 * with a tree reduction in workgroup memory), then a third pass writes the normalised, affine-transformed
 * (and SiLU-activated) values.
 */
class GroupNormProgram implements WebGPUProgramLike {
  variableNames = ['x', 'scale', 'shift'];
  outputShape: number[];
  shaderKey: string;
  dispatchLayout = { x: [0, 1, 2, 3] };
  dispatch: [number, number, number];
  workgroupSize: [number, number, number];
  uniforms =
    'groups : i32, channels : i32, pixels : i32, groupSize : i32, scaleRowStride : i32, scaleColumn : i32, shiftRowStride : i32, shiftColumn : i32, epsilon : f32,';
  private readonly silu: boolean;

  constructor(shape: number[], groups: number, silu: boolean) {
    const [b, h, w, c] = shape;
    this.outputShape = shape;
    this.silu = silu;
    // Enough threads to cover a group in a few strides, without idling most of them on small maps.
    const elements = h * w * (c / groups);
    const size = elements >= 2048 ? 256 : elements >= 256 ? 128 : 64;
    this.workgroupSize = [size, 1, 1];
    this.dispatch = [b * groups, 1, 1];
    this.shaderKey = `infodiffusionGroupNorm_${silu ? 'silu' : 'linear'}_${size}`;
  }

  getUserCode(): string {
    const size = this.workgroupSize[0];
    return `
      var<workgroup> partialSums : array<f32, ${size}>;

      fn workgroupSum(value : f32) -> f32 {
        partialSums[localId.x] = value;
        workgroupBarrier();
        for (var stride = ${size / 2}u; stride > 0u; stride = stride / 2u) {
          if (localId.x < stride) {
            partialSums[localId.x] = partialSums[localId.x] + partialSums[localId.x + stride];
          }
          workgroupBarrier();
        }
        let total = partialSums[0];
        workgroupBarrier();
        return total;
      }

      fn elementIndex(base : i32, k : i32) -> i32 {
        return base + (k / uniforms.groupSize) * uniforms.channels + k % uniforms.groupSize;
      }

      fn main(index : i32) {
        let slot = i32(workgroupId.x);
        let sample = slot / uniforms.groups;
        let group = slot % uniforms.groups;
        let count = uniforms.pixels * uniforms.groupSize;
        let base = sample * uniforms.pixels * uniforms.channels + group * uniforms.groupSize;

        var sum = 0.0;
        for (var k = i32(localId.x); k < count; k = k + ${size}) {
          sum = sum + x[elementIndex(base, k)];
        }
        let mean = workgroupSum(sum) / f32(count);

        var squares = 0.0;
        for (var k = i32(localId.x); k < count; k = k + ${size}) {
          let d = x[elementIndex(base, k)] - mean;
          squares = squares + d * d;
        }
        let invStd = inverseSqrt(workgroupSum(squares) / f32(count) + uniforms.epsilon);

        let scaleRow = sample * uniforms.scaleRowStride + uniforms.scaleColumn;
        let shiftRow = sample * uniforms.shiftRowStride + uniforms.shiftColumn;
        for (var k = i32(localId.x); k < count; k = k + ${size}) {
          let channel = group * uniforms.groupSize + k % uniforms.groupSize;
          let s = scale[scaleRow + channel] * invStd;
          let i = elementIndex(base, k);
          var y = (x[i] - mean) * s + shift[shiftRow + channel];
          ${this.silu ? 'y = y / (1.0 + exp(-y));' : ''}
          setOutputAtIndex(i, y);
        }
      }
    `;
  }
}

function groupNormWebGPU(args: KernelArgs): tf.TensorInfo {
  const { backend, groups, epsilon, silu, scaleColumn, shiftColumn, x, scale, shift } = kernelArgs(args);
  const [, h, w, c] = x.shape;
  const program = new GroupNormProgram(x.shape, groups, silu);
  return (backend as WebGPUBackendLike).runWebGPUProgram(program, [x, scale, shift], 'float32', [
    { type: 'int32', data: [groups] },
    { type: 'int32', data: [c] },
    { type: 'int32', data: [h * w] },
    { type: 'int32', data: [c / groups] },
    // A row stride of 0 makes every sample read the single shared row.
    { type: 'int32', data: [scale.shape[0] === 1 ? 0 : scale.shape[1]] },
    { type: 'int32', data: [scaleColumn] },
    { type: 'int32', data: [shift.shape[0] === 1 ? 0 : shift.shape[1]] },
    { type: 'int32', data: [shiftColumn] },
    { type: 'float32', data: [epsilon] },
  ]);
}

/** The part of tfjs-backend-wasm's BackendWasm the WASM kernels use (structural, no package import). */
export interface WasmBackendLike {
  wasm: {
    _malloc(bytes: number): number;
    _free(pointer: number): void;
    /** Emscripten's exports of the single-threaded binaries (memory is exported there). */
    asm?: { memory?: WebAssembly.Memory };
    /** The threaded binary's shared memory (created in JavaScript and imported). */
    wasmMemory?: WebAssembly.Memory;
  };
  dataIdMap: { get(dataId: object): { memoryOffset: number } };
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
}

/** tfjs-backend-wasm's linear memory, or null where this build does not expose it. */
export function wasmMemoryOf(backend: WasmBackendLike): WebAssembly.Memory | null {
  const memory = backend.wasm.wasmMemory ?? backend.wasm.asm?.memory;
  return memory instanceof WebAssembly.Memory ? memory : null;
}

/** Byte offset of a tensor's values in the WASM memory. */
export const heapOffset = (backend: WasmBackendLike, t: tf.TensorInfo): number =>
  backend.dataIdMap.get(t.dataId).memoryOffset;

/**
 * WASM: three SIMD passes over tfjs-backend-wasm's own memory (wasmSimd.ts): per-channel sums, per-channel
 * squared deviations about the group mean (two passes, accurate when |mean| >> std), then y = x * s + t (and
 * SiLU) with the per-sample, per-channel s = gamma / sqrt(var_g + eps) and t = beta - mean_g * s folded in
 * between from the few per-channel numbers. One kernel launch instead of the composite's twenty-odd.
 */
function groupNormWasm(args: KernelArgs): tf.TensorInfo {
  const { backend, groups, epsilon, silu, scaleColumn, shiftColumn, x, scale, shift } = kernelArgs(args);
  const wasm = backend as WasmBackendLike;
  const memory = wasmMemoryOf(wasm);
  const [b, h, w, c] = x.shape;
  if (!memory || c % 4 !== 0) throw new Error(`${GROUP_NORM_KERNEL}: the wasm kernel needs C % 4 == 0 and the memory`);
  // Split over our kernel threads where a pool runs on this memory (kernelPool.ts), else this thread alone.
  const kernels = kernelsFor(memory);
  const pixels = h * w;
  const groupSize = c / groups;
  const count = pixels * groupSize;
  const out = wasm.makeOutput(x.shape, 'float32');
  const stats = b * c;
  // Scratch: sums, centres, squares, scales, shifts, each [B, C] (16-byte aligned by malloc).
  const scratch = wasm.wasm._malloc(5 * stats * 4);
  try {
    const [sums, centres, squares, scales, shifts] = [0, 1, 2, 3, 4].map((k) => scratch + k * stats * 4);
    const xOffset = heapOffset(wasm, x);
    kernels.sums(xOffset, sums, b, pixels, c);
    let heap = new Float32Array(memory.buffer);
    const groupMeans = new Float64Array(b * groups);
    for (let n = 0; n < b; n++) {
      for (let g = 0; g < groups; g++) {
        let sum = 0;
        for (let j = 0; j < groupSize; j++) sum += heap[sums / 4 + n * c + g * groupSize + j];
        const mean = sum / count;
        groupMeans[n * groups + g] = mean;
        for (let j = 0; j < groupSize; j++) heap[centres / 4 + n * c + g * groupSize + j] = mean;
      }
    }
    kernels.squares(xOffset, centres, squares, b, pixels, c);
    heap = new Float32Array(memory.buffer);
    const gammaAt = heapOffset(wasm, scale) / 4 + scaleColumn;
    const betaAt = heapOffset(wasm, shift) / 4 + shiftColumn;
    const gammaStride = scale.shape[0] === 1 ? 0 : scale.shape[1];
    const betaStride = shift.shape[0] === 1 ? 0 : shift.shape[1];
    for (let n = 0; n < b; n++) {
      for (let g = 0; g < groups; g++) {
        let squareSum = 0;
        for (let j = 0; j < groupSize; j++) squareSum += heap[squares / 4 + n * c + g * groupSize + j];
        const invStd = 1 / Math.sqrt(squareSum / count + epsilon);
        const mean = groupMeans[n * groups + g];
        for (let j = 0; j < groupSize; j++) {
          const channel = g * groupSize + j;
          const s = heap[gammaAt + n * gammaStride + channel] * invStd;
          heap[scales / 4 + n * c + channel] = s;
          heap[shifts / 4 + n * c + channel] = heap[betaAt + n * betaStride + channel] - mean * s;
        }
      }
    }
    (silu ? kernels.affineSilu : kernels.affine)(xOffset, scales, shifts, heapOffset(wasm, out), b, pixels, c);
  } finally {
    wasm.wasm._free(scratch);
  }
  return out;
}

/** The kernel's configurations, by backend name. */
export const GROUP_NORM_KERNEL_CONFIGS: tf.KernelConfig[] = [
  { kernelName: GROUP_NORM_KERNEL, backendName: 'cpu', kernelFunc: groupNormCpu as unknown as tf.KernelFunc },
  { kernelName: GROUP_NORM_KERNEL, backendName: 'webgpu', kernelFunc: groupNormWebGPU as unknown as tf.KernelFunc },
  { kernelName: GROUP_NORM_KERNEL, backendName: 'wasm', kernelFunc: groupNormWasm as unknown as tf.KernelFunc },
];

/**
 * Registers the kernel with tfjs's global kernel registry (once; tfjs keeps one registry per page or
 * process). Registration needs no backend package: the backend instance arrives with each call.
 */
export function registerGroupNormKernels(): void {
  for (const config of GROUP_NORM_KERNEL_CONFIGS) {
    if (!tf.getKernel(config.kernelName, config.backendName)) tf.registerKernel(config);
  }
}

/**
 * Whether the active backend runs the fused kernel on a map of `channels` channels (otherwise layers.ts composes
 * the same function from ops). On WASM the SIMD kernel needs C % 4 == 0 and tfjs's memory object.
 */
export function hasGroupNormKernel(channels?: number): boolean {
  const backendName = tf.getBackend();
  if (tf.getKernel(GROUP_NORM_KERNEL, backendName) === undefined) return false;
  return backendName !== 'wasm' || ((channels === undefined || channels % 4 === 0) && wasmKernelsUsable());
}

/**
 * Whether the running WASM backend exposes its memory to our SIMD module (checked once per backend instance).
 * The tfjs flag `INFODIFF_WASM_KERNELS` (default true) turns our WASM kernels off, for before/after benchmarks.
 */
export function wasmKernelsUsable(): boolean {
  if (!tf.env().getBool(WASM_KERNELS_FLAG)) return false;
  const backend = tf.backend() as unknown as WasmBackendLike;
  let usable = usableByBackend.get(backend);
  if (usable === undefined) {
    const memory = wasmMemoryOf(backend);
    usable = memory !== null && typeof WebAssembly.validate === 'function';
    if (usable && memory) {
      try {
        simdKernelsFor(memory);
      } catch {
        usable = false; // a runtime without WebAssembly SIMD: the composites run instead
      }
    }
    usableByBackend.set(backend, usable);
  }
  return usable;
}
const usableByBackend = new WeakMap<object, boolean>();

/** tfjs flag: false puts WASM back on the op composites (before/after measurements in `npm run bench`). */
export const WASM_KERNELS_FLAG = 'INFODIFF_WASM_KERNELS';
tf.env().registerFlag(WASM_KERNELS_FLAG, () => true);

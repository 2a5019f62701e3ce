/**
 * A fused GroupNorm (+ optional SiLU) kernel for the tfjs CPU and WebGPU backends.
 *
 * Why: GroupNorm followed by SiLU sits in front of nearly every convolution (73 times per denoiser call of
 * the FashionMNIST model). Built from tfjs ops it costs about 15 kernel launches (two reductions, the
 * normalisation, the affine, the activation and their small helpers), about 80% of all launches of a
 * denoiser call. One launch per GroupNorm (reading the modulated affine in place) cuts a call from ~1,300
 * launches to under 300; on WebGPU the launch overhead, not arithmetic, dominates a small U-Net. Other
 * backends use the composites in layers.ts, which compute the same function: WASM `groupNormPooled`, WebGL
 * `groupNormComposite`.
 *
 * Kernel contract (both backends): inputs x [B, H, W, C] float32, scale and shift [S, W] float32 with S = 1
 * (one affine for the batch) or S = B (per sample); attrs groups, epsilon, silu, and the columns
 * scaleColumn / shiftColumn where the C affine values start (scale and shift may be one packed matrix).
 * Output y = (x - mean_g) / sqrt(var_g + epsilon) * scale[., scaleColumn + c] + shift[., shiftColumn + c],
 * then SiLU when asked, with mean and biased variance per sample and group of C / groups channels over all
 * pixels (PyTorch nn.GroupNorm).
 */
import * as tf from '@tensorflow/tfjs-core';

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

/** Plain-JS implementation, statistics accumulated in float64. */
function groupNormCpu({
  inputs,
  backend,
  attrs,
}: {
  inputs: tf.NamedTensorInfoMap;
  backend: unknown;
  attrs?: tf.NamedAttrMap;
}): tf.TensorInfo {
  const kernelAttrs = attrs as unknown as GroupNormAttrs;
  const { groups, epsilon, silu, scaleColumn, shiftColumn } = kernelAttrs;
  const { x, scale, shift } = kernelInputs(inputs, kernelAttrs);
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

function groupNormWebGPU({
  inputs,
  backend,
  attrs,
}: {
  inputs: tf.NamedTensorInfoMap;
  backend: unknown;
  attrs?: tf.NamedAttrMap;
}): tf.TensorInfo {
  const kernelAttrs = attrs as unknown as GroupNormAttrs;
  const { groups, epsilon, silu, scaleColumn, shiftColumn } = kernelAttrs;
  const { x, scale, shift } = kernelInputs(inputs, kernelAttrs);
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

/** The kernel's configurations, by backend name. */
export const GROUP_NORM_KERNEL_CONFIGS: tf.KernelConfig[] = [
  { kernelName: GROUP_NORM_KERNEL, backendName: 'cpu', kernelFunc: groupNormCpu as unknown as tf.KernelFunc },
  { kernelName: GROUP_NORM_KERNEL, backendName: 'webgpu', kernelFunc: groupNormWebGPU as unknown as tf.KernelFunc },
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

/** Whether the active backend has the fused kernel (otherwise layers.ts composes the same function from ops). */
export function hasGroupNormKernel(): boolean {
  return tf.getKernel(GROUP_NORM_KERNEL, tf.getBackend()) !== undefined;
}

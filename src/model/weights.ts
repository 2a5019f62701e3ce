/**
 * Turns PyTorch-layout parameters (state_dict names and shapes, float32 values) into the runtime weights of
 * the encoder and the denoiser, once, at load:
 * - convolutions OIHW -> HWIO, linear layers and 1x1 convs [out, in] -> [in, out], GroupNorm [C] -> [1, C];
 * - algebraically equivalent compositions that save dispatches on every network call (each documented
 *   where it is built): attention projections, the AdaGN modulations of every denoiser block packed into
 *   three matrices, and fc_mu composed into fc_a for `latentHead: 'mu'`.
 * Compositions are accumulated in float64 and rounded to float32 once.
 * All-or-nothing: if anything fails, every tensor created so far is disposed before the error propagates.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { ArchitectureConfig } from './config';
import type { AttentionWeights, AuxResBlockWeights, EncoderResBlockWeights, ModulationSlot } from './blocks';
import {
  createLayerContext,
  type ConvWeights,
  type DenseWeights,
  type GroupNormWeights,
  type LayerContext,
} from './layers';
import {
  planModules,
  planResModules,
  STUDENT_PREFIX,
  TIME_TABLE_NAME,
  unetPlan,
  type ResModule,
  type UNetPlan,
} from './parameters';
import type { TrunkModule, UNetWeights } from './unet';

/** Parameters by official state_dict name, each a C-order float32 array in the PyTorch shape. */
export type ParameterMap = ReadonlyMap<string, Float32Array>;

export interface EncoderWeights {
  trunk: UNetWeights<EncoderResBlockWeights>;
  /** fc_a, or fc_a composed with fc_mu when latentHead is 'mu': kernel [H*W, D]. */
  latentHead: DenseWeights;
}

export interface DenoiserWeights {
  /** Frozen sinusoid table [T, ch], gathered by integer t. */
  timeTable: tf.Tensor2D;
  /** timembedding.1: [ch, 4ch] */
  timeHidden: DenseWeights;
  /** timembedding.3: [4ch, 4ch] */
  timeOut: DenseWeights;
  /** backbone.fc_a: [D, 4ch], z -> aemb (no activation). */
  latentEmbedding: DenseWeights;
  /** SiLU(temb) -> per block [gamma (1+s_t) | beta (1+s_t) + b_t], all blocks side by side: [4ch, P]. */
  timeModulation: DenseWeights;
  /** SiLU(aemb) -> per block [1+s_a | 1+s_a]: [4ch, P]. */
  latentScale: DenseWeights;
  /** SiLU(aemb) -> per block [0 | b_a]: [4ch, P]. */
  latentShift: DenseWeights;
  trunk: UNetWeights<AuxResBlockWeights>;
}

export interface NetworkWeights {
  encoder: EncoderWeights;
  denoiser: DenoiserWeights;
  context: LayerContext;
  /** Every tensor above, for disposal. */
  tensors: tf.Tensor[];
}

/** Transposes a row-major [rows, cols] matrix. */
export function transposeMatrix(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) out[c * rows + r] = data[r * cols + c];
  }
  return out;
}

/** Reorders a PyTorch conv filter [out, in, kh, kw] into TensorFlow's [kh, kw, in, out]. */
export function oihwToHwio(data: Float32Array, shape: readonly number[]): Float32Array {
  const [o, i, kh, kw] = shape;
  const out = new Float32Array(data.length);
  for (let oc = 0; oc < o; oc++) {
    for (let ic = 0; ic < i; ic++) {
      for (let y = 0; y < kh; y++) {
        for (let x = 0; x < kw; x++) out[((y * kw + x) * i + ic) * o + oc] = data[((oc * i + ic) * kh + y) * kw + x];
      }
    }
  }
  return out;
}

/**
 * Reads PyTorch-layout parameters and creates runtime tensors, remembering each so a failed build can be
 * undone. Exported for the block-level tests; networks are built through buildNetworkWeights.
 */
export class WeightConverter {
  readonly tensors: tf.Tensor[] = [];

  constructor(private readonly params: ParameterMap) {}

  track<T extends tf.Tensor>(tensor: T): T {
    this.tensors.push(tensor);
    return tensor;
  }

  raw(name: string, expectedLength: number): Float32Array {
    const data = this.params.get(name);
    if (!data) throw new Error(`missing weight ${name}`);
    if (data.length !== expectedLength)
      throw new Error(`weight ${name} has ${data.length} values, expected ${expectedLength}`);
    return data;
  }

  vector(data: Float32Array | Float64Array): tf.Tensor1D {
    return this.track(tf.tensor1d(Float32Array.from(data)));
  }

  matrix(data: Float32Array | Float64Array, rows: number, cols: number): tf.Tensor2D {
    return this.track(tf.tensor2d(Float32Array.from(data), [rows, cols]));
  }

  conv(name: string, outCh: number, inCh: number, kernel: number): ConvWeights {
    const shape = [outCh, inCh, kernel, kernel];
    const filter = oihwToHwio(this.raw(`${name}.weight`, outCh * inCh * kernel * kernel), shape);
    return {
      filter: this.track(tf.tensor4d(filter, [kernel, kernel, inCh, outCh])),
      bias: this.vector(this.raw(`${name}.bias`, outCh)),
    };
  }

  /** A Linear [out, in] or a 1x1 conv [out, in, 1, 1] as a [in, out] dense layer. */
  dense(name: string, outFeatures: number, inFeatures: number): DenseWeights {
    const weight = this.raw(`${name}.weight`, outFeatures * inFeatures);
    return {
      kernel: this.matrix(transposeMatrix(weight, outFeatures, inFeatures), inFeatures, outFeatures),
      bias: this.vector(this.raw(`${name}.bias`, outFeatures)),
    };
  }

  norm(name: string, channels: number): GroupNormWeights {
    return {
      gamma: this.matrix(this.raw(`${name}.weight`, channels), 1, channels),
      beta: this.matrix(this.raw(`${name}.bias`, channels), 1, channels),
      gammaColumn: 0,
      betaColumn: 0,
    };
  }

  /**
   * `AttnBlock` with q, k, v, proj (1x1 convs, PyTorch weight W[o, i]) composed into two dense layers.
   * scores_ij = (W_q n_i + b_q) . (W_k n_j + b_k) / sqrt(C). Expanding, the terms n_i.W_q^T b_k and b_q.b_k
   * do not depend on the key j, so the row softmax cancels them; what remains is q'_i . n_j with
   * q'_i = n_i Wq^T Wk / sqrt(C) + b_q Wk / sqrt(C). The output proj(sum_j a_ij (W_v n_j + b_v)) with rows
   * of a summing to 1 equals sum_j a_ij v'_j with v'_j = n_j Wv^T Wp^T + (Wp b_v + b_p). Two projections
   * instead of four per attention block.
   */
  attention(prefix: string, channels: number): AttentionWeights {
    const c = channels;
    const read = (name: string) => this.raw(`${prefix}.${name}`, name.endsWith('weight') ? c * c : c);
    const wq = read('proj_q.weight');
    const bq = read('proj_q.bias');
    const wk = read('proj_k.weight');
    read('proj_k.bias'); // b_k only shifts each query's scores by a constant; the softmax cancels it.
    const wv = read('proj_v.weight');
    const bv = read('proj_v.bias');
    const wp = read('proj.weight');
    const bp = read('proj.bias');
    const scale = 1 / Math.sqrt(c);
    const queryKernel = new Float64Array(c * c);
    const queryBias = new Float64Array(c);
    const valueKernel = new Float64Array(c * c);
    const valueBias = new Float64Array(c);
    for (let i = 0; i < c; i++) {
      for (let m = 0; m < c; m++) {
        let qk = 0;
        let vp = 0;
        for (let o = 0; o < c; o++) {
          qk += wq[o * c + i] * wk[o * c + m];
          vp += wv[o * c + i] * wp[m * c + o];
        }
        queryKernel[i * c + m] = qk * scale;
        valueKernel[i * c + m] = vp;
      }
    }
    for (let m = 0; m < c; m++) {
      let qb = 0;
      let vb = bp[m];
      for (let o = 0; o < c; o++) {
        qb += bq[o] * wk[o * c + m];
        vb += bv[o] * wp[m * c + o];
      }
      queryBias[m] = qb * scale;
      valueBias[m] = vb;
    }
    return {
      norm: this.norm(`${prefix}.group_norm`, c),
      query: { kernel: this.matrix(queryKernel, c, c), bias: this.vector(queryBias) },
      valueOut: { kernel: this.matrix(valueKernel, c, c), bias: this.vector(valueBias) },
    };
  }

  encoderResBlock(prefix: string, m: ResModule): EncoderResBlockWeights {
    return {
      norm1: this.norm(`${prefix}.block1.0`, m.inChannels),
      conv1: this.conv(`${prefix}.block1.2`, m.outChannels, m.inChannels, 3),
      norm2: this.norm(`${prefix}.block2.0`, m.outChannels),
      conv2: this.conv(`${prefix}.block2.3`, m.outChannels, m.outChannels, 3),
      shortcut: m.inChannels !== m.outChannels ? this.dense(`${prefix}.shortcut`, m.outChannels, m.inChannels) : null,
      attention: m.attention ? this.attention(`${prefix}.attn`, m.outChannels) : null,
    };
  }

  auxResBlock(prefix: string, m: ResModule, modulation: ModulationSlot): AuxResBlockWeights {
    return {
      norm1: this.norm(`${prefix}.block1.0`, m.inChannels),
      conv1: this.conv(`${prefix}.block1.2`, m.outChannels, m.inChannels, 3),
      modulation,
      conv2: this.conv(`${prefix}.block2.3`, m.outChannels, m.outChannels, 3),
      norm3: this.norm(`${prefix}.block3.0`, m.outChannels),
      conv3: this.conv(`${prefix}.block3.3`, m.outChannels, m.outChannels, 3),
      shortcut: m.inChannels !== m.outChannels ? this.dense(`${prefix}.shortcut`, m.outChannels, m.inChannels) : null,
      attention: m.attention ? this.attention(`${prefix}.attn`, m.outChannels) : null,
    };
  }

  trunk<R>(
    prefix: string,
    plan: UNetPlan,
    arch: ArchitectureConfig,
    tailChannels: number,
    resBlock: (prefix: string, m: ResModule) => R,
  ): UNetWeights<R> {
    const convert = (m: (typeof plan.down)[number] | (typeof plan.up)[number]): TrunkModule<R> => {
      const modulePrefix = `${prefix}.${m.key}`;
      if (m.kind === 'res') return { kind: 'res', block: resBlock(modulePrefix, m) };
      return { kind: m.kind, conv: this.conv(`${modulePrefix}.main`, m.outChannels, m.inChannels, 3) };
    };
    return {
      head: this.conv(`${prefix}.head`, plan.baseChannels, arch.imageChannels, 3),
      down: plan.down.map(convert),
      middle: plan.middle.map((m) => resBlock(`${prefix}.${m.key}`, m)),
      up: plan.up.map(convert),
      tailNorm: this.norm(`${prefix}.tail.0`, plan.finalChannels),
      tailConv: this.conv(`${prefix}.tail.2`, tailChannels, plan.finalChannels, 3),
    };
  }
}

/**
 * Packs every AuxResBlock's time and latent modulation into three [4ch, P] dense layers (P = sum of 2*out
 * over the blocks, block order = forward order) so one call computes all of them with three matrix products:
 *   modulation = time(SiLU(temb)) * latentScale(SiLU(aemb)) + latentShift(SiLU(aemb)),
 * whose columns [offset, offset + out) are gamma = g (1 + s_t)(1 + s_a) and the next `out` columns are
 * beta = (b (1 + s_t) + b_t)(1 + s_a) + b_a, with (g, b) block2's GroupNorm affine, (s_t, b_t) =
 * chunk(temb_proj) and (s_a, b_a) = chunk(aemb_proj) (first half scale, second half shift, as in the
 * official `torch.chunk`). The GroupNorm affine folds into the time layer because it is linear in SiLU(temb).
 */
function packModulation(
  converter: WeightConverter,
  plan: UNetPlan,
  slots: Map<ResModule, ModulationSlot>,
  width: number,
) {
  const tdim = plan.timeChannels;
  const time = { kernel: new Float64Array(tdim * width), bias: new Float64Array(width) };
  const scale = { kernel: new Float64Array(tdim * width), bias: new Float64Array(width) };
  const shift = { kernel: new Float64Array(tdim * width), bias: new Float64Array(width) };
  for (const m of planResModules(plan)) {
    const slot = slots.get(m);
    if (!slot) throw new Error(`no modulation slot for ${m.key} (internal error)`);
    const prefix = `backbone.${m.key}`;
    const c = slot.channels;
    const o = slot.offset;
    const wt = converter.raw(`${prefix}.temb_proj.1.weight`, 2 * c * tdim);
    const bt = converter.raw(`${prefix}.temb_proj.1.bias`, 2 * c);
    const wa = converter.raw(`${prefix}.aemb_proj.1.weight`, 2 * c * tdim);
    const ba = converter.raw(`${prefix}.aemb_proj.1.bias`, 2 * c);
    const g = converter.raw(`${prefix}.block2.0.weight`, c);
    const b = converter.raw(`${prefix}.block2.0.bias`, c);
    for (let j = 0; j < c; j++) {
      const gammaCol = o + j;
      const betaCol = o + c + j;
      for (let k = 0; k < tdim; k++) {
        const scaleT = wt[j * tdim + k];
        time.kernel[k * width + gammaCol] = g[j] * scaleT;
        time.kernel[k * width + betaCol] = b[j] * scaleT + wt[(c + j) * tdim + k];
        scale.kernel[k * width + gammaCol] = wa[j * tdim + k];
        scale.kernel[k * width + betaCol] = wa[j * tdim + k];
        shift.kernel[k * width + betaCol] = wa[(c + j) * tdim + k];
      }
      time.bias[gammaCol] = g[j] * (1 + bt[j]);
      time.bias[betaCol] = b[j] * (1 + bt[j]) + bt[c + j];
      scale.bias[gammaCol] = 1 + ba[j];
      scale.bias[betaCol] = 1 + ba[j];
      shift.bias[betaCol] = ba[c + j];
    }
  }
  const dense = (d: { kernel: Float64Array; bias: Float64Array }): DenseWeights => ({
    kernel: converter.matrix(d.kernel, tdim, width),
    bias: converter.vector(d.bias),
  });
  return { timeModulation: dense(time), latentScale: dense(scale), latentShift: dense(shift) };
}

/** fc_a followed by fc_mu as one layer: z = (h Wa^T + ba) Wmu^T + bmu. */
function composedLatentHead(converter: WeightConverter, tokens: number, latentDim: number): DenseWeights {
  const d = latentDim;
  const wa = converter.raw('encoder.fc_a.weight', d * tokens);
  const ba = converter.raw('encoder.fc_a.bias', d);
  const wmu = converter.raw('encoder.fc_mu.weight', d * d);
  const bmu = converter.raw('encoder.fc_mu.bias', d);
  const kernel = new Float64Array(tokens * d);
  const bias = new Float64Array(d);
  for (let i = 0; i < tokens; i++) {
    for (let m = 0; m < d; m++) {
      let sum = 0;
      for (let k = 0; k < d; k++) sum += wa[k * tokens + i] * wmu[m * d + k];
      kernel[i * d + m] = sum;
    }
  }
  for (let m = 0; m < d; m++) {
    let sum = bmu[m];
    for (let k = 0; k < d; k++) sum += ba[k] * wmu[m * d + k];
    bias[m] = sum;
  }
  return { kernel: converter.matrix(kernel, tokens, d), bias: converter.vector(bias) };
}

/** The denoiser's runtime weights from the `backbone.*` parameters the converter reads. */
function convertDenoiser(
  converter: WeightConverter,
  arch: ArchitectureConfig,
  scheduleTimesteps: number,
  plan: UNetPlan,
): DenoiserWeights {
  const ch = plan.baseChannels;
  const tdim = plan.timeChannels;
  const slots = new Map<ResModule, ModulationSlot>();
  let width = 0;
  for (const m of planResModules(plan)) {
    slots.set(m, { offset: width, channels: m.outChannels });
    width += 2 * m.outChannels;
  }
  const slotOf = (m: ResModule): ModulationSlot => slots.get(m) as ModulationSlot;
  return {
    timeTable: converter.matrix(converter.raw(TIME_TABLE_NAME, scheduleTimesteps * ch), scheduleTimesteps, ch),
    timeHidden: converter.dense('backbone.time_embedding.timembedding.1', tdim, ch),
    timeOut: converter.dense('backbone.time_embedding.timembedding.3', tdim, tdim),
    latentEmbedding: converter.dense('backbone.fc_a', tdim, arch.latentDim),
    ...packModulation(converter, plan, slots, width),
    trunk: converter.trunk('backbone', plan, arch, arch.imageChannels, (prefix, m) =>
      converter.auxResBlock(prefix, m, slotOf(m)),
    ),
  };
}

/** The constants the layers share (GroupNorm epsilon, pixel-mean rows), tracked by the converter for disposal. */
function convertContext(converter: WeightConverter, arch: ArchitectureConfig, plan: UNetPlan): LayerContext {
  const resolutions = new Set(planModules(plan).flatMap((m) => [m.resolution, m.outResolution]));
  const context = createLayerContext(arch.groupNormGroups, resolutions);
  converter.track(context.epsilon);
  for (const row of context.pixelMeanRows.values()) converter.track(row);
  return context;
}

/** Runs `build` with a fresh converter; on failure disposes every tensor it made before rethrowing. */
function allOrNothing<T>(params: ParameterMap, build: (converter: WeightConverter) => T): T {
  const converter = new WeightConverter(params);
  try {
    return build(converter);
  } catch (error) {
    for (const tensor of converter.tensors) tensor.dispose();
    throw error;
  }
}

/**
 * Builds every runtime tensor of both networks from PyTorch-layout parameters. The parameter names and
 * shapes must already have been checked against expectedParameters (the loader does this); a missing or
 * short array still fails here, with nothing left allocated.
 */
export function buildNetworkWeights(
  arch: ArchitectureConfig,
  scheduleTimesteps: number,
  params: ParameterMap,
): NetworkWeights {
  return allOrNothing(params, (converter) => {
    const plan = unetPlan(arch);
    const encoder: EncoderWeights = {
      trunk: converter.trunk('encoder', plan, arch, 1, (prefix, m) => converter.encoderResBlock(prefix, m)),
      latentHead:
        arch.latentHead === 'mu'
          ? composedLatentHead(converter, arch.imageSize * arch.imageSize, arch.latentDim)
          : converter.dense('encoder.fc_a', arch.latentDim, arch.imageSize * arch.imageSize),
    };
    const denoiser = convertDenoiser(converter, arch, scheduleTimesteps, plan);
    const context = convertContext(converter, arch, plan);
    return { encoder, denoiser, context, tensors: converter.tensors };
  });
}

/** A distilled student's denoiser: its own tensors and layer context. */
export interface StudentNetworkWeights {
  denoiser: DenoiserWeights;
  context: LayerContext;
  /** Every tensor above, for disposal. */
  tensors: tf.Tensor[];
}

/**
 * Builds a student's denoiser from its `student.backbone.*` parameters (studentParameters), converted exactly as
 * the teacher's by reading them without the prefix. It gets its own tensors and layer context, so disposing
 * either network never touches the other. Same all-or-nothing contract as buildNetworkWeights.
 */
export function buildStudentWeights(
  arch: ArchitectureConfig,
  scheduleTimesteps: number,
  params: ParameterMap,
): StudentNetworkWeights {
  const unprefixed = new Map<string, Float32Array>();
  for (const [name, values] of params)
    if (name.startsWith(STUDENT_PREFIX)) unprefixed.set(name.slice(STUDENT_PREFIX.length), values);
  return allOrNothing(unprefixed, (converter) => {
    const plan = unetPlan(arch);
    const denoiser = convertDenoiser(converter, arch, scheduleTimesteps, plan);
    const context = convertContext(converter, arch, plan);
    return { denoiser, context, tensors: converter.tensors };
  });
}

/**
 * Test oracle: a direct, unoptimised transcription of the official PyTorch forward passes (models.py,
 * modules.py, main branch) in plain float64 JavaScript, NCHW, one sample at a time, reading the parameters
 * in their PyTorch layout. No tfjs, no weight composition: the tfjs networks are checked against this on
 * tiny architectures. Test-only code.
 */
import type { ArchitectureConfig } from '../config';
import { planModules, unetPlan, type ResModule } from '../parameters';

/** One sample's feature map, NCHW without the batch axis. */
export interface FeatureMap {
  channels: number;
  height: number;
  width: number;
  data: Float64Array;
}

export type TorchParams = ReadonlyMap<string, Float32Array>;

function param(params: TorchParams, name: string): Float32Array {
  const value = params.get(name);
  if (!value) throw new Error(`reference: missing ${name}`);
  return value;
}

export function featureMap(channels: number, height: number, width: number, data?: ArrayLike<number>): FeatureMap {
  return {
    channels,
    height,
    width,
    data: data ? Float64Array.from(data) : new Float64Array(channels * height * width),
  };
}

/** nn.Conv2d with zero padding `pad` on every side. weight [out, in, k, k]. */
export function refConv2d(
  x: FeatureMap,
  weight: ArrayLike<number>,
  bias: ArrayLike<number>,
  outChannels: number,
  kernel: number,
  stride: number,
  pad: number,
): FeatureMap {
  const outH = Math.floor((x.height + 2 * pad - kernel) / stride) + 1;
  const outW = Math.floor((x.width + 2 * pad - kernel) / stride) + 1;
  const out = featureMap(outChannels, outH, outW);
  for (let o = 0; o < outChannels; o++) {
    for (let oy = 0; oy < outH; oy++) {
      for (let ox = 0; ox < outW; ox++) {
        let sum = bias[o];
        for (let i = 0; i < x.channels; i++) {
          for (let ky = 0; ky < kernel; ky++) {
            const iy = oy * stride - pad + ky;
            if (iy < 0 || iy >= x.height) continue;
            for (let kx = 0; kx < kernel; kx++) {
              const ix = ox * stride - pad + kx;
              if (ix < 0 || ix >= x.width) continue;
              sum +=
                weight[((o * x.channels + i) * kernel + ky) * kernel + kx] * x.data[(i * x.height + iy) * x.width + ix];
            }
          }
        }
        out.data[(o * outH + oy) * outW + ox] = sum;
      }
    }
  }
  return out;
}

/** nn.GroupNorm(groups, C, eps=1e-5): biased variance per group of C/groups channels x all pixels. */
export function refGroupNorm(
  x: FeatureMap,
  groups: number,
  gamma: ArrayLike<number>,
  beta: ArrayLike<number>,
  eps = 1e-5,
): FeatureMap {
  const out = featureMap(x.channels, x.height, x.width);
  const perGroup = x.channels / groups;
  const pixels = x.height * x.width;
  for (let g = 0; g < groups; g++) {
    const start = g * perGroup * pixels;
    const end = start + perGroup * pixels;
    let mean = 0;
    for (let i = start; i < end; i++) mean += x.data[i];
    mean /= end - start;
    let variance = 0;
    for (let i = start; i < end; i++) variance += (x.data[i] - mean) ** 2;
    variance /= end - start;
    const inv = 1 / Math.sqrt(variance + eps);
    for (let i = start; i < end; i++) {
      const c = Math.floor(i / pixels);
      out.data[i] = (x.data[i] - mean) * inv * gamma[c] + beta[c];
    }
  }
  return out;
}

export function refSilu(x: FeatureMap): FeatureMap {
  return { ...x, data: x.data.map((v) => v / (1 + Math.exp(-v))) };
}

export function refSiluVector(x: Float64Array): Float64Array {
  return x.map((v) => v / (1 + Math.exp(-v)));
}

/** nn.Linear: weight [out, in]. */
export function refLinear(x: ArrayLike<number>, weight: ArrayLike<number>, bias: ArrayLike<number>): Float64Array {
  const outFeatures = bias.length;
  const inFeatures = x.length;
  const out = new Float64Array(outFeatures);
  for (let o = 0; o < outFeatures; o++) {
    let sum = bias[o];
    for (let i = 0; i < inFeatures; i++) sum += weight[o * inFeatures + i] * x[i];
    out[o] = sum;
  }
  return out;
}

export function refAdd(a: FeatureMap, b: FeatureMap): FeatureMap {
  return { ...a, data: a.data.map((v, i) => v + b.data[i]) };
}

/** F.interpolate(scale_factor=2, mode='nearest'). */
export function refUpsample(x: FeatureMap): FeatureMap {
  const out = featureMap(x.channels, 2 * x.height, 2 * x.width);
  for (let c = 0; c < x.channels; c++) {
    for (let y = 0; y < out.height; y++) {
      for (let xx = 0; xx < out.width; xx++) {
        out.data[(c * out.height + y) * out.width + xx] = x.data[(c * x.height + (y >> 1)) * x.width + (xx >> 1)];
      }
    }
  }
  return out;
}

function concatChannels(a: FeatureMap, b: FeatureMap): FeatureMap {
  const data = new Float64Array(a.data.length + b.data.length);
  data.set(a.data);
  data.set(b.data, a.data.length);
  return { channels: a.channels + b.channels, height: a.height, width: a.width, data };
}

function conv(
  params: TorchParams,
  name: string,
  x: FeatureMap,
  outChannels: number,
  kernel: number,
  stride = 1,
): FeatureMap {
  return refConv2d(
    x,
    param(params, `${name}.weight`),
    param(params, `${name}.bias`),
    outChannels,
    kernel,
    stride,
    kernel === 3 ? 1 : 0,
  );
}

function norm(params: TorchParams, name: string, x: FeatureMap, groups: number): FeatureMap {
  return refGroupNorm(x, groups, param(params, `${name}.weight`), param(params, `${name}.bias`));
}

/** `AttnBlock.forward`: x + proj(softmax(q^T k / sqrt(C)) v). */
export function refAttention(params: TorchParams, prefix: string, x: FeatureMap, groups: number): FeatureMap {
  const c = x.channels;
  const tokens = x.height * x.width;
  const h = norm(params, `${prefix}.group_norm`, x, groups);
  const q = conv(params, `${prefix}.proj_q`, h, c, 1);
  const k = conv(params, `${prefix}.proj_k`, h, c, 1);
  const v = conv(params, `${prefix}.proj_v`, h, c, 1);
  const attended = featureMap(c, x.height, x.width);
  for (let i = 0; i < tokens; i++) {
    const scores = new Float64Array(tokens);
    for (let j = 0; j < tokens; j++) {
      let dot = 0;
      for (let ch = 0; ch < c; ch++) dot += q.data[ch * tokens + i] * k.data[ch * tokens + j];
      scores[j] = dot / Math.sqrt(c);
    }
    const max = Math.max(...scores);
    const exps = scores.map((s) => Math.exp(s - max));
    const total = exps.reduce((a, b) => a + b, 0);
    for (let ch = 0; ch < c; ch++) {
      let sum = 0;
      for (let j = 0; j < tokens; j++) sum += (exps[j] / total) * v.data[ch * tokens + j];
      attended.data[ch * tokens + i] = sum;
    }
  }
  return refAdd(x, conv(params, `${prefix}.proj`, attended, c, 1));
}

/** `ResBlock_encoder.forward`. */
export function refEncoderResBlock(
  params: TorchParams,
  prefix: string,
  m: ResModule,
  x: FeatureMap,
  groups: number,
): FeatureMap {
  let h = conv(params, `${prefix}.block1.2`, refSilu(norm(params, `${prefix}.block1.0`, x, groups)), m.outChannels, 3);
  h = conv(params, `${prefix}.block2.3`, refSilu(norm(params, `${prefix}.block2.0`, h, groups)), m.outChannels, 3);
  h = refAdd(h, m.inChannels !== m.outChannels ? conv(params, `${prefix}.shortcut`, x, m.outChannels, 1) : x);
  return m.attention ? refAttention(params, `${prefix}.attn`, h, groups) : h;
}

/** `AuxResBlock.forward` (main branch) for one sample with embeddings temb and aemb (both [4ch]). */
export function refAuxResBlock(
  params: TorchParams,
  prefix: string,
  m: ResModule,
  x: FeatureMap,
  temb: Float64Array,
  aemb: Float64Array,
  groups: number,
): FeatureMap {
  const c = m.outChannels;
  let h = conv(params, `${prefix}.block1.2`, refSilu(norm(params, `${prefix}.block1.0`, x, groups)), c, 3);
  const tOut = refLinear(
    refSiluVector(temb),
    param(params, `${prefix}.temb_proj.1.weight`),
    param(params, `${prefix}.temb_proj.1.bias`),
  );
  const aOut = refLinear(
    refSiluVector(aemb),
    param(params, `${prefix}.aemb_proj.1.weight`),
    param(params, `${prefix}.aemb_proj.1.bias`),
  );
  h = norm(params, `${prefix}.block2.0`, h, groups);
  const pixels = h.height * h.width;
  const modulated = featureMap(c, h.height, h.width);
  for (let i = 0; i < h.data.length; i++) {
    const ch = Math.floor(i / pixels);
    const afterTime = h.data[i] * (1 + tOut[ch]) + tOut[c + ch];
    modulated.data[i] = afterTime * (1 + aOut[ch]) + aOut[c + ch];
  }
  h = conv(params, `${prefix}.block2.3`, refSilu(modulated), c, 3);
  h = conv(params, `${prefix}.block3.3`, refSilu(norm(params, `${prefix}.block3.0`, h, groups)), c, 3);
  h = refAdd(h, m.inChannels !== m.outChannels ? conv(params, `${prefix}.shortcut`, x, c, 1) : x);
  return m.attention ? refAttention(params, `${prefix}.attn`, h, groups) : h;
}

function refUNet(
  params: TorchParams,
  prefix: string,
  arch: ArchitectureConfig,
  x: FeatureMap,
  tailChannels: number,
  resBlock: (prefix: string, m: ResModule, h: FeatureMap) => FeatureMap,
): FeatureMap {
  const plan = unetPlan(arch);
  const groups = arch.groupNormGroups;
  let h = conv(params, `${prefix}.head`, x, plan.baseChannels, 3);
  const hs = [h];
  for (const m of planModules(plan)) {
    const name = `${prefix}.${m.key}`;
    if (m.kind === 'down') h = conv(params, `${name}.main`, h, m.outChannels, 3, 2);
    else if (m.kind === 'up') h = conv(params, `${name}.main`, refUpsample(h), m.outChannels, 3);
    else if (m.path === 'up') h = resBlock(name, m, concatChannels(h, hs.pop() as FeatureMap));
    else h = resBlock(name, m, h);
    if (m.path === 'down') hs.push(h);
  }
  return conv(params, `${prefix}.tail.2`, refSilu(norm(params, `${prefix}.tail.0`, h, groups)), tailChannels, 3);
}

/** `Encoder.forward` for one CHW image: returns a (or mu = fc_mu(a) when latentHead is 'mu'). */
export function refEncode(params: TorchParams, arch: ArchitectureConfig, x: FeatureMap): Float64Array {
  const groups = arch.groupNormGroups;
  const map = refUNet(params, 'encoder', arch, x, 1, (prefix, m, h) =>
    refEncoderResBlock(params, prefix, m, h, groups),
  );
  const a = refLinear(map.data, param(params, 'encoder.fc_a.weight'), param(params, 'encoder.fc_a.bias'));
  return arch.latentHead === 'mu'
    ? refLinear(a, param(params, 'encoder.fc_mu.weight'), param(params, 'encoder.fc_mu.bias'))
    : a;
}

/** `AuxiliaryUNet.forward` for one CHW image, integer t and latent z. */
export function refPredictEps(
  params: TorchParams,
  arch: ArchitectureConfig,
  xt: FeatureMap,
  t: number,
  z: ArrayLike<number>,
): FeatureMap {
  const ch = arch.baseChannels;
  const table = param(params, 'backbone.time_embedding.timembedding.0.weight').slice(t * ch, (t + 1) * ch);
  const hidden = refSiluVector(
    refLinear(
      table,
      param(params, 'backbone.time_embedding.timembedding.1.weight'),
      param(params, 'backbone.time_embedding.timembedding.1.bias'),
    ),
  );
  const temb = refLinear(
    hidden,
    param(params, 'backbone.time_embedding.timembedding.3.weight'),
    param(params, 'backbone.time_embedding.timembedding.3.bias'),
  );
  const aemb = refLinear(z, param(params, 'backbone.fc_a.weight'), param(params, 'backbone.fc_a.bias'));
  const groups = arch.groupNormGroups;
  return refUNet(params, 'backbone', arch, xt, arch.imageChannels, (prefix, m, h) =>
    refAuxResBlock(params, prefix, m, h, temb, aemb, groups),
  );
}

/** NHWC batch element b of a flat array -> CHW feature map. */
export function nhwcToFeatureMap(data: ArrayLike<number>, b: number, h: number, w: number, c: number): FeatureMap {
  const out = featureMap(c, h, w);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (let ch = 0; ch < c; ch++) out.data[(ch * h + y) * w + x] = data[((b * h + y) * w + x) * c + ch];
    }
  }
  return out;
}

/** CHW feature map -> NHWC flat array for one sample. */
export function featureMapToNhwc(map: FeatureMap): Float64Array {
  const { channels: c, height: h, width: w } = map;
  const out = new Float64Array(c * h * w);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (let ch = 0; ch < c; ch++) out[(y * w + x) * c + ch] = map.data[(ch * h + y) * w + x];
    }
  }
  return out;
}

/** max |a - b| / max |b|: the parity measure used across the project. */
export function relativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  if (actual.length !== expected.length)
    throw new Error(`relativeError: lengths differ (${actual.length} vs ${expected.length})`);
  let maxDiff = 0;
  let maxRef = 0;
  for (let i = 0; i < expected.length; i++) {
    maxDiff = Math.max(maxDiff, Math.abs(actual[i] - expected[i]));
    maxRef = Math.max(maxRef, Math.abs(expected[i]));
  }
  return maxDiff / maxRef;
}

import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { setUpCpuBackendWithLeakCheck } from './testing/leakGuard';
import { encoderResBlock, selfAttention } from './blocks';
import { createLayerContext, disposeLayerContext } from './layers';
import type { ResModule } from './parameters';
import { seededNormal } from './random';
import {
  featureMapToNhwc,
  nhwcToFeatureMap,
  refAttention,
  refEncoderResBlock,
  relativeError,
} from './testing/torchReference';
import { WeightConverter } from './weights';

setUpCpuBackendWithLeakCheck();

function randomValues(length: number, normal: () => number, scale: number, offset = 0): Float32Array {
  return Float32Array.from({ length }, () => offset + scale * normal());
}

/** PyTorch-layout parameters for an AttnBlock of `c` channels under `prefix`. */
function attentionParams(prefix: string, c: number, seed: number): Map<string, Float32Array> {
  const normal = seededNormal(seed);
  const params = new Map<string, Float32Array>();
  params.set(`${prefix}.group_norm.weight`, randomValues(c, normal, 0.2, 1));
  params.set(`${prefix}.group_norm.bias`, randomValues(c, normal, 0.2));
  for (const proj of ['proj_q', 'proj_k', 'proj_v', 'proj']) {
    params.set(`${prefix}.${proj}.weight`, randomValues(c * c, normal, 1 / Math.sqrt(c)));
    params.set(`${prefix}.${proj}.bias`, randomValues(c, normal, 0.3));
  }
  return params;
}

function nhwcReference(
  data: Float32Array,
  [b, h, w, c]: number[],
  fn: (m: ReturnType<typeof nhwcToFeatureMap>) => ReturnType<typeof nhwcToFeatureMap>,
): number[] {
  return Array.from({ length: b }, (_, i) => [...featureMapToNhwc(fn(nhwcToFeatureMap(data, i, h, w, c)))]).flat();
}

describe('selfAttention', () => {
  it('matches AttnBlock on a 2x2 map (softmax over the 4 tokens of each sample, k and q biases included)', async () => {
    const c = 4;
    const groups = 2;
    const params = attentionParams('attn', c, 21);
    const converter = new WeightConverter(params);
    const weights = converter.attention('attn', c);
    const ctx = createLayerContext(groups, [2]);
    const data = Float32Array.from({ length: 2 * 2 * 2 * c }, (_, k) => Math.sin(1.7 * k) * 2);
    const x = tf.tensor4d(data, [2, 2, 2, c]);
    const y = tf.tidy(() => selfAttention(x, weights, ctx));
    expect(y.shape).toEqual([2, 2, 2, c]);
    const expected = nhwcReference(data, [2, 2, 2, c], (m) => refAttention(params, 'attn', m, groups));
    expect(relativeError(await y.data(), expected)).toBeLessThan(1e-5);
    tf.dispose([x, y, ...converter.tensors]);
    disposeLayerContext(ctx);
  });

  it('keeps the samples of a batch independent', async () => {
    const c = 4;
    const params = attentionParams('attn', c, 22);
    const converter = new WeightConverter(params);
    const weights = converter.attention('attn', c);
    const ctx = createLayerContext(1, [2]);
    const first = Float32Array.from({ length: 16 }, (_, k) => Math.cos(k));
    const second = Float32Array.from({ length: 16 }, (_, k) => Math.sin(3 * k));
    const both = tf.tensor4d([...first, ...second], [2, 2, 2, c]);
    const alone = tf.tensor4d(first, [1, 2, 2, c]);
    const [batched, single] = tf.tidy(() => [selfAttention(both, weights, ctx), selfAttention(alone, weights, ctx)]);
    const batchedFirst = (await batched.data()).slice(0, 16);
    expect(relativeError(batchedFirst, await single.data())).toBeLessThan(1e-6);
    tf.dispose([both, alone, batched, single, ...converter.tensors]);
    disposeLayerContext(ctx);
  });
});

describe('encoderResBlock', () => {
  it('matches ResBlock_encoder with a 1x1 shortcut and attention', async () => {
    const m: ResModule = {
      kind: 'res',
      path: 'up',
      index: 0,
      key: 'upblocks.0',
      inChannels: 6,
      outChannels: 4,
      resolution: 4,
      outResolution: 4,
      attention: true,
      skipChannels: 2,
    };
    const groups = 2;
    const normal = seededNormal(23);
    const params = attentionParams('blk.attn', 4, 24);
    params.set('blk.block1.0.weight', randomValues(6, normal, 0.2, 1));
    params.set('blk.block1.0.bias', randomValues(6, normal, 0.2));
    params.set('blk.block1.2.weight', randomValues(4 * 6 * 9, normal, 1 / Math.sqrt(54)));
    params.set('blk.block1.2.bias', randomValues(4, normal, 0.1));
    params.set('blk.block2.0.weight', randomValues(4, normal, 0.2, 1));
    params.set('blk.block2.0.bias', randomValues(4, normal, 0.2));
    params.set('blk.block2.3.weight', randomValues(4 * 4 * 9, normal, 1 / 6));
    params.set('blk.block2.3.bias', randomValues(4, normal, 0.1));
    params.set('blk.shortcut.weight', randomValues(4 * 6, normal, 0.4));
    params.set('blk.shortcut.bias', randomValues(4, normal, 0.1));
    const converter = new WeightConverter(params);
    const weights = converter.encoderResBlock('blk', m);
    const ctx = createLayerContext(groups, [4]);
    const data = randomValues(2 * 4 * 4 * 6, normal, 1);
    const x = tf.tensor4d(data, [2, 4, 4, 6]);
    const y = tf.tidy(() => encoderResBlock(x, weights, ctx));
    expect(y.shape).toEqual([2, 4, 4, 4]);
    const expected = nhwcReference(data, [2, 4, 4, 6], (map) => refEncoderResBlock(params, 'blk', m, map, groups));
    expect(relativeError(await y.data(), expected)).toBeLessThan(1e-5);
    tf.dispose([x, y, ...converter.tensors]);
    disposeLayerContext(ctx);
  });
});

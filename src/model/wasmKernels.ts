/**
 * Two kernels of our own on the tfjs WASM backend (SIMD code in wasmSimd.ts; GroupNorm's is in
 * groupNormKernel.ts): single-head self-attention, and the channel concatenation of the U-Net's skips.
 *
 * Attention, why: tfjs-backend-wasm 4.22 runs a BatchMatMul through XNNPACK only when it is unbatched and untransposed;
 * the attention's two products (q k^T is transposed, and both are batched from batch 2) fall back to a scalar
 * triple loop, about 0.4 GFLOP/s, which made the attention blocks a quarter of a batch-11 denoiser call. The
 * SIMD kernel computes each query's scores, the softmax (maximum subtracted first, as tf.softmax) and the
 * weighted sum of values in one pass, with no [B, T, T] tensor.
 *
 * Attention kernel contract: inputs query, keys, values [B, T, C] float32 with C % 4 == 0 and T % 4 == 0; output
 * [B, T, C] with out[b, i] = sum_j softmax_j(query[b, i] . keys[b, j]) values[b, j].
 *
 * Concatenation, why: tfjs-backend-wasm's Concat is JavaScript that copies one innermost run at a time
 * (a subarray and a set per pixel and input), about a microsecond per pixel: 22 ms of a batch-11 call for the
 * nine skip concatenations. The kernel copies the rows in one SIMD loop. Contract: inputs a [B, H, W, Ca] and
 * b [B, H, W, Cb] float32, Ca and Cb multiples of 4; output [B, H, W, Ca + Cb], as tf.concat([a, b], 3).
 */
import * as tf from '@tensorflow/tfjs-core';
import { heapOffset, wasmKernelsUsable, wasmMemoryOf, type WasmBackendLike } from './groupNormKernel';
import { kernelsFor } from './kernelPool';

export const ATTENTION_KERNEL = 'InfoDiffusionAttention';
export const CONCAT_CHANNELS_KERNEL = 'InfoDiffusionConcatChannels';

function attentionWasm({ inputs, backend }: { inputs: tf.NamedTensorInfoMap; backend: unknown }): tf.TensorInfo {
  const { query, keys, values } = inputs;
  const alike = (t: tf.TensorInfo | undefined): t is tf.TensorInfo =>
    t !== undefined && t.shape.length === 3 && query !== undefined && t.shape.every((d, k) => d === query.shape[k]);
  if (!alike(query) || !alike(keys) || !alike(values) || query.shape[2] % 4 !== 0 || query.shape[1] % 4 !== 0) {
    throw new Error(
      `${ATTENTION_KERNEL}: needs query, keys and values [B, T, C] alike with C and T multiples of 4; got ` +
        `[${query?.shape}], [${keys?.shape}], [${values?.shape}]`,
    );
  }
  const [b, tokens, c] = query.shape;
  const wasm = backend as WasmBackendLike;
  const memory = wasmMemoryOf(wasm);
  if (!memory) throw new Error(`${ATTENTION_KERNEL}: the wasm backend does not expose its memory`);
  const out = wasm.makeOutput(query.shape, 'float32');
  // One scratch row of scores per sample, so that threads running different samples (kernelPool.ts) share none.
  const scores = wasm.wasm._malloc(b * tokens * 4);
  try {
    kernelsFor(memory).attention(
      heapOffset(wasm, query),
      heapOffset(wasm, keys),
      heapOffset(wasm, values),
      heapOffset(wasm, out),
      b,
      tokens,
      c,
      scores,
    );
  } finally {
    wasm.wasm._free(scores);
  }
  return out;
}

function concatChannelsWasm({ inputs, backend }: { inputs: tf.NamedTensorInfoMap; backend: unknown }): tf.TensorInfo {
  const { a, b } = inputs;
  const [n, h, w, ca] = a?.shape ?? [];
  const cb = b?.shape[3] ?? 0;
  if (!a || !b || a.shape.length !== 4 || b.shape.length !== 4 || ca % 4 !== 0 || cb % 4 !== 0 ||
      b.shape[0] !== n || b.shape[1] !== h || b.shape[2] !== w) {
    throw new Error(
      `${CONCAT_CHANNELS_KERNEL}: needs a [B, H, W, Ca] and b [B, H, W, Cb] with Ca and Cb multiples of 4; got [${a?.shape}], [${b?.shape}]`,
    );
  } // prettier-ignore
  const wasm = backend as WasmBackendLike;
  const memory = wasmMemoryOf(wasm);
  if (!memory) throw new Error(`${CONCAT_CHANNELS_KERNEL}: the wasm backend does not expose its memory`);
  const out = wasm.makeOutput([n, h, w, ca + cb], 'float32');
  kernelsFor(memory).concat(heapOffset(wasm, a), heapOffset(wasm, b), heapOffset(wasm, out), n * h * w, ca, cb);
  return out;
}

const WASM_KERNEL_CONFIGS: tf.KernelConfig[] = [
  { kernelName: ATTENTION_KERNEL, backendName: 'wasm', kernelFunc: attentionWasm as unknown as tf.KernelFunc },
  {
    kernelName: CONCAT_CHANNELS_KERNEL,
    backendName: 'wasm',
    kernelFunc: concatChannelsWasm as unknown as tf.KernelFunc,
  },
];

/** Registers the kernels (once per page or process; done when this module is first imported). */
export function registerWasmKernels(): void {
  for (const config of WASM_KERNEL_CONFIGS) {
    if (!tf.getKernel(config.kernelName, config.backendName)) tf.registerKernel(config);
  }
}
registerWasmKernels();

/** Whether the active backend runs the attention kernel on [B, T, C] (else blocks.ts uses matMul and softmax). */
export function hasAttentionKernel(tokens: number, channels: number): boolean {
  return tf.getBackend() === 'wasm' && tokens % 4 === 0 && channels % 4 === 0 && wasmKernelsUsable();
}

/**
 * softmax(query keys^T) values per sample, on the kernel.
 * @param query [B, T, C]
 * @param keys [B, T, C]
 * @param values [B, T, C]
 * @returns [B, T, C]; the caller owns it
 */
export function attentionKernel(query: tf.Tensor3D, keys: tf.Tensor3D, values: tf.Tensor3D): tf.Tensor3D {
  return tf.engine().runKernel(ATTENTION_KERNEL, { query, keys, values }) as tf.Tensor3D;
}

/**
 * tf.concat([a, b], 3), as one SIMD kernel on WASM where the channel counts allow it.
 * @param a [B, H, W, Ca]
 * @param b [B, H, W, Cb]
 * @returns [B, H, W, Ca + Cb]; the caller owns it
 */
export function concatChannels(a: tf.Tensor4D, b: tf.Tensor4D): tf.Tensor4D {
  const simd = tf.getBackend() === 'wasm' && a.shape[3] % 4 === 0 && b.shape[3] % 4 === 0 && wasmKernelsUsable();
  return simd ? (tf.engine().runKernel(CONCAT_CHANNELS_KERNEL, { a, b }) as tf.Tensor4D) : tf.concat([a, b], 3);
}

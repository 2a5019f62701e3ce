/**
 * Single-head self-attention softmax(q k^T) v as one kernel on the tfjs WASM backend (wasmSimd.ts).
 *
 * Why: tfjs-backend-wasm 4.22 runs a BatchMatMul through XNNPACK only when it is unbatched and untransposed;
 * the attention's two products (q k^T is transposed, and both are batched from batch 2) fall back to a scalar
 * triple loop, about 0.4 GFLOP/s, which made the attention blocks a quarter of a batch-11 denoiser call. The
 * SIMD kernel computes each query's scores, the softmax (maximum subtracted first, as tf.softmax) and the
 * weighted sum of values in one pass, with no [B, T, T] tensor.
 *
 * Kernel contract: inputs query, keys, values [B, T, C] float32 with C % 4 == 0 and T % 4 == 0; output
 * [B, T, C] with out[b, i] = sum_j softmax_j(query[b, i] . keys[b, j]) values[b, j].
 */
import * as tf from '@tensorflow/tfjs-core';
import { heapOffset, wasmKernelsUsable, wasmMemoryOf, type WasmBackendLike } from './groupNormKernel';
import { simdKernelsFor } from './wasmSimd';

export const ATTENTION_KERNEL = 'InfoDiffusionAttention';

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
  const scores = wasm.wasm._malloc(tokens * 4);
  try {
    simdKernelsFor(memory).attention(
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

const ATTENTION_KERNEL_CONFIG: tf.KernelConfig = {
  kernelName: ATTENTION_KERNEL,
  backendName: 'wasm',
  kernelFunc: attentionWasm as unknown as tf.KernelFunc,
};

/** Registers the kernel (once per page or process). */
export function registerAttentionKernel(): void {
  if (!tf.getKernel(ATTENTION_KERNEL, 'wasm')) tf.registerKernel(ATTENTION_KERNEL_CONFIG);
}

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

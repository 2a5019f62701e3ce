/**
 * How one call of our WASM SIMD kernels (wasmSimd.ts) is cut into parts that threads can run side by side
 * (kernelPool.ts runs them). Pure arithmetic on byte offsets: no memory, no threads.
 *
 * Why these cuts: every kernel works sample by sample along the batch (n), reading and writing rows of its own
 * sample only (sums and squares write one [C] row per sample, attention reads one sample's tokens, the affine
 * pass and the channel concatenation are element-wise), so a part that is a range of whole samples runs the very
 * same loop on the very same values as the whole call: the split result is bit for bit the single-threaded one.
 * Where the batch is smaller than the parts wanted, the element-wise kernels (affine, affineSilu, concat) are cut
 * further along the pixels; the reductions and attention are not (that would need partial sums merged, or a
 * query range the module's attention function does not take), so at batch 1 they run whole.
 *
 * Why a size threshold: handing a part to a helper costs about a microsecond when it is spinning and tens of
 * microseconds when it sleeps (Atomics.notify), while a pass over 16K floats takes a few microseconds on one core.
 * A call of at most SPLIT_MIN_ELEMENTS floats runs on the calling thread alone, as before; this keeps batch 1 of
 * the default model (32 x 32 x 16 = 16K floats at its largest GroupNorm) on the single-threaded path, where the
 * helper, asleep during the convolution before, would mostly wake too late to help.
 */

/** The module's kernels that can be split, in the order of their ids in the control block (kernelControl.ts). */
export const KERNEL_NAMES = ['sums', 'squares', 'affine', 'affineSilu', 'attention', 'concat'] as const;
export type KernelName = (typeof KERNEL_NAMES)[number];

/** One call of a kernel with its positional arguments (byte offsets and counts, as wasmSimd.ts exports take). */
export interface KernelCall {
  kernel: KernelName;
  args: number[];
}

/** At most this many parts per call (the control block's part table has this many rows). */
export const MAX_PARTS = 16;
/** A call of at most this many floats of work is not split (the coordination would cost more than it saves). */
export const SPLIT_MIN_ELEMENTS = 16384;
/** Parts are at least this many floats of work each (a part's claim and call cost well under a microsecond). */
export const MIN_PART_ELEMENTS = 2048;
/** Arguments a kernel of wasmSimd.ts takes at most (attention's eight). */
export const MAX_ARGS = 8;

/** `count` units cut into `parts` contiguous ranges whose sizes differ by at most one: [start, size] each. */
export function splitRange(count: number, parts: number): [number, number][] {
  const n = Math.max(1, Math.min(parts, count));
  const base = Math.floor(count / n);
  const extra = count % n;
  const ranges: [number, number][] = [];
  let start = 0;
  for (let k = 0; k < n; k++) {
    const size = base + (k < extra ? 1 : 0);
    ranges.push([start, size]);
    start += size;
  }
  return ranges;
}

/** How many parts a call of `work` floats over `units` separable units is worth, at most `maxParts`. */
export function partsFor(work: number, units: number, maxParts: number): number {
  if (work <= SPLIT_MIN_ELEMENTS) return 1;
  return Math.max(1, Math.min(units, maxParts, MAX_PARTS, Math.floor(work / MIN_PART_ELEMENTS)));
}

const F32 = 4;

/**
 * The parts of `call` for up to `maxParts` parts (a call not worth splitting comes back as itself, alone).
 * Each part is a call of the same kernel on a slice of the rows; attention's part k gets its own scratch row
 * (the caller gives `scores` room for one row of `tokens` floats per sample).
 */
export function splitKernelCall(call: KernelCall, maxParts: number): KernelCall[] {
  const { kernel, args } = call;
  switch (kernel) {
    case 'sums': {
      const [x, out, batch, pixels, channels] = args;
      const parts = partsFor(batch * pixels * channels, batch, maxParts);
      if (parts < 2) return [call];
      const sample = pixels * channels * F32;
      return splitRange(batch, parts).map(([n0, count]) => ({
        kernel,
        args: [x + n0 * sample, out + n0 * channels * F32, count, pixels, channels],
      }));
    }
    case 'squares': {
      const [x, centre, out, batch, pixels, channels] = args;
      const parts = partsFor(batch * pixels * channels, batch, maxParts);
      if (parts < 2) return [call];
      const sample = pixels * channels * F32;
      const row = channels * F32;
      return splitRange(batch, parts).map(([n0, count]) => ({
        kernel,
        args: [x + n0 * sample, centre + n0 * row, out + n0 * row, count, pixels, channels],
      }));
    }
    case 'affine':
    case 'affineSilu': {
      const [x, scale, shift, out, batch, pixels, channels] = args;
      const parts = partsFor(batch * pixels * channels, batch * pixels, maxParts);
      if (parts < 2) return [call];
      const sample = pixels * channels * F32;
      const row = channels * F32;
      if (batch >= parts) {
        return splitRange(batch, parts).map(([n0, count]) => ({
          kernel,
          args: [x + n0 * sample, scale + n0 * row, shift + n0 * row, out + n0 * sample, count, pixels, channels],
        }));
      }
      // Fewer samples than parts: each sample's pixels in parts / batch ranges (rounded down), one-sample calls.
      const perSample = Math.floor(parts / batch);
      return Array.from({ length: batch }, (_, n) =>
        splitRange(pixels, perSample).map(([p0, count]) => ({
          kernel,
          args: [x + n * sample + p0 * row, scale + n * row, shift + n * row, out + n * sample + p0 * row, 1, count, channels],
        })),
      ).flat(); // prettier-ignore
    }
    case 'attention': {
      const [q, k, v, out, batch, tokens, channels, scores] = args;
      const parts = partsFor(batch * tokens * tokens * channels, batch, maxParts);
      if (parts < 2) return [call];
      const sample = tokens * channels * F32;
      return splitRange(batch, parts).map(([n0, count]) => ({
        kernel,
        args: [q + n0 * sample, k + n0 * sample, v + n0 * sample, out + n0 * sample, count, tokens, channels,
          scores + n0 * tokens * F32],
      })); // prettier-ignore
    }
    case 'concat': {
      const [a, b, out, rows, aWidth, bWidth] = args;
      const parts = partsFor(rows * (aWidth + bWidth), rows, maxParts);
      if (parts < 2) return [call];
      return splitRange(rows, parts).map(([r0, count]) => ({
        kernel,
        args: [a + r0 * aWidth * F32, b + r0 * bWidth * F32, out + r0 * (aWidth + bWidth) * F32, count, aWidth, bWidth],
      })); // prettier-ignore
    }
    default: {
      const _exhaustive: never = kernel;
      throw new Error(`unknown kernel ${String(_exhaustive)}`);
    }
  }
}

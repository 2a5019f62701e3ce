import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { MAX_PARTS, partsFor, SPLIT_MIN_ELEMENTS, splitKernelCall, splitRange, type KernelCall } from './kernelSplit';
import {
  kernelsFor,
  kernelThreadStats,
  kernelThreadsUnavailable,
  startKernelPool,
  stopKernelPool,
  type KernelHelperSpawner,
} from './kernelPool';
import { seededNormal } from './random';
import { simdKernelsFor, type SimdKernels } from './wasmSimd';

const PAGE = 65536;

/** A bump allocator over a memory: 16-byte aligned float regions, optionally filled. */
function arena(memory: WebAssembly.Memory) {
  let next = 64;
  return (floats: number, values?: Float32Array): number => {
    const at = next;
    next += Math.ceil((floats * 4) / 16) * 16;
    if (next > memory.buffer.byteLength) memory.grow(Math.ceil((next - memory.buffer.byteLength) / PAGE));
    if (values) new Float32Array(memory.buffer, at, floats).set(values);
    return at;
  };
}

const read = (memory: WebAssembly.Memory, at: number, floats: number) =>
  Float32Array.from(new Float32Array(memory.buffer, at, floats));

interface Shapes {
  batch: number;
  pixels: number;
  channels: number;
  tokens: number;
}

/** Random inputs for every kernel (drawn once per test case: drawing them costs more than the kernels). */
function randomInputs(seed: number, s: Shapes) {
  const normal = seededNormal(seed);
  const draw = (length: number, scale = 1, offset = 0) =>
    Float32Array.from({ length }, () => offset + scale * normal());
  const map = s.batch * s.pixels * s.channels;
  const stat = s.batch * s.channels;
  const seq = s.batch * s.tokens * s.channels;
  return {
    shapes: s,
    x: draw(map, 2, 3),
    centre: draw(stat, 0.1, 3),
    scale: draw(stat),
    shift: draw(stat),
    q: draw(seq, 0.3),
    k: draw(seq, 0.3),
    v: draw(seq, 0.3),
    b: draw(map),
  };
}
type Inputs = ReturnType<typeof randomInputs>;

/** Every kernel once on `inputs` with `kernels`, each output in a region of its own; returns the outputs. */
function runAll(memory: WebAssembly.Memory, kernels: SimdKernels, inputs: Inputs): Float32Array[] {
  const alloc = arena(memory);
  const { batch, pixels, channels, tokens } = inputs.shapes;
  const map = batch * pixels * channels;
  const stat = batch * channels;
  const x = alloc(map, inputs.x);
  const centre = alloc(stat, inputs.centre);
  const scale = alloc(stat, inputs.scale);
  const shift = alloc(stat, inputs.shift);
  const [sums, squares, affine, affineSilu] = [stat, stat, map, map].map((n) => alloc(n));
  kernels.sums(x, sums, batch, pixels, channels);
  kernels.squares(x, centre, squares, batch, pixels, channels);
  kernels.affine(x, scale, shift, affine, batch, pixels, channels);
  kernels.affineSilu(x, scale, shift, affineSilu, batch, pixels, channels);
  const seq = batch * tokens * channels;
  const [q, k, v] = [inputs.q, inputs.k, inputs.v].map((values) => alloc(seq, values));
  const attention = alloc(seq);
  const scores = alloc(batch * tokens);
  kernels.attention(q, k, v, attention, batch, tokens, channels, scores);
  const b = alloc(map, inputs.b);
  const concat = alloc(2 * map);
  kernels.concat(x, b, concat, batch * pixels, channels, channels);
  return [
    read(memory, sums, stat),
    read(memory, squares, stat),
    read(memory, affine, map),
    read(memory, affineSilu, map),
    read(memory, attention, seq),
    read(memory, concat, 2 * map),
  ];
}

/** Asserts bitwise equality (vitest's toEqual on large typed arrays is slow): the first differing index, if any. */
function expectSameBits(actual: Float32Array[], expected: Float32Array[]): void {
  expect(actual.map((values) => values.length)).toEqual(expected.map((values) => values.length));
  actual.forEach((values, k) => {
    const [a, b] = [new Uint32Array(values.buffer), new Uint32Array(expected[k].buffer)];
    const first = a.findIndex((bits, i) => bits !== b[i]);
    expect(first, `output ${k} differs at ${first}: ${values[first]} vs ${expected[k][first]}`).toBe(-1);
  });
}

/** The kernels of `call`'s parts run one after another, through a kernels object that records the calls. */
function runParts(kernels: SimdKernels, maxParts: number): SimdKernels {
  const through =
    (kernel: KernelCall['kernel']) =>
    (...args: number[]) => {
      for (const part of splitKernelCall({ kernel, args }, maxParts))
        (kernels[part.kernel] as (...a: number[]) => void)(...part.args);
    };
  return {
    sums: through('sums'),
    squares: through('squares'),
    affine: through('affine'),
    affineSilu: through('affineSilu'),
    attention: through('attention'),
    concat: through('concat'),
  };
}

const BIG: Shapes = { batch: 11, pixels: 256, channels: 32, tokens: 64 };

describe('kernel call splitting (kernelSplit.ts)', () => {
  it('cuts a range into contiguous parts whose sizes differ by at most one', () => {
    expect(splitRange(11, 2)).toEqual([
      [0, 6],
      [6, 5],
    ]);
    expect(splitRange(3, 8)).toEqual([
      [0, 1],
      [1, 1],
      [2, 1],
    ]);
    for (const [count, parts] of [
      [11, 16],
      [1024, 7],
      [5, 5],
    ]) {
      const ranges = splitRange(count, parts);
      expect(ranges.reduce((sum, [, size]) => sum + size, 0)).toBe(count);
      ranges.forEach(([start, size], k) => {
        if (k > 0) expect(start).toBe(ranges[k - 1][0] + ranges[k - 1][1]);
        expect(size).toBeGreaterThanOrEqual(Math.floor(count / ranges.length));
        expect(size).toBeLessThanOrEqual(Math.ceil(count / ranges.length));
      });
    }
  });

  it('leaves small calls whole and caps the parts', () => {
    expect(partsFor(SPLIT_MIN_ELEMENTS, 11, 16)).toBe(1);
    expect(partsFor(SPLIT_MIN_ELEMENTS + 1, 11, 16)).toBe(8);
    expect(partsFor(11 * 1024 * 16, 11, 16)).toBe(11);
    expect(partsFor(1 << 24, 1000, 64)).toBe(MAX_PARTS);
    // Batch 1 of the default model's largest GroupNorm (32 x 32 x 16): whole, every pass.
    expect(splitKernelCall({ kernel: 'sums', args: [0, 0, 1, 1024, 16] }, 16)).toHaveLength(1);
    expect(splitKernelCall({ kernel: 'affineSilu', args: [0, 0, 0, 0, 1, 1024, 16] }, 16)).toHaveLength(1);
    // The reductions are never cut inside a sample; the element-wise passes are.
    expect(splitKernelCall({ kernel: 'sums', args: [0, 0, 1, 4096, 32] }, 16)).toHaveLength(1);
    const affine = splitKernelCall({ kernel: 'affineSilu', args: [0, 1000, 2000, 3000, 1, 4096, 32] }, 16);
    expect(affine.length).toBeGreaterThan(1);
    expect(affine.map((part) => part.args[5]).reduce((a, b) => a + b)).toBe(4096);
  });

  it('lays out batch-11 parts on whole samples with their own stat rows and attention scratch', () => {
    const [x, out, pixels, channels] = [1024, 64, 1024, 16];
    const parts = splitKernelCall({ kernel: 'sums', args: [x, out, 11, pixels, channels] }, 16);
    expect(parts).toHaveLength(11);
    parts.forEach((part, n) => expect(part.args).toEqual([x + n * pixels * channels * 4, out + n * channels * 4, 1, pixels, channels]));
    const attention = splitKernelCall({ kernel: 'attention', args: [0, 0, 0, 0, 11, 64, 32, 512] }, 2);
    expect(attention.map((part) => [part.args[4], part.args[7]])).toEqual([
      [6, 512],
      [5, 512 + 6 * 64 * 4],
    ]);
  }); // prettier-ignore

  it.each([
    ['batch 11', BIG],
    ['batch 3', { ...BIG, batch: 3 }],
    ['batch 1', { ...BIG, batch: 1, pixels: 1024 }],
  ])('parts run one after another equal the whole call bit for bit (%s)', (_, shapes) => {
    const whole = new WebAssembly.Memory({ initial: 1 });
    const split = new WebAssembly.Memory({ initial: 1 });
    const inputs = randomInputs(7, shapes);
    const expected = runAll(whole, simdKernelsFor(whole), inputs);
    const actual = runAll(split, runParts(simdKernelsFor(split), 16), inputs);
    expectSameBits(actual, expected);
  });
});

/** Node worker threads running kernelHelper.ts's loop (src/model/testing/kernelHelperNode.ts, through tsx). */
function nodeSpawner(started: Worker[]): KernelHelperSpawner {
  return (init, onFailure) => {
    // A TypeScript entry loaded through tsx's API (Node 20's workers take no --import loader).
    const entry = JSON.stringify(new URL('./testing/kernelHelperNode.ts', import.meta.url).href);
    const bootstrap = `import('tsx/esm/api').then(({ tsImport }) => tsImport(${entry}, ${entry}));`;
    const worker = new Worker(bootstrap, { eval: true });
    worker.on('error', (error) => onFailure(error.message));
    worker.postMessage(init);
    started.push(worker);
    return { terminate: () => void worker.terminate() };
  };
}

describe('kernel pool (kernelPool.ts) on Node worker threads', () => {
  const memories: WebAssembly.Memory[] = [];
  afterEach(() => {
    for (const memory of memories.splice(0)) stopKernelPool(memory);
  });
  const sharedMemory = () => {
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 2048, shared: true });
    memories.push(memory);
    return memory;
  };

  it.each([1, 3])('with %i helper(s), every kernel equals the single-threaded one bit for bit', async (helpers) => {
    const reference = new WebAssembly.Memory({ initial: 1 });
    const memory = sharedMemory();
    const started = await startKernelPool(memory, helpers, nodeSpawner([]), 30_000);
    expect(started).toMatchObject({ helpers, ready: helpers, active: true });
    for (const [seed, shapes] of [
      [1, BIG],
      [2, { ...BIG, batch: 2 }],
      [3, { ...BIG, batch: 1, pixels: 4096 }],
    ] as const) {
      const inputs = randomInputs(seed, shapes);
      const expected = runAll(reference, simdKernelsFor(reference), inputs);
      // Repeated, so that the helpers, not only the engine thread, run parts of every kernel.
      for (let round = 0; round < 10; round++) {
        const actual = runAll(memory, kernelsFor(memory), inputs);
        expectSameBits(actual, expected);
      }
    }
    const stats = kernelThreadStats(memory)!;
    expect(stats.jobs).toBeGreaterThan(0);
    expect(stats.helperParts).toBeGreaterThan(0);
    expect(stats.stopped).toBeNull();
  });

  it('falls back to the engine thread alone when a helper fails, with the same results', async () => {
    const memory = sharedMemory();
    const failing: KernelHelperSpawner = () => {
      throw new Error('no workers here');
    };
    expect(await startKernelPool(memory, 1, failing, 100)).toMatch(/could not start: no workers here/);
    expect(kernelThreadStats(memory)).toMatchObject({ active: false, jobs: 0 });
    const reference = new WebAssembly.Memory({ initial: 1 });
    const inputs = randomInputs(4, BIG);
    const expected = runAll(reference, simdKernelsFor(reference), inputs);
    expectSameBits(runAll(memory, kernelsFor(memory), inputs), expected);
    expect(kernelThreadStats(memory)?.jobs).toBe(0);
  });

  it('starts no pool without a shared memory or with one thread', async () => {
    const plain = new WebAssembly.Memory({ initial: 1 });
    expect(kernelThreadsUnavailable(plain)).toMatch(/without threads/);
    expect(await startKernelPool(plain, 1, nodeSpawner([]))).toMatch(/without threads/);
    expect(await startKernelPool(sharedMemory(), 0, nodeSpawner([]))).toMatch(/one thread/);
    expect(kernelsFor(plain)).toBe(simdKernelsFor(plain));
  });
});

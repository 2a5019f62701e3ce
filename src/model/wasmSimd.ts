/**
 * A small WebAssembly SIMD module of our own for the two denoiser stages that tfjs-backend-wasm runs as many
 * small kernels or as a scalar loop: GroupNorm (+ SiLU) and single-head self-attention. It works in place on
 * tfjs-backend-wasm's own linear memory (imported, so no copies); groupNormKernel.ts and attentionKernel.ts
 * register its functions as kernels of the 'wasm' backend through tfjs's kernel registry.
 *
 * Why a hand-assembled module: the bytes are written here by a few-line encoder of the WebAssembly binary
 * format (core spec §5, SIMD opcodes from the fixed-width SIMD proposal), so the project needs no compiler
 * toolchain and the source of the kernel is this file. Every function is straight-line loops over f32x4
 * vectors; C (channels) must be a multiple of 4 and, for attention, so must the token count (callers check).
 *
 * Exports (all pointers are byte offsets into the shared memory, all tensors float32, NHWC rows):
 * - `sums(x, out, batch, pixels, channels)`: out[n, c] = sum_p x[n, p, c]
 * - `squares(x, centre, out, batch, pixels, channels)`: out[n, c] = sum_p (x[n, p, c] - centre[n, c])^2
 * - `affine(x, scale, shift, out, batch, pixels, channels)`: out[n, p, c] = x[n, p, c] * scale[n, c] + shift[n, c]
 * - `affineSilu(...)`: the same followed by SiLU, y * sigmoid(y)
 * - `concat(a, b, out, rows, aWidth, bWidth)`: out[r] = [a[r], b[r]], rows of aWidth and bWidth floats
 * - `attention(q, k, v, out, batch, tokens, channels, scores)`: out[n, i] = softmax_j(q[n, i] . k[n, j]) v[n, j];
 *   `scores` is scratch space for `tokens` floats
 */

// ---------------------------------------------------------------------------------------------------------------
// Binary encoding (WebAssembly core spec §5.1-5.5)

function u32(value: number): number[] {
  const bytes: number[] = [];
  let v = value >>> 0;
  do {
    let byte = v & 0x7f;
    v >>>= 7;
    if (v !== 0) byte |= 0x80;
    bytes.push(byte);
  } while (v !== 0);
  return bytes;
}

function s32(value: number): number[] {
  const bytes: number[] = [];
  let v = value | 0;
  for (;;) {
    const byte = v & 0x7f;
    v >>= 7;
    if ((v === 0 && (byte & 0x40) === 0) || (v === -1 && (byte & 0x40) !== 0)) {
      bytes.push(byte);
      return bytes;
    }
    bytes.push(byte | 0x80);
  }
}

function f32Bytes(value: number): number[] {
  return Array.from(new Uint8Array(new Float32Array([value]).buffer));
}

const vec = (items: number[][]): number[] => [...u32(items.length), ...items.flat()];
const name = (text: string): number[] => vec([...new TextEncoder().encode(text)].map((b) => [b]));
const section = (id: number, body: number[]): number[] => [id, ...u32(body.length), ...body];

const I32 = 0x7f;
const F32 = 0x7d;
const V128 = 0x7b;

// ---------------------------------------------------------------------------------------------------------------
// Instructions

type Code = number[];
const simd = (op: number): Code => [0xfd, ...u32(op)];
const memarg = (align: number, offset = 0): Code => [...u32(align), ...u32(offset)];

const get = (local: number): Code => [0x20, ...u32(local)];
const set = (local: number): Code => [0x21, ...u32(local)];
const i32 = (value: number): Code => [0x41, ...s32(value)];
const f32 = (value: number): Code => [0x43, ...f32Bytes(value)];
const I32_ADD = [0x6a];
const I32_MUL = [0x6c];
const I32_GE_U = [0x4f];
const F32_ADD = [0x92];
const F32_DIV = [0x95];
const F32_MAX = [0x97];
const F32_LOAD = [0x2a, ...memarg(2)];
const F32_STORE = [0x38, ...memarg(2)];
const V_LOAD = [...simd(0x00), ...memarg(4)];
const V_STORE = [...simd(0x0b), ...memarg(4)];
const F4_SPLAT = simd(0x13);
const lane = (k: number): Code => [...simd(0x1f), k];
const BITSELECT = simd(0x52);
const F4_GE = simd(0x46);
const F4_ABS = simd(0xe0);
const F4_NEG = simd(0xe1);
const F4_ADD = simd(0xe4);
const F4_SUB = simd(0xe5);
const F4_MUL = simd(0xe6);
const F4_DIV = simd(0xe7);
const F4_PMAX = simd(0xeb); // f32x4.pmax: b if a < b else a (one maxps; no NaN or -0 fix-ups)
const I4_SHL = simd(0xab);
const splat = (value: number): Code => [...f32(value), ...F4_SPLAT];
/** v128.const of four equal f32 lanes (a constant the compiler can keep out of the loop). */
const vconst = (value: number): Code => [...simd(0x0c), ...[0, 1, 2, 3].flatMap(() => f32Bytes(value))];

/** `for (i = start; i < limit; i += step) body`, with i, limit and step locals or constants already set. */
function loop(counter: number, limit: Code, step: Code, body: Code): Code {
  return [
    0x02, 0x40, // block
    0x03, 0x40, // loop
    ...get(counter), ...limit, ...I32_GE_U, 0x0d, 1, // br_if to the block's end once i >= limit
    ...body,
    ...get(counter), ...step, ...I32_ADD, ...set(counter),
    0x0c, 0, // br to the loop's start
    0x0b, 0x0b,
  ]; // prettier-ignore
}

/**
 * e^r ~ 1 + r (c1 + r (c2 + r (c3 + r (c4 + r c5)))) on [-ln2 / 2, ln2 / 2]: XNNPACK's minimax coefficients for its
 * f32 exp and sigmoid kernels (written there as 0x1.0F9F9Cp-7, 0x1.573A1Ap-5, 0x1.555A80p-3, 0x1.FFFDC6p-2,
 * 0x1.FFFFF6p-1), within a few float ulps of e^r; listed highest power first, for Horner.
 */
const EXP_HORNER = [
  0.008289290592074394, 0.04189782217144966, 0.16667652130126953, 0.4999915063381195, 0.9999997019767761, 1,
];
/** Every constant expNonPositive uses (to keep them in locals across a loop). */
const EXP_CONSTANTS = [-87, 1.4426950408889634, 12582912 + 127, 0.693359375, -2.1219444e-4, ...new Set(EXP_HORNER)];

/**
 * exp(u) for u <= 0 on the f32x4 on the stack (consumed), as XNNPACK's f32 sigmoid kernels compute it: the
 * Cody-Waite reduction u = n ln2 + r (|r| <= ln2 / 2) with n rounded by adding a magic bias whose low mantissa
 * bits then hold n + 127, so shifting them into the exponent field gives 2^n with no float-to-int conversion;
 * e^r by XNNPACK's degree-5 minimax polynomial (EXP_HORNER). u is clamped at -87, where e^u
 * ~ 1.6e-38 is still a normal float. tmp, n and scale are v128 locals.
 */
function expNonPositive(tmp: number, n: number, scale: number, constant: (value: number) => Code = vconst): Code {
  const LOG2E = 1.4426950408889634;
  const MAGIC = 12582912 + 127; // 1.5 * 2^23 + exponent bias
  const LN2_HI = 0.693359375; // 9 significant bits, so n * LN2_HI is exact (Cephes expf)
  const LN2_LO = -2.1219444e-4;
  const horner = EXP_HORNER;
  return [
    ...constant(-87), ...F4_PMAX, ...set(tmp),
    ...get(tmp), ...constant(LOG2E), ...F4_MUL, ...constant(MAGIC), ...F4_ADD, ...set(n),
    ...get(n), ...i32(23), ...I4_SHL, ...set(scale),
    ...get(n), ...constant(MAGIC), ...F4_SUB, ...set(n),
    // r = u - n ln2_hi - n ln2_lo
    ...get(tmp), ...get(n), ...constant(LN2_HI), ...F4_MUL, ...F4_SUB,
    ...get(n), ...constant(LN2_LO), ...F4_MUL, ...F4_SUB, ...set(tmp),
    // p(r) by Horner, times 2^n
    ...constant(horner[0]),
    ...horner.slice(1).flatMap((c) => [...get(tmp), ...F4_MUL, ...constant(c), ...F4_ADD]),
    ...get(scale), ...F4_MUL,
  ]; // prettier-ignore
}

interface FunctionSpec {
  name: string;
  params: number;
  /** Locals after the parameters, by type. */
  locals: { i32: number; v128: number; f32?: number };
  body: Code;
}

/**
 * `sums` and `squares`: per-sample, per-channel sums over the pixels, in one sequential pass over the map (the
 * C running sums live in the output row, which stays in L1), so a batch-11 map that does not fit the cache is
 * still read once.
 */
function momentsFunction(square: boolean): FunctionSpec {
  // params: x, [centre], out, batch, pixels, channels
  const x = 0;
  const centre = 1;
  const out = square ? 2 : 1;
  const batch = out + 1;
  const pixels = out + 2;
  const channels = out + 3;
  const n = out + 4; // locals (i32)
  const c = n + 1;
  const p = n + 2;
  const ptr = n + 3;
  const rowBytes = n + 4;
  const statRow = n + 5;
  const statAt = n + 6;
  const d = n + 7; // v128
  const term = square
    ? [...get(ptr), ...V_LOAD, ...get(centre), ...get(statAt), ...I32_ADD, ...V_LOAD, ...F4_SUB, ...set(d), ...get(d), ...get(d), ...F4_MUL] // prettier-ignore
    : [...get(ptr), ...V_LOAD];
  const body: Code = [
    ...get(channels), ...i32(4), ...I32_MUL, ...set(rowBytes),
    ...get(x), ...set(ptr),
    ...i32(0), ...set(n),
    ...loop(n, get(batch), i32(1), [
      ...get(n), ...get(rowBytes), ...I32_MUL, ...set(statRow),
      ...i32(0), ...set(c),
      ...loop(c, get(rowBytes), i32(16), [...get(out), ...get(statRow), ...I32_ADD, ...get(c), ...I32_ADD, ...splat(0), ...V_STORE]),
      ...i32(0), ...set(p),
      ...loop(p, get(pixels), i32(1), [
        ...i32(0), ...set(c),
        ...loop(c, get(rowBytes), i32(16), [
          ...get(statRow), ...get(c), ...I32_ADD, ...set(statAt),
          ...get(out), ...get(statAt), ...I32_ADD,
          ...get(out), ...get(statAt), ...I32_ADD, ...V_LOAD, ...term, ...F4_ADD,
          ...V_STORE,
          ...get(ptr), ...i32(16), ...I32_ADD, ...set(ptr),
        ]),
      ]),
    ]),
  ]; // prettier-ignore
  return { name: square ? 'squares' : 'sums', params: square ? 6 : 5, locals: { i32: 7, v128: 1 }, body };
}

/** `affine` and `affineSilu`: y = x * scale[n, c] + shift[n, c] (then SiLU), in memory order. */
function affineFunction(silu: boolean): FunctionSpec {
  // params: x, scale, shift, out, batch, pixels, channels
  const [x, scale, shift, out, batch, pixels, channels] = [0, 1, 2, 3, 4, 5, 6];
  const n = 7; // locals (i32)
  const p = 8;
  const c = 9;
  const src = 10;
  const dst = 11;
  const statBase = 12;
  const y = 13; // v128
  const tmp = 14;
  const e = 15;
  const scaleBits = 16;
  const constants = 17; // v128 locals holding EXP_CONSTANTS, then 1 and 0
  const constantLocal = (value: number): Code => {
    const k = [...EXP_CONSTANTS, 1, 0].indexOf(value);
    if (k < 0) throw new Error(`no local holds the constant ${value}`);
    return get(constants + k);
  };
  const sigmoid = silu
    ? [
        // sigmoid(y) = 1 / (1 + e^-|y|) for y >= 0, e^-|y| / (1 + e^-|y|) otherwise: e^-|y| never overflows
        ...get(y), ...F4_ABS, ...F4_NEG, ...expNonPositive(tmp, e, scaleBits, constantLocal), ...set(e),
        ...get(y),
        ...constantLocal(1), ...get(e), ...get(y), ...constantLocal(0), ...F4_GE, ...BITSELECT,
        ...constantLocal(1), ...get(e), ...F4_ADD, ...F4_DIV, ...F4_MUL, ...set(y),
      ] // prettier-ignore
    : [];
  const body: Code = [
    ...(silu ? [...EXP_CONSTANTS, 1, 0].flatMap((value, k) => [...vconst(value), ...set(constants + k)]) : []),
    ...get(x), ...set(src),
    ...get(out), ...set(dst),
    ...i32(0), ...set(n),
    ...loop(n, get(batch), i32(1), [
      ...get(n), ...get(channels), ...I32_MUL, ...i32(4), ...I32_MUL, ...set(statBase),
      ...i32(0), ...set(p),
      ...loop(p, get(pixels), i32(1), [
        ...i32(0), ...set(c),
        ...loop(c, get(channels), i32(4), [
          ...get(src), ...V_LOAD,
          ...get(scale), ...get(statBase), ...I32_ADD, ...get(c), ...i32(4), ...I32_MUL, ...I32_ADD, ...V_LOAD, ...F4_MUL,
          ...get(shift), ...get(statBase), ...I32_ADD, ...get(c), ...i32(4), ...I32_MUL, ...I32_ADD, ...V_LOAD, ...F4_ADD,
          ...set(y),
          ...sigmoid,
          ...get(dst), ...get(y), ...V_STORE,
          ...get(src), ...i32(16), ...I32_ADD, ...set(src),
          ...get(dst), ...i32(16), ...I32_ADD, ...set(dst),
        ]),
      ]),
    ]),
  ]; // prettier-ignore
  return {
    name: silu ? 'affineSilu' : 'affine',
    params: 7,
    locals: { i32: 6, v128: 4 + EXP_CONSTANTS.length + 2 },
    body,
  };
}

/** Horizontal sum of the f32x4 in local `v`, left on the stack as an f32. */
const horizontalSum = (v: number): Code => [
  ...get(v), ...lane(0), ...get(v), ...lane(1), ...F32_ADD, ...get(v), ...lane(2), ...get(v), ...lane(3), ...F32_ADD, ...F32_ADD,
]; // prettier-ignore

/**
 * `attention`: for each sample and query token i, scores s_j = q_i . k_j, weights e_j = exp(s_j - max s), and
 * out_i = sum_j e_j v_j / sum_j e_j (softmax as tf.softmax computes it, the maximum subtracted first).
 */
function attentionFunction(): FunctionSpec {
  const [q, k, v, out, batch, tokens, channels, scores] = [0, 1, 2, 3, 4, 5, 6, 7];
  const n = 8; // locals (i32)
  const i = 9;
  const j = 10;
  const c = 11;
  const rowBytes = 12;
  const sampleOffset = 13;
  const qRow = 14;
  const kRow = 15;
  const outRow = 16;
  const acc = 17; // v128
  const tmp = 18;
  const e = 19;
  const weight = 20;
  const scaleBits = 21;
  const maxScore = 22; // f32
  const total = 23;
  const scoreAt = (index: number): Code => [...get(scores), ...get(index), ...i32(4), ...I32_MUL, ...I32_ADD];
  const body: Code = [
    ...get(channels), ...i32(4), ...I32_MUL, ...set(rowBytes),
    ...i32(0), ...set(n),
    ...loop(n, get(batch), i32(1), [
      ...get(n), ...get(tokens), ...I32_MUL, ...get(rowBytes), ...I32_MUL, ...set(sampleOffset),
      ...i32(0), ...set(i),
      ...loop(i, get(tokens), i32(1), [
        ...get(q), ...get(sampleOffset), ...I32_ADD, ...get(i), ...get(rowBytes), ...I32_MUL, ...I32_ADD, ...set(qRow),
        // scores and their maximum
        ...f32(-Infinity), ...set(maxScore),
        ...i32(0), ...set(j),
        ...loop(j, get(tokens), i32(1), [
          ...get(k), ...get(sampleOffset), ...I32_ADD, ...get(j), ...get(rowBytes), ...I32_MUL, ...I32_ADD, ...set(kRow),
          ...splat(0), ...set(acc),
          ...i32(0), ...set(c),
          ...loop(c, get(rowBytes), i32(16), [
            ...get(acc),
            ...get(qRow), ...get(c), ...I32_ADD, ...V_LOAD,
            ...get(kRow), ...get(c), ...I32_ADD, ...V_LOAD,
            ...F4_MUL, ...F4_ADD, ...set(acc),
          ]),
          ...scoreAt(j), ...horizontalSum(acc), ...F32_STORE,
          ...get(maxScore), ...scoreAt(j), ...F32_LOAD, ...F32_MAX, ...set(maxScore),
        ]),
        // weights e_j = exp(s_j - max) in place, and their total
        ...splat(0), ...set(acc),
        ...i32(0), ...set(j),
        ...loop(j, get(tokens), i32(4), [
          ...scoreAt(j),
          ...scoreAt(j), ...V_LOAD, ...get(maxScore), ...F4_SPLAT, ...F4_SUB, ...expNonPositive(tmp, e, scaleBits), ...set(weight),
          ...get(weight), ...V_STORE,
          ...get(acc), ...get(weight), ...F4_ADD, ...set(acc),
        ]),
        ...f32(1), ...horizontalSum(acc), ...F32_DIV, ...set(total), // 1 / sum
        // out_i = (sum_j e_j v_j) / sum_j e_j, accumulated in the output row
        ...get(out), ...get(sampleOffset), ...I32_ADD, ...get(i), ...get(rowBytes), ...I32_MUL, ...I32_ADD, ...set(outRow),
        ...i32(0), ...set(c),
        ...loop(c, get(rowBytes), i32(16), [...get(outRow), ...get(c), ...I32_ADD, ...splat(0), ...V_STORE]),
        ...i32(0), ...set(j),
        ...loop(j, get(tokens), i32(1), [
          ...get(v), ...get(sampleOffset), ...I32_ADD, ...get(j), ...get(rowBytes), ...I32_MUL, ...I32_ADD, ...set(kRow),
          ...scoreAt(j), ...F32_LOAD, ...F4_SPLAT, ...set(weight),
          ...i32(0), ...set(c),
          ...loop(c, get(rowBytes), i32(16), [
            ...get(outRow), ...get(c), ...I32_ADD,
            ...get(outRow), ...get(c), ...I32_ADD, ...V_LOAD,
            ...get(kRow), ...get(c), ...I32_ADD, ...V_LOAD, ...get(weight), ...F4_MUL,
            ...F4_ADD, ...V_STORE,
          ]),
        ]),
        ...get(total), ...F4_SPLAT, ...set(weight),
        ...i32(0), ...set(c),
        ...loop(c, get(rowBytes), i32(16), [
          ...get(outRow), ...get(c), ...I32_ADD,
          ...get(outRow), ...get(c), ...I32_ADD, ...V_LOAD, ...get(weight), ...F4_MUL, ...V_STORE,
        ]),
      ]),
    ]),
  ]; // prettier-ignore
  return { name: 'attention', params: 8, locals: { i32: 9, v128: 5, f32: 2 }, body };
}

/** `concat`: out[r] = [a[r], b[r]] for each of `rows` rows of aWidth and bWidth floats (channels of NHWC maps). */
function concatFunction(): FunctionSpec {
  const [a, b, out, rows, aWidth, bWidth] = [0, 1, 2, 3, 4, 5];
  const r = 6; // locals (i32)
  const k = 7;
  const aBytes = 8;
  const bBytes = 9;
  const copyRow = (src: number, bytes: number): Code => [
    ...i32(0), ...set(k),
    ...loop(k, get(bytes), i32(16), [...get(out), ...get(k), ...I32_ADD, ...get(src), ...get(k), ...I32_ADD, ...V_LOAD, ...V_STORE]),
    ...get(src), ...get(bytes), ...I32_ADD, ...set(src),
    ...get(out), ...get(bytes), ...I32_ADD, ...set(out),
  ]; // prettier-ignore
  const body: Code = [
    ...get(aWidth), ...i32(4), ...I32_MUL, ...set(aBytes),
    ...get(bWidth), ...i32(4), ...I32_MUL, ...set(bBytes),
    ...i32(0), ...set(r),
    ...loop(r, get(rows), i32(1), [...copyRow(a, aBytes), ...copyRow(b, bBytes)]),
  ]; // prettier-ignore
  return { name: 'concat', params: 6, locals: { i32: 4, v128: 0 }, body };
}

/** The module's bytes; `shared` matches the imported memory of tfjs's threaded binary (SharedArrayBuffer). */
export function buildSimdModule(shared: boolean): Uint8Array<ArrayBuffer> {
  const functions = [
    concatFunction(),
    momentsFunction(false),
    momentsFunction(true),
    affineFunction(false),
    affineFunction(true),
    attentionFunction(),
  ];
  const typeOf = (spec: FunctionSpec) => [0x60, ...vec(Array.from({ length: spec.params }, () => [I32])), ...vec([])];
  const memoryType = shared ? [0x03, ...u32(0), ...u32(65536)] : [0x00, ...u32(0)];
  const body = (spec: FunctionSpec) => {
    const groups = [
      [...u32(spec.locals.i32), I32],
      [...u32(spec.locals.v128), V128],
    ];
    if (spec.locals.f32) groups.push([...u32(spec.locals.f32), F32]);
    const code = [...vec(groups), ...spec.body, 0x0b];
    return [...u32(code.length), ...code];
  };
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec(functions.map(typeOf))),
    ...section(2, vec([[...name('env'), ...name('memory'), 0x02, ...memoryType]])),
    ...section(3, vec(functions.map((_, index) => u32(index)))),
    ...section(7, vec(functions.map((spec, index) => [...name(spec.name), 0x00, ...u32(index)]))),
    ...section(10, vec(functions.map(body))),
  ]); // prettier-ignore
}

/** The module's functions, bound to one memory. */
export interface SimdKernels {
  sums(x: number, out: number, batch: number, pixels: number, channels: number): void;
  squares(x: number, centre: number, out: number, batch: number, pixels: number, channels: number): void;
  affine(x: number, scale: number, shift: number, out: number, batch: number, pixels: number, channels: number): void;
  affineSilu(
    x: number,
    scale: number,
    shift: number,
    out: number,
    batch: number,
    pixels: number,
    channels: number,
  ): void;
  concat(a: number, b: number, out: number, rows: number, aWidth: number, bWidth: number): void;
  attention(
    q: number,
    k: number,
    v: number,
    out: number,
    batch: number,
    tokens: number,
    channels: number,
    scores: number,
  ): void;
}

const compiled = new Map<boolean, WebAssembly.Module>();
const instances = new WeakMap<WebAssembly.Memory, SimdKernels>();

/** Whether `memory` is a shared WebAssembly.Memory (tfjs's threaded binary). */
export const isSharedMemory = (memory: WebAssembly.Memory): boolean =>
  typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;

/**
 * The compiled module for a shared or an unshared memory (compiled once; kernelPool.ts posts the shared one to
 * its helper threads, which instantiate it on the same memory). Synchronous compilation is fine here: the module
 * is about 2 KB, under the 4 KB that browsers allow synchronously even on a page's main thread.
 */
export function simdModule(shared: boolean): WebAssembly.Module {
  let module = compiled.get(shared);
  if (!module) {
    module = new WebAssembly.Module(buildSimdModule(shared));
    compiled.set(shared, module);
  }
  return module;
}

/** The kernels instantiated on `memory`, on the calling thread (once per memory). */
export function simdKernelsFor(memory: WebAssembly.Memory): SimdKernels {
  let kernels = instances.get(memory);
  if (!kernels) {
    const module = simdModule(isSharedMemory(memory));
    kernels = new WebAssembly.Instance(module, { env: { memory } }).exports as unknown as SimdKernels;
    instances.set(memory, kernels);
  }
  return kernels;
}

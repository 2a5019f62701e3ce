/**
 * The engine benchmark: every backend side by side in one run, in headless Chromium (the engine worker, driven
 * through the harness page) and in Node (the engine core in-process, as the CLI runs).
 *
 *   npm run bench -- <model folder> [<model folder> ...] [--synthetic train/configs/<preset>.json ...]
 *                    [--backends webgpu,webgl,wasm,cpu] [--node-backends wasm,cpu] [--repeats N]
 *                    [--onnx <onnx_export folder> ...] [--gpu swiftshader|hardware] [--out bench-results/name.json]
 *                    [--no-build] [--drag [--drag-backend wasm] [--drag-ms 8000] [--drag-gpu none|browser]
 *                    [--drag-trace <folder>]]
 *
 * `--drag` also drags a latent slider in the built app (src/cli/benchDrag.ts) for each bundled model given
 * (public/models/<id>), with the model's distilled student previews and with DDIM previews, side by side: frames
 * per second while the slider is held and the median latency from a change to its frame. A drag on a CPU backend
 * runs in a Chromium without a GPU (software compositing, as on a machine without one: DragGpu below).
 *
 * `--synthetic` benchmarks a model of a training preset's architecture with random weights (written once into
 * node_modules/.cache/infodiff-bench/): timings do not depend on the weights, so the size of a model can be
 * measured before it is trained.
 *
 * Per model and backend: cold start (worker start + weights + compile-only warm-up at batch 1 and 11), ms per
 * denoiser call at batch 1 and 11, ms per image for 5/10/20 DDIM steps, encode and 20-step inversion time,
 * kernels per denoiser call (tfjs profile: on WebGPU each kernel is one compute dispatch unless it ran on the
 * CPU-forward path) and FLOPs per call (model stats). With Node WASM in the run, also the denoiser's ms per
 * call with our WASM SIMD kernels for GroupNorm and attention (what WASM runs) against the tfjs op composites
 * they replaced (the INFODIFF_WASM_KERNELS flag off), the two interleaved call by call in one engine so that the
 * load of a shared machine falls on both alike. With `--onnx <folder>` (written by `python3 -m
 * infodiff.onnx_export`), the same denoiser in onnxruntime-web's WASM execution provider, 1 and 2 threads, in the
 * same Chromium, as the peer to beat, timed in turn with tfjs WASM on 1 thread and on 2 (in a page whose engine
 * worker is told it has 4 cores: EMULATED_CORES). Numbers are recorded, not asserted: JSON in bench-results/, a Markdown
 * table beside it (copied into docs/benchmarks.md by hand, with the machine).
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { cpus, totalmem, release, platform } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { existsSync, readFileSync } from 'node:fs';
import { chromium, type Browser, type Page } from '@playwright/test';
import * as tf from '@tensorflow/tfjs-core';
import { CHROMIUM, HARDWARE_GPU_ARGS, QUIET_ARGS, WEBGPU_ARGS } from '../../playwright.config';
import type { HarnessApi, HarnessLoad, PlainImages, PlainLatents } from '../../e2e/harness/api';
import { createRng } from '../diffusion/index';
import {
  loadModelPackage,
  npyToFloat32,
  parseNpy,
  randomParameters,
  resolveArchitecture,
  resolveSchedule,
  syntheticModelMetadata,
  writeModelPackage,
  writtenPackageFiles,
} from '../model/index';
import { WASM_KERNELS_FLAG } from '../model/groupNormKernel';
import { CROSS_ORIGIN_ISOLATION_HEADERS } from '../../vite.config';
import { isSoftwareAdapter, selectBackend } from '../engine/backend';
import { Engine } from '../engine/engine';
import type {
  AdapterInfo,
  BackendName,
  EngineRequest,
  EngineResponse,
  ProfileResult,
  ResultByKind,
} from '../engine/protocol';
import { benchSliderDrag, dragTable, type DragOptions, type DragResult } from './benchDrag';
import { buildApp, buildHarness, REPO_ROOT } from './buildHarness';
import { fsPackageFiles } from './fsPackageFiles';
import { startStaticServer } from './staticServer';

const GRID_BATCH = 11;
const SAMPLE_STEPS = [5, 10, 20];
const INVERT_STEPS = 20;

/** One backend's figures for one model; `unavailable` instead when the backend could not be used. */
export interface BackendBench {
  runtime: 'browser' | 'node';
  backend: BackendName;
  unavailable?: string;
  reason?: string;
  adapter?: AdapterInfo | null;
  coldStartMs?: number;
  loadMs?: number;
  compileMs?: number;
  msPerCall?: { batch1: number; batch11: number };
  msPerImage?: Record<string, number>;
  encodeMs?: number;
  invertMs?: number;
  kernelsPerCall?: number;
  dispatchesPerCall?: number | null;
  topKernels?: [string, number][];
}

export interface ModelBench {
  folder: string;
  modelId: string;
  architecture: HarnessLoad['architecture'];
  parameters: number;
  denoiserFlops: number;
  encoderFlops: number;
  backends: BackendBench[];
  /** Node WASM only: our WASM SIMD kernels against the op composites they replace (absent without Node WASM). */
  kernelComparison?: KernelComparison;
  /** onnxruntime-web against the browser tfjs WASM engine (only with --onnx for this model). */
  peerComparison?: PeerComparison;
  /** The slider drag in the built app, student and DDIM previews (only with --drag). */
  drag?: { options: Omit<DragOptions, 'origin'>; results: DragResult[] };
}

/** onnxruntime-web running the package's denoiser exported to ONNX, in the same Chromium. */
export interface PeerBench {
  runtime: string;
  /** Threads asked of onnxruntime-web (more than 1 needs a cross-origin isolated page). */
  threads: number;
  crossOriginIsolated?: boolean;
  /** Timed calls (after one untimed call per batch size), ms. */
  callMs?: { batch1: number[]; batch11: number[] };
  /** max|ort - torch| / max|torch| of eps on the export's check batch (PyTorch's output written by onnx_export). */
  relativeErrorVsTorch?: number;
  unavailable?: string;
}

/**
 * Browser tfjs WASM (the engine worker of the harness page) and onnxruntime-web, one denoiser call of each in
 * turn per round, so the load of a shared machine falls on all alike.
 */
export interface PeerComparison {
  rounds: number;
  /** Timed calls of each runtime per round (after its own untimed call). */
  callsPerRound: number;
  /** The tfjs engine's backend note (binary and threads). */
  tfjsBackend: string;
  tfjsCallMs: { batch1: number[]; batch11: number[] };
  /**
   * A second tfjs WASM engine in a page whose engine worker sees navigator.hardwareConcurrency = 4
   * (EMULATED_CORES), where tfjs grants 2 XNNPACK threads; absent when it could not start.
   */
  tfjsThreaded?: { backend: string; callMs: { batch1: number[]; batch11: number[] } };
  peers: PeerBench[];
}

/**
 * Denoiser ms per call on Node WASM with our SIMD kernels (GroupNorm, attention, skip concatenation; what runs
 * now) against the op composites they replaced (pooled GroupNorm, matMul + softmax attention, tf.concat; the
 * INFODIFF_WASM_KERNELS flag off).
 */
export interface KernelComparison {
  /** Rounds; each times one call per variant and batch size, in alternation. */
  rounds: number;
  kernelsPerCall: Record<'batch1' | 'batch11', { simd: number; composite: number }>;
  callMs: Record<'batch1' | 'batch11', { simd: number[]; composite: number[] }>;
}

interface Options {
  folders: string[];
  synthetic: string[];
  backends: BackendName[];
  nodeBackends: ('wasm' | 'cpu')[];
  repeats: number;
  out?: string;
  build: boolean;
  /** onnx_export output folders, matched to models by the modelId in their onnx_export.json. */
  onnx: string[];
  /**
   * 'swiftshader' (default): Chromium's software GPU, as the e2e tests run. 'hardware': the machine's GPU over
   * Vulkan; a WebGPU or WebGL backend that still lands on a software adapter is refused, not measured.
   */
  gpu: 'swiftshader' | 'hardware';
  /** Drag a slider in the built app on this backend (--drag); null: no drag. */
  drag: DragSettings | null;
}

/**
 * The browser a drag runs in (--drag-gpu). 'none': Chromium without a GPU (`--disable-gpu`), which composites the
 * page in software, as it does on a machine without one; the default for the CPU backends (wasm, cpu), since the
 * bench's WebGPU flags make Chromium emulate a GPU with SwiftShader, whose threads took about 0.8 of the two cores
 * while a slider was dragged (docs/benchmarks.md, "Slider drag"). 'browser': the bench's own browser and its
 * --gpu flags, which a webgpu or webgl drag needs.
 */
type DragGpu = 'none' | 'browser';

interface DragSettings {
  backend: string;
  dragMs: number;
  gpu?: DragGpu;
  /** A folder for a Chrome trace of each measured drag (benchDrag.ts DragOptions.traceDir). */
  traceDir?: string;
}

function dragGpuOf(drag: DragSettings): DragGpu {
  return drag.gpu ?? (drag.backend === 'wasm' || drag.backend === 'cpu' ? 'none' : 'browser');
}

/** The peer comparison keeps several pages open and times them in turn: none may be throttled as a background tab. */
const UNTHROTTLED_ARGS = [
  '--disable-background-timer-throttling',
  '--disable-renderer-backgrounding',
  '--disable-backgrounding-occluded-windows',
];

function parseArgs(argv: string[]): Options {
  const options: Options = {
    folders: [],
    synthetic: [],
    backends: ['webgpu', 'webgl', 'wasm', 'cpu'],
    nodeBackends: ['wasm', 'cpu'],
    repeats: 5,
    build: true,
    onnx: [],
    gpu: 'swiftshader',
    drag: null,
  };
  for (let k = 0; k < argv.length; k++) {
    const arg = argv[k];
    const value = () => {
      const v = argv[++k];
      if (v === undefined) throw new Error(`${arg} needs a value`);
      return v;
    };
    if (arg === '--backends') options.backends = value().split(',') as BackendName[];
    else if (arg === '--node-backends') options.nodeBackends = value().split(',').filter(Boolean) as ('wasm' | 'cpu')[];
    else if (arg === '--repeats') options.repeats = Number(value());
    else if (arg === '--out') options.out = value();
    else if (arg === '--no-build') options.build = false;
    else if (arg === '--synthetic') options.synthetic.push(resolve(value()));
    else if (arg === '--onnx') options.onnx.push(resolve(value()));
    else if (arg === '--drag') options.drag = { backend: 'wasm', dragMs: 8000, ...options.drag };
    else if (arg === '--drag-backend') options.drag = { dragMs: 8000, ...options.drag, backend: value() };
    else if (arg === '--drag-ms') options.drag = { backend: 'wasm', ...options.drag, dragMs: Number(value()) };
    else if (arg === '--drag-trace')
      options.drag = { backend: 'wasm', dragMs: 8000, ...options.drag, traceDir: resolve(value()) };
    else if (arg === '--drag-gpu') {
      const gpu = value();
      if (gpu !== 'none' && gpu !== 'browser') throw new Error(`--drag-gpu must be none or browser, got ${gpu}`);
      options.drag = { backend: 'wasm', dragMs: 8000, ...options.drag, gpu };
    } else if (arg === '--gpu') {
      const gpu = value();
      if (gpu !== 'swiftshader' && gpu !== 'hardware')
        throw new Error(`--gpu takes swiftshader or hardware, got ${gpu}`);
      options.gpu = gpu;
    } else if (arg.startsWith('--')) throw new Error(`unknown flag ${arg}`);
    else options.folders.push(resolve(arg));
  }
  if (options.folders.length + options.synthetic.length === 0) {
    throw new Error(
      'usage: npm run bench -- <model folder> [...] [--synthetic preset.json] [--backends webgpu,webgl,wasm,cpu] [--repeats N] [--out file.json] [--no-build]',
    );
  }
  for (const folder of options.folders)
    if (!existsSync(join(folder, 'model.json'))) throw new Error(`${folder} holds no model.json`);
  for (const folder of options.onnx) {
    if (!existsSync(join(folder, 'onnx_export.json')))
      throw new Error(
        `${folder} holds no onnx_export.json (write it with: cd train && python3 -m infodiff.onnx_export)`,
      );
  }
  for (const b of options.backends)
    if (!['webgpu', 'webgl', 'wasm', 'cpu'].includes(b)) throw new Error(`unknown backend ${b}`);
  if (!Number.isInteger(options.repeats) || options.repeats < 1)
    throw new Error('--repeats must be a positive integer');
  return options;
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

function testImage(arch: HarnessLoad['architecture'], batch: number): PlainImages {
  const pixels = arch.imageSize * arch.imageSize * arch.imageChannels;
  return {
    shape: [batch, arch.imageSize, arch.imageSize, arch.imageChannels],
    data: Array.from(createRng(1).uniforms(batch * pixels), (u) => 2 * u - 1),
  };
}

function testLatents(latentDim: number, batch: number): PlainLatents {
  return { shape: [batch, latentDim], data: Array.from(createRng(2).normals(batch * latentDim)) };
}

/** Calls window.__harness[method](...args) in the page. */
function call<K extends keyof HarnessApi>(
  page: Page,
  method: K,
  ...args: Parameters<HarnessApi[K]>
): Promise<Awaited<ReturnType<HarnessApi[K]>>> {
  return page.evaluate(([m, a]) => (window.__harness[m] as (...x: unknown[]) => unknown)(...(a as unknown[])), [
    method,
    args,
  ] as const) as Promise<Awaited<ReturnType<HarnessApi[K]>>>;
}

/** What a backend is asked to do for one row of the table, whichever runtime it lives in. */
interface BenchTarget {
  profile(batchSize: number, repeats: number): Promise<ProfileResult>;
  /** Elapsed ms of one sample of `steps` DDIM steps from seed 1. */
  sample(z: PlainLatents, steps: number): Promise<number>;
  encode(image: PlainImages): Promise<number>;
  invert(image: PlainImages, steps: number): Promise<number>;
}

type Measurements = Pick<
  BackendBench,
  'msPerCall' | 'msPerImage' | 'encodeMs' | 'invertMs' | 'kernelsPerCall' | 'dispatchesPerCall' | 'topKernels'
>;

/** The same measurement sequence on every backend, so the rows compare like with like. */
async function measure(
  target: BenchTarget,
  arch: HarnessLoad['architecture'],
  repeats: number,
  label: string,
  log: (line: string) => void,
): Promise<Measurements> {
  const profile1 = await target.profile(1, repeats);
  const profile11 = await target.profile(GRID_BATCH, Math.max(1, Math.ceil(repeats / 2)));
  log(
    `  ${label}: ${profile1.msPerCall.toFixed(1)} ms/call at batch 1, ${profile11.msPerCall.toFixed(1)} at batch ${GRID_BATCH}, ${profile1.kernelsPerCall} kernels, ${profile1.dispatchesPerCall ?? '-'} GPU dispatches`,
  );
  const z = testLatents(arch.latentDim, 1);
  const msPerImage: Record<string, number> = {};
  for (const steps of SAMPLE_STEPS) msPerImage[steps] = await target.sample(z, steps);
  const image = testImage(arch, 1);
  const encodeTimes: number[] = [];
  for (let k = 0; k < 3; k++) encodeTimes.push(await target.encode(image));
  return {
    msPerCall: { batch1: profile1.msPerCall, batch11: profile11.msPerCall },
    msPerImage,
    encodeMs: median(encodeTimes),
    invertMs: await target.invert(image, INVERT_STEPS),
    kernelsPerCall: profile1.kernelsPerCall,
    dispatchesPerCall: profile1.dispatchesPerCall,
    topKernels: Object.entries(profile1.kernelCounts)
      .sort((a, b) => b[1] - a[1])
      .slice(0, 8),
  };
}

/** Why a WebGPU or WebGL backend that loaded is not a real GPU (a software adapter or renderer), or null. */
function softwareGpu(load: HarnessLoad): string | null {
  const { backend, adapter, probes } = load.backend;
  if (backend === 'webgpu' && adapter && isSoftwareAdapter(adapter))
    return `software WebGPU adapter (${adapter.vendor} ${adapter.architecture}), not a real GPU`;
  const note = probes.find((probe) => probe.backend === backend)?.note ?? '';
  if (backend === 'webgl' && note.startsWith('software')) return `${note}, not a real GPU`;
  return null;
}

async function benchBrowserBackend(
  page: Page,
  modelPath: string,
  backend: BackendName,
  repeats: number,
  requireHardwareGpu: boolean,
  log: (line: string) => void,
): Promise<{ bench: BackendBench; load?: HarnessLoad }> {
  const name = `bench-${backend}`;
  await call(page, 'createEngine', name);
  try {
    const load = await call(page, 'load', name, { modelPath, backend, warmupBatchSizes: [1, GRID_BATCH] });
    if (load.backend.backend !== backend) {
      return {
        bench: { runtime: 'browser', backend, unavailable: load.backend.reason, adapter: load.backend.adapter },
      };
    }
    const software = requireHardwareGpu ? softwareGpu(load) : null;
    if (software)
      return { bench: { runtime: 'browser', backend, unavailable: software, adapter: load.backend.adapter } };
    log(`  ${backend}: ready in ${load.wallMs.toFixed(0)} ms (${load.backend.reason})`);
    const measured = await measure(
      {
        profile: (batchSize, repeatCount) => call(page, 'profile', name, { batchSize, repeats: repeatCount }),
        sample: async (z, steps) => (await call(page, 'sample', name, { z, seed: 1, steps })).elapsedMs,
        encode: async (image) => (await call(page, 'encode', name, image)).elapsedMs,
        invert: async (image, steps) => (await call(page, 'invert', name, image, { steps })).elapsedMs,
      },
      load.architecture,
      repeats,
      backend,
      log,
    );
    const stats = await call(page, 'stats', name);
    if (stats.leaks.length > 0) log(`  ${backend}: LEAK ${JSON.stringify(stats.leaks)}`);
    return {
      load,
      bench: {
        runtime: 'browser',
        backend,
        reason: load.backend.reason,
        adapter: load.backend.adapter,
        coldStartMs: load.wallMs,
        loadMs: load.loadMs,
        compileMs: load.compileMs,
        ...measured,
      },
    };
  } catch (error) {
    return { bench: { runtime: 'browser', backend, unavailable: `failed: ${(error as Error).message}` } };
  } finally {
    await call(page, 'terminate', name);
  }
}

/** An engine core in this Node process, loaded with the package in `folder` on `backend`: what the CLI gets. */
async function startNodeEngine(folder: string, backend: 'wasm' | 'cpu') {
  const pending = new Map<number, (response: EngineResponse) => void>();
  const engine = new Engine({
    post: (message) => {
      if (message.kind !== 'progress' && message.kind !== 'event') pending.get(message.id)?.(message);
    },
    selectBackend: (choice) => selectBackend(choice),
    loadModel: (_source, onProgress, signal) => loadModelPackage(fsPackageFiles(folder), { onProgress, signal }),
  });
  let nextId = 1;
  const request = async <K extends EngineRequest['kind']>(
    body: Omit<Extract<EngineRequest, { kind: K }>, 'id'>,
  ): Promise<ResultByKind[K]> => {
    const id = nextId++;
    const done = new Promise<EngineResponse>((resolveDone) => pending.set(id, resolveDone));
    engine.receive({ ...body, id } as EngineRequest);
    const response = await done;
    if (response.kind !== 'result') throw new Error(JSON.stringify(response));
    return response.result as ResultByKind[K];
  };
  const begin = performance.now();
  const load = await request<'load'>({
    kind: 'load',
    source: { kind: 'url', baseUrl: folder },
    backend,
    warmupBatchSizes: [1, GRID_BATCH],
  });
  return { request, load, coldStartMs: performance.now() - begin };
}

/** The engine core in this Node process on `backend`: what the CLI gets. */
async function benchNodeBackend(
  folder: string,
  backend: 'wasm' | 'cpu',
  repeats: number,
  log: (line: string) => void,
): Promise<BackendBench> {
  const { request, load, coldStartMs } = await startNodeEngine(folder, backend);
  const plain = (data: ArrayLike<number>) => Float32Array.from(data);
  const measured = await measure(
    {
      profile: (batchSize, repeatCount) => request<'profile'>({ kind: 'profile', batchSize, repeats: repeatCount }),
      sample: async (z, steps) =>
        (
          await request<'sample'>({
            kind: 'sample',
            channel: 'bench',
            z: { shape: z.shape, data: plain(z.data) },
            noise: { kind: 'seed', seed: 1 },
            steps,
            eta: 0,
          })
        ).elapsedMs,
      encode: async (image) =>
        (await request<'encode'>({ kind: 'encode', images: { shape: image.shape, data: plain(image.data) } }))
          .elapsedMs,
      invert: async (image, steps) =>
        (await request<'invert'>({ kind: 'invert', images: { shape: image.shape, data: plain(image.data) }, steps }))
          .elapsedMs,
    },
    load.metadata.architecture,
    repeats,
    `node ${backend}`,
    log,
  );
  await request<'dispose'>({ kind: 'dispose' });
  return {
    runtime: 'node',
    backend,
    reason: load.backend.reason,
    adapter: null,
    coldStartMs,
    loadMs: load.loadMs,
    compileMs: load.compileMs,
    ...measured,
  };
}

/**
 * Node WASM, one engine: the denoiser with our SIMD kernels and with the op composites, one timed call of each in
 * turn per round (a round-robin, so a busy spell of the machine hits both), at batch 1 and 11. The flag is a
 * process-wide tfjs setting; it is restored before returning.
 */
async function benchKernelComparison(
  folder: string,
  rounds: number,
  log: (line: string) => void,
): Promise<KernelComparison> {
  const { request } = await startNodeEngine(folder, 'wasm');
  const comparison: KernelComparison = {
    rounds,
    kernelsPerCall: { batch1: { simd: 0, composite: 0 }, batch11: { simd: 0, composite: 0 } },
    callMs: { batch1: { simd: [], composite: [] }, batch11: { simd: [], composite: [] } },
  };
  try {
    for (const [key, batchSize] of [
      ['batch1', 1],
      ['batch11', GRID_BATCH],
    ] as const) {
      for (let round = 0; round < rounds; round++) {
        for (const variant of ['simd', 'composite'] as const) {
          tf.env().set(WASM_KERNELS_FLAG, variant === 'simd');
          const profile = await request<'profile'>({ kind: 'profile', batchSize, repeats: 1 });
          comparison.callMs[key][variant].push(...profile.callMs);
          comparison.kernelsPerCall[key][variant] = profile.kernelsPerCall;
        }
      }
    }
  } finally {
    tf.env().set(WASM_KERNELS_FLAG, true);
    await request<'dispose'>({ kind: 'dispose' });
  }
  const { batch1, batch11 } = comparison.callMs;
  log(
    `  node wasm: SIMD kernels ${median(batch1.simd).toFixed(1)} / ${median(batch11.simd).toFixed(1)} ms, composites ${median(batch1.composite).toFixed(1)} / ${median(batch11.composite).toFixed(1)} ms per call (batch 1 / ${GRID_BATCH})`,
  );
  return comparison;
}

const ORT_DIST = join(REPO_ROOT, 'node_modules/onnxruntime-web/dist');

/** What onnx_export.json says (train/infodiff/onnx_export.py). */
interface OnnxExport {
  modelId: string;
  inputs: { xt: number[]; z: number[] };
}

/** The slice of onnxruntime-web's API the peer uses in the page. */
interface OrtModule {
  env: { wasm: { numThreads: number; wasmPaths: string } };
  Tensor: new (type: string, data: Float32Array | BigInt64Array, dims: number[]) => unknown;
  InferenceSession: {
    create(
      url: string,
      options: object,
    ): Promise<{ run(feeds: Record<string, unknown>): Promise<Record<string, { data: Float32Array }>> }>;
  };
}

/** An onnxruntime-web session on the exported denoiser, in its own page of the peer server. */
interface OnnxPeer {
  bench: PeerBench;
  /** One untimed call at `batch` (seeded inputs), then `count` timed ones, ms each. */
  calls(batch: number, count: number): Promise<number[]>;
  close(): Promise<void>;
}

/**
 * Opens onnxruntime-web's WASM execution provider on the exported denoiser in a fresh page of the peer server
 * (its thread count is fixed per page), and checks eps of the export's check batch against PyTorch's.
 */
async function openOnnxPeer(
  browser: Browser,
  origin: string,
  onnxDir: string,
  threads: number,
  log: (line: string) => void,
): Promise<OnnxPeer | PeerBench> {
  const version = (JSON.parse(readFileSync(join(ORT_DIST, '../package.json'), 'utf8')) as { version: string }).version;
  const runtime = `onnxruntime-web ${version} wasm`;
  const exported = JSON.parse(readFileSync(join(onnxDir, 'onnx_export.json'), 'utf8')) as OnnxExport;
  const npy = (name: string) => parseNpy(readFileSync(join(onnxDir, `check_${name}.npy`)));
  const check = {
    xt: Array.from(npyToFloat32(npy('xt'))),
    t: Array.from(npyToFloat32(npy('t'))),
    z: Array.from(npyToFloat32(npy('z'))),
    batch: npy('t').shape[0],
  };
  const expected = npyToFloat32(npy('eps'));
  const page = await browser.newPage();
  try {
    await page.goto(`${origin}peer.html`);
    // tsx compiles this file with esbuild's keepNames, which wraps the named helpers inside the evaluated functions
    // in `__name(...)` calls; the page has no such helper, so give it a no-op one (a string, so nothing wraps it).
    await page.evaluate('globalThis.__name = (fn) => fn');
    const opened = await page.evaluate(
      async ({ ortUrl, wasmPaths, modelUrl, threadCount, checkBatch, imageShape, latentDim }) => {
        const ort = (await import(ortUrl)) as OrtModule;
        ort.env.wasm.numThreads = threadCount;
        ort.env.wasm.wasmPaths = wasmPaths;
        // No spin-waiting between runs: idle pool threads that spin would steal the cores from the calls they
        // are interleaved with (tfjs's, the other peer's) on a small machine.
        const session = await ort.InferenceSession.create(modelUrl, {
          executionProviders: ['wasm'],
          graphOptimizationLevel: 'all',
          extra: { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } },
        });
        const pixels = imageShape.reduce((a, b) => a * b, 1);
        const feeds = (batch: number, xt: number[], t: number[], z: number[]) => ({
          xt: new ort.Tensor('float32', Float32Array.from(xt), [batch, ...imageShape]),
          t: new ort.Tensor(
            'int64',
            BigInt64Array.from(t, (v) => BigInt(Math.round(v))),
            [batch],
          ),
          z: new ort.Tensor('float32', Float32Array.from(z), [batch, latentDim]),
        });
        const eps = Array.from(
          (await session.run(feeds(checkBatch.batch, checkBatch.xt, checkBatch.t, checkBatch.z))).eps.data,
        );
        const seeded = (n: number, seed: number) =>
          Array.from({ length: n }, (_, i) => Math.sin(12.9898 * (i + 1) + seed) * 0.9);
        // As the engine's profile request: one untimed call (warm caches), then the timed ones.
        (globalThis as { __peerCalls?: (batch: number, count: number) => Promise<number[]> }).__peerCalls = async (
          batch: number,
          count: number,
        ) => {
          const input = feeds(
            batch,
            seeded(batch * pixels, 1),
            new Array(batch).fill(500),
            seeded(batch * latentDim, 2),
          );
          await session.run(input);
          const callMs: number[] = [];
          for (let k = 0; k < count; k++) {
            const begin = performance.now();
            (await session.run(input)).eps.data.at(0);
            callMs.push(performance.now() - begin);
          }
          return callMs;
        };
        return { eps, isolated: crossOriginIsolated };
      },
      {
        ortUrl: `${origin}ort/ort.wasm.min.mjs`,
        wasmPaths: `${origin}ort/`,
        modelUrl: `${origin}onnx/denoiser.onnx`,
        threadCount: threads,
        checkBatch: check,
        imageShape: exported.inputs.xt,
        latentDim: exported.inputs.z[0],
      },
    );
    let diff = 0;
    let scale = 0;
    expected.forEach((b, k) => {
      diff = Math.max(diff, Math.abs(opened.eps[k] - b));
      scale = Math.max(scale, Math.abs(b));
    });
    log(
      `  ${runtime}, ${threads} thread(s)${opened.isolated ? ', isolated page' : ''}: eps vs PyTorch ${(diff / scale).toExponential(1)}`,
    );
    return {
      bench: {
        runtime,
        threads,
        crossOriginIsolated: opened.isolated,
        callMs: { batch1: [], batch11: [] },
        relativeErrorVsTorch: diff / scale,
      },
      calls: (batch, count) =>
        page.evaluate(
          ([b, n]) =>
            (globalThis as { __peerCalls?: (batch: number, count: number) => Promise<number[]> }).__peerCalls!(b, n),
          [batch, count] as const,
        ),
      close: () => page.close(),
    };
  } catch (error) {
    await page.close();
    return { runtime, threads, unavailable: `failed: ${(error as Error).message.split('\n')[0]}` };
  }
}

/** Timed calls per runtime and round in the peer comparison. */
const PEER_BLOCK = 3;

/**
 * The logical cores the threaded tfjs engine's worker is told it has. tfjs-backend-wasm sizes its XNNPACK pool
 * from navigator.hardwareConcurrency (half of it, at most 4), so a machine of 4 or more cores gets 2 threads;
 * this bench machine has 2 and would get 1. The emulation changes only what the engine worker reads: the threads
 * still share the machine's real cores.
 */
const EMULATED_CORES = 4;

/**
 * Opens a second harness page whose engine worker sees navigator.hardwareConcurrency = EMULATED_CORES: the
 * worker's script is served with one statement in front (a page route), so tfjs-backend-wasm, which reads the
 * count only when its backend starts, builds a 2-thread pool. The page is cross-origin isolated like the first.
 */
async function openEmulatedCoresHarness(browser: Browser, harnessUrl: string): Promise<Page> {
  const page = await browser.newPage();
  await page.route(/\/assets\/worker-[^/]*\.js$/, async (route) => {
    const response = await route.fetch();
    const override = `Object.defineProperty(navigator, 'hardwareConcurrency', { get: () => ${EMULATED_CORES} });\n`;
    await route.fulfill({ response, body: override + (await response.text()) });
  });
  await page.goto(harnessUrl);
  await page.getByRole('status').getByText('ready').waitFor();
  return page;
}

/**
 * tfjs WASM in the harness page's engine worker (1 thread here) and in a page emulating 4 cores (2 threads),
 * against onnxruntime-web with 1 and 2 threads, round-robin in blocks: per round each runtime makes one untimed
 * call (the other runtimes have just evicted its weights from the caches, which costs a JavaScript-heavy runtime
 * more) and PEER_BLOCK timed calls, at batch 1, then at 11.
 */
async function comparePeers(
  browser: Browser,
  harness: Page,
  modelPath: string,
  onnxDir: string,
  rounds: number,
  log: (line: string) => void,
): Promise<PeerComparison> {
  const peerServer = await startPeerServer(onnxDir, join(REPO_ROOT, 'node_modules/.cache/infodiff-bench/peer'));
  const name = 'bench-peer-tfjs';
  const opened: (OnnxPeer | PeerBench)[] = [];
  let threadedPage: Page | null = null;
  try {
    for (const threads of [1, 2]) opened.push(await openOnnxPeer(browser, peerServer.origin, onnxDir, threads, log));
    const wasmNote = (load: HarnessLoad) => load.backend.probes.find((p) => p.backend === 'wasm')?.note ?? '';
    await call(harness, 'createEngine', name);
    const load = await call(harness, 'load', name, { modelPath, backend: 'wasm', warmupBatchSizes: [1, GRID_BATCH] });
    const comparison: PeerComparison = {
      rounds,
      callsPerRound: PEER_BLOCK,
      tfjsBackend: wasmNote(load),
      tfjsCallMs: { batch1: [], batch11: [] },
      peers: [],
    };
    try {
      threadedPage = await openEmulatedCoresHarness(browser, harness.url());
      await call(threadedPage, 'createEngine', name);
      const threadedLoad = await call(threadedPage, 'load', name, {
        modelPath,
        backend: 'wasm',
        warmupBatchSizes: [1, GRID_BATCH],
      });
      comparison.tfjsThreaded = { backend: wasmNote(threadedLoad), callMs: { batch1: [], batch11: [] } };
      log(`  tfjs wasm with ${EMULATED_CORES} emulated cores: ${comparison.tfjsThreaded.backend}`);
    } catch (error) {
      log(
        `  tfjs wasm with ${EMULATED_CORES} emulated cores: unavailable (${(error as Error).message.split('\n')[0]})`,
      );
    }
    const live = opened.filter((peer): peer is OnnxPeer => 'calls' in peer);
    for (const [key, batchSize] of [
      ['batch1', 1],
      ['batch11', GRID_BATCH],
    ] as const) {
      for (let round = 0; round < rounds; round++) {
        comparison.tfjsCallMs[key].push(
          ...(await call(harness, 'profile', name, { batchSize, repeats: PEER_BLOCK })).callMs,
        );
        if (threadedPage && comparison.tfjsThreaded) {
          comparison.tfjsThreaded.callMs[key].push(
            ...(await call(threadedPage, 'profile', name, { batchSize, repeats: PEER_BLOCK })).callMs,
          );
        }
        for (const peer of live) peer.bench.callMs![key].push(...(await peer.calls(batchSize, PEER_BLOCK)));
      }
    }
    comparison.peers = opened.map((peer) => ('calls' in peer ? peer.bench : peer));
    const summary = (v: { batch1: number[]; batch11: number[] }) =>
      `${median(v.batch1).toFixed(1)} / ${median(v.batch11).toFixed(1)} ms`;
    log(
      `  tfjs wasm ${summary(comparison.tfjsCallMs)}${comparison.tfjsThreaded ? `; tfjs wasm, ${EMULATED_CORES} emulated cores ${summary(comparison.tfjsThreaded.callMs)}` : ''}; ${live.map((p) => `${p.bench.runtime} ${p.bench.threads} thread(s) ${summary(p.bench.callMs!)}`).join('; ')} (batch 1 / ${GRID_BATCH})`,
    );
    return comparison;
  } finally {
    await call(harness, 'terminate', name).catch(() => undefined);
    if (threadedPage) {
      await call(threadedPage, 'terminate', name).catch(() => undefined);
      await threadedPage.close();
    }
    for (const peer of opened) if ('calls' in peer) await peer.close();
    await peerServer.close();
  }
}

/** Serves onnxruntime-web's files, an onnx_export folder and an empty page, cross-origin isolated (threads). */
async function startPeerServer(onnxDir: string, cacheDir: string) {
  await mkdir(cacheDir, { recursive: true });
  await writeFile(
    join(cacheDir, 'peer.html'),
    '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>onnxruntime-web peer</title></head><body></body></html>\n',
  );
  return startStaticServer(cacheDir, { '/ort/': ORT_DIST, '/onnx/': onnxDir }, 0, CROSS_ORIGIN_ISOLATION_HEADERS);
}

const fmt = (value: number | undefined, digits = 1): string =>
  value === undefined ? '–' : value >= 100 ? value.toFixed(0) : value.toFixed(digits);

export function markdownTable(model: ModelBench): string {
  const lines = [
    `**${model.modelId}** (${basename(model.folder)}): ${model.architecture.imageSize}x${model.architecture.imageSize}x${model.architecture.imageChannels}, ` +
      `ch ${model.architecture.baseChannels} x [${model.architecture.channelMultipliers.join(', ')}], latent ${model.architecture.latentDim}; ` +
      `${(model.parameters / 1e6).toFixed(2)} M parameters; ${(model.denoiserFlops / 1e9).toFixed(3)} GFLOP per denoiser call, ` +
      `${(model.encoderFlops / 1e9).toFixed(3)} GFLOP per encoder call (batch 1)`,
    '',
    '| runtime | backend | cold start ms | ms/call b1 | ms/call b11 | ms/image 5 steps | 10 steps | 20 steps | encode ms | invert 20 ms | kernels/call | GPU dispatches/call |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const b of model.backends) {
    if (b.unavailable) {
      lines.push(
        `| ${b.runtime} | ${b.backend} | unavailable: ${b.unavailable.split('\n')[0].replace(/\|/g, '/')} | | | | | | | | | |`,
      );
      continue;
    }
    lines.push(
      `| ${b.runtime} | ${b.backend} | ${fmt(b.coldStartMs)} | ${fmt(b.msPerCall?.batch1)} | ${fmt(b.msPerCall?.batch11)} | ${fmt(b.msPerImage?.['5'])} | ` +
        `${fmt(b.msPerImage?.['10'])} | ${fmt(b.msPerImage?.['20'])} | ${fmt(b.encodeMs)} | ${fmt(b.invertMs)} | ${b.kernelsPerCall ?? '–'} | ${b.dispatchesPerCall ?? '–'} |`,
    );
  }
  if (model.peerComparison) lines.push('', peerTable(model.peerComparison));
  if (model.kernelComparison) lines.push('', kernelComparisonTable(model.kernelComparison));
  if (model.drag) lines.push('', dragTable(model.drag.results, model.drag.options));
  return lines.join('\n');
}

/** tfjs WASM and onnxruntime-web side by side: medians of the interleaved calls, and tfjs / peer. */
export function peerTable(comparison: PeerComparison): string {
  const ours = comparison.tfjsCallMs;
  const lines = [
    `The peer, in the same Chromium: the same denoiser exported to ONNX (\`train/infodiff/onnx_export.py\`) in onnxruntime-web, ` +
      `timed in turn with this runtime's WASM engine (${comparison.rounds} rounds of one untimed and ${comparison.callsPerRound} timed calls each; medians):`,
    '',
    `| runtime | threads | ms/call b1 | ms/call b${GRID_BATCH} | tfjs / this, b1 | tfjs / this, b${GRID_BATCH} | eps vs PyTorch (max rel. error) |`,
    '|---|---|---|---|---|---|---|',
    `| tfjs wasm (this runtime) | ${comparison.tfjsBackend.replace(/^.*?: /, '').replace(/\|/g, '/')} | ${fmt(median(ours.batch1))} | ${fmt(median(ours.batch11))} | 1.00x | 1.00x | see parity tests |`,
  ];
  const threaded = comparison.tfjsThreaded;
  if (threaded) {
    const ratio = (key: 'batch1' | 'batch11') => `${(median(ours[key]) / median(threaded.callMs[key])).toFixed(2)}x`;
    lines.push(
      `| tfjs wasm, engine worker told ${EMULATED_CORES} cores (emulated) | ${threaded.backend.replace(/^.*?: /, '').replace(/\|/g, '/')} | ` +
        `${fmt(median(threaded.callMs.batch1))} | ${fmt(median(threaded.callMs.batch11))} | ${ratio('batch1')} | ${ratio('batch11')} | as above |`,
    );
  }
  for (const peer of comparison.peers) {
    if (peer.unavailable || !peer.callMs) {
      lines.push(
        `| ${peer.runtime} | ${peer.threads} | ${(peer.unavailable ?? 'no calls').replace(/\|/g, '/')} | | | | |`,
      );
      continue;
    }
    const threads = `${peer.threads}${peer.threads > 1 ? (peer.crossOriginIsolated ? ' (isolated page)' : ' asked, page not isolated') : ''}`;
    const ratio = (key: 'batch1' | 'batch11') => `${(median(ours[key]) / median(peer.callMs![key])).toFixed(2)}x`;
    lines.push(
      `| ${peer.runtime} | ${threads} | ${fmt(median(peer.callMs.batch1))} | ${fmt(median(peer.callMs.batch11))} | ${ratio('batch1')} | ${ratio('batch11')} | ` +
        `${peer.relativeErrorVsTorch?.toExponential(1) ?? '–'} |`,
    );
  }
  if (threaded) {
    const share = (key: 'batch1' | 'batch11') => (median(threaded.callMs[key]) / median(ours[key])).toFixed(2);
    lines.push(
      '',
      `tfjs WASM with 2 threads (${EMULATED_CORES} emulated cores) takes ${share('batch1')}x the 1-thread time at batch 1 and ${share('batch11')}x at batch ${GRID_BATCH}.`,
    );
  }
  return lines.join('\n');
}

/** The SIMD kernels against the composites: medians of the interleaved calls, and their ratio. */
export function kernelComparisonTable(comparison: KernelComparison): string {
  const { batch1, batch11 } = comparison.callMs;
  const row = (label: string, variant: 'simd' | 'composite') =>
    `| ${label} | ${fmt(median(batch1[variant]))} | ${fmt(median(batch11[variant]))} | ${comparison.kernelsPerCall.batch1[variant]} | ${comparison.kernelsPerCall.batch11[variant]} |`;
  return [
    `Node WASM, GroupNorm, attention and the skip concatenations as our SIMD kernels or as tfjs op composites (median of ${comparison.rounds} interleaved calls each):`,
    '',
    `| WASM GroupNorm, attention, concat | ms/call b1 | ms/call b${GRID_BATCH} | kernels/call b1 | kernels/call b${GRID_BATCH} |`,
    '|---|---|---|---|---|',
    row('op composites (before)', 'composite'),
    row('SIMD kernels (now)', 'simd'),
    `| now / before | ${(median(batch1.simd) / median(batch1.composite)).toFixed(2)}x | ${(median(batch11.simd) / median(batch11.composite)).toFixed(2)}x | | |`,
  ].join('\n');
}

/** The slider drag of one bundled model (src/cli/benchDrag.ts); undefined, with a log line, when it cannot run. */
async function benchDrag(
  browser: Browser,
  origin: string,
  modelId: string,
  drag: DragSettings,
  log: (line: string) => void,
): Promise<ModelBench['drag']> {
  const gpu = dragGpuOf(drag);
  const compositor = gpu === 'none' ? 'software (no GPU)' : "the bench browser's GPU flags";
  const options = { modelId, backend: drag.backend, dragMs: drag.dragMs, moveEveryMs: 16, compositor };
  if (drag.traceDir) await mkdir(drag.traceDir, { recursive: true });
  log(`  slider drag on ${drag.backend}, ${drag.dragMs} ms per setting, compositing: ${compositor}`);
  const own =
    gpu === 'none'
      ? await chromium.launch({
          executablePath: CHROMIUM,
          args: [...QUIET_ARGS, '--disable-gpu', ...UNTHROTTLED_ARGS],
          headless: true,
        })
      : null;
  try {
    return { options, results: await benchSliderDrag(own ?? browser, { ...options, origin, traceDir: drag.traceDir }) };
  } catch (error) {
    log(`  slider drag: ${(error as Error).message}`);
    return undefined;
  } finally {
    await own?.close();
  }
}

/**
 * Writes a random-weight package with the architecture and schedule of a training preset (train/configs/*.json:
 * `architecture` without imageSize, `image_size`, `schedule`) and returns its folder.
 */
async function syntheticPackage(presetPath: string, cacheDir: string): Promise<string> {
  const preset = JSON.parse(await readFile(presetPath, 'utf8')) as {
    architecture: Record<string, unknown>;
    image_size?: number;
    schedule?: unknown;
  };
  const arch = resolveArchitecture({
    ...preset.architecture,
    ...(preset.image_size ? { imageSize: preset.image_size } : {}),
  });
  const schedule = resolveSchedule(preset.schedule ?? {});
  const id = `synthetic-${basename(presetPath, '.json')
    .replace(/[^a-z0-9]+/gi, '-')
    .toLowerCase()}`;
  const { architecture: _architecture, schedule: _schedule, ...metadata } = syntheticModelMetadata(arch, schedule, id);
  const written = writeModelPackage(arch, schedule, metadata, randomParameters(arch, schedule.timesteps, 1));
  const folder = join(cacheDir, id);
  await mkdir(folder, { recursive: true });
  for (const [path, bytes] of writtenPackageFiles(written)) await writeFile(join(folder, path), bytes);
  return folder;
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  const log = (line: string) => process.stderr.write(`${line}\n`);
  for (const preset of options.synthetic)
    options.folders.push(await syntheticPackage(preset, join(REPO_ROOT, 'node_modules/.cache/infodiff-bench')));
  const distDir = join(REPO_ROOT, 'node_modules/.cache/infodiff-bench/dist');
  if (options.build || !existsSync(join(distDir, 'e2e/harness/index.html'))) {
    log('building the harness page...');
    await buildHarness(distDir);
  }
  // The package's stats are read in this process too; without a Node backend in the run, give it the CPU one.
  if (options.nodeBackends.length === 0) await selectBackend('cpu');
  const mounts = Object.fromEntries(options.folders.map((folder, k) => [`/bench-models/${k}/`, folder]));
  // Cross-origin isolated, as the app is served (vite.config.ts): tfjs WASM runs its threaded binary here too.
  const server = await startStaticServer(distDir, mounts, 0, CROSS_ORIGIN_ISOLATION_HEADERS);
  const gpuArgs = options.gpu === 'hardware' ? HARDWARE_GPU_ARGS : WEBGPU_ARGS;
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [...QUIET_ARGS, ...gpuArgs, ...UNTHROTTLED_ARGS],
    headless: true,
  });
  let appServer: Awaited<ReturnType<typeof startStaticServer>> | null = null;
  if (options.drag) {
    log('building the app for the slider drag...');
    const appDir = await buildApp(join(REPO_ROOT, 'node_modules/.cache/infodiff-bench/app'));
    appServer = await startStaticServer(appDir, {}, 0, CROSS_ORIGIN_ISOLATION_HEADERS);
  }
  const models: ModelBench[] = [];
  let chromiumVersion = '';
  try {
    chromiumVersion = browser.version();
    const page = await browser.newPage();
    page.on('console', (message) => {
      if (message.type() === 'error') log(`  [page] ${message.text()}`);
    });
    await page.goto(`${server.origin}e2e/harness/index.html`);
    await page.getByRole('status').getByText('ready').waitFor();
    for (let k = 0; k < options.folders.length; k++) {
      const folder = options.folders[k];
      log(`model ${folder}`);
      const backends: BackendBench[] = [];
      let first: HarnessLoad | undefined;
      for (const backend of options.backends) {
        const { bench, load } = await benchBrowserBackend(
          page,
          `bench-models/${k}/`,
          backend,
          options.repeats,
          options.gpu === 'hardware',
          log,
        );
        if (bench.unavailable) log(`  ${backend}: unavailable (${bench.unavailable})`);
        backends.push(bench);
        first ??= load;
      }
      for (const backend of options.nodeBackends)
        backends.push(await benchNodeBackend(folder, backend, options.repeats, log));
      const kernelComparison = options.nodeBackends.includes('wasm')
        ? await benchKernelComparison(folder, Math.max(5, options.repeats), log)
        : undefined;
      const model = await loadModelPackage(fsPackageFiles(folder));
      const onnxDir = options.onnx.find(
        (dir) =>
          (JSON.parse(readFileSync(join(dir, 'onnx_export.json'), 'utf8')) as OnnxExport).modelId === model.metadata.id,
      );
      const peerComparison = onnxDir
        ? await comparePeers(
            browser,
            page,
            `bench-models/${k}/`,
            onnxDir,
            Math.max(3, Math.ceil(options.repeats / PEER_BLOCK)),
            log,
          )
        : undefined;
      const drag =
        appServer && options.drag
          ? await benchDrag(browser, appServer.origin, model.metadata.id, options.drag, log)
          : undefined;
      models.push({
        folder: folder.startsWith(REPO_ROOT) ? folder.slice(REPO_ROOT.length + 1) : folder,
        modelId: model.metadata.id,
        architecture: first?.architecture ?? model.architecture,
        parameters: model.stats.parameters,
        denoiserFlops: model.stats.denoiserFlops,
        encoderFlops: model.stats.encoderFlops,
        backends,
        kernelComparison,
        peerComparison,
        drag,
      });
      model.dispose();
    }
  } finally {
    await browser.close();
    await server.close();
    await appServer?.close();
  }
  const machine = {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    os: `${platform()} ${release()}`,
    chromium: chromiumVersion,
    node: process.version,
    tfjs: tf.version_core,
  };
  const command = `npm run bench -- ${process.argv.slice(2).join(' ')}`;
  const report = { createdAt: new Date().toISOString(), command, machine, models };
  const stamp = report.createdAt.replace(/[:.]/g, '-');
  const out = options.out
    ? resolve(options.out)
    : join(REPO_ROOT, 'bench-results', `bench-${models.map((m) => m.modelId).join('+')}-${stamp}.json`);
  await mkdir(resolve(out, '..'), { recursive: true });
  await writeFile(out, `${JSON.stringify(report, null, 2)}\n`);
  const markdown = [
    `Machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB, ${machine.os}; Chromium ${machine.chromium}; Node ${machine.node}; tfjs ${machine.tfjs}.`,
    `Command: \`${command}\``,
    '',
    ...models.map(markdownTable),
  ].join('\n\n');
  await writeFile(out.replace(/\.json$/, '.md'), `${markdown}\n`);
  process.stdout.write(`${markdown}\n\nwrote ${out}\n`);
  if (options.gpu === 'hardware') {
    const missing = models.flatMap((m) =>
      m.backends
        .filter((b) => (b.backend === 'webgpu' || b.backend === 'webgl') && b.unavailable)
        .map((b) => `${m.modelId} ${b.backend}: ${b.unavailable}`),
    );
    if (missing.length > 0) {
      process.stderr.write(`bench: --gpu hardware, but no real GPU for: ${missing.join('; ')}\n`);
      process.exitCode = 2;
    }
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench: ${(error as Error).stack ?? String(error)}\n`);
  process.exitCode = 1;
});

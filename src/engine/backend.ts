/**
 * Backend choice for the engine, decided and reported here only.
 *
 * Automatic order: hardware WebGPU -> hardware WebGL -> WASM -> CPU. A software adapter (SwiftShader, or one
 * that calls itself a fallback adapter) counts as no GPU: on a machine without a GPU it is tens of times slower
 * than WASM (docs/sources.md §4). A forced backend (`?backend=webgpu`) is used even when it is software,
 * so tests can exercise WebGPU on SwiftShader; when it cannot start at all, the automatic order takes over and
 * the report says why.
 *
 * Works in Node (the CLI and Vitest): there `navigator.gpu` and OffscreenCanvas are absent, so the probes report
 * WebGPU and WebGL unusable and WASM or CPU is chosen. Only this module imports the backend packages, lazily,
 * so Node never loads WebGL or WebGPU code.
 */
import * as tf from '@tensorflow/tfjs-core';
import { WASM_KERNELS_FLAG, wasmMemoryOf, type WasmBackendLike } from '../model/groupNormKernel';
import {
  kernelThreadStats,
  startKernelPool,
  type KernelHelperSpawner,
  type KernelThreadStats,
} from '../model/kernelPool';
import type { AdapterInfo, BackendChoice, BackendName, BackendProbe, BackendReport } from './protocol';

/** The WASM binaries tfjs-backend-wasm may fetch, by file name. */
export type WasmBinaryPaths = Partial<
  Record<'tfjs-backend-wasm.wasm' | 'tfjs-backend-wasm-simd.wasm' | 'tfjs-backend-wasm-threaded-simd.wasm', string>
>;

export interface BackendEnvironment {
  /** Browser: URLs of the .wasm files emitted by the bundler. Node: omit (the package finds its own files). */
  wasmPaths?: WasmBinaryPaths;
  /**
   * Browser: starts one helper worker of our WASM kernels (src/model/kernelHelper.ts), for splitting them over
   * tfjs's thread count when it runs 2 or more threads. Omit where there are no workers (Node): they run on one.
   */
  spawnKernelHelper?: KernelHelperSpawner;
}

/** A backend that is up, with its report and, on WebGPU, a promise that resolves if the device is lost. */
export interface ActiveBackend {
  report: BackendReport;
  /** Resolves with the loss message when the GPU device is lost (never for a deliberate destroy); null off WebGPU. */
  deviceLost: Promise<string> | null;
}

/** The automatic order, fastest real hardware first. */
const AUTO_ORDER: readonly BackendName[] = ['webgpu', 'webgl', 'wasm', 'cpu'];

// Minimal WebGPU typings for what this module touches (the DOM lib of TypeScript 5.9 has none).
interface GpuAdapterInfoLike {
  vendor?: string;
  architecture?: string;
  device?: string;
  description?: string;
  isFallbackAdapter?: boolean;
}
interface GpuDeviceLike {
  lost: Promise<{ reason: string; message: string }>;
}
interface GpuAdapterLike {
  info?: GpuAdapterInfoLike;
  requestAdapterInfo?: () => Promise<GpuAdapterInfoLike>;
  isFallbackAdapter?: boolean;
  features: { has(name: string): boolean };
  limits: Record<string, number>;
  requestDevice(descriptor?: {
    requiredFeatures?: string[];
    requiredLimits?: Record<string, number>;
  }): Promise<GpuDeviceLike>;
}
interface GpuLike {
  requestAdapter(options?: { powerPreference?: 'high-performance' | 'low-power' }): Promise<GpuAdapterLike | null>;
}

function navigatorGpu(): GpuLike | undefined {
  return (globalThis as { navigator?: { gpu?: GpuLike } }).navigator?.gpu;
}

async function adapterInfoOf(adapter: GpuAdapterLike): Promise<AdapterInfo> {
  // Chromium >= 127 has `adapter.info`; older builds only the (since removed) requestAdapterInfo().
  const info = adapter.info ?? (adapter.requestAdapterInfo ? await adapter.requestAdapterInfo() : {});
  return {
    vendor: info.vendor ?? '',
    architecture: info.architecture ?? '',
    device: info.device ?? '',
    description: info.description ?? '',
    isFallbackAdapter: Boolean(info.isFallbackAdapter ?? adapter.isFallbackAdapter),
  };
}

/** True for an adapter that is software rendering: SwiftShader, or one that says it is a fallback adapter. */
export function isSoftwareAdapter(info: AdapterInfo): boolean {
  return info.isFallbackAdapter || /swiftshader/i.test(`${info.architecture} ${info.description} ${info.vendor}`);
}

/** True for a WebGL renderer string that names a software rasteriser. */
export function isSoftwareRenderer(renderer: string): boolean {
  return /swiftshader|llvmpipe|softpipe|software|basic render driver/i.test(renderer);
}

interface WebGpuProbe {
  probe: BackendProbe;
  adapter: AdapterInfo | null;
  software: boolean;
}

async function probeWebGpu(): Promise<WebGpuProbe> {
  const gpu = navigatorGpu();
  if (!gpu)
    return {
      probe: {
        backend: 'webgpu',
        usable: false,
        note: 'navigator.gpu is missing (no WebGPU in this browser or runtime)',
      },
      adapter: null,
      software: false,
    };
  let adapter: GpuAdapterLike | null;
  try {
    adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  } catch (error) {
    return {
      probe: { backend: 'webgpu', usable: false, note: `requestAdapter failed: ${messageOf(error)}` },
      adapter: null,
      software: false,
    };
  }
  if (!adapter) {
    return {
      probe: {
        backend: 'webgpu',
        usable: false,
        note: 'requestAdapter() returned null (no adapter; Chromium on Linux needs --enable-unsafe-webgpu)',
      },
      adapter: null,
      software: false,
    };
  }
  const info = await adapterInfoOf(adapter);
  const software = isSoftwareAdapter(info);
  const name = [info.vendor, info.architecture, info.description].filter(Boolean).join(' / ') || 'unnamed adapter';
  return {
    probe: {
      backend: 'webgpu',
      usable: true,
      note: software ? `software adapter (${name}): tens of times slower than WASM` : `hardware adapter (${name})`,
    },
    adapter: info,
    software,
  };
}

interface WebGlProbe {
  probe: BackendProbe;
  software: boolean;
}

function probeWebGl(): WebGlProbe {
  const OffscreenCanvasCtor = (globalThis as { OffscreenCanvas?: typeof OffscreenCanvas }).OffscreenCanvas;
  if (!OffscreenCanvasCtor)
    return {
      probe: { backend: 'webgl', usable: false, note: 'OffscreenCanvas is missing (no WebGL here)' },
      software: false,
    };
  let gl: WebGL2RenderingContext | null = null;
  try {
    gl = new OffscreenCanvasCtor(1, 1).getContext('webgl2');
  } catch (error) {
    return {
      probe: { backend: 'webgl', usable: false, note: `WebGL2 context failed: ${messageOf(error)}` },
      software: false,
    };
  }
  if (!gl) return { probe: { backend: 'webgl', usable: false, note: 'no WebGL2 context' }, software: false };
  const debugInfo = gl.getExtension('WEBGL_debug_renderer_info');
  const renderer = String(gl.getParameter(debugInfo ? debugInfo.UNMASKED_RENDERER_WEBGL : gl.RENDERER));
  // The probe's context would otherwise count against the browser's context limit until garbage collection.
  gl.getExtension('WEBGL_lose_context')?.loseContext();
  const software = isSoftwareRenderer(renderer);
  return {
    probe: { backend: 'webgl', usable: true, note: `${software ? 'software' : 'hardware'} renderer (${renderer})` },
    software,
  };
}

/**
 * Registers the 'webgpu' backend unless an instance is already running (re-loading a model on a live backend keeps
 * its compiled pipelines). Our factory replaces the one tfjs-backend-webgpu registers on import because that one
 * is gone for good after `forgetBackend` (a lost device), and a later load must be able to start WebGPU again.
 */
async function registerWebGpu(): Promise<void> {
  const { WebGPUBackend } = await import('@tensorflow/tfjs-backend-webgpu');
  if (tf.findBackend('webgpu') !== null) return;
  if (tf.findBackendFactory('webgpu')) tf.removeBackend('webgpu');
  tf.registerBackend(
    'webgpu',
    async () => {
      const gpu = navigatorGpu();
      const adapter = await gpu?.requestAdapter({
        powerPreference: tf.env().getBool('WEBGPU_USE_LOW_POWER_GPU') ? 'low-power' : 'high-performance',
      });
      if (!adapter) throw new Error('WebGPU adapter disappeared between probe and start');
      const requiredFeatures = ['timestamp-query', 'bgra8unorm-storage'].filter((feature) =>
        adapter.features.has(feature),
      );
      // Ask for the adapter's own maxima: the defaults (128 MiB bindings) would cap batch size on big models.
      const limitNames = [
        'maxComputeWorkgroupStorageSize',
        'maxComputeWorkgroupsPerDimension',
        'maxStorageBufferBindingSize',
        'maxBufferSize',
        'maxComputeWorkgroupSizeX',
        'maxComputeInvocationsPerWorkgroup',
      ];
      const requiredLimits = Object.fromEntries(limitNames.map((name) => [name, adapter.limits[name]]));
      const device = await adapter.requestDevice({ requiredFeatures, requiredLimits });
      const info = adapter.info ?? (adapter.requestAdapterInfo ? await adapter.requestAdapterInfo() : undefined);
      return new WebGPUBackend(device as never, info as never);
    },
    3,
  );
}

async function registerBackendPackage(name: BackendName, environment: BackendEnvironment): Promise<void> {
  switch (name) {
    case 'webgpu':
      await registerWebGpu();
      return;
    case 'webgl':
      await import('@tensorflow/tfjs-backend-webgl');
      return;
    case 'wasm': {
      const wasm = await import('@tensorflow/tfjs-backend-wasm');
      if (environment.wasmPaths) wasm.setWasmPaths(environment.wasmPaths);
      return;
    }
    case 'cpu':
      await import('@tensorflow/tfjs-backend-cpu');
      return;
    default: {
      const _exhaustive: never = name;
      throw new Error(`unknown backend ${String(_exhaustive)}`);
    }
  }
}

/** Starts `name` as the tfjs backend; returns the failure message, or null on success. */
async function start(name: BackendName, environment: BackendEnvironment): Promise<string | null> {
  try {
    await registerBackendPackage(name, environment);
    if (!tf.findBackendFactory(name)) return `the ${name} backend did not register (not supported in this runtime)`;
    const ok = await tf.setBackend(name);
    if (!ok) return `tf.setBackend('${name}') failed to initialise (see the console for tfjs's warning)`;
    await tf.ready();
    return null;
  } catch (error) {
    return messageOf(error);
  }
}

/**
 * What the running WASM backend executes, for the report: its XNNPACK thread count and which of tfjs's three
 * binaries it loaded. The threaded binary needs SharedArrayBuffer, i.e. a cross-origin isolated page
 * (vite.config.ts, public/coi-serviceworker.js); tfjs then runs at most half the logical cores (so one thread
 * on a two-core machine), never more than its own cap.
 */
export async function describeRunningWasm(): Promise<string> {
  const { getThreadsCount } = await import('@tensorflow/tfjs-backend-wasm');
  const [simd, threaded] = await Promise.all([
    tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'),
    tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT'),
  ]);
  const threads = getThreadsCount();
  const cores = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency;
  const binary =
    threaded && simd ? 'threaded SIMD binary' : simd ? 'SIMD binary, no threads' : 'plain binary, no threads';
  const isolated = (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated;
  const why = !threaded && isolated === false ? ' (the page is not cross-origin isolated)' : '';
  return `WebAssembly CPU kernels (XNNPACK): ${threads} thread${threads === 1 ? '' : 's'}${cores ? ` of ${cores} logical cores` : ''}, ${binary}${why}`;
}

/**
 * Starts our SIMD kernels' helper threads beside tfjs's (src/model/kernelPool.ts) when tfjs runs its threaded
 * binary with 2 or more threads, and waits (at most a few seconds) for them; returns the report's words for them,
 * empty where tfjs runs one thread. The pool shares tfjs's thread count: our kernels run between XNNPACK's
 * convolutions, never beside them, so together they use the threads tfjs was granted.
 */
async function startWasmKernelThreads(environment: BackendEnvironment): Promise<string> {
  const { getThreadsCount } = await import('@tensorflow/tfjs-backend-wasm');
  const threads = getThreadsCount();
  if (threads < 2) return '';
  const memory = wasmMemoryOf(tf.backend() as unknown as WasmBackendLike);
  let why: string;
  if (!tf.env().getBool(WASM_KERNELS_FLAG)) why = 'turned off';
  else if (!memory) why = 'tfjs does not expose its memory';
  else if (!environment.spawnKernelHelper) why = 'no helper workers in this runtime';
  else {
    const started = await startKernelPool(memory, threads - 1, environment.spawnKernelHelper);
    if (typeof started !== 'string') {
      return `; our SIMD kernels on ${started.ready + 1} of ${threads} threads`;
    }
    why = started;
  }
  return `; our SIMD kernels on 1 thread (${why})`;
}

/** The state of our WASM kernels' threads on the running WASM backend, or null where none were started. */
export function wasmKernelThreadStats(): KernelThreadStats | null {
  if (tf.getBackend() !== 'wasm') return null;
  const memory = wasmMemoryOf(tf.backend() as unknown as WasmBackendLike);
  return memory ? kernelThreadStats(memory) : null;
}

/** The GPUDevice of the running WebGPU backend (tfjs keeps it as a public field). */
function webGpuDevice(): GpuDeviceLike | null {
  const backend = tf.findBackend('webgpu') as unknown as { device?: GpuDeviceLike } | null;
  return backend?.device ?? null;
}

/**
 * Chooses and starts a backend. `choice` 'auto' follows the automatic order; a name forces that backend and
 * falls back to the automatic order only when it cannot start. The returned report says what was tried and why.
 */
export async function selectBackend(
  choice: BackendChoice,
  environment: BackendEnvironment = {},
): Promise<ActiveBackend> {
  const probes: BackendProbe[] = [];
  let adapter: AdapterInfo | null = null;

  /** Whether `name` is worth starting: for 'auto' it must be real hardware; a forced backend may be software. */
  const examine = async (name: BackendName, forced: boolean): Promise<{ ok: boolean; note: string }> => {
    if (name === 'webgpu') {
      const result = await probeWebGpu();
      adapter = result.adapter ?? adapter;
      if (!result.probe.usable) return { ok: false, note: result.probe.note };
      if (result.software && !forced) return { ok: false, note: `${result.probe.note}; treated as no GPU` };
      return { ok: true, note: result.probe.note };
    }
    if (name === 'webgl') {
      const result = probeWebGl();
      if (!result.probe.usable) return { ok: false, note: result.probe.note };
      if (result.software && !forced) return { ok: false, note: `${result.probe.note}; treated as no GPU` };
      return { ok: true, note: result.probe.note };
    }
    return { ok: true, note: name === 'wasm' ? 'WebAssembly CPU kernels (XNNPACK)' : 'plain JavaScript CPU kernels' };
  };

  const attempt = async (name: BackendName, forced: boolean): Promise<boolean> => {
    const { ok, note } = await examine(name, forced);
    if (!ok) {
      probes.push({ backend: name, usable: false, note });
      return false;
    }
    const failure = await start(name, environment);
    if (failure === null && name === 'wasm') {
      const kernelThreads = await startWasmKernelThreads(environment);
      probes.push({ backend: name, usable: true, note: (await describeRunningWasm()) + kernelThreads });
      return true;
    }
    probes.push({
      backend: name,
      usable: failure === null,
      note: failure === null ? note : `${note}; failed to start: ${failure}`,
    });
    return failure === null;
  };

  const finish = (name: BackendName, reason: string): ActiveBackend => {
    const lostDevice = name === 'webgpu' ? webGpuDevice() : null;
    return {
      report: { backend: name, reason, adapter, probes },
      deviceLost: lostDevice
        ? lostDevice.lost.then((info) =>
            info.reason === 'destroyed' ? new Promise<string>(() => {}) : info.message || 'GPU device lost',
          )
        : null,
    };
  };

  if (choice !== 'auto') {
    if (await attempt(choice, true))
      return finish(choice, `forced: backend '${choice}' was requested (${probes[probes.length - 1].note})`);
  }
  for (const name of AUTO_ORDER) {
    if (name === choice) continue;
    if (await attempt(name, false)) {
      const passedOver = probes.filter((p) => !p.usable).map((p) => `${p.backend}: ${p.note}`);
      const prefix = choice === 'auto' ? '' : `forced backend '${choice}' is unavailable; fell back. `;
      const why =
        passedOver.length > 0
          ? `${prefix}${name} chosen because ${passedOver.join('; ')}`
          : `${prefix}${name} is the first choice and works`;
      return finish(name, why);
    }
  }
  throw new Error(`no tfjs backend could start: ${probes.map((p) => `${p.backend}: ${p.note}`).join('; ')}`);
}

/**
 * Forgets a backend after its device was lost, so the next `selectBackend` starts it afresh (a lost WebGPU device
 * cannot be revived; tfjs would keep using it).
 */
export function forgetBackend(name: BackendName): void {
  if (tf.findBackend(name) === null && !tf.findBackendFactory(name)) return;
  try {
    tf.removeBackend(name);
  } catch {
    // removeBackend disposes the backend before it unregisters it, and disposing one whose device is gone may
    // throw; then unregister it by hand (the engine's registries are public fields), so the next start is fresh.
    const engine = tf.engine() as unknown as {
      registry: Record<string, unknown>;
      registryFactory: Record<string, unknown>;
      backendName: string | null;
      backendInstance: unknown;
    };
    delete engine.registry[name];
    delete engine.registryFactory[name];
    if (engine.backendName === name) {
      engine.backendName = null;
      engine.backendInstance = null;
    }
  }
}

/** The backend method that runs one GPU program: one compute dispatch on webgpu, one shader program on webgl. */
const GPU_PROGRAM_METHOD: Partial<Record<string, string>> = { webgpu: 'recordAndSubmit', webgl: 'runWebGLProgram' };

/**
 * Runs `work` while counting the GPU programs the current backend runs, by wrapping the backend's own
 * program-running method on its instance for the duration (a debug measurement; nothing else is changed).
 * @returns the count, or null on a backend without GPU programs (wasm, cpu)
 */
export async function countGpuPrograms(work: () => Promise<void>): Promise<number | null> {
  const methodName = GPU_PROGRAM_METHOD[tf.getBackend()];
  const backend = tf.backend() as unknown as Record<string, unknown>;
  const original = methodName ? backend[methodName] : undefined;
  if (!methodName || typeof original !== 'function') {
    await work();
    return null;
  }
  const hadOwnProperty = Object.prototype.hasOwnProperty.call(backend, methodName);
  let count = 0;
  backend[methodName] = function (this: unknown, ...args: unknown[]) {
    count++;
    return original.apply(this, args);
  };
  try {
    await work();
  } finally {
    if (hadOwnProperty) backend[methodName] = original;
    else delete backend[methodName]; // uncovers the prototype's method again
  }
  return count;
}

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

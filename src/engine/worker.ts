/**
 * The engine worker: thin glue between `postMessage` and the engine core. It owns tfjs and the GPU for the app;
 * the main thread only talks to it through `EngineClient`.
 */
import wasmPlainUrl from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm?url';
import wasmSimdUrl from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm?url';
import wasmThreadedSimdUrl from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm?url';
import type { KernelHelperSpawner } from '../model/kernelPool';
import { wasmKernelThreadStats } from './backend';
import { Engine } from './engine';
import type { EngineInbound } from './protocol';

declare const self: DedicatedWorkerGlobalScope;

/**
 * One helper worker of our WASM kernels (src/model/kernelPool.ts); written here, as a literal `new Worker(new
 * URL(...))`, so that Vite bundles kernelHelper.ts as a worker of its own.
 */
const spawnKernelHelper: KernelHelperSpawner = (init, onFailure) => {
  const helper = new Worker(new URL('../model/kernelHelper.ts', import.meta.url), {
    type: 'module',
    name: 'infodiffusion-kernel-helper',
  });
  helper.addEventListener('error', (event) => onFailure(event.message || 'the worker script failed to load'));
  helper.postMessage(init);
  return helper;
};

const engine = new Engine({
  post: (message, transfer) => self.postMessage(message, transfer),
  // Served by Vite as hashed assets next to the bundle; the threaded build is only picked under cross-origin
  // isolation, which the app does not require.
  backendEnvironment: {
    wasmPaths: {
      'tfjs-backend-wasm.wasm': wasmPlainUrl,
      'tfjs-backend-wasm-simd.wasm': wasmSimdUrl,
      'tfjs-backend-wasm-threaded-simd.wasm': wasmThreadedSimdUrl,
    },
    spawnKernelHelper,
  },
});

/**
 * A probe for the e2e specs (e2e/app/threads.spec.ts reads it through Playwright's handle on this worker): how
 * many kernel calls our helper threads shared. Reads counters only; nothing in the app calls it.
 */
(self as unknown as { __kernelThreadStats: typeof wasmKernelThreadStats }).__kernelThreadStats = wasmKernelThreadStats;

self.addEventListener('message', (event: MessageEvent<EngineInbound>) => engine.receive(event.data));

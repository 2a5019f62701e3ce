/**
 * The engine worker: thin glue between `postMessage` and the engine core. It owns tfjs and the GPU for the app;
 * the main thread only talks to it through `EngineClient`.
 */
import wasmPlainUrl from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm?url';
import wasmSimdUrl from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm?url';
import wasmThreadedSimdUrl from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm?url';
import { Engine } from './engine';
import type { EngineInbound } from './protocol';

declare const self: DedicatedWorkerGlobalScope;

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
  },
});

self.addEventListener('message', (event: MessageEvent<EngineInbound>) => engine.receive(event.data));

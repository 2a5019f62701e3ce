/**
 * A helper thread of our kernel pool (kernelPool.ts), as a browser module worker. Its first message is a
 * KernelHelperInit: it instantiates the kernels on tfjs's shared memory and then serves jobs from the control
 * block until told to stop (kernelControl.ts). It never answers a message: everything it does goes through the
 * control block, and it blocks its own event loop while it serves. The engine worker starts it
 * (src/engine/worker.ts, `new Worker(new URL(...))` so that Vite bundles it).
 */
import { serveKernelJobs } from './kernelControl';
import type { KernelHelperInit } from './kernelPool';
import type { SimdKernels } from './wasmSimd';

declare const self: DedicatedWorkerGlobalScope;

self.addEventListener(
  'message',
  (event: MessageEvent<KernelHelperInit>) => {
    const { module, memory, control } = event.data;
    const kernels = new WebAssembly.Instance(module, { env: { memory } }).exports as unknown as SimdKernels;
    serveKernelJobs(new Int32Array(control), kernels, () => performance.now());
  },
  { once: true },
);

/**
 * kernelHelper.ts for Node's worker threads, so the pool's tests run the real protocol on a real shared memory
 * (Node shares a WebAssembly.Memory({ shared: true }) and a SharedArrayBuffer with its worker threads, as a
 * browser shares them with workers). Started with tsx's loader by kernelPool.test.ts.
 */
import { parentPort } from 'node:worker_threads';
import { serveKernelJobs } from '../kernelControl';
import type { KernelHelperInit } from '../kernelPool';
import type { SimdKernels } from '../wasmSimd';

parentPort!.once('message', ({ module, memory, control }: KernelHelperInit) => {
  const kernels = new WebAssembly.Instance(module, { env: { memory } }).exports as unknown as SimdKernels;
  serveKernelJobs(new Int32Array(control), kernels, () => performance.now());
});

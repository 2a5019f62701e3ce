/**
 * Backend selection in Node, where neither WebGPU nor WebGL exists: the automatic order lands on WASM and says why,
 * a forced backend that cannot start falls back with the reason, software adapters are recognised, and a
 * backend that throws while being disposed is still forgotten. (The browser cases run in e2e/runtime.spec.ts.)
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { afterEach, describe, expect, it } from 'vitest';
import { forgetBackend, isSoftwareAdapter, isSoftwareRenderer, selectBackend } from './backend';
import type { BackendName } from './protocol';

afterEach(async () => {
  await tf.setBackend('cpu');
});

describe('selectBackend', () => {
  it('picks WASM automatically where there is no GPU, naming what it passed over', async () => {
    const { report, deviceLost } = await selectBackend('auto');
    expect(report.backend).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
    expect(deviceLost).toBeNull();
    expect(report.probes.map((p) => [p.backend, p.usable])).toEqual([
      ['webgpu', false],
      ['webgl', false],
      ['wasm', true],
    ]);
    expect(report.reason).toBe(
      'wasm chosen because webgpu: navigator.gpu is missing (no WebGPU in this browser or runtime); webgl: OffscreenCanvas is missing (no WebGL here)',
    );
  });

  it('says how many threads WASM runs and which binary it loaded', async () => {
    const { report } = await selectBackend('wasm');
    // Node has no SharedArrayBuffer-backed wasm threads for tfjs: one thread, the single-threaded SIMD binary.
    expect(report.probes.find((p) => p.backend === 'wasm')?.note).toMatch(
      /^WebAssembly CPU kernels \(XNNPACK\): 1 thread( of \d+ logical cores)?, SIMD binary, no threads$/,
    );
    expect(report.reason).toContain(
      "forced: backend 'wasm' was requested (WebAssembly CPU kernels (XNNPACK): 1 thread",
    );
  });

  it('falls back from a forced backend that cannot start, and says so', async () => {
    const { report } = await selectBackend('webgpu');
    expect(report.backend).toBe('wasm');
    expect(report.reason).toMatch(
      /^forced backend 'webgpu' is unavailable; fell back\. wasm chosen because webgpu: navigator\.gpu is missing/,
    );
  });

  it('uses a forced backend that works', async () => {
    const { report } = await selectBackend('cpu');
    expect(report).toMatchObject({
      backend: 'cpu',
      reason: "forced: backend 'cpu' was requested (plain JavaScript CPU kernels)",
      adapter: null,
    });
    expect(tf.getBackend()).toBe('cpu');
  });
});

describe('software GPU detection', () => {
  const adapter = { vendor: 'google', architecture: '', device: '', description: '', isFallbackAdapter: false };

  it('treats SwiftShader and self-declared fallback adapters as software', () => {
    expect(isSoftwareAdapter({ ...adapter, architecture: 'swiftshader' })).toBe(true);
    expect(isSoftwareAdapter({ ...adapter, description: 'SwiftShader Device (Subzero)' })).toBe(true);
    expect(isSoftwareAdapter({ ...adapter, isFallbackAdapter: true })).toBe(true);
    expect(isSoftwareAdapter({ ...adapter, vendor: 'nvidia', architecture: 'hopper' })).toBe(false);
  });

  it('treats SwiftShader, llvmpipe and Microsoft Basic Render as software WebGL renderers', () => {
    expect(
      isSoftwareRenderer(
        'ANGLE (Google, Vulkan 1.3.0 (SwiftShader Device (Subzero) (0x0000C0DE)), SwiftShader driver)',
      ),
    ).toBe(true);
    expect(isSoftwareRenderer('llvmpipe (LLVM 15.0.6, 256 bits)')).toBe(true);
    expect(isSoftwareRenderer('ANGLE (Microsoft, Microsoft Basic Render Driver Direct3D11)')).toBe(true);
    expect(isSoftwareRenderer('ANGLE (NVIDIA, NVIDIA GeForce RTX 4090 Direct3D11 vs_5_0 ps_5_0)')).toBe(false);
  });
});

describe('forgetBackend', () => {
  it('unregisters a backend even when disposing it throws (a lost device)', async () => {
    const name = 'lost-device-test' as BackendName;
    const cpu = tf.findBackend('cpu') as tf.KernelBackend;
    // It never computes: it only has to exist and fail to dispose, as a WebGPU backend on a lost device may.
    tf.registerBackend(name, () =>
      Object.assign(Object.create(cpu) as tf.KernelBackend, {
        dispose: () => {
          throw new Error('device lost');
        },
      }),
    );
    expect(await tf.setBackend(name)).toBe(true);
    // tfjs alone leaves it registered: removeBackend throws before it unregisters anything.
    expect(() => tf.removeBackend(name)).toThrow('device lost');
    expect(tf.findBackend(name)).not.toBeNull();
    forgetBackend(name);
    expect(tf.findBackend(name)).toBeNull();
    expect(tf.findBackendFactory(name)).toBeNull();
  });
});

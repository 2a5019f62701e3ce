/**
 * The engine in a real browser: the worker on WebGPU (SwiftShader here, forced, since automatic selection treats
 * a software adapter as no GPU) computes what the same worker computes on the CPU backend, every job returns
 * the tensor count to its baseline, latest-wins supersedes a running render, and a browser without WebGPU falls
 * back with a reason. Driven through the harness page (e2e/harness), with the fixture model.
 */
import { chromium } from '@playwright/test';
import { CHROMIUM, QUIET_ARGS } from '../playwright.config';
import type { HarnessLoad, PlainImages } from './harness/api';
import { EngineHarness, expect, test } from './harness/fixture';

const FIXTURE = 'models/fixture/';
const TOLERANCE = 1e-4;

/** max|a - b| / max|b|, the parity measure used against PyTorch too. */
function relativeError(actual: number[], expected: number[]): number {
  expect(actual.length).toBe(expected.length);
  let diff = 0;
  let scale = 0;
  expected.forEach((b, k) => {
    diff = Math.max(diff, Math.abs(actual[k] - b));
    scale = Math.max(scale, Math.abs(b));
  });
  return diff / scale;
}

/** A smooth deterministic test pattern in [-1, 1]: rings and a gradient, different per image of the batch. */
function testImages(arch: HarnessLoad['architecture'], batch: number): PlainImages {
  const { imageSize: size, imageChannels: channels } = arch;
  const data: number[] = [];
  for (let b = 0; b < batch; b++) {
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const r = Math.hypot(x - size / 2, y - size / 2) / size;
        for (let c = 0; c < channels; c++) data.push(Math.sin(6 * r * (b + 1) + c) * 0.8 + (x / size - 0.5) * 0.2);
      }
    }
  }
  return { shape: [batch, size, size, channels], data };
}

/** Asserts the engine's tensor count is back at the baseline it reported when the model became ready. */
async function expectNoLeak(harness: EngineHarness, engine: string, after: string): Promise<void> {
  const stats = await harness.call('stats', engine);
  expect(stats.leaks, `leaks after ${after} on ${engine}`).toEqual([]);
  expect(stats.numTensors, `tensors after ${after} on ${engine}`).toBe(stats.baselineTensors);
}

test.describe('engine runtime', () => {
  test('WebGPU matches the CPU backend within 1e-4 and every job returns to the tensor baseline', async ({
    engineHarness: harness,
  }, testInfo) => {
    await harness.call('createEngine', 'gpu');
    await harness.call('createEngine', 'cpu');
    const gpu = await harness.call('load', 'gpu', { modelPath: FIXTURE, backend: 'webgpu' });
    const cpu = await harness.call('load', 'cpu', { modelPath: FIXTURE, backend: 'cpu' });
    await testInfo.attach('backends.json', {
      body: JSON.stringify({ gpu: gpu.backend, cpu: cpu.backend }, null, 2),
      contentType: 'application/json',
    });

    // It really is WebGPU, on this machine's software adapter.
    expect(gpu.backend.backend).toBe('webgpu');
    expect(gpu.backend.adapter?.architecture).toBe('swiftshader');
    expect(gpu.backend.reason).toContain("forced: backend 'webgpu' was requested");
    expect(gpu.phases).toEqual(['download', 'compile']);
    expect(cpu.backend.backend).toBe('cpu');
    expect(gpu.modelId).toBe('fixture');

    const x = testImages(gpu.architecture, 2);
    const zGpu = await harness.call('encode', 'gpu', x);
    const zCpu = await harness.call('encode', 'cpu', x);
    expect(zGpu.shape).toEqual([2, gpu.architecture.latentDim]);
    expect(relativeError(zGpu.data, zCpu.data)).toBeLessThan(TOLERANCE);
    await expectNoLeak(harness, 'gpu', 'encode');

    const sampleParams = { z: { shape: zCpu.shape, data: zCpu.data }, seed: 7, steps: 2, returnTrajectory: true };
    const sampledGpu = await harness.call('sample', 'gpu', sampleParams);
    const sampledCpu = await harness.call('sample', 'cpu', sampleParams);
    expect(sampledGpu.trajectoryFrames).toBe(2);
    expect(relativeError(sampledGpu.images.data, sampledCpu.images.data)).toBeLessThan(TOLERANCE);
    await expectNoLeak(harness, 'gpu', 'sample');

    const invertedGpu = await harness.call('invert', 'gpu', x, { steps: 2 });
    const invertedCpu = await harness.call('invert', 'cpu', x, { steps: 2 });
    expect(relativeError(invertedGpu.xNoise.data, invertedCpu.xNoise.data)).toBeLessThan(TOLERANCE);
    await expectNoLeak(harness, 'gpu', 'invert');

    const one = testImages(gpu.architecture, 1);
    const nllGpu = await harness.call('nll', 'gpu', one, { samples: 4, seed: 3 });
    const nllCpu = await harness.call('nll', 'cpu', one, { samples: 4, seed: 3 });
    expect(Math.abs(nllGpu.estimates[0].bitsPerDim - nllCpu.estimates[0].bitsPerDim)).toBeLessThan(1e-3);
    await expectNoLeak(harness, 'gpu', 'nll');

    const curve = await harness.call('mmseCurve', 'gpu', one, { points: 3, repeats: 1 });
    expect(curve.mmse).toHaveLength(3);
    await expectNoLeak(harness, 'gpu', 'mmseCurve');

    const noised = await harness.call('forwardNoise', 'gpu', one, { logSnr: 0, seed: 1 });
    expect(noised.alphaBar).toBeCloseTo(0.5, 12);
    await expectNoLeak(harness, 'gpu', 'forwardNoise');
    await expectNoLeak(harness, 'cpu', 'every job');
  });

  test('a newer render on the same channel supersedes the running one between DDIM steps', async ({
    engineHarness: harness,
  }) => {
    await harness.call('createEngine', 'gpu');
    const loaded = await harness.call('load', 'gpu', { modelPath: FIXTURE, backend: 'webgpu' });
    const z = {
      shape: [1, loaded.architecture.latentDim] as [number, number],
      data: new Array<number>(loaded.architecture.latentDim).fill(0.5),
    };
    const outcome = await harness.call(
      'supersede',
      'gpu',
      { channel: 'view', z, seed: 1, steps: 25 },
      { channel: 'view', z, seed: 2, steps: 2 },
    );
    expect(outcome).toMatchObject({ first: 'aborted', second: 'result' });
    expect(outcome.firstSteps).toBeGreaterThanOrEqual(1);
    expect(outcome.firstSteps).toBeLessThan(25);
    await expectNoLeak(harness, 'gpu', 'a superseded render');
  });

  test('automatic selection treats the SwiftShader adapter as no GPU and says so', async ({
    engineHarness: harness,
  }) => {
    await harness.call('createEngine', 'auto');
    const loaded = await harness.call('load', 'auto', { modelPath: FIXTURE });
    expect(loaded.backend.backend).toBe('wasm');
    expect(loaded.backend.probes[0]).toMatchObject({
      backend: 'webgpu',
      usable: false,
      note: expect.stringContaining('software adapter'),
    });
    expect(loaded.backend.reason).toMatch(/^wasm chosen because webgpu: software adapter .* treated as no GPU/);
    expect(loaded.backend.adapter?.architecture).toBe('swiftshader');
    const z = await harness.call('encode', 'auto', testImages(loaded.architecture, 1));
    expect(z.shape).toEqual([1, loaded.architecture.latentDim]);
  });

  test('forcing WebGPU in a browser without it falls back with the reason', async ({ browserName }, testInfo) => {
    expect(browserName).toBe('chromium');
    // Without --enable-unsafe-webgpu, Chromium on Linux offers no WebGPU adapter at all.
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: QUIET_ARGS });
    try {
      const page = await browser.newPage({ baseURL: testInfo.project.use.baseURL });
      const harness = new EngineHarness(page);
      await harness.open();
      await harness.call('createEngine', 'nogpu');
      const loaded = await harness.call('load', 'nogpu', { modelPath: FIXTURE, backend: 'webgpu' });
      expect(loaded.backend.backend).not.toBe('webgpu');
      expect(loaded.backend.reason).toContain("forced backend 'webgpu' is unavailable; fell back");
      expect(loaded.backend.probes[0]).toMatchObject({ backend: 'webgpu', usable: false });
      expect(loaded.backend.probes[0].note).toMatch(/requestAdapter\(\) returned null|navigator\.gpu is missing/);
      const z = await harness.call('encode', 'nogpu', testImages(loaded.architecture, 1));
      expect(z.shape).toEqual([1, loaded.architecture.latentDim]);
    } finally {
      await browser.close();
    }
  });
});

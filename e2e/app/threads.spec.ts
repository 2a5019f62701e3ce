/**
 * Threads for the WebAssembly backend: the built app is cross-origin isolated, so tfjs loads its threaded SIMD
 * binary (whose pthread workers are built from Function.toString(), which the production minifier used to break),
 * and the engine still renders with it; the backend popover says how many threads run. Served twice: by the
 * preview server, which sends COOP/COEP itself, and through a proxy that strips those headers, as a static host
 * would, where public/coi-serviceworker.js must add them.
 *
 * tfjs-backend-wasm runs at most half of navigator.hardwareConcurrency threads, so on a two-core machine the
 * threaded binary runs one thread: these tests check isolation, that the threaded binary loads, and that it
 * renders, not a speed-up (that is the benchmark's business). The last test emulates 4 cores, as the benchmark
 * does, to check that our own SIMD kernels then run on a helper thread as well (src/model/kernelPool.ts) and
 * compute what they compute on one.
 */
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, Page, Worker } from '@playwright/test';
import type { KernelThreadStats } from '../../src/model/kernelPool';
import type { HarnessApi, PlainImages } from '../harness/api';
import { EngineHarness } from '../harness/fixture';
import { expect, test, type Explorer } from './fixtures';

const WASM_FIXTURE_URL = '?model=fixture&backend=wasm&steps=2';
/** The WASM probe's note when the threaded binary runs (src/engine/backend.ts, describeRunningWasm). */
const THREADED_NOTE = /WebAssembly CPU kernels \(XNNPACK\): (\d+) threads? of \d+ logical cores, threaded SIMD binary/;

/** crossOriginIsolated of the page's current document; false while a reload replaces it. */
function isolated(page: Page): Promise<boolean> {
  return page.evaluate(() => crossOriginIsolated).catch(() => false);
}

/** Asserts the engine runs the threaded binary, as the report and the backend popover say, and renders. */
async function expectThreadedWasmRendering(explorer: Explorer, page: Page, name: string): Promise<void> {
  const report = await explorer.backend();
  expect(report?.backend).toBe('wasm');
  const note = report?.probes.find((probe) => probe.backend === 'wasm')?.note ?? '';
  expect(note).toMatch(THREADED_NOTE);
  expect(Number(THREADED_NOTE.exec(note)?.[1])).toBeGreaterThanOrEqual(1);
  await explorer.backendBadge.click();
  await expect(page.locator('.backend-details')).toContainText(THREADED_NOTE);
  await explorer.waitForSettled();
  expect(await explorer.bridge('lastRenderId')).toBeGreaterThan(0);
  const stats = await explorer.engineStats();
  expect(stats.leaks).toEqual([]);
  await test
    .info()
    .attach(`${name}-backend.json`, { body: JSON.stringify(report, null, 2), contentType: 'application/json' });
  await explorer.screenshot(name);
}

test('served with COOP/COEP, the app is cross-origin isolated and renders on the threaded WASM binary', async ({
  explorer,
  page,
}) => {
  const response = await page.goto(WASM_FIXTURE_URL);
  expect(response?.headers()['cross-origin-embedder-policy']).toBe('require-corp');
  expect(await isolated(page)).toBe(true);
  await explorer.waitForRender(0);
  await expectThreadedWasmRendering(explorer, page, 'threads-headers');
});

/** A proxy in front of the test server that drops the isolation headers, as a plain static host serves. */
async function startHeaderStrippingProxy(upstream: URL): Promise<{ origin: string; server: Server }> {
  const server = createServer((incoming, outgoing) => {
    const forwarded = httpRequest(
      {
        host: upstream.hostname,
        port: upstream.port,
        path: incoming.url,
        method: incoming.method,
        headers: incoming.headers,
      },
      (answer) => {
        const headers = { ...answer.headers };
        delete headers['cross-origin-opener-policy'];
        delete headers['cross-origin-embedder-policy'];
        outgoing.writeHead(answer.statusCode ?? 502, headers);
        answer.pipe(outgoing);
      },
    );
    forwarded.on('error', (error) => outgoing.writeHead(502).end(String(error)));
    incoming.pipe(forwarded);
  });
  await new Promise<void>((listening) => server.listen(0, '127.0.0.1', listening));
  return { origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, server };
}

test('on a host that sends no COOP/COEP, our service worker isolates the page and the threaded binary renders', async ({
  explorer,
  page,
  baseURL,
}) => {
  const proxy = await startHeaderStrippingProxy(new URL(baseURL!));
  try {
    const response = await page.goto(new URL(WASM_FIXTURE_URL, proxy.origin).href);
    expect(response?.headers()['cross-origin-embedder-policy']).toBeUndefined();
    // The service worker registers, takes control and reloads the page once; the reloaded document is isolated.
    await expect.poll(() => isolated(page)).toBe(true);
    expect(await page.evaluate(() => navigator.serviceWorker.controller?.scriptURL)).toMatch(
      /\/coi-serviceworker\.js$/,
    );
    await explorer.waitForRender(0);
    await expectThreadedWasmRendering(explorer, page, 'threads-service-worker');
  } finally {
    proxy.server.closeAllConnections();
    await new Promise((closed) => proxy.server.close(closed));
  }
});

/**
 * The engine harness in a page of its own whose engine worker sees navigator.hardwareConcurrency = `cores`, as the
 * benchmark emulates 4 cores (src/cli/bench.ts, EMULATED_CORES): tfjs-backend-wasm runs half of them as XNNPACK
 * threads, so 4 gives 2 threads and 2 gives 1 on any machine.
 */
async function harnessWithCores(browser: Browser, cores: number): Promise<EngineHarness> {
  const page = await browser.newPage();
  await page.route(/\/assets\/worker-[^/]*\.js$/, async (route) => {
    const response = await route.fetch();
    const override = `Object.defineProperty(navigator, 'hardwareConcurrency', { get: () => ${cores} });\n`;
    await route.fulfill({ response, body: override + (await response.text()) });
  });
  const harness = new EngineHarness(page);
  await harness.open();
  return harness;
}

/** Our kernel threads' counters in the page's engine worker (src/engine/worker.ts puts the probe there). */
async function kernelThreadStats(page: Page): Promise<KernelThreadStats | null> {
  const engineWorker = (): Worker | undefined =>
    page.workers().find((w) => /\/assets\/worker-[^/]*\.js$/.test(w.url()));
  await expect.poll(() => engineWorker() !== undefined).toBe(true);
  return engineWorker()!.evaluate(() =>
    (self as unknown as { __kernelThreadStats: () => KernelThreadStats | null }).__kernelThreadStats(),
  );
}

/** Eleven distinct 32 x 32 test images in [-1, 1]. */
function testImages(size: number, batch: number): PlainImages {
  const data: number[] = [];
  for (let b = 0; b < batch; b++) {
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) data.push(Math.sin((x * (b + 1)) / 5 + y / 7) * 0.8 + (x / size - 0.5) * 0.2);
    }
  }
  return { shape: [batch, size, size, 1], data };
}

const maxDifference = (a: number[], b: number[]): number => {
  expect(a.length).toBe(b.length);
  return a.reduce((worst, value, k) => Math.max(worst, Math.abs(value - b[k])), 0);
};

test('with 2 XNNPACK threads our SIMD kernels run on 2 threads too, and match 1 thread within 1e-5', async ({
  browser,
}) => {
  // The default model at batch 11: maps large enough to be split (src/model/kernelSplit.ts, SPLIT_MIN_ELEMENTS).
  const options = { modelPath: 'models/fashion-mnist/', backend: 'wasm' as const, warmupBatchSizes: [11] };
  const one = await harnessWithCores(browser, 2);
  const two = await harnessWithCores(browser, 4);
  try {
    const loads = await Promise.all(
      [one, two].map((h) => h.call('createEngine', 'e').then(() => h.call('load', 'e', options))),
    );
    const notes = loads.map((load) => load.backend.probes.find((probe) => probe.backend === 'wasm')?.note ?? '');
    expect(notes[0]).toMatch(/XNNPACK\): 1 thread of 2 logical cores, threaded SIMD binary$/);
    expect(notes[1]).toMatch(
      /XNNPACK\): 2 threads of 4 logical cores, threaded SIMD binary; our SIMD kernels on 2 of 2 threads$/,
    );
    expect(await kernelThreadStats(one.page)).toBeNull();

    // DDIM inversion of 11 images in 2 steps: two denoiser calls at batch 11 (and the encoder) on each engine.
    const images = testImages(loads[0].architecture.imageSize, 11);
    type Invert = Awaited<ReturnType<HarnessApi['invert']>>;
    const [single, threaded] = (await Promise.all(
      [one, two].map((h) => h.call('invert', 'e', images, { steps: 2 })),
    )) as Invert[];
    expect(maxDifference(threaded.z.data, single.z.data)).toBeLessThanOrEqual(1e-5);
    expect(maxDifference(threaded.xNoise.data, single.xNoise.data)).toBeLessThanOrEqual(1e-5);

    const stats = await kernelThreadStats(two.page);
    expect(stats).toMatchObject({ helpers: 1, ready: 1, active: true, stopped: null });
    expect(stats!.jobs).toBeGreaterThan(0);
    // The helper thread itself ran parts of those calls (not only the engine thread).
    expect(stats!.helperParts).toBeGreaterThan(0);
    for (const h of [one, two]) expect((await h.call('stats', 'e')).leaks).toEqual([]);
    await test.info().attach('kernel-threads.json', {
      body: JSON.stringify({ notes, stats }, null, 2),
      contentType: 'application/json',
    });
  } finally {
    await Promise.all([one, two].map((h) => h.page.close()));
  }
});

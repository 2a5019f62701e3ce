/**
 * Threads for the WebAssembly backend: the built app is cross-origin isolated, so tfjs loads its threaded SIMD
 * binary (whose pthread workers are built from Function.toString(), which the production minifier used to break),
 * and the engine still renders with it; the backend popover says how many threads run. Served twice: by the
 * preview server, which sends COOP/COEP itself, and through a proxy that strips those headers, as a static host
 * would, where public/coi-serviceworker.js must add them.
 *
 * tfjs-backend-wasm runs at most half of navigator.hardwareConcurrency threads, so on a two-core machine the
 * threaded binary runs one thread: these tests check isolation, that the threaded binary loads, and that it
 * renders, not a speed-up (that is the benchmark's business).
 */
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Page } from '@playwright/test';
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

import { chromium } from '@playwright/test';
import { resolve } from 'node:path';
import { CHROMIUM, QUIET_ARGS, WEBGPU_ARGS } from '../../../playwright.config';
import { startStaticServer } from '../../cli/staticServer';
import { REPO_ROOT } from '../../cli/buildHarness';
const server = await startStaticServer('/tmp/eng/dist', { '/models/': resolve(REPO_ROOT, 'public/models') });
const browser = await chromium.launch({ executablePath: CHROMIUM, args: [...QUIET_ARGS, ...WEBGPU_ARGS] });
const page = await browser.newPage();
await page.goto(`${server.origin}e2e/harness/index.html`);
await page.getByText('ready').waitFor();
const r = await page.evaluate(async (warm) => {
  const h = window.__harness; const out: unknown[] = [];
  for (const w of [true, false]) {
    h.createEngine('g');
    const l = await h.load('g', { modelPath: 'models/fixture/', backend: 'webgpu', warmupBatchSizes: w ? [1] : [] as number[] });
    const z = { shape: [1, l.architecture.latentDim] as [number, number], data: new Array(l.architecture.latentDim).fill(0) };
    const a = await h.sample('g', { z, seed: 1, steps: 2 }); const b = await h.sample('g', { z, seed: 1, steps: 2 });
    out.push({ warm: w, loadWall: l.wallMs, compileMs: l.compileMs, first: a.wallMs, second: b.wallMs });
    h.terminate('g');
  }
  return out;
}, true);
console.log(JSON.stringify(r, null, 1));
await browser.close(); await server.close();

import { chromium } from '@playwright/test';
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--disable-background-networking','--disable-component-update','--disable-sync','--no-first-run','--enable-unsafe-webgpu','--enable-features=Vulkan','--use-vulkan=swiftshader','--use-angle=swiftshader','--enable-unsafe-swiftshader'] });
const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
page.on('pageerror', (e) => console.log('pageerror:', e.message));
await page.goto('http://127.0.0.1:4173/?model=fixture&backend=webgpu&steps=2');
await page.waitForFunction(() => document.querySelector('[data-testid="view.main.canvas"]')?.getAttribute('data-quality') === 'full', null, { timeout: 90000 });
await page.waitForTimeout(1500);
await page.evaluate(() => {
  window.__lt = [];
  new PerformanceObserver((list) => { for (const e of list.getEntries()) window.__lt.push({ start: Math.round(e.startTime), d: Math.round(e.duration), attr: JSON.stringify(e.attribution?.map(a => [a.name, a.containerType, a.containerSrc, a.containerName])) }); }).observe({ type: 'longtask' });
  window.__renders = [];
  const c = document.querySelector('[data-testid="view.main.canvas"]');
  new MutationObserver(() => window.__renders.push([Math.round(performance.now()), c.dataset.renderId, c.dataset.quality])).observe(c, { attributes: true, attributeFilter: ['data-render-id'] });
});
const mode = process.argv[2] ?? 'drag';
await browser.startTracing(page, { path: '/tmp/drag-trace.json', categories: ['devtools.timeline', 'disabled-by-default-devtools.timeline', 'v8.execute', 'blink.user_timing', 'toplevel', 'disabled-by-default-v8.gc'] });
const t0 = await page.evaluate(() => performance.now());
console.log('t0', Math.round(t0));
if (mode === 'idle') { await page.waitForTimeout(5000); }
else {
  const box = await page.getByRole('slider', { name: 'Latent dimension 1', exact: true }).boundingBox();
  const y = box.y + box.height / 2, left = box.x + box.width * 0.2, right = box.x + box.width * 0.8;
  await page.mouse.move(left, y); await page.mouse.down();
  const started = Date.now(); let t = 0;
  while (Date.now() - started < 5000) { t++; const ph = (t % 40) / 40; await page.mouse.move(left + (right - left) * (ph < 0.5 ? ph * 2 : 2 - ph * 2), y, { steps: 2 }); }
  await page.mouse.up();
}
await page.waitForTimeout(1500);
await browser.stopTracing();
console.log(JSON.stringify(await page.evaluate(() => ({ lt: window.__lt, renders: window.__renders.length, first: window.__renders.slice(0, 5), last: window.__renders.slice(-3) }))));
console.log(JSON.stringify((await page.evaluate(() => window.__explorerTest.engineStats())).recentRequests.map(r => [r.id, r.kind, r.outcome, Math.round(r.queuedMs), Math.round(r.elapsedMs)])));
await browser.close();

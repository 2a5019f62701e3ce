/**
 * The slider-drag benchmark: what a person feels while dragging a latent slider, measured in the built app in
 * headless Chromium. For each previews setting (the model's distilled student, then DDIM with the preview steps)
 * in one run, on the same page and model: a scripted drag moves the pointer every `moveEveryMs` for `dragMs`,
 * and every frame shown while the slider is held is logged with its decoder and its latency (from the first
 * change not yet on screen to the frame, as the app's status line measures it: src/state/renderLoop.ts).
 *
 *   npm run bench -- --drag [--drag-model fashion-mnist] [--drag-backend wasm] [--drag-ms 8000]
 *
 * Numbers are recorded, not asserted (docs/benchmarks.md, "Slider drag").
 */
import type { Browser, Page } from '@playwright/test';

/** The two ways the main view can preview while z changes (src/state/latentSlice.ts PreviewDecoder). */
export const DRAG_MODES = ['student', 'ddim'] as const;
export type DragMode = (typeof DRAG_MODES)[number];

export interface DragOptions {
  /** Origin serving the built app, e.g. http://127.0.0.1:41234/ */
  origin: string;
  modelId: string;
  backend: string;
  dragMs: number;
  /** Pointer moves this often: 16 ms is a 60 Hz pointer, so the frame rate measures the app, not the script. */
  moveEveryMs: number;
}

export interface DragResult {
  mode: DragMode;
  /** What the previews select said it would use, e.g. 'student (2 calls)' or 'full sampler (3 steps)'. */
  label: string;
  heldMs: number;
  framesWhileHeld: number;
  framesPerSecond: number;
  medianLatencyMs: number | null;
  /** Frames per decoder quality ('student', 'preview', 'full') while held. */
  byQuality: Record<string, number>;
  /** From release to the settled full-sampler frame. */
  settleMs: number;
}

interface LoggedFrame {
  t: number;
  quality: string;
  latencyMs: number | null;
}

declare global {
  interface Window {
    __dragLog?: LoggedFrame[];
  }
}

async function waitSettled(page: Page): Promise<void> {
  const image = page.getByRole('img', { name: 'Generated image' });
  await image.waitFor();
  await page.waitForFunction(
    () => {
      const canvas = document.querySelector<HTMLCanvasElement>('[data-testid="view.main.canvas"]');
      const ready = [...document.querySelectorAll('[role="status"]')].some((s) => s.textContent === 'Ready');
      return canvas?.dataset.quality === 'full' && ready;
    },
    undefined,
    { timeout: 180_000 },
  );
}

/** Drags latent slider 1 back and forth for `dragMs`; returns the frames logged while held and the timings. */
async function dragOnce(page: Page, mode: DragMode, options: DragOptions): Promise<DragResult> {
  const previews = page.getByLabel('Previews', { exact: true });
  await previews.selectOption(mode);
  const label = (await previews.locator('option:checked').textContent()) ?? mode;
  await waitSettled(page);
  await page.evaluate(() => {
    const canvas = document.querySelector<HTMLCanvasElement>('[data-testid="view.main.canvas"]')!;
    const log: LoggedFrame[] = [];
    window.__dragLog = log;
    new MutationObserver(() => {
      const timing = window.__explorerTest!.frameTiming();
      log.push({ t: performance.now(), quality: canvas.dataset.quality ?? '', latencyMs: timing.latencyMs });
    }).observe(canvas, { attributes: true, attributeFilter: ['data-render-id'] });
  });
  const slider = page.getByRole('slider', { name: 'Latent dimension 1', exact: true });
  const box = await slider.boundingBox();
  if (!box) throw new Error('latent slider 1 is not visible');
  const y = box.y + box.height / 2;
  const left = box.x + box.width * 0.25;
  const right = box.x + box.width * 0.75;
  await page.mouse.move(left, y);
  const downAt = await page.evaluate(() => performance.now());
  await page.mouse.down();
  const started = Date.now();
  for (let k = 1; Date.now() - started < options.dragMs; k++) {
    const phase = (k % 60) / 60;
    await page.mouse.move(left + (right - left) * (phase < 0.5 ? phase * 2 : 2 - phase * 2), y);
    await page.waitForTimeout(options.moveEveryMs);
  }
  const upAt = await page.evaluate(() => performance.now());
  await page.mouse.up();
  await waitSettled(page);
  const settledAt = await page.evaluate(() => performance.now());
  const log = await page.evaluate(() => window.__dragLog!);
  const held = log.filter((f) => f.t > downAt && f.t <= upAt);
  const latencies = held
    .map((f) => f.latencyMs)
    .filter((v): v is number => v !== null)
    .sort((a, b) => a - b);
  const byQuality: Record<string, number> = {};
  for (const f of held) byQuality[f.quality] = (byQuality[f.quality] ?? 0) + 1;
  const heldMs = upAt - downAt;
  return {
    mode,
    label: label.trim(),
    heldMs: Math.round(heldMs),
    framesWhileHeld: held.length,
    framesPerSecond: (held.length * 1000) / heldMs,
    medianLatencyMs: latencies.length ? latencies[Math.floor(latencies.length / 2)] : null,
    byQuality,
    settleMs: Math.round(settledAt - upAt),
  };
}

/** Both previews settings, one after the other on one page (same model, backend and browser). */
export async function benchSliderDrag(browser: Browser, options: DragOptions): Promise<DragResult[]> {
  const page = await browser.newPage();
  try {
    await page.emulateMedia({ reducedMotion: 'reduce' });
    await page.goto(`${options.origin}?model=${options.modelId}&backend=${options.backend}`);
    await waitSettled(page);
    if ((await page.getByLabel('Previews', { exact: true }).count()) === 0) {
      throw new Error(
        `model '${options.modelId}' has no distilled student: the drag compares student and DDIM previews`,
      );
    }
    // A short unmeasured drag with each setting first: the first frames of a decoder pay for compiling its
    // kernels and growing buffers, which would count against whichever setting happened to run first.
    for (const mode of DRAG_MODES) await dragOnce(page, mode, { ...options, dragMs: Math.min(1500, options.dragMs) });
    const results: DragResult[] = [];
    for (const mode of DRAG_MODES) results.push(await dragOnce(page, mode, options));
    return results;
  } finally {
    await page.close();
  }
}

/** The Markdown table of a drag run, ratios against the DDIM previews. */
export function dragTable(results: readonly DragResult[], options: Omit<DragOptions, 'origin'>): string {
  const ddim = results.find((r) => r.mode === 'ddim');
  const rows = results.map((r) => {
    const ratio =
      ddim && ddim.framesPerSecond > 0 ? ` (${(r.framesPerSecond / ddim.framesPerSecond).toFixed(2)}x)` : '';
    const qualities = Object.entries(r.byQuality)
      .map(([q, n]) => `${q} ${n}`)
      .join(', ');
    const latency = r.medianLatencyMs === null ? '–' : `${Math.round(r.medianLatencyMs)}`;
    return `| ${r.label} | ${r.framesPerSecond.toFixed(2)}${ratio} | ${latency} | ${r.framesWhileHeld} (${qualities}) | ${r.settleMs} |`;
  });
  return [
    `Slider drag, model \`${options.modelId}\`, backend ${options.backend}, ${options.dragMs} ms held, a pointer move every ${options.moveEveryMs} ms:`,
    '',
    '| previews | frames/s while held | median latency (ms) | frames while held | release to settled frame (ms) |',
    '|---|---|---|---|---|',
    ...rows,
  ].join('\n');
}

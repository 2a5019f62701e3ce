/**
 * The slider-drag benchmark: what a person feels while dragging a latent slider, measured in the built app in
 * headless Chromium. For each previews setting (the model's distilled student, then DDIM with the preview steps)
 * in one run, on the same page and model: a real press on latent slider 1, then its value moved every
 * `moveEveryMs` for `dragMs` by a timer in the page (a 60 Hz pointer), and every frame shown while the slider is
 * held is logged with its decoder and its latency (from the first change not yet on screen to the frame, as the
 * app's status line measures it: src/state/renderLoop.ts). The render loop's User Timing entries
 * (`main-view:render`, `main-view:present`, and the main view's `main-view:react-render` marks) say where each
 * frame's time went: the engine's own time, the messages, presenting, re-renders.
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
  /** How the browser composites the page, for the table (bench.ts `--drag-gpu`). */
  compositor?: string;
  /**
   * Records a Chrome trace of each measured drag into `<traceDir>/drag-<mode>.json` (bench.ts `--drag-trace`), for
   * where the page's own threads spend their time: `python3 scripts/trace-summary.py <file>`.
   */
  traceDir?: string;
}

/** Enough to see each frame's style, layout, paint and compositing, and the engine worker's tasks. */
const TRACE_CATEGORIES = ['devtools.timeline', 'disabled-by-default-devtools.timeline', 'blink', 'cc', 'viz'];

export interface DragResult {
  mode: DragMode;
  /** What the previews select said it would use, e.g. 'student (2 calls)' or 'full sampler (3 steps)'. */
  label: string;
  heldMs: number;
  framesWhileHeld: number;
  framesPerSecond: number;
  medianLatencyMs: number | null;
  /** Changes of the slider's value while held (input events): the most frames the drag can ask for. */
  changesWhileHeld: number;
  /** Frames per decoder quality ('student', 'preview', 'full') while held. */
  byQuality: Record<string, number>;
  /** Renders that landed while held, per decoder and calls ('student x1', 'ddim x3'). */
  byPlan: Record<string, number>;
  /** How often a held render's plan differed from the one before it: the image's sharpness changing mid-drag. */
  planSwitches: number;
  /** From release to the settled full-sampler frame. */
  settleMs: number;
  /** Where a frame's time went while held: medians of the render loop's User Timing entries (renderLoop.ts). */
  breakdown: DragBreakdown;
  /** The settled frame's own render: post to result, the engine's part, and its steps. */
  settled: { renderMs: number; engineMs: number; steps: number } | null;
}

/** Medians per frame shown while held, from the `main-view:*` performance entries the app records. */
export interface DragBreakdown {
  /** From posting the request to its result on the main thread. */
  renderMs: number | null;
  /** The engine's own time for the request (its `elapsedMs`): network calls, step arithmetic, read-back. */
  engineMs: number | null;
  /** renderMs - engineMs: messages both ways and any wait in the engine's queue. */
  transitMs: number | null;
  /** From the result's arrival to the frame drawn, React's re-renders included. */
  presentMs: number | null;
  /** Main-thread time per step progress message, React's re-renders included, and such messages per frame. */
  progressMs: number | null;
  progressPerFrame: number | null;
  /** Re-renders of the whole main view (MainView) per frame shown. */
  mainViewRendersPerFrame: number | null;
}

interface TraceEntry {
  name: string;
  start: number;
  duration: number;
  detail: Record<string, unknown> | null;
}

interface LoggedFrame {
  t: number;
  quality: string;
  latencyMs: number | null;
}

declare global {
  interface Window {
    __dragLog?: LoggedFrame[];
    __dragTrace?: TraceEntry[];
    __dragInputs?: number[];
    __dragTimer?: number;
  }
}

function median(values: readonly number[]): number | null {
  if (!values.length) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

function plansOf(
  trace: readonly TraceEntry[],
  from: number,
  to: number,
): { byPlan: Record<string, number>; planSwitches: number } {
  const byPlan: Record<string, number> = {};
  let planSwitches = 0;
  let previous: string | null = null;
  for (const e of trace) {
    if (e.name !== 'main-view:render' || e.start + e.duration <= from || e.start + e.duration > to) continue;
    const plan = `${String(e.detail?.decoder)} x${String(e.detail?.steps)}`;
    byPlan[plan] = (byPlan[plan] ?? 0) + 1;
    if (previous !== null && plan !== previous) planSwitches += 1;
    previous = plan;
  }
  return { byPlan, planSwitches };
}

/** The last full-sampler render after the release. */
function settledRender(trace: readonly TraceEntry[], from: number, to: number): DragResult['settled'] {
  const full = trace.filter(
    (e) => e.name === 'main-view:render' && e.start > from - 1 && e.start <= to && e.detail?.quality === 'full',
  );
  const last = full.at(-1);
  if (!last) return null;
  return { renderMs: last.duration, engineMs: Number(last.detail?.engineMs), steps: Number(last.detail?.steps) };
}

/** The medians of the trace entries recorded in [from, to]. */
function breakdownOf(trace: readonly TraceEntry[], from: number, to: number, frames: number): DragBreakdown {
  const inside = trace.filter((e) => e.start > from && e.start <= to);
  const named = (name: string) => inside.filter((e) => e.name === name);
  const renders = named('main-view:render');
  const engine = renders.map((e) => Number(e.detail?.engineMs)).filter(Number.isFinite);
  const transit = renders
    .filter((e) => Number.isFinite(Number(e.detail?.engineMs)))
    .map((e) => e.duration - Number(e.detail?.engineMs));
  const progress = named('main-view:progress');
  const per = (n: number) => (frames > 0 ? n / frames : null);
  return {
    renderMs: median(renders.map((e) => e.duration)),
    engineMs: median(engine),
    transitMs: median(transit),
    presentMs: median(named('main-view:present').map((e) => e.duration)),
    progressMs: median(progress.map((e) => e.duration)),
    progressPerFrame: per(progress.length),
    mainViewRendersPerFrame: per(named('main-view:react-render').length),
  };
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
async function dragOnce(page: Page, mode: DragMode, options: DragOptions, recordTrace = false): Promise<DragResult> {
  const previews = page.getByLabel('Previews', { exact: true });
  await previews.selectOption(mode);
  const label = (await previews.locator('option:checked').textContent()) ?? mode;
  await waitSettled(page);
  await page.evaluate(() => {
    const canvas = document.querySelector<HTMLCanvasElement>('[data-testid="view.main.canvas"]')!;
    const log: LoggedFrame[] = [];
    window.__dragLog = log;
    const trace: TraceEntry[] = [];
    window.__dragTrace = trace;
    const inputs: number[] = [];
    window.__dragInputs = inputs;
    document.addEventListener('input', () => inputs.push(performance.now()), { capture: true });
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) {
        if (!e.name.startsWith('main-view:')) continue;
        const detail = (e as PerformanceMeasure).detail as Record<string, unknown> | null | undefined;
        trace.push({ name: e.name, start: e.startTime, duration: e.duration, detail: detail ?? null });
      }
    }).observe({ entryTypes: ['measure', 'mark'] });
    new MutationObserver(() => {
      const timing = window.__explorerTest!.frameTiming();
      log.push({ t: performance.now(), quality: canvas.dataset.quality ?? '', latencyMs: timing.latencyMs });
    }).observe(canvas, { attributes: true, attributeFilter: ['data-render-id'] });
  });
  const slider = page.getByRole('slider', { name: 'Latent dimension 1', exact: true });
  const box = await slider.boundingBox();
  if (!box) throw new Error('latent slider 1 is not visible');
  await page.mouse.move(box.x + box.width * 0.25, box.y + box.height / 2);
  const downAt = await page.evaluate(() => performance.now());
  // A real press (the app marks the slider held on pointerdown), then the pointer's moves from inside the page on
  // a timer, as a 60 Hz pointer delivers them: moves sent one at a time over the DevTools protocol arrive only as
  // fast as each round trip, 4-10 a second on the loaded two-core machine, which then measured the script.
  await page.mouse.down();
  const tracing = recordTrace && options.traceDir ? page.context().browser() : null;
  await tracing?.startTracing(page, { path: `${options.traceDir}/drag-${mode}.json`, categories: TRACE_CATEGORIES });
  await slider.evaluate((input: HTMLInputElement, everyMs) => {
    const setValue = Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value')!.set!;
    const min = Number(input.min);
    const max = Number(input.max);
    let k = 0;
    window.__dragTimer = window.setInterval(() => {
      k += 1;
      const phase = (k % 60) / 60;
      const fraction = 0.25 + 0.5 * (phase < 0.5 ? phase * 2 : 2 - phase * 2);
      // The native setter, so React's value tracker sees a change and calls the slider's onChange.
      setValue.call(input, String(min + (max - min) * fraction));
      input.dispatchEvent(new Event('input', { bubbles: true }));
    }, everyMs);
  }, options.moveEveryMs);
  await page.waitForTimeout(options.dragMs);
  await page.evaluate(() => window.clearInterval(window.__dragTimer));
  const upAt = await page.evaluate(() => performance.now());
  await tracing?.stopTracing();
  await page.mouse.up();
  await waitSettled(page);
  const settledAt = await page.evaluate(() => performance.now());
  const log = await page.evaluate(() => window.__dragLog!);
  const trace = await page.evaluate(() => window.__dragTrace!);
  const inputs = await page.evaluate(() => window.__dragInputs!);
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
    changesWhileHeld: inputs.filter((t) => t > downAt && t <= upAt).length,
    framesPerSecond: (held.length * 1000) / heldMs,
    medianLatencyMs: latencies.length ? latencies[Math.floor(latencies.length / 2)] : null,
    byQuality,
    settleMs: Math.round(settledAt - upAt),
    breakdown: breakdownOf(trace, downAt, upAt, held.length),
    ...plansOf(trace, downAt, upAt),
    settled: settledRender(trace, upAt, settledAt),
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
    for (const mode of DRAG_MODES) results.push(await dragOnce(page, mode, options, true));
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
    const plans = Object.entries(r.byPlan).map(([q, n]) => `${q} ${n}`);
    const qualities = plans.length > 1 ? `${plans.join(', ')}; ${r.planSwitches} switches` : plans.join(', ');
    const latency = r.medianLatencyMs === null ? '–' : `${Math.round(r.medianLatencyMs)}`;
    const changes = ((r.changesWhileHeld * 1000) / r.heldMs).toFixed(1);
    return `| ${r.label} | ${r.framesPerSecond.toFixed(2)}${ratio} | ${latency} | ${r.framesWhileHeld} (${qualities}) | ${changes} | ${r.settleMs} |`;
  });
  const ms = (v: number | null) => (v === null ? '–' : v.toFixed(1));
  const breakdown = results.map((r) => {
    const b = r.breakdown;
    const settled = r.settled
      ? `${Math.round(r.settled.renderMs)} (engine ${Math.round(r.settled.engineMs)}, ${r.settled.steps} steps)`
      : '–';
    return `| ${r.label} | ${ms(b.renderMs)} | ${ms(b.engineMs)} | ${ms(b.transitMs)} | ${ms(b.presentMs)} | ${ms(b.progressMs)} x ${ms(b.progressPerFrame)} | ${ms(b.mainViewRendersPerFrame)} | ${settled} |`;
  });
  return [
    `Slider drag, model \`${options.modelId}\`, backend ${options.backend}, ${options.dragMs} ms held, a pointer move every ${options.moveEveryMs} ms${options.compositor ? `, compositing: ${options.compositor}` : ''}:`,
    '',
    '| previews | frames/s while held | median latency (ms) | frames while held | slider changes/s | release to settled frame (ms) |',
    '|---|---|---|---|---|---|',
    ...rows,
    '',
    "Where a held frame's time goes (medians per frame, ms; the app's `main-view:*` User Timing entries):",
    '',
    '| previews | post to result | engine | transit | present | progress message x per frame | main view re-renders per frame | settled frame: post to result |',
    '|---|---|---|---|---|---|---|---|',
    ...breakdown,
  ].join('\n');
}

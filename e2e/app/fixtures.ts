/**
 * Page objects for the explorer, handed to each test as fixtures (tldraw's e2e style): locators by role and
 * label, user-level verbs, and the typed `window.__explorerTest` bridge for engine facts. Tests run against the
 * tiny fixture model on WebGPU (SwiftShader here) with two DDIM steps.
 */
import { test as base, expect, type Locator, type Page } from '@playwright/test';
import { fileURLToPath } from 'node:url';
import type { ExplorerTestApi } from '../../src/testBridge';
import type { EngineStats } from '../../src/engine/protocol';

export { expect };

/** The app with the fixture model, forced onto WebGPU, with few steps so SwiftShader keeps up. */
export const FIXTURE_URL = '?model=fixture&backend=webgpu&steps=2';
/**
 * The fixture on WASM, for tests of what is the same on every backend (how a link is read, what storage keeps):
 * it loads in a second or two, where SwiftShader's WebGPU takes 10-15 s.
 */
export const WASM_FIXTURE_URL = '?model=fixture&backend=wasm&steps=2';

export function imagePath(name: string): string {
  return fileURLToPath(new URL(`./images/${name}`, import.meta.url));
}

/** The explorer page: loading, the model picker, the bridge. */
export class Explorer {
  readonly modelSelect: Locator;
  readonly backendBadge: Locator;
  /** The render statistics' "Frame" row: which decoder drew the image on screen ("student, 2 calls", "DDIM, 2 steps"). */
  readonly frameDecoder: Locator;
  /** The "Previews" setting (student / full sampler), shown only for a model with a distilled student. */
  readonly previews: Locator;
  /** The main view: the generated image with its status lines. */
  readonly mainView: Locator;

  constructor(readonly page: Page) {
    this.modelSelect = page.getByLabel('Model', { exact: true });
    this.backendBadge = page.getByLabel(/^Backend:/);
    this.frameDecoder = page.getByTestId('stats.decoder');
    this.previews = page.getByLabel('Previews', { exact: true });
    this.mainView = page.getByRole('region', { name: 'Generated image' });
  }

  /** Starts recording every `data-quality` the generated image takes ('student', 'preview', 'full'). */
  async recordFrameQualities(): Promise<void> {
    await this.page.evaluate(() => {
      const canvas = document.querySelector<HTMLCanvasElement>('[data-testid="view.main.canvas"]')!;
      const seen: string[] = [];
      (window as unknown as { __qualities: string[] }).__qualities = seen;
      new MutationObserver(() => seen.push(canvas.dataset.quality ?? '')).observe(canvas, {
        attributes: true,
        attributeFilter: ['data-render-id'],
      });
    });
  }

  /** The qualities recorded since recordFrameQualities, one per frame shown, and clears the record. */
  async takeFrameQualities(): Promise<string[]> {
    return this.page.evaluate(() => (window as unknown as { __qualities: string[] }).__qualities.splice(0));
  }

  /** Opens the app (transitions off: the app honours reduced motion) and waits for the first generated frame. */
  async open(query = FIXTURE_URL): Promise<void> {
    await this.page.emulateMedia({ reducedMotion: 'reduce' });
    await this.page.goto(query);
    await this.waitForRender(0);
  }

  /** Waits until a frame newer than `afterRenderId` is on screen; returns its id. */
  async waitForRender(afterRenderId: number): Promise<number> {
    const image = this.page.getByRole('img', { name: 'Generated image', exact: true });
    await expect(image).toHaveAttribute('data-render-id', /\d+/);
    await expect.poll(async () => Number(await image.getAttribute('data-render-id'))).toBeGreaterThan(afterRenderId);
    return Number(await image.getAttribute('data-render-id'));
  }

  /** Waits until the latest frame is full quality and nothing is rendering. */
  async waitForSettled(): Promise<number> {
    await expect(this.page.getByRole('img', { name: 'Generated image', exact: true })).toHaveAttribute(
      'data-quality',
      'full',
    );
    await expect(this.page.getByRole('status').filter({ hasText: /^Ready$/ })).toBeVisible();
    return this.bridge('lastRenderId');
  }

  /** Calls a method of the app's test bridge in the page. */
  async bridge<K extends 'lastRenderId' | 'frameChecksum' | 'modelId' | 'adjusting'>(
    method: K,
  ): Promise<ReturnType<ExplorerTestApi[K]>> {
    return this.page.evaluate((name) => window.__explorerTest![name]() as never, method);
  }

  async z(): Promise<number[]> {
    return this.page.evaluate(() => window.__explorerTest!.z());
  }

  async engineStats(): Promise<EngineStats> {
    return this.page.evaluate(() => window.__explorerTest!.engineStats());
  }

  async backend() {
    return this.page.evaluate(() => window.__explorerTest!.backend());
  }

  async screenshot(name: string): Promise<void> {
    await this.page.screenshot({ path: test.info().outputPath(`${name}.png`), fullPage: true });
    await test.info().attach(name, { path: test.info().outputPath(`${name}.png`), contentType: 'image/png' });
  }
}

/** "Your image": upload, drop, paste, gallery, and what comes back. */
export class InputPanel {
  readonly upload: Locator;
  readonly region: Locator;
  readonly error: Locator;
  readonly notes: Locator;
  readonly modelInput: Locator;
  readonly reconstruction: Locator;

  constructor(readonly page: Page) {
    this.region = page.getByRole('region', { name: 'Your image' });
    this.upload = page.getByLabel('Upload image');
    this.error = this.region.getByRole('alert');
    this.notes = this.region.getByRole('list', { name: 'Preprocessing notes' });
    this.modelInput = this.region.getByRole('img', { name: 'What the model sees' });
    this.reconstruction = this.region.getByRole('img', { name: 'Reconstruction' });
  }

  /** The reconstruction's PSNR against the model input in dB, as its caption shows it, and its tooltip. */
  async reconstructionFidelity(): Promise<{ psnr: number; explanation: string | null }> {
    const caption = this.region.getByTitle(/^PSNR against the model input/);
    const text = (await caption.textContent()) ?? '';
    const match = /([\d.]+) dB/.exec(text);
    if (!match) throw new Error(`no PSNR in the reconstruction's caption: "${text}"`);
    return { psnr: Number(match[1]), explanation: await caption.getAttribute('title') };
  }

  async uploadImage(name: string): Promise<void> {
    await this.upload.setInputFiles(imagePath(name));
  }

  /** Waits until the image is encoded, inverted and reconstructed. */
  async waitForEncoded(): Promise<void> {
    await expect(this.region.getByRole('status')).toHaveCount(0);
    await expect(this.error).toHaveCount(0);
    await expect(this.reconstruction).not.toHaveAttribute('data-empty', 'true');
  }

  /** Drops a file on the drop zone the way a browser does: a drop event carrying a DataTransfer. */
  async dropImage(name: string, mimeType: string, bytes: Buffer): Promise<void> {
    const dataTransfer = await this.page.evaluateHandle(
      ({ fileName, type, data }) => {
        const transfer = new DataTransfer();
        transfer.items.add(new File([new Uint8Array(data)], fileName, { type }));
        return transfer;
      },
      { fileName: name, type: mimeType, data: [...bytes] },
    );
    await this.page.getByTestId('input.dropzone').dispatchEvent('drop', { dataTransfer });
  }

  /** Pastes a file as the clipboard would deliver it. */
  async pasteImage(mimeType: string, bytes: Buffer): Promise<void> {
    await this.page.evaluate(
      ({ type, data }) => {
        const transfer = new DataTransfer();
        transfer.items.add(new File([new Uint8Array(data)], 'image.png', { type }));
        window.dispatchEvent(new ClipboardEvent('paste', { clipboardData: transfer, bubbles: true }));
      },
      { type: mimeType, data: [...bytes] },
    );
  }

  galleryItem(index: number): Locator {
    return this.region.getByRole('button', { name: new RegExp(`^Gallery image ${index + 1}:`) });
  }
}

/** The latent sliders and their actions. */
export class LatentPanel {
  readonly region: Locator;

  constructor(readonly page: Page) {
    this.region = page.getByRole('region', { name: 'Latent z' });
  }

  /** Slider of dimension k, counted from 1 as the UI names them. */
  slider(k: number): Locator {
    return this.page.getByRole('slider', { name: `Latent dimension ${k}`, exact: true });
  }

  lock(k: number): Locator {
    return this.region.getByRole('button', { name: `Lock dimension ${k}`, exact: true });
  }

  reset(k: number): Locator {
    return this.region.getByRole('button', { name: `Reset dimension ${k}`, exact: true });
  }

  /**
   * Drags slider k with the mouse from its left quarter to its right quarter and back, in small moves (one
   * every animation frame or so), for at least `minMs` and until `holdUntil` resolves true (checked between
   * moves) or `maxMs` has passed, then releases. Returns whether `holdUntil` was met while the mouse was down:
   * waiting on an outcome rather than a fixed time keeps the drag long enough on a slow software GPU.
   */
  async dragSlider(
    k: number,
    options: { minMs: number; maxMs?: number; holdUntil?: () => Promise<boolean> },
  ): Promise<boolean> {
    const { minMs, maxMs = minMs, holdUntil = async () => true } = options;
    const box = await this.slider(k).boundingBox();
    if (!box) throw new Error(`slider ${k} is not visible`);
    const y = box.y + box.height / 2;
    const left = box.x + box.width * 0.2;
    const right = box.x + box.width * 0.8;
    await this.page.mouse.move(left, y);
    await this.page.mouse.down();
    const started = Date.now();
    let met = false;
    for (let t = 1; Date.now() - started < maxMs; t += 1) {
      const phase = (t % 40) / 40;
      const x = left + (right - left) * (phase < 0.5 ? phase * 2 : 2 - phase * 2);
      await this.page.mouse.move(x, y, { steps: 2 });
      if (Date.now() - started >= minMs && t % 10 === 0 && (met = await holdUntil())) break;
    }
    await this.page.mouse.up();
    return met;
  }
}

/** The tool tabs below the explorer. */
export class Tools {
  constructor(readonly page: Page) {}

  async open(name: string): Promise<Locator> {
    await this.page.getByRole('tab', { name }).click();
    return this.page.getByRole('tabpanel', { name });
  }
}

interface Fixtures {
  explorer: Explorer;
  inputPanel: InputPanel;
  latentPanel: LatentPanel;
  tools: Tools;
}

export const test = base.extend<Fixtures>({
  // The second argument is Playwright's `use`; named `provide` so the React hooks lint does not mistake it for a hook.
  explorer: async ({ page }, provide) => provide(new Explorer(page)),
  inputPanel: async ({ page }, provide) => provide(new InputPanel(page)),
  latentPanel: async ({ page }, provide) => provide(new LatentPanel(page)),
  tools: async ({ page }, provide) => provide(new Tools(page)),
});

/**
 * Call inside a `test.describe` whose tests can run one after another on one page: the block runs serially, the
 * app opens once at `query` before its first test (on SwiftShader, loading the fixture and compiling its shaders
 * costs 10-15 s, which every test that opens its own page pays again), and `page` (so explorer, inputPanel,
 * latentPanel and tools) is that page in every test of the block; it closes after the last. Each test starts where
 * the previous one left the app, settled, so only tests that need no fresh state belong in such a block; a test
 * run on its own (`-g`) starts from the freshly opened app.
 */
export function shareOnePage(query = FIXTURE_URL): void {
  let shared: Page | undefined;
  test.describe.configure({ mode: 'serial' });
  test.beforeAll(async ({ browser }, testInfo) => {
    shared = await browser.newPage({ baseURL: testInfo.project.use.baseURL });
    await new Explorer(shared).open(query);
  });
  test.afterAll(async () => {
    await shared?.close();
  });
  // eslint-disable-next-line no-empty-pattern -- Playwright reads a fixture's dependencies from this pattern.
  test.use({ page: async ({}, provide) => provide(shared!) });
}

/**
 * Robustness: no request leaves the page's origin (and the Content Security Policy forbids it), a browser
 * without WebGPU falls back with a stated reason, a lost GPU device leaves the app usable with nothing lost,
 * and a model that does not load says why.
 */
import { chromium } from '@playwright/test';
import { CHROMIUM, QUIET_ARGS } from '../../playwright.config';
import { Explorer, expect, FIXTURE_URL, shareOnePage, test, Tools, WASM_FIXTURE_URL } from './fixtures';
import type { Page } from '@playwright/test';
import { fileURLToPath } from 'node:url';

const FIXTURE_DIR = fileURLToPath(new URL('../../public/models/fixture/', import.meta.url));

test.describe('robustness', () => {
  test('every request stays on the page origin, and the CSP allows no other', async ({
    explorer,
    inputPanel,
    page,
    baseURL,
  }) => {
    const origin = new URL(baseURL!).origin;
    const foreign: string[] = [];
    page.on('request', (request) => {
      const url = new URL(request.url());
      if (!['data:', 'blob:'].includes(url.protocol) && url.origin !== origin) foreign.push(request.url());
    });
    await explorer.open();
    await inputPanel.uploadImage('boot-on-white.png');
    await inputPanel.waitForEncoded();
    expect(foreign).toEqual([]);

    const csp = await page.locator('meta[http-equiv="Content-Security-Policy"]').getAttribute('content');
    expect(csp).toContain("default-src 'self'");
    expect(csp).not.toMatch(/https?:/);
    // The policy is enforced: a fetch to another origin fails in the page.
    const blocked = await page.evaluate(() =>
      fetch('https://example.com/').then(
        () => 'allowed',
        (error: Error) => error.name,
      ),
    );
    expect(blocked).toBe('TypeError');
  });

  test('without WebGPU the app falls back and says why, even when WebGPU was asked for', async ({ baseURL }) => {
    // A browser started without the WebGPU flags: navigator.gpu exists but offers no adapter.
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: QUIET_ARGS });
    try {
      const page = await browser.newPage();
      const explorer = new Explorer(page);
      await page.goto(new URL(FIXTURE_URL, baseURL).href);
      await explorer.waitForRender(0);
      const backend = await explorer.backend();
      expect(backend?.backend).not.toBe('webgpu');
      expect(backend?.probes.find((p) => p.backend === 'webgpu')?.usable).toBe(false);
      await expect(explorer.backendBadge).not.toContainText('WebGPU');
      expect(backend?.reason).toMatch(/webgpu/i);
      await explorer.backendBadge.click();
      await expect(page.getByText(backend!.reason)).toBeVisible();
      await explorer.screenshot('no-webgpu');
    } finally {
      await browser.close();
    }
  });

  test.describe('on one page', () => {
    // A lost device and a model that does not load, each followed by the way back, one after the other.
    shareOnePage();

    test('a GPU device lost mid-render: a clear message, nothing lost, and the way back', async ({
      explorer,
      latentPanel,
      page,
    }) => {
      await explorer.waitForSettled();
      // Start a render, and lose the device while it runs.
      await latentPanel.slider(1).focus();
      await page.keyboard.press('PageUp');
      await expect(page.getByRole('progressbar', { name: 'Render progress' })).toBeVisible();
      await page.evaluate(() =>
        window.__explorerTest!.injectEngineEvent({
          type: 'deviceLost',
          backend: 'webgpu',
          message: 'Device was destroyed.',
        }),
      );
      const banner = page.getByRole('alert').filter({ hasText: 'The image engine stopped.' });
      await expect(banner).toContainText('The GPU device was lost (webgpu): Device was destroyed.');
      await explorer.screenshot('device-lost');

      // Still usable, and nothing the user made is gone: the sliders move, z keeps every change.
      const z = await explorer.z();
      await page.keyboard.press('PageUp');
      expect((await explorer.z())[0]).toBeGreaterThan(z[0]);
      const zEdited = await explorer.z();

      const rendered = await explorer.bridge('lastRenderId');
      await banner.getByRole('button', { name: 'Reload the model' }).click();
      await expect(banner).toHaveCount(0);
      await explorer.waitForRender(rendered);
      expect(await explorer.z()).toEqual(zEdited);
    });

    test('a model that does not load names the problem and the app stays usable', async ({ explorer, page }) => {
      await explorer.waitForSettled();
      await page.getByRole('button', { name: 'Open a model…' }).click();
      await page.getByLabel('Model URL').fill('models/no-such-model/');
      await page.getByRole('button', { name: 'Open URL' }).click();
      await expect(page.getByRole('alert')).toContainText('/models/no-such-model/ could not be loaded.');
      await expect(page.getByRole('alert')).toContainText('model.json');
      const rendered = await explorer.bridge('lastRenderId');
      await explorer.modelSelect.selectOption('fixture');
      await explorer.waitForRender(rendered);
    });
  });

  // How the app reads a link is the same on every backend, so the link tests (and the storage tests below) load
  // the fixture on WASM (and 20 steps there, after an ignored steps=, take seconds, not half a minute).
  test('a link with bad values says what it ignored', async ({ explorer, page }) => {
    await explorer.open(`${WASM_FIXTURE_URL}&z=1,banana&seed=-3`);
    await expect(
      page.getByRole('alert').filter({ hasText: 'z must be a comma-separated list of numbers' }),
    ).toBeVisible();
    await expect(page.getByRole('alert').filter({ hasText: 'seed "-3" is not an integer' })).toBeVisible();
  });

  test("a link with values outside the app's ranges names each with its range and applies neither", async ({
    explorer,
    page,
  }) => {
    await explorer.open('?model=fixture&backend=wasm&steps=1000&seed=4&z=1e30,0,0,0,0,0');
    await expect(
      page.getByRole('alert').filter({ hasText: 'z[0] = 1e+30 is outside the range -20 to 20, so z was not applied' }),
    ).toBeVisible();
    await expect(
      page
        .getByRole('alert')
        .filter({ hasText: 'steps 1000 is outside the range 1 to 200, so the steps were not applied' }),
    ).toBeVisible();
    await explorer.waitForSettled();
    // Not applied: the seed's prior draw with the default steps, not z = 1e30 (a blank grey image) at 1000 steps.
    expect(Math.max(...(await explorer.z()).map(Math.abs))).toBeLessThan(20);
    await expect(
      page.getByRole('form', { name: 'Sample from the prior' }).getByLabel('Steps', { exact: true }),
    ).toHaveValue('20');
    await explorer.screenshot('link-out-of-range');
  });

  test('copying a link made from an uploaded image says the image does not travel, offers what does, and a model switch clears it', async ({
    explorer,
    inputPanel,
    page,
    context,
  }) => {
    await context.grantPermissions(['clipboard-read', 'clipboard-write']);
    await explorer.open();
    const copyLink = explorer.mainView.getByRole('button', { name: 'Copy link' });
    const clipboard = () => page.evaluate(() => navigator.clipboard.readText());

    // A prior draw travels whole: the plain confirmation.
    await copyLink.click();
    await expect(explorer.mainView.getByRole('status').filter({ hasText: 'Link copied' })).toHaveText('Link copied');
    expect(await clipboard()).toMatch(/[?&]seed=\d+/);

    // An uploaded image does not: say so, and offer the seeded link and the PNG.
    await inputPanel.uploadImage('boot-on-white.png');
    await inputPanel.waitForEncoded();
    await expect(explorer.mainView.getByText('Link copied')).toHaveCount(0);
    await expect.poll(() => page.evaluate(() => location.search)).toContain('src=upload:');
    await copyLink.click();
    const warning = explorer.mainView.getByRole('status').filter({ hasText: 'cannot carry your uploaded image' });
    await expect(warning).toContainText('Link copied, but it cannot carry your uploaded image.');
    await expect(warning).toContainText(
      'anyone else who opens the link sees this z decoded from other noise, a different picture.',
    );
    await expect(warning.getByRole('button', { name: 'Download PNG' })).toBeVisible();
    await explorer.screenshot('share-link-upload');
    expect(await clipboard()).toContain('src=upload:');
    await warning.getByRole('button', { name: 'Copy the seeded link' }).click();
    await expect(
      explorer.mainView.getByRole('status').filter({ hasText: /^Link with seed \d+ copied$/ }),
    ).toBeVisible();
    const seeded = new URL(await clipboard());
    expect(seeded.searchParams.get('src')).toBeNull();
    expect(seeded.searchParams.get('seed')).toMatch(/^\d+$/);
    expect(seeded.searchParams.get('z')).toBe(new URL(page.url()).searchParams.get('z'));

    // Another model loads: what was copied no longer describes anything on screen.
    await copyLink.click();
    await expect(warning).toBeVisible();
    const before = await explorer.bridge('lastRenderId');
    await page.getByRole('button', { name: 'Open a model…' }).click();
    await page.getByLabel('Model folder').setInputFiles(FIXTURE_DIR);
    await explorer.waitForRender(before);
    await expect(explorer.modelSelect).toContainText('(opened)');
    await expect(explorer.mainView.getByText(/copied/)).toHaveCount(0);
  });

  test('a save that storage refuses says so in the banner and the Saved tab, with no uncaught error', async ({
    explorer,
    tools,
    page,
  }) => {
    const uncaught: string[] = [];
    page.on('pageerror', (error) => uncaught.push(error.message));
    // IndexedDB at its quota: put() into the saved latents throws synchronously, as some browsers do.
    await page.addInitScript(() => {
      const put = IDBObjectStore.prototype.put;
      IDBObjectStore.prototype.put = function (this: IDBObjectStore, ...args: Parameters<IDBObjectStore['put']>) {
        if (this.name === 'latents') throw new DOMException('The quota has been exceeded.', 'QuotaExceededError');
        return put.apply(this, args);
      };
    });
    await explorer.open(WASM_FIXTURE_URL); // what storage keeps is the same on every backend
    await explorer.waitForSettled();
    await page.getByRole('button', { name: 'Save latent' }).click();
    await expect(
      page.getByRole('alert').filter({
        hasText:
          'The latent "Latent 1" could not be stored, so it lasts only until the page closes: The quota has been exceeded.',
      }),
    ).toBeVisible();
    const saved = await tools.open('Saved');
    await expect(saved).toContainText(
      'the last save failed, so what is marked "not stored" lasts only until the page closes',
    );
    await expect(saved).not.toContainText('they survive reloads');
    await expect(saved.getByRole('alert')).toHaveText(
      'Saving failed: The quota has been exceeded. Free some browser storage (or leave private browsing) and save again.',
    );
    await expect(saved.getByRole('listitem').filter({ hasText: 'Latent 1 (not stored)' })).toBeVisible();
    await explorer.screenshot('save-failed');
    expect(uncaught).toEqual([]);
  });

  test("two tabs: a reload restores its own tab's session, and the Saved list is the same in both", async ({
    explorer,
    tools,
    page,
    context,
  }) => {
    /** z of the model's latest stored session (any tab), read from IndexedDB; null before one is written. */
    const storedZ = (on: Page) =>
      on.evaluate(
        () =>
          new Promise<number[] | null>((resolve) => {
            const open = indexedDB.open('infodiffusion-explorer');
            open.onsuccess = () => {
              const get = open.result.transaction('sessions').objectStore('sessions').get('fixture');
              get.onsuccess = () => {
                resolve((get.result as { z: number[] } | undefined)?.z ?? null);
                open.result.close();
              };
            };
          }),
      );
    const drawFromPrior = async (on: Page, seed: string) => {
      const sampler = on.getByRole('form', { name: 'Sample from the prior' });
      await sampler.getByLabel('Seed').fill(seed);
      await sampler.getByRole('button', { name: 'Sample from the prior' }).click();
    };

    // What storage keeps is the same on every backend: WASM.
    await explorer.open(WASM_FIXTURE_URL);
    await drawFromPrior(page, '5');
    await explorer.waitForSettled();
    const zA = await explorer.z();
    await expect.poll(() => storedZ(page)).toEqual(zA);

    const pageB = await context.newPage();
    const explorerB = new Explorer(pageB);
    await explorerB.open(WASM_FIXTURE_URL);
    await drawFromPrior(pageB, '9');
    await explorerB.waitForSettled();
    const zB = await explorerB.z();
    expect(zB).not.toEqual(zA);
    await expect.poll(() => storedZ(pageB)).toEqual(zB); // tab B wrote last

    // Tab A reopens the app without a z in its URL: its own session comes back, not tab B's later one.
    await explorer.open(WASM_FIXTURE_URL);
    expect(await explorer.z()).toEqual(zA);
    await explorer.waitForSettled();

    // A latent saved in tab A appears in tab B's open Saved list without a reload.
    const savedB = await new Tools(pageB).open('Saved');
    await expect(savedB.getByRole('listitem')).toHaveCount(0);
    await page.getByRole('button', { name: 'Save latent' }).click();
    await expect(savedB.getByRole('list', { name: 'Saved latents' }).getByRole('listitem')).toHaveCount(1);
    await explorerB.screenshot('two-tabs-saved-in-b');
    const savedA = await tools.open('Saved');
    await savedA.getByRole('button', { name: 'Delete Latent 1' }).click();
    await expect(savedB.getByRole('listitem')).toHaveCount(0);
    await pageB.close();
  });
});

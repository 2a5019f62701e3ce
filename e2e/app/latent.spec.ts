/**
 * The latent panel: accessible, keyboard-operable sliders that regenerate the image live; reset, lock and
 * seeded randomisation; sampling from the prior; a link that reproduces the image; and a long drag that keeps
 * the main thread free, changes the image and leaks no tensors.
 */
import { expect, shareOnePage, test } from './fixtures';

/** Main-thread long tasks (> 50 ms) seen since `startLongTaskLog` ran in the page. */
declare global {
  interface Window {
    __longTasks?: number[];
  }
}

test.describe('latent panel', () => {
  test.describe('on one page', () => {
    // The keys, the seeds and a prior draw's link, one after another; the long drag below has a page of its own.
    shareOnePage();

    test('sliders are keyboard operable; reset, lock and randomise behave', async ({ explorer, latentPanel, page }) => {
      await explorer.waitForSettled();
      const dims = (await explorer.z()).length;
      await expect(page.getByRole('slider', { name: /^Latent dimension \d+$/ })).toHaveCount(dims);

      // Keyboard: focus and press, then release: a preview then a full-quality frame of the new z.
      const zBefore = await explorer.z();
      const rendered = await explorer.bridge('lastRenderId');
      await latentPanel.slider(1).focus();
      await page.keyboard.press('PageUp');
      await explorer.waitForRender(rendered);
      await explorer.waitForSettled();
      const zAfter = await explorer.z();
      expect(zAfter[0]).toBeGreaterThan(zBefore[0]);
      expect(zAfter.slice(1)).toEqual(zBefore.slice(1));

      // Reset the dimension to its marked (sampled) value.
      await latentPanel.reset(1).click();
      await expect.poll(async () => (await explorer.z())[0]).toBe(zBefore[0]);

      // Lock dimension 2, randomise: it keeps its value, the others change.
      await latentPanel.lock(2).click();
      await expect(latentPanel.lock(2)).toHaveAttribute('aria-pressed', 'true');
      await expect(latentPanel.slider(2)).toBeDisabled();
      await latentPanel.region.getByLabel('Randomise seed').fill('42');
      await latentPanel.region.getByRole('button', { name: 'Randomise' }).click();
      await expect.poll(async () => (await explorer.z())[2]).not.toBe(zBefore[2]);
      expect((await explorer.z())[1]).toBe(zBefore[1]);

      // Reset all leaves locked dimensions alone.
      await latentPanel.region.getByRole('button', { name: 'Reset all' }).click();
      await expect.poll(async () => (await explorer.z())[2]).toBe(zBefore[2]);
      await explorer.waitForSettled();
      await explorer.screenshot('latent-panel');
    });

    test('the image seed and the randomise seed are labelled as the different things they are, and Steps says its range', async ({
      explorer,
      latentPanel,
      page,
    }) => {
      await explorer.waitForSettled();
      const sampler = page.getByRole('form', { name: 'Sample from the prior' });
      // The sampler's seed names a whole image (z, x_T, step noise) and goes into links ...
      const imageSeed = sampler.getByLabel('Image seed', { exact: true });
      await expect(imageSeed).toBeVisible();
      await expect(imageSeed).toHaveAttribute('title', /z, x_T and the step noise of a prior draw; a link carries it/);
      // ... the panel's draws only the unlocked dimensions of z, with a visible label that says so.
      const label = latentPanel.region.getByText('Randomise seed (unlocked z only)', { exact: true });
      expect((await label.boundingBox())?.width ?? 0).toBeGreaterThan(40);
      await expect(latentPanel.region.getByLabel('Randomise seed (unlocked z only)', { exact: true })).toHaveAttribute(
        'title',
        /x_T and the image seed .* stay/,
      );

      // Randomise leaves the image seed, and the link's seed, alone.
      const seedBefore = await imageSeed.inputValue();
      await latentPanel.region.getByRole('button', { name: 'Randomise' }).click();
      await expect.poll(() => page.evaluate(() => new URL(location.href).searchParams.get('seed'))).toBe(seedBefore);
      await expect(imageSeed).toHaveValue(seedBefore);

      // The Steps field says the range a link and the field share (MAX_STEPS).
      const steps = sampler.getByLabel('Steps', { exact: true });
      await expect(steps).toHaveAttribute('max', '200');
      await expect(steps).toHaveAccessibleDescription('1 to 200');
      await expect(sampler.getByText('1 to 200', { exact: true })).toBeVisible();
      await explorer.screenshot('seeds-and-steps');
    });

    test('sampling from the prior puts model, z, seed and steps in the URL, and the link reproduces the image', async ({
      explorer,
      page,
      browser,
    }) => {
      await explorer.waitForSettled();
      const sampler = page.getByRole('form', { name: 'Sample from the prior' });
      await sampler.getByLabel('Seed').fill('7');
      await sampler.getByLabel('Steps', { exact: true }).fill('3');
      const before = await explorer.bridge('lastRenderId');
      await sampler.getByRole('button', { name: 'Sample from the prior' }).click();
      await explorer.waitForRender(before);
      await explorer.waitForSettled();
      await expect(page).toHaveURL(/[?&]seed=7(&|$)/);
      await expect(page).toHaveURL(/[?&]steps=3(&|$)/);
      await expect(page).toHaveURL(/[?&]z=[-\d.e,]+/);
      const link = page.url();
      const z = await explorer.z();
      const checksum = await explorer.bridge('frameChecksum');

      // A fresh browser context: no stored session, only the link.
      const context = await browser.newContext();
      const other = await context.newPage();
      await other.goto(link);
      const image = other.getByRole('img', { name: 'Generated image' });
      await expect(image).toHaveAttribute('data-quality', 'full');
      // The engine computes in float32, which is what the link keeps exactly.
      const otherZ = await other.evaluate(() => window.__explorerTest!.z());
      expect(Array.from(Float32Array.from(otherZ))).toEqual(Array.from(Float32Array.from(z)));
      await expect.poll(() => other.evaluate(() => window.__explorerTest!.frameChecksum())).toBe(checksum);
      await context.close();
    });
  });

  test.describe('under a long drag', () => {
    // The suite's one timing assertion (no long task). On two cores the page's main thread shares the CPU with
    // SwiftShader's GPU process; with a training run also on the machine it once saw a 73 ms task (1 run in 4).
    // One retry, same assertions.
    test.describe.configure({ retries: 1 });

    test('a long drag stays responsive: no long task, live frames, a changed image and no tensor growth', async ({
      explorer,
      latentPanel,
      page,
    }) => {
      await explorer.open();
      await explorer.waitForSettled();
      const tensorsBefore = (await explorer.engineStats()).numTensors;
      const checksumBefore = await explorer.bridge('frameChecksum');
      const renderBefore = await explorer.bridge('lastRenderId');
      await page.evaluate(() => {
        window.__longTasks = [];
        new PerformanceObserver((list) => {
          for (const entry of list.getEntries()) window.__longTasks!.push(entry.duration);
        }).observe({ type: 'longtask' });
      });

      // Held for at least 5 s, and until two frames have arrived while dragging (a 2-step frame of the fixture
      // takes 1-2.5 s on SwiftShader with two cores, so a fixed 5 s window sometimes held only one).
      const framesWhileHeld = await latentPanel.dragSlider(1, {
        minMs: 5000,
        maxMs: 30_000,
        holdUntil: async () => (await explorer.bridge('lastRenderId')) - renderBefore >= 2,
      });
      await explorer.waitForSettled();

      const longTasks = await page.evaluate(() => window.__longTasks!);
      expect(longTasks, `main-thread long tasks during the drag: ${longTasks.join(', ')} ms`).toEqual([]);
      expect(framesWhileHeld, 'two frames arrived while the slider was held, not only after release').toBe(true);
      expect(await explorer.bridge('frameChecksum')).not.toBe(checksumBefore);
      const stats = await explorer.engineStats();
      expect(stats.leaks).toEqual([]);
      expect(stats.numTensors).toBe(tensorsBefore);
      await expect(page.getByTestId('stats.fps')).not.toHaveText('–');
      await explorer.screenshot('after-drag');
    });
  });
});

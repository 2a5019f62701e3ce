/**
 * The tools below the explorer, each as the user's story: attribute edits, interpolation (strip, player,
 * grid, click to make current), traversals (rows per dimension, sorted, click a cell), the denoising
 * trajectory, forward noising, saved latents, and PNG/GIF downloads, told one after another on one page. The
 * I-MMSE view has its own spec (immse.spec.ts).
 */
import { expect, shareOnePage, test } from './fixtures';

test.describe('tools', () => {
  // One page for the whole story: each tool starts from what the previous one left, as a visitor's would.
  shareOnePage();

  test('forward noising names ᾱ and t in lower case, though its labels are set in capitals', async ({
    explorer,
    tools,
  }) => {
    await explorer.waitForSettled();
    const noising = await tools.open('Forward noising');
    // innerText is what is drawn (after text-transform); uppercasing ᾱ gives Ᾱ, a different symbol.
    await expect(noising.getByRole('term').first()).toHaveText('ᾱ (SIGNAL SHARE)', { useInnerText: true });
    await expect(noising.getByRole('term').nth(1)).toHaveText('NOISE SHARE √(1−ᾱ)', { useInnerText: true });
    // t is a timestep, T their number: the case is the meaning.
    await expect(noising.getByRole('term').nth(2)).toHaveText('NEAREST TIMESTEP t', { useInnerText: true });
    await explorer.screenshot('noising-alpha-bar');
  });

  test('attribute sliders move z along a direction', async ({ explorer, tools, page }) => {
    await explorer.waitForSettled();
    const panel = await tools.open('Attributes');
    const slider = panel.getByRole('slider').first();
    const zBefore = await explorer.z();
    const rendered = await explorer.bridge('lastRenderId');
    await slider.focus();
    await page.keyboard.press('PageUp');
    await explorer.waitForRender(rendered);
    await explorer.waitForSettled();
    expect(await explorer.z()).not.toEqual(zBefore);
  });

  test('attribute sliders follow arrow keys, Home/End and programmatic changes, and z moves with them', async ({
    explorer,
    tools,
    page,
  }) => {
    await explorer.waitForSettled();
    const panel = await tools.open('Attributes');
    const slider = panel.getByRole('slider').first();
    const score = panel.locator('output').first();
    const zDistance = (a: number[], b: number[]) => Math.hypot(...a.map((v, k) => v - b[k]));
    /** Presses `key` and waits until the slider and its score read `expected`; returns how far z moved. */
    const press = async (key: string, expected: number) => {
      const zBefore = await explorer.z();
      await page.keyboard.press(key);
      await expect(slider).toHaveValue(String(expected));
      await expect(score).toHaveText(`${expected >= 0 ? '+' : ''}${expected.toFixed(2)}`);
      await expect.poll(async () => Number(await slider.inputValue())).toBe(expected); // it stays: no snap back
      return zDistance(await explorer.z(), zBefore);
    };
    await slider.focus();
    const start = Number(await slider.inputValue());
    // The first step leaves the encoded score for the slider's grid of 0.02; after that z moves exactly as far as
    // the score along the unit direction, 0.02 per arrow step, not by a rounding error (it moved 1e-7 before).
    expect(await press('ArrowRight', Number((start + 0.02).toFixed(2)))).toBeGreaterThan(0.001);
    expect(await press('ArrowUp', Number((start + 0.04).toFixed(2)))).toBeCloseTo(0.02, 3);
    expect(await press('End', 4)).toBeGreaterThan(1);
    expect(await press('Home', -4)).toBeCloseTo(8, 3);
    await press('PageUp', -3.2);
    // A programmatic change (what assistive technology and scripts do) sets the score too.
    await slider.fill('1.5');
    await expect(score).toHaveText('+1.50');
    await expect(slider).toHaveValue('1.5');
    await explorer.waitForSettled();
    await explorer.screenshot('attribute-keyboard');
  });

  test('interpolation: two endpoints, a strip, a player, a 2-D grid, and a frame made current', async ({
    explorer,
    tools,
    page,
  }) => {
    await explorer.waitForSettled();
    const panel = await tools.open('Interpolate');
    await panel.getByRole('button', { name: 'Set A from current' }).click();
    await panel.getByRole('button', { name: 'Set C from current' }).click();
    const sampler = page.getByRole('form', { name: 'Sample from the prior' });
    await sampler.getByLabel('Seed').fill('5');
    await sampler.getByRole('button', { name: 'Sample from the prior' }).click();
    await explorer.waitForSettled();
    await panel.getByRole('button', { name: 'Set B from current' }).click();
    await panel.getByRole('button', { name: 'Set D from current' }).click();

    await panel.getByLabel('Frames').fill('4');
    await panel.getByRole('button', { name: 'Interpolate A → B' }).click();
    const strip = panel.getByRole('list', { name: 'Interpolation strip' });
    await expect(strip.getByRole('img')).toHaveCount(4);
    await panel.getByRole('button', { name: 'Play Interpolation' }).click();
    await expect(panel.getByRole('img', { name: /^Interpolation, frame [2-4] of 4$/ })).toBeVisible();
    await panel.getByRole('button', { name: 'Pause Interpolation' }).click();

    await panel.getByLabel('Grid size').fill('2');
    await panel.getByRole('button', { name: 'Grid between A, B, C, D' }).click();
    await expect(panel.getByRole('list', { name: 'Interpolation grid' }).getByRole('img')).toHaveCount(4);
    await explorer.screenshot('interpolation');

    const download = page.waitForEvent('download');
    await panel.getByRole('button', { name: 'Download GIF' }).click();
    expect((await download).suggestedFilename()).toBe('fixture-interpolation.gif');

    const rendered = await explorer.bridge('lastRenderId');
    await panel.getByRole('button', { name: 'Make interpolation frame 2 current' }).click();
    await explorer.waitForRender(rendered);
  });

  test('traversals: a row per dimension, sortable, a cell made current', async ({ explorer, tools }) => {
    await explorer.waitForSettled();
    const dims = (await explorer.z()).length;
    const panel = await tools.open('Traversals');
    await panel.getByLabel('Values per dimension').fill('3');
    // What the grid will cost is said before it starts, at the main view's measured pace.
    await expect(panel.getByTestId('traversal.cost')).toHaveText(
      new RegExp(`^${dims * 3} images × 2 steps: up to about \\d+ (s|min)`),
    );
    await panel.getByRole('button', { name: 'Render traversals' }).click();
    const grid = panel.getByRole('list', { name: 'Traversal grid' });
    await expect(grid.getByRole('button', { name: /make current$/ })).toHaveCount(dims * 3);
    await panel.getByLabel('Sort by how much the image changes').check();
    await explorer.screenshot('traversals');
    const rendered = await explorer.bridge('lastRenderId');
    await grid
      .getByRole('button', { name: /^Dimension 1 at .*: make current$/ })
      .last()
      .click();
    await explorer.waitForRender(rendered);
  });

  test('teaching views: trajectory and forward noising', async ({ explorer, tools }) => {
    await explorer.waitForSettled();

    const trajectory = await tools.open('Trajectory');
    await trajectory.getByRole('button', { name: 'Show the trajectory of the current image' }).click();
    // It opens at the first step, where x_t and the predicted x0 differ, once both steps are in.
    await expect(trajectory.getByText('1 / 2', { exact: true })).toBeVisible();
    await expect(trajectory.getByRole('img', { name: 'x_t after step 1' })).toBeVisible();
    await explorer.screenshot('trajectory-opening');
    await trajectory.getByLabel('Step', { exact: true }).fill('1');
    await expect(trajectory.getByRole('img', { name: 'Predicted x0 at step 2' })).toBeVisible();
    await explorer.screenshot('trajectory');

    const noising = await tools.open('Forward noising');
    await noising.getByLabel('Log-SNR', { exact: true }).fill('-2');
    await expect(noising.getByRole('img', { name: /noised to log-SNR -2.0$/ })).toBeVisible();
    await expect(noising.getByText('0.1192')).toBeVisible(); // sigmoid(-2)
    // The I-MMSE estimate, the third teaching view, is checked in immse.spec.ts (on WASM: SwiftShader would take
    // minutes over the 200-odd network calls of even the smallest estimate).
  });

  test('saved latents and the session survive a reload; PNG download', async ({
    explorer,
    tools,
    latentPanel,
    page,
  }) => {
    await explorer.waitForSettled();
    await latentPanel.slider(1).focus();
    await page.keyboard.press('PageUp');
    await explorer.waitForSettled();
    await page.getByRole('button', { name: 'Save latent' }).click();
    const z = await explorer.z();

    const download = page.waitForEvent('download');
    await page.getByRole('button', { name: 'Download PNG' }).click();
    expect((await download).suggestedFilename()).toMatch(/^fixture-\d+\.png$/);

    // Reload without the link's z: the stored session and the saved latent come back.
    await explorer.open('?model=fixture&backend=webgpu');
    expect(await explorer.z()).toEqual(z);
    const saved = await tools.open('Saved');
    await expect(saved.getByRole('list', { name: 'Saved latents' }).getByRole('listitem')).toHaveCount(1);
    await saved.getByRole('button', { name: 'Use Latent 1' }).click();
    await explorer.screenshot('saved');
  });
});

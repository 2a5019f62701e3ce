/**
 * The model picker: the bundled catalog with the fixture marked, loading with visible progress, the backend
 * and the reason for it, and clear errors for anything malformed, after which the app still works.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect, shareOnePage, test } from './fixtures';

const FIXTURE_DIR = fileURLToPath(new URL('../../public/models/fixture/', import.meta.url));

test.describe('model picker', () => {
  // One page: the first test meets the fixture freshly loaded; each later one opens models over what is there.
  shareOnePage();

  test('loads the fixture on WebGPU, says which adapter and why, and lists it as a test fixture', async ({
    explorer,
    page,
  }) => {
    await explorer.waitForSettled();
    await expect(explorer.modelSelect).toHaveValue('fixture');
    // Exactly: the fixture's baseline package (for comparisons) is listed as a test fixture too.
    await expect(
      explorer.modelSelect.getByRole('option', { name: 'Fixture (random weights) (test fixture)', exact: true }),
    ).toHaveCount(1);

    const backend = await explorer.backend();
    expect(backend?.backend).toBe('webgpu');
    expect(backend?.adapter?.architecture).toBe('swiftshader');
    await expect(explorer.backendBadge).toContainText('WebGPU');
    await explorer.backendBadge.click();
    await expect(page.getByText(/Why:.*forced: backend 'webgpu' was requested/)).toBeVisible();
    await explorer.screenshot('model-loaded');

    // The card says plainly that these weights are random and carry no measurements.
    await page.getByTitle('About this model').click();
    const card = page.getByRole('region', { name: 'About this model' });
    await expect(card).toContainText('random (a test fixture, not a trained model)');
    await expect(card).toContainText('The package carries no measurements.');
    await explorer.screenshot('model-card');
    await page.getByTitle('About this model').click(); // closed again: it covers the model controls
    await expect(card).toBeHidden();
  });

  test('refuses malformed packages with the loader’s words and stays usable', async ({ explorer, page }) => {
    await explorer.waitForSettled();
    await page.getByRole('button', { name: 'Open a model…' }).click();

    // A shard without its model.json.
    await page.getByLabel('Model files').setInputFiles(`${FIXTURE_DIR}group1-shard1of1.bin`);
    await expect(page.getByRole('alert')).toContainText('No model.json among the chosen files');

    // A model.json whose manifest names a shard that is not there.
    await page.getByRole('button', { name: 'Open a model…' }).click();
    await page
      .getByLabel('Model files')
      .setInputFiles([
        { name: 'model.json', mimeType: 'application/json', buffer: readFileSync(`${FIXTURE_DIR}model.json`) },
      ]);
    await expect(page.getByRole('alert')).toContainText('could not be loaded');
    await explorer.screenshot('model-malformed');

    // A folder on another origin is refused before anything is fetched.
    await page.getByRole('button', { name: 'Open a model…' }).click();
    await page.getByLabel('Model URL').fill('https://example.com/models/x/');
    await page.getByRole('button', { name: 'Open URL' }).click();
    await expect(page.getByRole('alert')).toContainText('Only models served by this site can be opened by URL');

    // The bundled model still loads and renders.
    const before = await explorer.bridge('lastRenderId');
    await explorer.modelSelect.selectOption('fixture');
    await explorer.waitForRender(before);
    await expect(page.getByRole('alert')).toHaveCount(0);
  });

  test('a malformed model opened over a working one names the file at fault and keeps the working model', async ({
    explorer,
    inputPanel,
    latentPanel,
    page,
  }) => {
    const opened = await explorer.waitForSettled();
    await inputPanel.uploadImage('boot-on-white.png');
    await inputPanel.waitForEncoded();
    // The reconstruction on screen, settled, before the key: else the frame read below can be that one.
    await explorer.waitForRender(opened);
    let rendered = await explorer.waitForSettled();
    await latentPanel.slider(1).press('ArrowRight');
    await explorer.waitForRender(rendered);
    await explorer.waitForSettled();
    const z = await explorer.z();
    const checksum = await explorer.bridge('frameChecksum');

    // model.json with a first shard cut short at byte 100.
    await page.getByRole('button', { name: 'Open a model…' }).click();
    await page.getByLabel('Model files').setInputFiles([
      { name: 'model.json', mimeType: 'application/json', buffer: readFileSync(`${FIXTURE_DIR}model.json`) },
      {
        name: 'group1-shard1of1.bin',
        mimeType: 'application/octet-stream',
        buffer: readFileSync(`${FIXTURE_DIR}group1-shard1of1.bin`).subarray(0, 100),
      },
      {
        name: 'group2-shard1of1.bin',
        mimeType: 'application/octet-stream',
        buffer: readFileSync(`${FIXTURE_DIR}group2-shard1of1.bin`),
      },
    ]);
    const alert = page.getByRole('alert');
    await expect(alert).toContainText('The chosen files could not be loaded.');
    await expect(alert).not.toContainText('model.json');
    await expect(alert).toContainText('File at fault: group1-shard1of1.bin');
    await expect(alert).toContainText('group1-shard1of1.bin is too short');
    await expect(alert).toContainText('Fixture (random weights) is still loaded, with your image, z and edits.');
    // Byte offsets wait behind the details toggle.
    const details = alert.getByText(
      /^short shard: weight .* needs bytes \d+\.\.\d+ but group1-shard1of1.bin ends the data at byte 100$/,
    );
    await expect(details).toBeHidden();
    await alert.getByText('Details', { exact: true }).click();
    await expect(details).toBeVisible();
    await explorer.screenshot('model-malformed-kept');

    // Nothing the person made is gone, and the model still renders.
    await expect(explorer.mainView).not.toContainText('No model loaded');
    expect(await explorer.bridge('modelId')).toBe('fixture');
    expect(await explorer.z()).toEqual(z);
    // The kept model renders its frame again (modelSlice invalidates it after a failed load), student preview first:
    // the same image must come back.
    await expect.poll(() => explorer.bridge('frameChecksum')).toBe(checksum);
    await explorer.waitForSettled();
    await expect(inputPanel.reconstruction).not.toHaveAttribute('data-empty', 'true');
    rendered = await explorer.bridge('lastRenderId');
    await latentPanel.slider(1).press('ArrowRight');
    await explorer.waitForRender(rendered);
  });

  test('opens a model folder from disk, gallery included, showing bytes then shader compilation', async ({
    explorer,
    page,
  }) => {
    await explorer.waitForSettled();
    await page.getByRole('button', { name: 'Open a model…' }).click();
    const before = await explorer.bridge('lastRenderId');
    // Loading can be quicker than any poll: record every progress line the page shows, in order.
    await page.evaluate(() => {
      const seen: string[] = [];
      (window as unknown as { __progressSeen: string[] }).__progressSeen = seen;
      new MutationObserver(() => {
        const text = document.querySelector('.load-progress span')?.textContent;
        if (text && seen.at(-1) !== text) seen.push(text);
      }).observe(document.body, { subtree: true, childList: true, characterData: true });
    });
    await page.getByLabel('Model folder').setInputFiles(FIXTURE_DIR);
    await explorer.waitForRender(before);
    await expect(explorer.modelSelect).toContainText('(opened)');
    await expect(page.getByRole('button', { name: /^Gallery image 1:/ })).toBeVisible();
    const seen = await page.evaluate(() => (window as unknown as { __progressSeen: string[] }).__progressSeen);
    const firstBytes = seen.findIndex((line) => line.startsWith('Reading weights'));
    const firstCompile = seen.findIndex((line) => line.startsWith('Compiling shaders'));
    expect(firstBytes, seen.join(' | ')).toBeGreaterThanOrEqual(0);
    expect(firstCompile, seen.join(' | ')).toBeGreaterThan(firstBytes);
  });
});

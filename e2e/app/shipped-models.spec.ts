/**
 * Smoke runs on the shipped trained models (every entry of public/models/index.json but the test fixtures): each
 * loads, shows its card, generates, encodes a gallery image and reconstructs it, and a slider move changes the
 * image. Every package runs this on WASM at the default 20 steps (what a visitor without a GPU gets), where the
 * gallery image must come back as faithfully as the training pipeline measures it; the default model, opened
 * without a ?model= link, also runs it on WebGPU with two DDIM steps (real models are slow on SwiftShader:
 * seconds per denoiser call).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Page } from '@playwright/test';
import { expect, test, type Explorer } from './fixtures';

interface ModelsIndex {
  models: { id: string; path: string; default?: boolean }[];
}

const readPublic = (path: string): unknown =>
  JSON.parse(readFileSync(fileURLToPath(new URL(`../../public/${path}`, import.meta.url)), 'utf8'));
const INDEX = readPublic('models/index.json') as ModelsIndex;
const metadataOf = (id: string) =>
  (
    readPublic(`models/${id}/model.json`) as {
      metadata: {
        displayName: string;
        description: string;
        baselineOf?: string;
        provenance: { source: string; metrics: Record<string, unknown> };
      };
    }
  ).metadata;
// The test fixtures (random weights: the fixture and its baseline) are listed too, but are not trained models.
const SHIPPED = INDEX.models.filter((entry) => metadataOf(entry.id).provenance.source !== 'fixture');

test('public/models/index.json names one default model, a trained one', () => {
  expect(INDEX.models.filter((entry) => entry.default).map((entry) => entry.id)).toEqual([
    SHIPPED.find((entry) => entry.default)?.id,
  ]);
});

/** The model's card: the picker's tooltip, how far it was trained and what was measured, from its provenance. */
async function expectModelCard(explorer: Explorer, page: Page, id: string): Promise<void> {
  // The picker may cut a long name short; its tooltip always has the whole name and the description.
  const { displayName, description, provenance } = metadataOf(id);
  await expect(explorer.modelSelect).toHaveAttribute('title', `${displayName}: ${description}`);
  await page.getByTitle('About this model').click();
  const card = page.getByRole('region', { name: 'About this model' });
  await expect(card).toContainText(/Training\s*[\d,]+ steps of batch 64/);
  await expect(card).toContainText('Linear probe of z');
  await expect(card).toContainText(/Measured at\s*step [\d,]+/);
  // A shapes package measures which factors z decides; its card says so, factor by factor.
  if ('factorSwap' in provenance.metrics)
    await expect(card).toContainText(/What z decides \(factor swap\)\s*floor hue \d+%/);
  await explorer.screenshot(`shipped-${id}-card`);
  await page.getByTitle('About this model').click();
}

/**
 * WebGPU: one smoke run, on the default model (opened without ?model=). Every shipped package runs the same
 * U-Net code (a baseline package is the same network as the model it is the baseline of, and the two trained
 * models differ only in sizes), and on SwiftShader each run costs minutes, so the other packages' loads,
 * reconstructions and slider moves are checked on WASM below, where they take seconds.
 */
const WEBGPU_SMOKE = SHIPPED.find((entry) => entry.default)!;

test(`shipped model ${WEBGPU_SMOKE.id} (the default) loads on WebGPU, reconstructs a gallery image and follows a slider`, async ({
  explorer,
  inputPanel,
  latentPanel,
  page,
}) => {
  test.setTimeout(600_000);
  await explorer.open('?backend=webgpu&steps=2');
  expect(await explorer.bridge('modelId')).toBe(WEBGPU_SMOKE.id);
  expect((await explorer.backend())?.backend).toBe('webgpu');
  await expectModelCard(explorer, page, WEBGPU_SMOKE.id);
  await explorer.waitForSettled();

  await inputPanel.galleryItem(0).click();
  await inputPanel.waitForEncoded();
  const encodedRender = await explorer.waitForSettled();
  const before = await explorer.bridge('frameChecksum');

  const slider = latentPanel.slider(1);
  await slider.focus();
  await page.keyboard.press('PageUp');
  await explorer.waitForRender(encodedRender);
  await explorer.waitForSettled();
  expect(await explorer.bridge('frameChecksum')).not.toBe(before);
  await explorer.screenshot(`shipped-${WEBGPU_SMOKE.id}`);
});

/**
 * The pipeline measures 29.1 dB (fashion-mnist) and 30.5 dB (shapes) mean PSNR with 20-step inversion over 16
 * test images (docs/results.md); decoding without the inverted x_T gives about 11.7 dB, which is what a
 * mis-converted weight or a wrong kernel looks like. 25 dB leaves room for one image and float16 weights.
 */
const MIN_WASM_PSNR_DB = 25;

for (const shipped of SHIPPED) {
  test(`shipped model ${shipped.id} loads on WASM, reconstructs a gallery image at the default steps as faithfully as the pipeline does, and follows a slider`, async ({
    explorer,
    inputPanel,
    latentPanel,
    page,
  }) => {
    test.setTimeout(300_000);
    // The default model is the one a link without ?model= opens.
    await explorer.open(shipped.default ? '?backend=wasm' : `?backend=wasm&model=${shipped.id}`);
    expect(await explorer.bridge('modelId')).toBe(shipped.id);
    expect((await explorer.backend())?.backend).toBe('wasm');
    // The card of a trained model (a baseline package's card is not checked: it was never part of this smoke).
    if (!metadataOf(shipped.id).baselineOf) await expectModelCard(explorer, page, shipped.id);
    await explorer.waitForSettled();
    await inputPanel.galleryItem(0).click();
    await inputPanel.waitForEncoded();
    const encodedRender = await explorer.waitForSettled();
    const { psnr, explanation } = await inputPanel.reconstructionFidelity();
    expect(explanation).toContain('at 20 steps');
    expect(psnr).toBeGreaterThan(MIN_WASM_PSNR_DB);
    await explorer.screenshot(`shipped-${shipped.id}-wasm`);

    const before = await explorer.bridge('frameChecksum');
    await latentPanel.slider(1).focus();
    await page.keyboard.press('PageUp');
    await explorer.waitForRender(encodedRender);
    await explorer.waitForSettled();
    expect(await explorer.bridge('frameChecksum')).not.toBe(before);
  });
}

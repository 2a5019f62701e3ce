/**
 * Smoke run on the shipped default model (public/models/index.json's default entry), on WebGPU: it loads,
 * generates, encodes a gallery image and reconstructs it, and a slider move changes the image. Real models are
 * slow on SwiftShader (seconds per denoiser call), so this is one short flow with two DDIM steps.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect, test } from './fixtures';

interface ModelsIndex {
  models: { id: string; path: string; default?: boolean }[];
}

const INDEX = JSON.parse(readFileSync(fileURLToPath(new URL('../../public/models/index.json', import.meta.url)), 'utf8')) as ModelsIndex;
const DEFAULT_MODEL = INDEX.models.find((entry) => entry.default);

test.describe('shipped default model', () => {
  test.skip(!DEFAULT_MODEL, 'public/models/index.json names no default model');
  test.setTimeout(600_000);

  test('loads on WebGPU, reconstructs a gallery image and follows a slider', async ({ explorer, inputPanel, latentPanel, page }) => {
    await explorer.open('?backend=webgpu&steps=2');
    expect(await explorer.bridge('modelId')).toBe(DEFAULT_MODEL!.id);
    expect((await explorer.backend())?.backend).toBe('webgpu');
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
    await explorer.screenshot('default-model');
  });
});

/**
 * Own attributes (issue 33) on the fixture model: name one, mark gallery images with and without it, see the fit
 * and how it separates them, add its slider and move it by keyboard; it survives a reload (IndexedDB), travels in
 * the page URL, exports to a file, and an import of a file for another model is refused with a message.
 */
import { readFile } from 'node:fs/promises';
import { expect, imagePath, test, WASM_FIXTURE_URL } from './fixtures';

test.describe('own attributes', () => {
  test('from two and two gallery images to a named slider that moves z, kept, linked, exported', async ({
    explorer,
    tools,
    page,
  }) => {
    await explorer.open();
    await explorer.waitForSettled();
    const panel = await tools.open('Attributes');
    const draft = panel.getByRole('region', { name: 'New attribute' });
    await draft.getByLabel('Name').fill('Roundness');
    const gallery = draft.getByLabel('Gallery image', { exact: true });
    const mark = async (index: number, has: boolean) => {
      await gallery.selectOption(String(index));
      await draft.getByRole('button', { name: has ? 'Gallery image has it' : 'Gallery image lacks it' }).click();
    };
    // The fixture's gallery: Square, Disc, Ring, Bar. Round: Disc and Ring; not: Square and Bar.
    await mark(1, true);
    await mark(2, true);
    await mark(0, false);
    await expect(
      draft.getByText('Mark at least two images with the attribute and two without (now 2 with, 1 without).'),
    ).toBeVisible();
    await mark(3, false);
    // An image file counts too: encoded on its own, it joins the examples with the attribute.
    await draft.getByLabel('Example image file').setInputFiles(imagePath('transparent-disc.png'));
    await expect(draft.getByRole('listitem').filter({ hasText: 'transparent-disc.png' })).toBeVisible();
    await draft.getByRole('button', { name: 'Remove example transparent-disc.png' }).click();
    await expect(draft.getByRole('list', { name: 'Examples with the attribute' }).getByRole('listitem')).toHaveCount(2);
    await expect(draft.getByRole('list', { name: 'Examples without the attribute' }).getByRole('listitem')).toHaveCount(
      2,
    );
    const fit = draft.getByRole('status', { name: 'Fit' });
    await expect(fit).toContainText('difference of means');
    await expect(fit).toContainText('4 of 4');
    await expect(fit.getByRole('img', { name: /^Scores of the examples along the direction/ })).toBeVisible();
    await explorer.screenshot('attributes-draft');

    await draft.getByRole('button', { name: 'Add slider' }).click();
    const slider = panel.getByRole('slider', { name: 'Attribute Roundness', exact: true });
    await expect(slider).toBeVisible();
    await expect(page).toHaveURL(/[?&]attr=Roundness~/);

    const zBefore = await explorer.z();
    const rendered = await explorer.bridge('lastRenderId');
    await slider.focus();
    await page.keyboard.press('End');
    await expect(slider).toHaveValue('4');
    await explorer.waitForRender(rendered);
    await explorer.waitForSettled();
    expect(await explorer.z()).not.toEqual(zBefore);
    await explorer.screenshot('attributes-own-slider');

    const downloading = page.waitForEvent('download');
    await panel.getByRole('button', { name: 'Export attributes' }).click();
    const download = await downloading;
    expect(download.suggestedFilename()).toBe('fixture-attributes.json');
    const exported = JSON.parse(await readFile((await download.path())!, 'utf8')) as {
      modelId: string;
      attributes: { name: string; vector: number[] }[];
    };
    expect(exported.modelId).toBe('fixture');
    expect(exported.attributes.map((a) => a.name)).toEqual(['Roundness']);

    // Kept in IndexedDB: a reload without the link still has it.
    await explorer.open('?model=fixture&backend=webgpu&steps=2');
    const again = await tools.open('Attributes');
    await expect(again.getByRole('slider', { name: 'Attribute Roundness', exact: true })).toBeVisible();

    // A file for another latent size is refused, in words.
    const wrong = { ...exported, latentDim: 32 };
    await again.getByLabel('Attribute file to import').setInputFiles({
      name: 'other.json',
      mimeType: 'application/json',
      buffer: Buffer.from(JSON.stringify(wrong)),
    });
    await expect(again.getByRole('alert')).toHaveText(
      'The file was not imported: These attributes have 32 latent dimensions but this model has 6: they were made for another version of it.',
    );
    // Deleting it, then importing the exported file, brings it back.
    await again.getByRole('button', { name: 'Delete attribute Roundness' }).click();
    await expect(again.getByRole('slider', { name: 'Attribute Roundness', exact: true })).toHaveCount(0);
    await again.getByLabel('Attribute file to import').setInputFiles({
      name: 'fixture-attributes.json',
      mimeType: 'application/json',
      buffer: Buffer.from(JSON.stringify(exported)),
    });
    await expect(again.getByRole('status').filter({ hasText: 'Imported 1 attribute.' })).toBeVisible();
    await expect(again.getByRole('slider', { name: 'Attribute Roundness', exact: true })).toBeVisible();
  });

  test('a link carries an attribute into a browser that has none', async ({ explorer, tools, page }) => {
    const vector = [1, 0, 0, 0, 0, 0].join(',');
    // How the app reads a link is the same on every backend: WASM.
    await explorer.open(`${WASM_FIXTURE_URL}&attr=Linked~0.5~${vector}~d&attr=Bad~0~1,0~d`);
    const panel = await tools.open('Attributes');
    await expect(panel.getByRole('slider', { name: 'Attribute Linked', exact: true })).toBeVisible();
    await expect(page.getByText(/The link's attribute could not be used: .*"Bad" has 2 latent values/)).toBeVisible();
  });
});

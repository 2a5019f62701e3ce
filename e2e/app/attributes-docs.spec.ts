/**
 * The pictures of docs/attributes.md, on the shipped fashion-mnist model: an own attribute's panel, the principal
 * directions ranked, an edit moved from one T-shirt to another, and a z versus x_T grid. Each is a screenshot of
 * the tool's panel, attached to the report (someone looks at them) and written to the test output; the docs keep
 * copies. Slow on a CPU (WASM, 10 DDIM steps), so it is one flow.
 */
import { expect, test } from './fixtures';
import type { Locator } from '@playwright/test';

async function shoot(region: Locator, name: string): Promise<void> {
  const path = test.info().outputPath(`${name}.png`);
  await region.screenshot({ path });
  await test.info().attach(name, { path, contentType: 'image/png' });
}

test('docs pictures: own attribute, principal directions, edit transfer, z versus x_T', async ({
  explorer,
  inputPanel,
  tools,
  page,
}) => {
  test.setTimeout(900_000);
  await explorer.open('?model=fashion-mnist&backend=wasm&steps=10');
  await inputPanel.galleryItem(0).click();
  await inputPanel.waitForEncoded();
  await explorer.waitForSettled();

  // Own attribute: two trousers with it, two T-shirts without.
  let panel = await tools.open('Attributes');
  const draft = panel.getByRole('region', { name: 'New attribute' });
  await draft.getByLabel('Name').fill('Trouser-ness');
  const gallery = draft.getByLabel('Gallery image', { exact: true });
  for (const [index, has] of [
    [1, true],
    [11, true],
    [0, false],
    [10, false],
  ] as const) {
    await gallery.selectOption(String(index));
    await draft.getByRole('button', { name: has ? 'Gallery image has it' : 'Gallery image lacks it' }).click();
    await expect(draft.getByRole('listitem').filter({ hasText: `(gallery ${index + 1})` })).toBeVisible();
  }
  await expect(draft.getByRole('status', { name: 'Fit' })).toContainText('4 of 4');
  await shoot(draft, 'docs-new-attribute');
  await draft.getByRole('button', { name: 'Add slider' }).click();
  const slider = panel.getByRole('slider', { name: 'Attribute Trouser-ness', exact: true });
  await slider.fill('3');
  await explorer.waitForSettled();

  // Principal directions, ranked by their effect on this image.
  await panel.getByRole('button', { name: 'Rank by effect on the image' }).click();
  await expect(panel.getByText('Ranked by how much each changes the image')).toBeVisible();
  await shoot(panel.locator('.attribute-groups'), 'docs-sliders');
  await shoot(page.getByRole('region', { name: 'Generated image' }), 'docs-trouserness-main');

  // Edit transfer: the T-shirt's edit (Trouser-ness to +3) onto the other T-shirt of the gallery.
  panel = await tools.open('Edit transfer');
  await panel.getByLabel('Target gallery image', { exact: true }).selectOption('10');
  await panel.getByRole('button', { name: 'Apply to gallery image' }).click();
  const pair = panel.getByRole('group', { name: /before and after the edit$/ });
  await expect(pair.getByRole('img', { name: /after the edit$/ })).not.toHaveAttribute('data-empty', 'true');
  await expect(panel.getByRole('status').filter({ hasText: /Rendering|Student preview|Encoding/ })).toHaveCount(0, {
    timeout: 300_000,
  });
  await shoot(panel, 'docs-edit-transfer');

  // z versus x_T: three gallery images and fresh noise.
  panel = await tools.open('z vs x_T');
  const grid = panel.getByLabel('Grid gallery image', { exact: true });
  for (const index of ['0', '1', '7']) {
    await grid.selectOption(index);
    await panel.getByRole('button', { name: 'Add gallery image' }).click();
    await expect(panel.getByRole('status').filter({ hasText: 'Encoding and inverting' })).toHaveCount(0, {
      timeout: 300_000,
    });
  }
  await panel.getByRole('button', { name: 'Add a noise column' }).click();
  await panel.getByRole('button', { name: 'Render the grid' }).click();
  const cells = panel.getByRole('grid', { name: 'z versus x_T grid' });
  await expect(cells.getByRole('gridcell')).toHaveCount(12);
  await expect(panel.getByRole('status').filter({ hasText: /Rendering|Student preview/ })).toHaveCount(0, {
    timeout: 600_000,
  });
  await shoot(cells, 'docs-z-versus-noise');
});

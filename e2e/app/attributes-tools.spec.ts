/**
 * Issue 33's other tools on the fixture model: principal directions as sliders (ranked by their effect on the
 * image), edit transfer (an edit applied to a gallery image, before and after, a strength, a saved edit) and the
 * z versus x_T grid (rows z, columns x_T, every cell decoded, a cell made current).
 */
import { expect, shareOnePage, test } from './fixtures';

test.describe('attribute tools', () => {
  // One page: edit transfer first, while the image is still unedited; the others start from what it left.
  shareOnePage();

  test('edit transfer: the current edit applied to a gallery image, before and after, saved', async ({
    explorer,
    latentPanel,
    tools,
    page,
  }) => {
    await explorer.waitForSettled();
    const panel = await tools.open('Edit transfer');
    await expect(panel.getByRole('status', { name: 'Current edit' })).toContainText('unedited');
    await latentPanel.slider(1).focus();
    await page.keyboard.press('PageUp');
    await page.keyboard.press('PageUp');
    await explorer.waitForSettled();
    await expect(panel.getByRole('status', { name: 'Current edit' })).toContainText('moves z by');
    await panel.getByLabel('Target gallery image', { exact: true }).selectOption('1');
    await panel.getByRole('button', { name: 'Apply to gallery image' }).click();
    const pair = panel.getByRole('group', { name: 'Disc, before and after the edit' });
    await expect(pair.getByRole('img', { name: 'Disc after the edit' })).not.toHaveAttribute('data-empty', 'true');
    await expect(panel.getByRole('status').filter({ hasText: /Rendering|Student preview/ })).toHaveCount(0);
    const strength = panel.getByLabel('Strength');
    await strength.focus();
    await page.keyboard.press('End');
    await expect(panel.getByText('After, strength × 2.00')).toBeVisible();
    await expect(panel.getByRole('status').filter({ hasText: /Rendering|Student preview/ })).toHaveCount(0);
    await panel.getByLabel('Edit name').fill('Dimension 1 up');
    await panel.getByRole('button', { name: 'Save this edit' }).click();
    await expect(panel.getByRole('list', { name: 'Saved edits' })).toContainText('Dimension 1 up');
    await explorer.screenshot('edit-transfer');
    const zBefore = await explorer.z();
    await panel.getByRole('button', { name: 'Make the edited image current' }).click();
    await explorer.waitForSettled();
    expect(await explorer.z()).not.toEqual(zBefore);
  });

  test('principal directions: sliders with their share of variance, ranked, moved by keyboard', async ({
    explorer,
    tools,
    page,
  }) => {
    await explorer.waitForSettled();
    const panel = await tools.open('Attributes');
    const list = panel.getByRole('list', { name: 'Principal directions' });
    // The fixture ships them (6 of 6 dimensions); the first six are listed by variance until ranked.
    await expect(list.getByRole('slider')).toHaveCount(6);
    await expect(list.getByRole('slider').first()).toHaveAccessibleName(/^Attribute PC 1 · \d+%$/);
    await panel.getByRole('button', { name: 'Rank by effect on the image' }).click();
    await expect(panel.getByText('Ranked by how much each changes the image')).toBeVisible();
    const first = list.getByRole('slider').first();
    const zBefore = await explorer.z();
    await first.focus();
    await page.keyboard.press('PageUp');
    await explorer.waitForSettled();
    expect(await explorer.z()).not.toEqual(zBefore);
    await explorer.screenshot('principal-directions');
  });

  test('z versus x_T: rows from codes, columns from noises, every cell decoded', async ({ explorer, tools }) => {
    await explorer.waitForSettled();
    const panel = await tools.open('z vs x_T');
    const gallery = panel.getByLabel('Grid gallery image', { exact: true });
    for (const index of ['0', '2']) {
      await gallery.selectOption(index);
      await panel.getByRole('button', { name: 'Add gallery image' }).click();
      await expect(panel.getByRole('status').filter({ hasText: 'Encoding and inverting' })).toHaveCount(0);
    }
    await panel.getByRole('button', { name: 'Add a noise column' }).click();
    await expect(panel.getByRole('list', { name: 'Grid images' }).getByRole('listitem')).toHaveCount(3);
    await panel.getByRole('button', { name: 'Render the grid' }).click();
    const grid = panel.getByRole('grid', { name: 'z versus x_T grid' });
    await expect(grid.getByRole('rowheader')).toHaveCount(2);
    await expect(grid.getByRole('gridcell')).toHaveCount(6);
    await expect(panel.getByRole('status').filter({ hasText: /Rendering|Student preview/ })).toHaveCount(0);
    await expect(grid.getByRole('button', { disabled: true })).toHaveCount(0);
    await explorer.screenshot('z-versus-noise');
    const zBefore = await explorer.z();
    await grid.getByRole('button', { name: 'z of Square with x_T of noise, seed 1: make current' }).click();
    await explorer.waitForSettled();
    expect(await explorer.z()).not.toEqual(zBefore);
  });
});

/**
 * Own attributes on the shipped default model (issue 33): "Trouser-ness" fitted from the gallery's two trousers
 * and two T-shirts moves a T-shirt visibly towards trousers, and the pipeline's classifier (PyTorch,
 * train/runs/classifier) agrees on the frames the explorer drew. The frames are saved as PNGs beside the
 * screenshots; /usr/bin/python3 -m infodiff.judge_images classifies them.
 */
import { execFileSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { expect, test, type Explorer } from './fixtures';

const TRAIN_DIR = fileURLToPath(new URL('../../train/', import.meta.url));

/** The main view's frame as a PNG file at the model's size; returns its path. */
async function saveFrame(explorer: Explorer, name: string): Promise<string> {
  const dataUrl = await explorer.page
    .getByTestId('view.main.canvas')
    .evaluate((canvas) => (canvas as HTMLCanvasElement).toDataURL('image/png'));
  const path = test.info().outputPath(`${name}.png`);
  await writeFile(path, Buffer.from(dataUrl.replace(/^data:image\/png;base64,/, ''), 'base64'));
  await test.info().attach(name, { path, contentType: 'image/png' });
  return path;
}

interface Judged {
  heads: { class: { probabilities: Record<string, number>; top: string } };
}

test('an own attribute from two trousers and two T-shirts moves a T-shirt towards trousers', async ({
  explorer,
  inputPanel,
  tools,
  page,
}) => {
  test.setTimeout(600_000);
  await explorer.open('?model=fashion-mnist&backend=wasm&steps=10');
  const panel = await tools.open('Attributes');
  const draft = panel.getByRole('region', { name: 'New attribute' });
  await draft.getByLabel('Name').fill('Trouser-ness');
  const gallery = draft.getByLabel('Gallery image', { exact: true });
  const mark = async (index: number, has: boolean) => {
    await gallery.selectOption(String(index));
    await draft.getByRole('button', { name: has ? 'Gallery image has it' : 'Gallery image lacks it' }).click();
    await expect(draft.getByRole('listitem').filter({ hasText: `(gallery ${index + 1})` })).toBeVisible();
  };
  // The gallery holds two of each: T-shirt/top at indices 0 and 10, Trouser at 1 and 11.
  await mark(1, true);
  await mark(11, true);
  await mark(0, false);
  await mark(10, false);
  await expect(draft.getByRole('status', { name: 'Fit' })).toContainText('4 of 4');
  await draft.getByRole('button', { name: 'Add slider' }).click();
  const slider = panel.getByRole('slider', { name: 'Attribute Trouser-ness', exact: true });
  await expect(slider).toBeVisible();

  // A T-shirt the attribute was not fitted on would be better, but the gallery has two: use the first, encoded.
  await inputPanel.galleryItem(0).click();
  await inputPanel.waitForEncoded();
  await explorer.waitForSettled();
  const before = await saveFrame(explorer, 'trouserness-before');
  const startScore = Number(await slider.inputValue());

  await slider.focus();
  await page.keyboard.press('End');
  await expect(slider).not.toHaveValue(String(startScore));
  await explorer.waitForSettled();
  const after = await saveFrame(explorer, 'trouserness-after');
  await explorer.screenshot('trouserness-after-page');

  const [judgedBefore, judgedAfter] = JSON.parse(
    execFileSync('/usr/bin/python3', ['-m', 'infodiff.judge_images', '--dataset', 'fashion-mnist', before, after], {
      cwd: TRAIN_DIR,
      encoding: 'utf8',
    }),
  ) as Judged[];
  const trouser = (j: Judged) => j.heads.class.probabilities['Trouser'];
  console.log(
    `classifier: before ${judgedBefore.heads.class.top} (p(Trouser) ${trouser(judgedBefore).toFixed(3)}), ` +
      `after ${judgedAfter.heads.class.top} (p(Trouser) ${trouser(judgedAfter).toFixed(3)})`,
  );
  expect(judgedBefore.heads.class.top).toBe('T-shirt/top');
  expect(trouser(judgedAfter)).toBeGreaterThan(trouser(judgedBefore) + 0.5);
  expect(judgedAfter.heads.class.top).toBe('Trouser');
});

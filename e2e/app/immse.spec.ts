/**
 * The I-MMSE panel as a newcomer meets it, on the fixture and its baseline package (a second random-weights model of
 * the same data, written by train/infodiff/fixture.py for exactly this): the exact-discrete figure leads, every
 * figure carries its standard error, a second model is scored on the same image and noise draws beside the
 * ensemble, the image is scored without its code, the chart marks the schedule's trained log-SNR range, and the
 * count of noisy images scored agrees with the progress bar's total. The numbers of random weights mean nothing;
 * that they are there, formatted and labelled, is what this checks.
 */
import { expect, test } from './fixtures';

const FIGURE = /^-?\d+\.\d{3} ± \d+\.\d{3}$/;

test('I-MMSE: exact discrete first, a second model, the ensemble and what z saves', async ({ explorer, tools }) => {
  // Three runs of 112 noisy images each (the run without z costs one network call per prior draw). On WASM: the
  // estimator is the same code on every backend, and SwiftShader's WebGPU would spend minutes on it.
  test.setTimeout(480_000);
  await explorer.open('?model=fixture&backend=wasm&steps=2');
  await explorer.waitForSettled();
  const immse = await tools.open('I-MMSE');
  await immse.getByLabel('Noise levels').selectOption('32');
  await immse.getByLabel('Compare with').selectOption({ label: 'Fixture baseline (random weights)' });
  await immse.getByRole('button', { name: /^Estimate for / }).click();
  // Progress counts noisy images scored: three runs (this model, the baseline, no z) of 24 x 2 curve points and
  // 2 x 32 likelihood samples each.
  const progress = immse.getByRole('status');
  await expect(progress.or(immse.getByTestId('immse.cost'))).toBeVisible();

  const table = immse.getByRole('table', { name: 'Likelihood estimates' });
  await expect(table).toBeVisible({ timeout: 400_000 });
  await expect(table.getByRole('columnheader').nth(1)).toContainText('Exact discrete');
  for (const row of ['model', 'compare', 'ensemble', 'unconditional']) {
    const cells = immse.getByTestId(`immse.row.${row}`).getByRole('cell');
    await expect(cells).toHaveCount(3);
    for (let c = 0; c < 3; c++) await expect(cells.nth(c)).toHaveText(FIGURE);
  }
  // The baseline's name says so already, so no second "(baseline)" (src/app/modelCard.ts, modelLabel).
  await expect(immse.getByTestId('immse.row.compare')).toContainText('Fixture baseline (random weights), its own z');
  await expect(immse.getByTestId('immse.zSaves')).toContainText(/saves -?\d+\.\d{3} ± \d+\.\d{3} bits per\s+pixel/);
  await expect(immse.getByTestId('immse.winner.text')).toContainText('from log-SNR');
  await expect(immse.getByTestId('immse.cost')).toContainText(
    `Scored ${(3 * (24 * 2 + 2 * 32)).toLocaleString('en')} noisy images`,
  );

  await expect(immse.getByRole('img', { name: /^MMSE against log-SNR/ })).toBeVisible();
  await expect(immse.getByRole('img', { name: /^Exact-discrete MMSE with z/ })).toBeVisible();
  await expect(immse.getByTestId('immse.trainedRange').first()).toBeVisible();
  await expect(immse.getByTestId('immse.winner')).toBeVisible();
  await expect(immse.getByText(/d = 256/)).toBeVisible();
  await explorer.screenshot('immse-compare');
});

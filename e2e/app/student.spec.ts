/**
 * Instant previews: the fixture package carries a distilled student (metadata.student, a v-parameterised copy of
 * the denoiser decoding in two calls). While z changes the main view shows the student's frames, and the status
 * line says so; the settled frame is the full sampler's, the very image it is with previews set to the full
 * sampler. A package without a student (the fixture's model.json served with the student removed) behaves as
 * before: no setting, no student frame.
 */
import { expect, test } from './fixtures';

test.describe('student previews', () => {
  test("a held slider shows student frames; the settled frame is the full sampler's image", async ({
    explorer,
    latentPanel,
    page,
  }) => {
    await explorer.open();
    await explorer.waitForSettled();
    await expect(explorer.previews).toHaveValue('student');
    await expect(explorer.previews.getByRole('option')).toHaveText(['student (2 calls)', 'full sampler (2 steps)']);
    await expect(explorer.frameDecoder).toHaveText('DDIM, 2 steps');
    await explorer.recordFrameQualities();

    // Hold the slider until a student frame is on screen and the status line names it; look at it then.
    const image = page.getByRole('img', { name: 'Generated image' });
    let shot = false;
    const sawStudent = await latentPanel.dragSlider(1, {
      minMs: 1000,
      maxMs: 60_000,
      holdUntil: async () => {
        const held =
          (await image.getAttribute('data-quality')) === 'student' &&
          (await explorer.frameDecoder.textContent()) === 'student, 2 calls';
        if (held && !shot) {
          await explorer.mainView.screenshot({ path: test.info().outputPath('student-preview-held.png') });
          await test.info().attach('student-preview-held', {
            path: test.info().outputPath('student-preview-held.png'),
            contentType: 'image/png',
          });
          shot = true;
        }
        return held;
      },
    });
    expect(sawStudent, 'a student frame, named so in the status line, while the slider was held').toBe(true);
    await explorer.waitForSettled();
    await expect(explorer.frameDecoder).toHaveText('DDIM, 2 steps');
    const held = await explorer.takeFrameQualities();
    expect(held).toContain('student');
    expect(held.at(-1)).toBe('full');

    // A discrete change (reset to the sampled value): the student's frame at once, then the full sampler's.
    await latentPanel.reset(1).click();
    await explorer.waitForSettled();
    const reset = await explorer.takeFrameQualities();
    expect(reset).toEqual(['student', 'full']);

    // A key holds the slider while it is down, as a pointer does: the student's frame, then the full sampler's.
    const slider = latentPanel.slider(1);
    await slider.focus();
    await page.keyboard.down('PageUp');
    expect(await explorer.bridge('adjusting')).toBe(true);
    await page.keyboard.up('PageUp');
    expect(await explorer.bridge('adjusting')).toBe(false);
    await explorer.waitForSettled();
    const pressed = await explorer.takeFrameQualities();
    expect(pressed[0]).toBe('student');
    expect(pressed.at(-1)).toBe('full');
    await latentPanel.reset(1).click();
    await explorer.waitForSettled();
    await explorer.takeFrameQualities();
    const withStudent = await explorer.bridge('frameChecksum');
    const z = await explorer.z();

    // The same z with previews from the full sampler: only full-sampler frames, and the same settled image.
    await explorer.previews.selectOption({ label: 'full sampler (2 steps)' });
    await latentPanel.slider(1).focus();
    await page.keyboard.press('PageUp');
    await explorer.waitForSettled();
    await latentPanel.reset(1).click();
    await expect.poll(() => explorer.z()).toEqual(z);
    await explorer.waitForSettled();
    expect(await explorer.takeFrameQualities()).not.toContain('student');
    expect(await explorer.bridge('frameChecksum')).toBe(withStudent);
    await expect(explorer.frameDecoder).toHaveText('DDIM, 2 steps');
  });

  test('a package without a student behaves as before: no setting, no student frame', async ({
    explorer,
    latentPanel,
    page,
  }) => {
    // Served to the page and to the engine worker alike: the fixture's model.json without its student.
    await page.context().route('**/models/fixture/model.json', async (route) => {
      const response = await route.fetch();
      const json = (await response.json()) as {
        metadata: Record<string, unknown>;
        weightsManifest: { paths: string[] }[];
      };
      delete json.metadata.student;
      json.weightsManifest = json.weightsManifest.filter(
        (group) => !group.paths.some((path) => path.startsWith('group2-')),
      );
      await route.fulfill({ response, json });
    });
    await explorer.open();
    await explorer.recordFrameQualities();
    await explorer.waitForSettled();
    await expect(explorer.previews).toHaveCount(0);
    await expect(explorer.frameDecoder).toHaveText('DDIM, 2 steps');

    const rendered = await explorer.bridge('lastRenderId');
    await latentPanel.slider(1).focus();
    await page.keyboard.press('PageUp');
    await explorer.waitForRender(rendered);
    await explorer.waitForSettled();
    await latentPanel.reset(1).click();
    await explorer.waitForSettled();
    expect(await explorer.takeFrameQualities()).not.toContain('student');
    expect((await explorer.engineStats()).leaks).toEqual([]);
  });
});

/**
 * Images in: upload, drag and drop, paste and the gallery, each encoded to z and inverted to x_T, with what the
 * model sees and the reconstruction beside it; and every awkward file refused or handled with a clear message
 * while the app stays usable.
 */
import { readFileSync } from 'node:fs';
import { expect, imagePath, shareOnePage, test } from './fixtures';

const FIXTURE_GALLERY: { label: string }[] = JSON.parse(
  readFileSync(new URL('../../public/models/fixture/model.json', import.meta.url), 'utf-8'),
).metadata.gallery;

test.describe('images in', () => {
  // One page: the first test meets the app fresh (a prior draw on screen); the others feed it image after image.
  shareOnePage();

  test('an upload is cropped, inverted, encoded and reconstructed, and becomes the current image', async ({
    explorer,
    inputPanel,
    page,
  }) => {
    await explorer.waitForSettled();
    const zBefore = await explorer.z();
    const renderBefore = await explorer.bridge('lastRenderId');
    // The first image is a prior draw: stochastic DDIM.
    await expect(page.getByTestId('view.sampler')).toHaveText('DDIM, 2 steps, η = 1');

    await inputPanel.uploadImage('boot-on-white.png');
    await inputPanel.waitForEncoded();
    await expect(inputPanel.region.getByRole('img', { name: 'Original: boot-on-white.png' })).toBeVisible();
    await expect(inputPanel.modelInput).toBeVisible();
    await expect(inputPanel.notes).toContainText('Centre-cropped from 96 x 64 to a square.');
    await expect(inputPanel.notes).toContainText('Dark-on-light image inverted');

    // The encoded z is now current, and its reconstruction is the generated image: deterministic DDIM from the
    // inverted x_T.
    await explorer.waitForRender(renderBefore);
    await expect(page.getByTestId('view.sampler')).toHaveText('DDIM, 2 steps, η = 0');
    expect(await explorer.z()).not.toEqual(zBefore);
    await expect(page.getByRole('slider', { name: 'Latent dimension 1', exact: true })).toHaveAttribute(
      'aria-valuetext',
      (await explorer.z())[0].toFixed(2),
    );
    await explorer.screenshot('image-uploaded');
  });

  test('drag and drop, paste and the gallery all feed the encoder', async ({ explorer, inputPanel }) => {
    await explorer.waitForSettled();
    const png = readFileSync(imagePath('boot-on-white.png'));

    await inputPanel.dropImage('dropped-boot.png', 'image/png', png);
    await inputPanel.waitForEncoded();
    await expect(inputPanel.region.getByRole('img', { name: 'Original: dropped-boot.png' })).toBeVisible();

    await inputPanel.pasteImage('image/jpeg', readFileSync(imagePath('boot-on-white.jpg')));
    await inputPanel.waitForEncoded();
    await expect(inputPanel.region.getByRole('img', { name: 'Original: pasted image' })).toBeVisible();

    await inputPanel.galleryItem(1).click();
    await inputPanel.waitForEncoded();
    await expect(inputPanel.region.getByRole('img', { name: `Original: ${FIXTURE_GALLERY[1].label}` })).toBeVisible();
    await expect(inputPanel.notes).toHaveCount(0); // gallery images are already at the model's size and polarity
  });

  test('a HEIC photo is refused with what to do, not a generic decode error', async ({ explorer, inputPanel }) => {
    await explorer.waitForSettled();
    // The first bytes of an iPhone photo: an ISO-BMFF ftyp box with the 'heic' brand, then (cut short) its meta box.
    const ftyp = Buffer.concat([
      Buffer.from([0, 0, 0, 24]),
      Buffer.from('ftypheic'),
      Buffer.from([0, 0, 0, 0]),
      Buffer.from('mif1heic'),
    ]);
    const heic = Buffer.concat([ftyp, Buffer.from([0, 0, 0, 12]), Buffer.from('meta'), Buffer.alloc(64)]);
    await inputPanel.upload.setInputFiles({ name: 'IMG_0001.HEIC', mimeType: 'image/heic', buffer: heic });
    await expect(inputPanel.error).toHaveText("HEIC images can't be decoded by this browser; convert to PNG or JPEG.");
    // The same bytes without a MIME type (some file pickers give none) are recognised by their header.
    await inputPanel.upload.setInputFiles({ name: 'photo.heif', mimeType: '', buffer: heic });
    await expect(inputPanel.error).toHaveText("HEIC images can't be decoded by this browser; convert to PNG or JPEG.");
    await explorer.screenshot('image-heic');
  });

  test('an SVG drawing and an empty file are refused with what to do', async ({ explorer, inputPanel }) => {
    await explorer.waitForSettled();
    const svg = Buffer.from(
      '<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8"><rect width="8" height="8"/></svg>',
    );
    await inputPanel.upload.setInputFiles({ name: 'logo.svg', mimeType: 'image/svg+xml', buffer: svg });
    await expect(inputPanel.error).toHaveText('SVG drawings are not supported: export the drawing as a PNG first.');
    await inputPanel.upload.setInputFiles({ name: 'empty.png', mimeType: 'image/png', buffer: Buffer.alloc(0) });
    await expect(inputPanel.error).toHaveText('The file is empty.');
  });

  test('awkward files get a clear message or a note, and the app keeps working', async ({ explorer, inputPanel }) => {
    await explorer.waitForSettled();

    await inputPanel.uploadImage('notes.txt');
    await expect(inputPanel.error).toHaveText(
      'This file is not an image (text/plain): choose a PNG, JPEG, GIF, WebP or BMP file.',
    );

    await inputPanel.uploadImage('truncated.png');
    await expect(inputPanel.error).toContainText('The browser could not decode this PNG file');

    await inputPanel.uploadImage('huge-header.png');
    await expect(inputPanel.error).toHaveText(
      'The image is 20000 x 20000 pixels; images up to 64 megapixels are accepted.',
    );

    await inputPanel.uploadImage('animated-bar.gif');
    await inputPanel.waitForEncoded();
    await expect(inputPanel.notes).toContainText('Animated image: only its first frame is used.');

    await inputPanel.uploadImage('transparent-disc.png');
    await inputPanel.waitForEncoded();
    await expect(inputPanel.notes).toContainText('Transparent areas were filled with a plain background.');

    await inputPanel.uploadImage('tiny-3x3.png');
    await inputPanel.waitForEncoded();
    await expect(inputPanel.notes).toContainText('Small image (3 x 3)');
    await explorer.screenshot('image-tiny');
  });
});

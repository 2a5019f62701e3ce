import { afterEach, describe, expect, it } from 'vitest';
import { samplePrior } from '../latent/latentMath';
import { MAX_STEPS } from '../app/shareState';
import { connectRenderLoop } from './renderLoop';
import { connectSessionSync, SESSION_WRITE_DELAY_MS } from './sessionSync';
import { createExplorerStore, type ExplorerStore } from './store';
import { stepNoiseDraws } from '../engine/stepNoise';
import { priorSampling } from '../latent/stochasticSampling';
import { decoderLabel } from './renderSlice';
import { EngineError } from '../engine/client';
import { FAKE_LATENT_DIM, FAKE_SIZE, FAKE_STUDENT, fakeMetadata, flush, STUDENT_SHIFT } from './testing/fakeEngine';
import { BASE_URL, createTestDeps, type TestDeps } from './testing/fakeDeps';

const cleanups: (() => void)[] = [];
afterEach(() => {
  while (cleanups.length) cleanups.pop()!();
});

function setup(options: Parameters<typeof createTestDeps>[0] = {}): { store: ExplorerStore; deps: TestDeps } {
  const deps = createTestDeps(options);
  const store = createExplorerStore(deps);
  cleanups.push(connectRenderLoop(store, deps.engine, deps.now));
  cleanups.push(() => store.getState().reset());
  return { store, deps };
}

const samplesOn = (deps: TestDeps, channel: string) =>
  deps.engine.calls.filter((c) => c.kind === 'sample' && c.channel === channel);

/** Endpoint a: the image on screen; endpoint b: a prior draw from seed 5; then a strip of three frames. */
async function renderStripToPriorDraw(store: ExplorerStore): Promise<void> {
  store.getState().setEndpointFromCurrent('a');
  store.getState().sampleFromPrior(5);
  await flush();
  store.getState().setEndpointFromCurrent('b');
  store.getState().setStripLength(3);
  await store.getState().renderStrip();
}

/** Pixel i's step noise averaged over the steps of seed's prior draw: what η = 1 adds in the fake decoder. */
function meanStepNoise(seed: number, steps: number, i: number): number {
  const draws = stepNoiseDraws(priorSampling(seed).stepNoise, steps, FAKE_SIZE * FAKE_SIZE);
  let sum = 0;
  for (let s = 0; s < steps; s += 1) sum += draws[s * FAKE_SIZE * FAKE_SIZE + i];
  return sum / steps;
}

describe('model picker and start-up', () => {
  it('lists the catalog, marks the fixture, reports an unreadable entry and loads the default model', async () => {
    const { store, deps } = setup();
    await store.getState().start({ backend: 'webgpu' });
    await flush();
    const state = store.getState();
    expect(state.catalog.map((e) => [e.id, e.displayName, e.isFixture, e.isDefault])).toEqual([
      ['fixture', 'Fixture', true, true],
      ['broken', 'broken', false, false],
    ]);
    expect(state.catalog[1].problem).toBe(`${BASE_URL}models/broken/model.json: HTTP 404 Not Found`);
    expect(state.loadStatus).toEqual({ kind: 'ready' });
    expect(state.backend?.reason).toBe('asked for webgpu');
    expect(deps.engine.calls[0]).toEqual({ kind: 'load', batch: 8 });
    // No link and no stored session: a prior draw from seed 0, rendered at full quality with stochastic DDIM.
    expect(state.z).toEqual(samplePrior({ prior: 'normal' }, FAKE_LATENT_DIM, 0));
    expect(state.frame?.quality).toBe('full');
    expect(samplesOn(deps, 'main-view')).toEqual([
      { kind: 'sample', channel: 'main-view', steps: 20, batch: 1, z: expect.any(Array), eta: 1 },
    ]);
  });

  it("samples a '10mix' model from its mixture prior, not from N(0, I)", async () => {
    const latent = { ...fakeMetadata().latent, prior: '10mix' as const };
    const { store } = setup({ metadata: fakeMetadata({ latent }) });
    await store.getState().start({});
    store.getState().sampleFromPrior(5);
    expect(store.getState().z).toEqual(samplePrior({ prior: '10mix' }, FAKE_LATENT_DIM, 5));
    store.getState().randomise(6);
    expect(store.getState().z).toEqual(samplePrior({ prior: '10mix' }, FAKE_LATENT_DIM, 6));
  });

  it('applies a link: its z, seed and steps; a z of the wrong length is refused with a notice', async () => {
    const { store } = setup();
    await store.getState().start({ model: 'fixture', z: [0.5, -1, 2], noise: { kind: 'seed', seed: 9 }, steps: 4 });
    expect(store.getState()).toMatchObject({ z: [0.5, -1, 2], steps: 4, seed: 9, referenceKind: 'link' });
    expect(store.getState().noise?.id).toBe('seed:9');

    const second = setup();
    await second.store.getState().start({ model: 'fixture', z: [1, 2] });
    expect(second.store.getState().notices.map((n) => n.text)).toEqual([
      "The link's z has 2 values but this model has 3 latent dimensions; it was ignored.",
    ]);
    expect(second.store.getState().z).toHaveLength(3);
  });

  it('shows the loader error and keeps the picker usable when a model does not load', async () => {
    const { store, deps } = setup();
    deps.engine.loadError = new Error('weight backbone.head.weight: expected 288 bytes, got 12');
    await store.getState().start({});
    expect(store.getState().loadStatus).toEqual({
      kind: 'error',
      label: 'Fixture',
      message: 'weight backbone.head.weight: expected 288 bytes, got 12',
    });
    expect(store.getState().model).toBeNull();
    deps.engine.loadError = null;
    await store.getState().openBundledModel('fixture');
    expect(store.getState().loadStatus).toEqual({ kind: 'ready' });
  });

  it('keeps the working model, its image, z and edits when a newly opened model fails, naming the file at fault', async () => {
    const { store, deps } = setup();
    await store.getState().start({});
    await store.getState().openImageFile(new File([new Uint8Array([191])], 'shoe.png', { type: 'image/png' }));
    store.getState().setLatentValue(1, 1.25);
    await flush();
    const before = store.getState();
    const { model, z, source, frame } = before;
    expect(model?.id).toBe('fixture');

    deps.engine.loadError = new EngineError(
      'group1-shard2of2.bin is too short: weight group 1 holds 90 bytes, its weights need 100',
      'ModelPackageError',
      'load',
      {
        file: 'group1-shard2of2.bin',
        details:
          'short shard: weight backbone.head.bias needs bytes 88..100 but group1-shard2of2.bin ends the data at byte 90',
      },
    );
    const opened = store
      .getState()
      .openModelFiles([new File(['{}'], 'model.json'), new File([new Uint8Array(90)], 'group1-shard2of2.bin')]);
    // While the new model loads, the current one stays: nothing the person made is cleared.
    expect(store.getState().model).toBe(model);
    expect(store.getState().z).toBe(z);
    await opened;
    await flush();
    const after = store.getState();
    expect(after.loadStatus).toEqual({
      kind: 'error',
      label: 'the chosen files',
      message: 'group1-shard2of2.bin is too short: weight group 1 holds 90 bytes, its weights need 100',
      file: 'group1-shard2of2.bin',
      details:
        'short shard: weight backbone.head.bias needs bytes 88..100 but group1-shard2of2.bin ends the data at byte 90',
      kept: 'Fixture',
    });
    expect(after.model).toBe(model);
    expect(after.z).toEqual(z);
    expect(after.source).toBe(source);
    expect(after.frame?.pixels).toEqual(frame?.pixels);

    // ... and it is still usable: a change of z renders.
    const renders = samplesOn(deps, 'main-view').length;
    store.getState().setLatentValue(0, -0.5);
    await flush();
    expect(samplesOn(deps, 'main-view').length).toBeGreaterThan(renders);
  });

  it('refuses a model URL on another origin and a file pick without model.json, naming the problem', async () => {
    const { store } = setup();
    await store.getState().openModelUrl('https://elsewhere.example/models/x/');
    const status = store.getState().loadStatus;
    expect(status.kind === 'error' && status.message).toMatch(
      /^Only models served by this site can be opened by URL .* https:\/\/elsewhere.example is another site/,
    );
    await store.getState().openModelFiles([new File([new Uint8Array([1])], 'group1-shard1of1.bin')]);
    const filesStatus = store.getState().loadStatus;
    expect(filesStatus.kind === 'error' && filesStatus.message).toMatch(/^No model.json among the chosen files/);
  });

  it('loads picked files and keeps copies of the gallery images the engine does not take', async () => {
    const { store } = setup();
    const json = new File(['{}'], 'model.json');
    const shard = new File([new Uint8Array(8)], 'group1-shard1of1.bin');
    await store.getState().openModelFiles([json, shard]);
    const model = store.getState().model;
    expect(model?.origin).toEqual({
      kind: 'files',
      label: 'model.json',
      assets: { 'model.json': expect.any(ArrayBuffer) },
    });
  });
});

describe('live rendering', () => {
  it('previews with few steps while a slider is held, renders only the newest z after each frame, and renders full quality on release', async () => {
    const { store, deps } = setup({ manualSamples: true });
    await store.getState().start({ steps: 10 });
    await deps.engine.releaseSample(); // the initial full render
    const state = store.getState();
    state.beginAdjust();
    state.setLatentValue(0, 1);
    expect(samplesOn(deps, 'main-view').at(-1)).toMatchObject({ steps: 3, z: [1, state.z[1], state.z[2]] });
    // Three more moves while that preview runs: nothing is queued...
    state.setLatentValue(0, 1.5);
    state.setLatentValue(0, 2);
    state.setLatentValue(0, 2.5);
    expect(samplesOn(deps, 'main-view')).toHaveLength(2);
    // ...and when it lands, only the newest value is rendered next.
    await deps.engine.releaseSample();
    expect(store.getState().frame).toMatchObject({ quality: 'preview', steps: 3 });
    expect(samplesOn(deps, 'main-view')).toHaveLength(3);
    expect(samplesOn(deps, 'main-view').at(-1)?.z?.[0]).toBe(2.5);
    // Release: the full-quality render supersedes the preview in flight.
    store.getState().endAdjust();
    expect(samplesOn(deps, 'main-view').at(-1)).toMatchObject({ steps: 10, z: [2.5, state.z[1], state.z[2]] });
    expect(deps.engine.pendingSamples).toHaveLength(2);
    await deps.engine.releaseSample(); // the superseded preview: its result is never shown
    await deps.engine.releaseSample();
    const frame = store.getState().frame!;
    expect(frame).toMatchObject({ quality: 'full', steps: 10 });
    // The fake decodes x0 = x_T + z_0 + η (mean step noise); a prior draw samples with η = 1.
    expect(frame.pixels[0]).toBeCloseTo(store.getState().noise!.xNoise[0] + 2.5 + meanStepNoise(0, 10, 0), 5);
    expect(frame.latencyMs).toBeGreaterThan(0);
    expect(store.getState().renderStatus).toEqual({ kind: 'idle' });
  });

  it('stops rendering when the GPU device is lost, and reloading keeps z', async () => {
    const { store, deps } = setup();
    await store.getState().start({});
    await flush();
    store.getState().setLatentValue(1, 0.75);
    await flush();
    deps.engine.emit({
      type: 'deviceLost',
      backend: 'webgpu',
      message: 'A valid external Instance reference no longer exists.',
    });
    expect(store.getState().engineFailure).toBe(
      'The GPU device was lost (webgpu): A valid external Instance reference no longer exists.',
    );
    const rendersBefore = samplesOn(deps, 'main-view').length;
    store.getState().setLatentValue(1, 0.9);
    await flush();
    expect(samplesOn(deps, 'main-view')).toHaveLength(rendersBefore);
    await store.getState().reloadModel('wasm');
    await flush();
    expect(store.getState()).toMatchObject({
      engineFailure: null,
      backendChoice: 'wasm',
      loadStatus: { kind: 'ready' },
    });
    expect(store.getState().z[1]).toBe(0.9);
    expect(samplesOn(deps, 'main-view')).toHaveLength(rendersBefore + 1);
  });
});

describe('student previews', () => {
  const withStudent = () => fakeMetadata({ student: FAKE_STUDENT });
  const lastMain = (deps: TestDeps) => samplesOn(deps, 'main-view').at(-1);

  it('shows student frames while a slider is held and settles on the full sampler with step noise on release', async () => {
    const { store, deps } = setup({ manualSamples: true, metadata: withStudent() });
    await store.getState().start({ steps: 10 });
    // The first image too: the student's frame at once, then the full sampler's; both with the prior draw's η = 1.
    expect(samplesOn(deps, 'main-view')).toEqual([
      { kind: 'sample', channel: 'main-view', decoder: 'student', steps: 2, batch: 1, z: expect.any(Array), eta: 1 },
    ]);
    await deps.engine.releaseSample();
    expect(store.getState().frame).toMatchObject({ quality: 'student', steps: 2 });
    expect(lastMain(deps)).toMatchObject({ steps: 10, eta: 1 });
    expect(lastMain(deps)?.decoder).toBeUndefined();
    await deps.engine.releaseSample();
    expect(store.getState().frame).toMatchObject({ quality: 'full', steps: 10 });

    const state = store.getState();
    state.beginAdjust();
    state.setLatentValue(0, 1);
    expect(lastMain(deps)).toMatchObject({ decoder: 'student', steps: 2, eta: 1, z: [1, state.z[1], state.z[2]] });
    state.setLatentValue(0, 1.5);
    state.setLatentValue(0, 2);
    expect(samplesOn(deps, 'main-view')).toHaveLength(3);
    await deps.engine.releaseSample();
    // x0 = x_T + z_0 + STUDENT_SHIFT · calls in the fake; then only the newest value is rendered next.
    expect(store.getState().frame).toMatchObject({ quality: 'student', steps: 2 });
    expect(store.getState().frame!.pixels[0]).toBeCloseTo(store.getState().noise!.xNoise[0] + 1 + 2 * STUDENT_SHIFT, 5);
    expect(lastMain(deps)).toMatchObject({ decoder: 'student', z: [2, state.z[1], state.z[2]] });
    await deps.engine.releaseSample();
    expect(store.getState().renderStatus).toEqual({ kind: 'idle' });
    const rendersBeforeRelease = samplesOn(deps, 'main-view').length;

    store.getState().endAdjust();
    expect(samplesOn(deps, 'main-view')).toHaveLength(rendersBeforeRelease + 1);
    expect(lastMain(deps)).toMatchObject({ steps: 10, eta: 1, z: [2, state.z[1], state.z[2]] });
    await deps.engine.releaseSample();
    const frame = store.getState().frame!;
    expect(frame).toMatchObject({ quality: 'full', steps: 10 });
    expect(frame.pixels[0]).toBeCloseTo(store.getState().noise!.xNoise[0] + 2 + meanStepNoise(0, 10, 0), 5);
  });

  it('renders a discrete change with the student at once, then the full sampler; a newer change supersedes both', async () => {
    const { store, deps } = setup({ manualSamples: true, metadata: withStudent() });
    await store.getState().start({ steps: 10 });
    await deps.engine.releaseSample();
    await deps.engine.releaseSample();
    const before = samplesOn(deps, 'main-view').length;
    store.getState().setLatentValue(1, 0.5); // a typed value, a click on the track, an attribute score
    expect(lastMain(deps)).toMatchObject({ decoder: 'student', steps: 2 });
    store.getState().setLatentValue(1, 0.75); // before the student's frame lands: its render is superseded
    expect(samplesOn(deps, 'main-view')).toHaveLength(before + 2);
    expect(lastMain(deps)).toMatchObject({
      decoder: 'student',
      z: [store.getState().z[0], 0.75, store.getState().z[2]],
    });
    await deps.engine.releaseSample(); // the superseded one: never shown
    await deps.engine.releaseSample();
    expect(store.getState().frame).toMatchObject({ quality: 'student', steps: 2 });
    expect(lastMain(deps)).toMatchObject({ steps: 10, eta: 1 });
    await deps.engine.releaseSample();
    expect(store.getState().frame).toMatchObject({ quality: 'full', steps: 10 });
    expect(samplesOn(deps, 'main-view')).toHaveLength(before + 3);
    expect(store.getState().frame!.latencyMs).toBeGreaterThan(0);
  });

  it('with previews set to the full sampler, or on a model without a student, renders exactly as DDIM previews do', async () => {
    const { store, deps } = setup({ metadata: withStudent() });
    cleanups.push(connectSessionSync(store));
    await store.getState().start({ steps: 10 });
    await flush();
    store.getState().setPreviewDecoder('ddim');
    const before = samplesOn(deps, 'main-view').length;
    store.getState().setLatentValue(0, 0.5);
    await flush();
    expect(samplesOn(deps, 'main-view').slice(before)).toEqual([
      { kind: 'sample', channel: 'main-view', steps: 10, batch: 1, z: expect.any(Array), eta: 1 },
    ]);
    store.getState().beginAdjust();
    store.getState().setLatentValue(0, 0.6);
    await flush();
    expect(store.getState().frame).toMatchObject({ quality: 'preview', steps: 3 });
    store.getState().endAdjust();
    await flush();
    expect(store.getState().frame).toMatchObject({ quality: 'full', steps: 10 });
    expect(
      samplesOn(deps, 'main-view')
        .slice(before)
        .some((c) => c.decoder === 'student'),
    ).toBe(false);

    // The setting is kept with the session, like the step count.
    await new Promise((resolve) => setTimeout(resolve, SESSION_WRITE_DELAY_MS + 50));
    const second = setup({ idb: deps.idb, metadata: withStudent() });
    await second.store.getState().start({});
    expect(second.store.getState().previewDecoder).toBe('ddim');

    // No student: the default setting changes nothing.
    const plain = setup();
    await plain.store.getState().start({});
    plain.store.getState().setLatentValue(0, 1);
    plain.store.getState().beginAdjust();
    plain.store.getState().setLatentValue(0, 1.2);
    await flush();
    plain.store.getState().endAdjust();
    await flush();
    expect(plain.store.getState().previewDecoder).toBe('student');
    expect(samplesOn(plain.deps, 'main-view').map((c) => [c.decoder, c.steps])).toEqual([
      [undefined, 20],
      [undefined, 20],
      [undefined, 3],
      [undefined, 20],
    ]);
  });

  it('fills traversals and interpolation strips with student frames first, then refines them with the full sampler', async () => {
    const { store, deps } = setup({ metadata: withStudent() });
    await store.getState().start({});
    await flush();
    const seen: { label: string; firstPixel: number | undefined }[] = [];
    cleanups.push(
      store.subscribe((state) => {
        const status = state.traversal.status;
        if (status.kind === 'running')
          seen.push({ label: status.label, firstPixel: state.traversal.rows[0].frames[0]?.pixels[0] });
      }),
    );
    store.getState().setTraversalLength(5);
    await store.getState().renderTraversal();
    // 15 images in batches of 8: two student batches (2 calls), then two full-sampler batches, all with the prior
    // draw's η = 1.
    expect(samplesOn(deps, 'traversal').map((c) => [c.decoder, c.steps, c.batch, c.eta])).toEqual([
      ['student', 2, 8, 1],
      ['student', 2, 8, 1],
      [undefined, 20, 8, 1],
      [undefined, 20, 8, 1],
    ]);
    const { rows, base } = store.getState().traversal;
    const xNoise0 = base!.noise.xNoise[0];
    // While refining, the first cell showed the student's image; at the end every cell is the full sampler's.
    const studentPixel = xNoise0 + rows[0].values[0] + 2 * STUDENT_SHIFT;
    expect(
      seen.some(
        (s) =>
          s.label === 'Student preview' && s.firstPixel !== undefined && Math.abs(s.firstPixel - studentPixel) < 1e-5,
      ),
    ).toBe(true);
    expect(seen.at(-1)?.label).toBe('Rendering');
    expect(rows[0].frames[0].pixels[0]).toBeCloseTo(xNoise0 + rows[0].values[0] + meanStepNoise(0, 20, 0), 5);
    expect(store.getState().traversal.status).toEqual({ kind: 'done' });

    await renderStripToPriorDraw(store);
    expect(samplesOn(deps, 'interpolation-strip').map((c) => c.decoder)).toEqual(['student', undefined]);
    const { strip, endpoints } = store.getState();
    expect(strip.frames[2].pixels[0]).toBeCloseTo(endpoints.b!.thumbnail!.pixels[0], 5);
  });

  it('names the decoder of the frame on screen', () => {
    expect(decoderLabel('student', 2)).toBe('student, 2 calls');
    expect(decoderLabel('student', 1)).toBe('student, 1 call');
    expect(decoderLabel('preview', 3)).toBe('DDIM, 3 steps (preview)');
    expect(decoderLabel('full', 20)).toBe('DDIM, 20 steps');
  });
});

describe('latent panel actions', () => {
  it('resets to the reference, randomises only unlocked dimensions, and moves along attribute directions', async () => {
    const { store } = setup();
    await store.getState().start({});
    const reference = store.getState().zReference!;
    store.getState().setLatentValue(0, 2.5);
    store.getState().setLatentValue(2, -2.5);
    store.getState().resetDimension(0);
    expect(store.getState().z).toEqual([reference[0], reference[1], -2.5]);
    store.getState().toggleLock(2);
    store.getState().randomise(77);
    const z = store.getState().z;
    expect(z[2]).toBe(-2.5);
    expect(z.slice(0, 2)).toEqual(samplePrior({ prior: 'normal' }, 3, 77).slice(0, 2));
    store.getState().resetAll();
    expect(store.getState().z).toEqual([reference[0], reference[1], -2.5]);
    store.getState().setAttributeScore(0, 1.25); // direction [1, 0, 0], bias 0: z_0 becomes 1.25
    expect(store.getState().z[0]).toBeCloseTo(1.25, 12);
  });
});

describe('images in', () => {
  it('encodes, inverts and reconstructs an upload; the reconstruction becomes the first frame without another render', async () => {
    const { store, deps } = setup();
    await store.getState().start({ steps: 5 });
    await flush();
    const mainRenders = samplesOn(deps, 'main-view').length;
    await store.getState().openImageFile(new File([new Uint8Array([191])], 'shoe.png', { type: 'image/png' }));
    const state = store.getState();
    expect(state.inputStatus).toEqual({ kind: 'done' });
    expect(state.source?.name).toBe('shoe.png');
    const pixel = 191 / 127.5 - 1;
    expect(state.z[0]).toBeCloseTo(pixel, 5); // the fake encoder: mean(x) + k
    expect(state.referenceKind).toBe('encoded');
    expect(state.reconstruction?.pixels[0]).toBeCloseTo(pixel, 5); // decode(Enc(x), invert(x)) = x
    // ... so its fidelity is the PSNR cap, at the steps it was inverted and decoded with.
    expect(state.reconstructionFidelity?.steps).toBe(5);
    expect(state.reconstructionFidelity?.psnr).toBeGreaterThan(90);
    expect(state.frame?.pixels[0]).toBeCloseTo(pixel, 5);
    expect(deps.engine.calls.filter((c) => c.kind === 'invert')).toEqual([{ kind: 'invert', steps: 5 }]);
    await flush();
    expect(samplesOn(deps, 'main-view')).toHaveLength(mainRenders);
    // Its inverted x_T renders with deterministic DDIM, the sampler inversion undoes.
    store.getState().setLatentValue(0, state.z[0] + 0.5);
    await flush();
    expect(samplesOn(deps, 'main-view').at(-1)).toMatchObject({ eta: 0 });
    expect(store.getState().frame?.pixels[0]).toBeCloseTo(pixel + 0.5, 5);
  });

  it('reports an image that cannot be decoded next to the input and keeps the previous image', async () => {
    const { store } = setup();
    await store.getState().start({});
    await store.getState().openGalleryItem(0);
    const previous = store.getState().source;
    await store.getState().openImageFile(new File([new Uint8Array([0, 1])], 'broken.png', { type: 'image/png' }));
    expect(store.getState().inputStatus).toEqual({
      kind: 'error',
      message: 'The browser could not decode this file: it is damaged or in a format it cannot read.',
    });
    expect(store.getState().source).toBe(previous);
  });
});

describe('keeping what the user made', () => {
  it('restores the session, the uploaded image and saved latents after a reload', async () => {
    const first = setup();
    cleanups.push(connectSessionSync(first.store));
    await first.store.getState().start({});
    await first.store.getState().openImageFile(new File([new Uint8Array([100])], 'bag.png', { type: 'image/png' }));
    await flush();
    first.store.getState().setLatentValue(2, 1.5);
    first.store.getState().toggleLock(1);
    await first.store.getState().saveCurrentLatent('My bag');
    await new Promise((resolve) => setTimeout(resolve, SESSION_WRITE_DELAY_MS + 50));
    const zBefore = first.store.getState().z;

    const second = setup({ idb: first.deps.idb });
    await second.store.getState().start({});
    await flush();
    const state = second.store.getState();
    expect(state.z).toEqual(zBefore);
    expect(state.locked).toEqual([false, true, false]);
    expect(state.referenceKind).toBe('encoded');
    expect(state.source?.name).toBe('bag.png');
    expect(state.savedLatents.map((l) => l.name)).toEqual(['My bag']);
    expect(Array.from(state.noise!.xNoise)).toEqual(Array.from(first.store.getState().noise!.xNoise));
  });
});

describe('steps', () => {
  it('holds the steps to 1..MAX_STEPS, whether typed, set or restored from a session stored with more', async () => {
    const first = setup();
    cleanups.push(connectSessionSync(first.store));
    await first.store.getState().start({});
    first.store.getState().setSteps(1000);
    expect(first.store.getState().steps).toBe(MAX_STEPS);
    first.store.getState().setSteps(0);
    expect(first.store.getState().steps).toBe(1);
    // A session written when the app allowed 1000 steps.
    first.store.setState({ steps: 1000 });
    await new Promise((resolve) => setTimeout(resolve, SESSION_WRITE_DELAY_MS + 50));

    const second = setup({ idb: first.deps.idb });
    await second.store.getState().start({});
    await flush();
    expect(second.store.getState().steps).toBe(MAX_STEPS);
    expect(samplesOn(second.deps, 'main-view').at(-1)?.steps).toBe(MAX_STEPS);
  });
});

describe('grids', () => {
  it('renders a traversal in warm-size batches, one row per dimension, and makes a clicked cell current', async () => {
    const { store, deps } = setup();
    await store.getState().start({});
    store.getState().setTraversalLength(5);
    await store.getState().renderTraversal();
    const { rows, status } = store.getState().traversal;
    expect(status).toEqual({ kind: 'done' });
    expect(rows.map((r) => r.frames.length)).toEqual([5, 5, 5]);
    expect(rows[0].values).toEqual([-2, -1, 0, 1, 2]);
    // 15 images in batches of 8: two calls, the second padded.
    expect(samplesOn(deps, 'traversal').map((c) => c.batch)).toEqual([8, 8]);
    // Dimension 0 drives the fake decoder (x0 = x_T + z_0 + η step noise); the others change nothing: every row
    // gets the main view's step noise, whatever its place in the batch, so they all show the main view's image.
    expect(rows[0].variation).toBeGreaterThan(0);
    expect(rows[1].variation).toBe(0);
    const mainFrame = store.getState().frame!;
    for (const frame of [...rows[1].frames, ...rows[2].frames])
      expect(Array.from(frame.pixels)).toEqual(Array.from(mainFrame.pixels));
    store.getState().pickTraversalCell(0, 4);
    expect(store.getState().z[0]).toBe(2);
  });

  /** renderStripToPriorDraw after the image on screen has rendered, checked done. */
  async function stripToPriorDraw(store: ExplorerStore) {
    await flush();
    await renderStripToPriorDraw(store);
    const { strip, endpoints } = store.getState();
    expect(strip.status).toEqual({ kind: 'done' });
    return { strip, endpoints };
  }

  it('interpolates between two endpoints with exact ends and a slerped x_T in between', async () => {
    const { store, deps } = setup();
    await store.getState().start({});
    const { strip, endpoints } = await stripToPriorDraw(store);
    expect(strip.frames).toHaveLength(3);
    expect(strip.snapshots[0].z).toEqual(endpoints.a!.z);
    expect(strip.snapshots[2].z.map((v) => Number(v.toFixed(12)))).toEqual(
      endpoints.b!.z.map((v) => Number(v.toFixed(12))),
    );
    expect(strip.snapshots[1].noise.origin).toBeNull();
    // The ends are the images the endpoints showed; between two prior draws the step noise is slerped too.
    expect(strip.frames[0].pixels[0]).toBeCloseTo(endpoints.a!.thumbnail!.pixels[0], 5);
    expect(strip.frames[2].pixels[0]).toBeCloseTo(endpoints.b!.thumbnail!.pixels[0], 5);
    expect(strip.snapshots[1].noise.stochastic).toEqual({
      eta: 1,
      stepNoise: { kind: 'slerp', a: { kind: 'seed', seed: 0 }, b: { kind: 'seed', seed: 5 }, e: 0.5 },
    });
    expect(samplesOn(deps, 'interpolation-strip').at(-1)?.eta).toBe(1);
  });

  it('moves eta from 0 to 1 between an encoded image and a prior draw, with both ends exact', async () => {
    const { store, deps } = setup();
    await store.getState().start({});
    await store.getState().openImageFile(new File([new Uint8Array([191])], 'shoe.png', { type: 'image/png' }));
    const { strip, endpoints } = await stripToPriorDraw(store);
    // The strip's 3 frames padded to the batch of 8 by repeating the last.
    expect(samplesOn(deps, 'interpolation-strip').at(-1)?.eta).toEqual([0, 0.5, 1, 1, 1, 1, 1, 1]);
    expect(strip.frames[0].pixels[0]).toBeCloseTo(endpoints.a!.thumbnail!.pixels[0], 5);
    expect(strip.frames[2].pixels[0]).toBeCloseTo(endpoints.b!.thumbnail!.pixels[0], 5);
  });
});

describe('teaching views', () => {
  it('opens the trajectory at its first step (where x_t and the predicted x0 differ) and stays there while it fills', async () => {
    const { store } = setup();
    await store.getState().start({ steps: 4 });
    const positions: number[] = [];
    const unsubscribe = store.subscribe((state) => {
      if (state.trajectory.steps.length > 0) positions.push(state.trajectoryPosition);
    });
    await store.getState().runTrajectory();
    unsubscribe();
    expect(positions.length).toBeGreaterThan(0);
    expect(new Set(positions)).toEqual(new Set([0]));
    expect(store.getState().trajectory.steps).toHaveLength(4);
    store.getState().setTrajectoryPosition(3);
    expect(store.getState().trajectoryPosition).toBe(3);
  });

  it('collects the trajectory step by step and computes the I-MMSE view of the user image', async () => {
    const { store } = setup();
    await store.getState().start({ steps: 4 });
    await store.getState().runTrajectory();
    expect(store.getState().trajectory.steps.map((s) => [s.step, s.t])).toEqual([
      [1, 999],
      [2, 998],
      [3, 997],
      [4, 996],
    ]);
    expect(store.getState().trajectoryPosition).toBe(0);
    await store.getState().openGalleryItem(0);
    await store.getState().runImmse();
    expect(store.getState().immse).toMatchObject({
      imageLabel: 'Ankle boot',
      result: { members: [{ discrete: { bitsPerDim: 3.5, stdErr: 0.05 } }], ensemble: null },
      status: { kind: 'done' },
    });
    // The image is also scored without its code, so the panel can say what z saves.
    expect(store.getState().immse.result?.zSaves?.perPixel.bitsPerDim).toBe(0.1);
    await store.getState().setLogSnr(2);
    expect(store.getState().forwardNoise?.alphaBar).toBeCloseTo(1 / (1 + Math.exp(-2)), 12);
    expect(store.getState().forwardNoise?.xt.size).toBe(FAKE_SIZE);
  });
});

import { afterEach, describe, expect, it, vi } from 'vitest';
import { IDBFactory } from 'fake-indexeddb';
import { openAttributeDb } from '../app/attributeDb';
import { directionScore } from '../latent/attributeFit';
import { connectAttributeSync, linkAttributeValues, withAttributeParams } from './attributeSync';
import { createExplorerStore, type ExplorerStore } from './store';
import { createTestDeps } from './testing/fakeDeps';
import { fakeMetadata, flush } from './testing/fakeEngine';
import type { ModelMetadata } from '../model/metadata';

const cleanups: (() => void)[] = [];
afterEach(() => {
  while (cleanups.length) cleanups.pop()!();
});

async function setup(idb = new IDBFactory(), search = '', metadata?: ModelMetadata) {
  const deps = { ...createTestDeps({ idb, metadata }), openAttributeDb: () => openAttributeDb(idb) };
  const store = createExplorerStore(deps);
  const location = { pathname: '/', search, hash: '' };
  const history = {
    state: null,
    replaceState: (_: unknown, __: string, url: string) => {
      location.search = url.slice(1).replace(/#.*$/, '');
    },
  };
  cleanups.push(connectAttributeSync(store, search, location, history));
  cleanups.push(() => store.getState().reset());
  await store.getState().start({});
  await flush();
  return { store, deps, location };
}

const example = (key: string, z: number[]) => ({ key, label: key, z, thumbnail: null });

/** Marks two positives along +x and two negatives along -x. */
function markToyExamples(store: ExplorerStore): void {
  const s = store.getState();
  s.addCodeExample(example('p1', [2, 0, 0]), true);
  s.addCodeExample(example('p2', [2, 1, 0]), true);
  s.addCodeExample(example('n1', [-2, 0, 0]), false);
  s.addCodeExample(example('n2', [-2, 1, 0]), false);
}

describe('own attributes', () => {
  it('fits a draft from two and two, by the difference of means, and says why there is no fit before', async () => {
    const { store } = await setup();
    store.getState().addCodeExample(example('p1', [2, 0, 0]), true);
    expect(store.getState().attributeDraft.fit).toEqual({
      kind: 'none',
      reason: 'Mark at least two images with the attribute and two without (now 1 with, 0 without).',
    });
    markToyExamples(store);
    const fit = store.getState().attributeDraft.fit;
    expect(fit.kind).toBe('fit');
    if (fit.kind !== 'fit') return;
    expect(fit.fit.method).toBe('mean-difference');
    expect(fit.fit.vector).toEqual([1, 0, 0]);
    expect(fit.fit.correct).toBe(4);
    // Marking an example the other way refits.
    store.getState().setExampleHas('p2', false);
    expect(store.getState().attributeDraft.fit.kind).toBe('none');
  });

  it('encodes a gallery image as an example, leaving the current image alone', async () => {
    const { store } = await setup();
    const z = store.getState().z;
    await store.getState().addGalleryExample(0, true);
    const [marked] = store.getState().attributeDraft.examples;
    expect(marked.label).toBe('Ankle boot (gallery 1)');
    // The fake encoder: z_k = mean(x) + k, every pixel 200 / 127.5 - 1.
    expect(marked.z[1] - marked.z[0]).toBeCloseTo(1, 6);
    expect(marked.z[0]).toBeCloseTo(200 / 127.5 - 1, 6);
    expect(store.getState().z).toBe(z);
  });

  it('saves a named slider that moves z, kept in storage for the next visit', async () => {
    const idb = new IDBFactory();
    const { store } = await setup(idb);
    markToyExamples(store);
    store.getState().setAttributeDraftName('  Wide  ');
    await store.getState().saveAttributeDraft();
    const [own] = store.getState().ownAttributes;
    expect(own).toMatchObject({ name: 'Wide', method: 'mean-difference', positives: 2, negatives: 2, correct: 4 });
    expect(store.getState().attributeDraft.examples).toEqual([]);

    store.getState().toggleLock(1);
    const before = store.getState().z;
    store.getState().setOwnAttributeScore(own.id, 1.5);
    const after = store.getState().z;
    expect(directionScore(after, own)).toBeCloseTo(1.5, 10);
    expect(after[1]).toBe(before[1]);

    const second = await setup(idb);
    await vi.waitFor(() => expect(second.store.getState().ownAttributes.map((a) => a.name)).toEqual(['Wide']));
    await second.store.getState().deleteOwnAttribute(own.id);
    const third = await setup(idb);
    await flush();
    expect(third.store.getState().ownAttributes).toEqual([]);
  });

  it('exports and imports a file, refusing one made for another latent size with a clear message', async () => {
    const { store } = await setup();
    markToyExamples(store);
    store.getState().setAttributeDraftName('Wide');
    await store.getState().saveAttributeDraft();
    const text = store.getState().exportOwnAttributes()!;
    expect(JSON.parse(text)).toMatchObject({ modelId: 'fixture', latentDim: 3, attributes: [{ name: 'Wide' }] });

    const other = await setup();
    await other.store.getState().importOwnAttributes(text);
    expect(other.store.getState().attributeImport).toEqual({ kind: 'done', count: 1 });
    expect(other.store.getState().ownAttributes[0].vector).toEqual([1, 0, 0]);
    // The same file again adds nothing.
    await other.store.getState().importOwnAttributes(text);
    expect(other.store.getState().ownAttributes).toHaveLength(1);

    const wrong = JSON.stringify({ ...JSON.parse(text), latentDim: 32 });
    await other.store.getState().importOwnAttributes(wrong);
    expect(other.store.getState().attributeImport).toEqual({
      kind: 'error',
      message:
        'These attributes have 32 latent dimensions but this model has 3: they were made for another version of it.',
    });
  });

  it('carries own attributes in the page URL and adds a link’s on load, refusing one that does not fit', async () => {
    const { store, location } = await setup();
    markToyExamples(store);
    store.getState().setAttributeDraftName('Wide');
    await store.getState().saveAttributeDraft();
    expect(linkAttributeValues(location.search)).toEqual(['Wide~0~1,0,0~d']);

    const search = withAttributeParams('?model=fixture', store.getState().ownAttributes) + '&attr=Bad~0~1,0~d';
    const opened = await setup(new IDBFactory(), search);
    await flush();
    await vi.waitFor(() =>
      expect(opened.store.getState().ownAttributes.map((a) => [a.name, a.vector])).toEqual([['Wide', [1, 0, 0]]]),
    );
    expect(opened.store.getState().notices.map((n) => n.text)).toEqual([
      `The link's attribute could not be used: The link's attribute "Bad" has 2 latent values but this model has 3 latent dimensions: it was made for another model.`,
    ]);
  });
});

describe('principal directions', () => {
  it("ranks directions by how much they change the image, and a slider moves z's coordinate along one", async () => {
    // No shipped directions and no mixture: the axes, by spread (dims 2, 1, 0). The fake decoder's image moves
    // with z_0 only, so the last direction by variance (dim 0) changes the image most.
    const latent = { ...fakeMetadata().latent, mean: [0.5, 0, 0], std: [0.5, 1, 2] };
    const { store, deps } = await setup(new IDBFactory(), '', fakeMetadata({ latent }));
    const principal = store.getState().principal!;
    expect(principal.source).toBe('per-dimension spread');
    expect(principal.components).toEqual([
      [0, 0, 1],
      [0, 1, 0],
      [1, 0, 0],
    ]);
    await store.getState().rankPrincipal();
    const ranking = store.getState().principalRanking;
    expect(ranking.status).toEqual({ kind: 'done' });
    expect(ranking.order![0]).toBe(2);
    expect(ranking.effects[2]).toBeGreaterThan(0);
    expect(ranking.effects[0]).toBeCloseTo(0, 6);
    // One pair per direction, rendered in one batch on the ranking's channel.
    expect(deps.engine.calls.filter((c) => c.kind === 'sample' && c.channel === 'principal-ranking')).toHaveLength(1);

    store.getState().setPrincipalScore(2, 1.25);
    expect(store.getState().z[0]).toBeCloseTo(0.5 + 1.25, 10);
  });
});

describe('edit transfer', () => {
  const galleryValue = 200 / 127.5 - 1;

  it("applies the current image's edit to a gallery image, before and after, with a strength", async () => {
    const { store, deps } = await setup();
    store.getState().setLatentValue(0, store.getState().z[0] + 1);
    await store.getState().setEditTargetFromGallery(0);
    let transfer = store.getState().editTransfer;
    expect(transfer.targetStatus).toEqual({ kind: 'done' });
    expect(transfer.status).toEqual({ kind: 'done' });
    // The fake model: x_T = x - z_0 on inversion, x0 = x_T + z_0 on decoding; the edit adds 1 to z_0.
    expect(transfer.before!.pixels[0]).toBeCloseTo(galleryValue, 5);
    expect(transfer.after!.pixels[0]).toBeCloseTo(galleryValue + 1, 5);
    store.getState().setEditStrength(0.5);
    await store.getState().renderEditTransfer();
    transfer = store.getState().editTransfer;
    expect(transfer.after!.pixels[0]).toBeCloseTo(galleryValue + 0.5, 5);
    expect(
      deps.engine.calls.filter((c) => c.kind === 'sample' && c.channel === 'edit-transfer').length,
    ).toBeGreaterThan(0);

    // Saved, the edit applies after the current image has moved on; and the edited target can be made current.
    await store.getState().saveCurrentEdit('Brighter');
    store.getState().resetAll();
    store.getState().setEditSource({ kind: 'saved', id: store.getState().savedEdits[0].id });
    await store.getState().renderEditTransfer();
    expect(store.getState().editTransfer.after!.pixels[0]).toBeCloseTo(galleryValue + 0.5, 5);
    store.getState().makeEditedTargetCurrent();
    expect(store.getState().z[0]).toBeCloseTo(galleryValue + 0.5, 5);
  });

  it('keeps saved edits for the next visit, per model', async () => {
    const idb = new IDBFactory();
    const { store } = await setup(idb);
    store.getState().setLatentValue(2, store.getState().z[2] - 0.5);
    await store.getState().saveCurrentEdit('  ');
    expect(store.getState().savedEdits.map((e) => e.name)).toEqual(['Edit 1']);
    const second = await setup(idb);
    await vi.waitFor(() => expect(second.store.getState().savedEdits.map((e) => e.delta)).toEqual([[0, 0, -0.5]]));
    await second.store.getState().deleteSavedEdit(second.store.getState().savedEdits[0].id);
    const third = await setup(idb);
    await flush();
    expect(third.store.getState().savedEdits).toEqual([]);
  });

  it('says so when there is no edit to apply', async () => {
    const { store } = await setup();
    await store.getState().setEditTargetFromGallery(0);
    expect(store.getState().editTransfer.status).toMatchObject({ kind: 'error', message: /There is no edit to apply/ });
  });
});

describe('z versus x_T', () => {
  it('decodes every (row z, column x_T): the diagonal reconstructs, a seed gives a column only', async () => {
    const { store } = await setup();
    const galleryValue = 200 / 127.5 - 1;
    await store.getState().addSwapGallery(0);
    store.getState().addSwapSeed(5);
    store.getState().setSwapRole('seed:5', 'asRow', true); // refused: noise has no code
    await store.getState().renderSwapGrid();
    const grid = store.getState().swapGrid;
    expect(grid.status).toEqual({ kind: 'done' });
    expect(grid.rows).toEqual(['Ankle boot']);
    expect(grid.columns).toEqual(['Ankle boot', 'noise, seed 5']);
    expect(grid.cells).toHaveLength(2);
    expect(grid.cells[0].pixels[0]).toBeCloseTo(galleryValue, 5);
    // The seed's column: its x_T plus the gallery image's z_0.
    const seeded = store.getState().swapGrid.images.find((i) => i.key === 'seed:5')!;
    expect(grid.cells[1].pixels[3]).toBeCloseTo(seeded.noise.xNoise[3] + galleryValue, 5);
    store.getState().pickSwapCell(0, 1);
    expect(store.getState().noise?.id).toBe('seed:5');
  });
});

describe('own attribute examples from files', () => {
  it('encodes an image file as an example; a file the browser cannot read is refused in words', async () => {
    const { store } = await setup();
    await store
      .getState()
      .addFileExample(new Blob([new Uint8Array([100, 1])], { type: 'image/png' }), true, 'shirt.png');
    const [marked] = store.getState().attributeDraft.examples;
    expect(marked).toMatchObject({ label: 'shirt.png', has: true });
    expect(marked.z[0]).toBeCloseTo(100 / 127.5 - 1, 6);
    await store.getState().addFileExample(new Blob([new Uint8Array([0])], { type: 'image/png' }), false, 'bad.png');
    expect(store.getState().exampleStatus).toMatchObject({ kind: 'error', message: /^bad.png could not be encoded: / });
  });
});

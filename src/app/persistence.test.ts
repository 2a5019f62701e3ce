import { IDBFactory } from 'fake-indexeddb';
import { afterEach, describe, expect, it } from 'vitest';
import {
  openExplorerDb,
  TAB_SESSION_MAX_AGE_MS,
  uploadId,
  type ExplorerDb,
  type SavedLatent,
  type SessionRecord,
} from './persistence';

let db: ExplorerDb | null = null;
afterEach(() => {
  db?.close();
  db = null;
});

function latent(id: string, modelId: string, createdAt: number): SavedLatent {
  return {
    id,
    modelId,
    name: id,
    z: [1, 2],
    noise: { kind: 'seed', seed: 1 },
    xNoise: new Float32Array([0.5, -0.5]),
    steps: 3,
    thumbnail: new Uint8ClampedArray([1, 2, 3, 255]),
    thumbnailSize: 1,
    createdAt,
  };
}

describe('ExplorerDb', () => {
  it('keeps uploads, latents and sessions across a reopen of the same database', async () => {
    const factory = new IDBFactory();
    db = await openExplorerDb(factory);
    const bytes = new Uint8Array([137, 80, 78, 71]);
    await db.putUpload({ id: uploadId(bytes), name: 'shoe.png', type: 'image/png', bytes: bytes.buffer, createdAt: 1 });
    await db.putLatent(latent('b', 'fixture', 2));
    await db.putLatent(latent('a', 'fixture', 1));
    await db.putLatent(latent('c', 'other', 3));
    await db.putSession({
      modelId: 'fixture',
      z: [0.25],
      zEncoded: null,
      locked: [true],
      noise: { kind: 'upload', id: uploadId(bytes) },
      xNoise: new Float32Array([1, 2, 3]),
      steps: 3,
      updatedAt: 5,
    });
    db.close();

    db = await openExplorerDb(factory);
    const upload = await db.getUpload(uploadId(bytes));
    expect(upload?.name).toBe('shoe.png');
    expect(new Uint8Array(upload!.bytes)).toEqual(bytes);
    expect((await db.listLatents('fixture')).map((l) => l.id)).toEqual(['a', 'b']);
    const session = await db.getSession('fixture');
    expect(session?.locked).toEqual([true]);
    expect(Array.from(session!.xNoise!)).toEqual([1, 2, 3]);

    await db.deleteLatent('a');
    expect((await db.listLatents('fixture')).map((l) => l.id)).toEqual(['b']);
    expect(await db.getSession('missing')).toBeUndefined();
  });

  it('derives the same upload id from the same bytes and different ids from different bytes', () => {
    expect(uploadId(new Uint8Array([1, 2, 3]))).toBe(uploadId(new Uint8Array([1, 2, 3])));
    expect(uploadId(new Uint8Array([1, 2, 3]))).not.toBe(uploadId(new Uint8Array([1, 2, 4])));
  });
});

describe('ExplorerDb write failures', () => {
  it('turns a put() that throws synchronously into a rejected promise, so callers can report it', async () => {
    db = await openExplorerDb(new IDBFactory());
    // A function cannot be cloned: IndexedDB's put() throws DataCloneError before it returns a request.
    const uncloneable = { ...latent('x', 'fixture', 1), z: (() => 1) as unknown as number[] };
    const written = db.putLatent(uncloneable);
    expect(written).toBeInstanceOf(Promise);
    await expect(written).rejects.toThrow(/clone/i);
    expect(await db.listLatents('fixture')).toEqual([]);
  });
});

describe('ExplorerDb in several tabs', () => {
  const opened: ExplorerDb[] = [];
  afterEach(() => {
    while (opened.length) opened.pop()!.close();
  });
  const open = async (factory: IDBFactory, tabId?: string) => {
    const tab = await openExplorerDb(factory, 'tabs-test', tabId);
    opened.push(tab);
    return tab;
  };
  const session = (z: number, updatedAt: number): SessionRecord => ({
    modelId: 'fixture',
    z: [z],
    zEncoded: null,
    locked: [false],
    noise: { kind: 'seed', seed: 1 },
    xNoise: new Float32Array([z]),
    steps: 3,
    updatedAt,
  });

  it('gives each tab its own session back after a reload, and a new tab the latest one', async () => {
    const factory = new IDBFactory();
    const a = await open(factory, 'tab-a');
    const b = await open(factory, 'tab-b');
    await a.putSession(session(1, 10));
    await b.putSession(session(2, 20)); // B writes last
    a.close();
    const reloadedA = await open(factory, 'tab-a');
    expect((await reloadedA.getSession('fixture'))?.z).toEqual([1]);
    expect(await reloadedA.getSession('fixture')).not.toHaveProperty('tabId');
    expect((await b.getSession('fixture'))?.z).toEqual([2]);
    expect((await (await open(factory, 'tab-new')).getSession('fixture'))?.z).toEqual([2]);
    expect((await (await open(factory)).getSession('fixture'))?.z).toEqual([2]);
  });

  it('drops the sessions of tabs not written for a month when a tab writes its own', async () => {
    const factory = new IDBFactory();
    await (await open(factory, 'closed-long-ago')).putSession(session(1, 0));
    await (await open(factory, 'live')).putSession(session(2, TAB_SESSION_MAX_AGE_MS + 1));
    expect((await (await open(factory, 'closed-long-ago')).getSession('fixture'))?.z).toEqual([2]); // the latest, not its own
  });

  it("keeps a version-1 database's data when it upgrades", async () => {
    const factory = new IDBFactory();
    await new Promise<void>((resolve, reject) => {
      const request = factory.open('tabs-test', 1);
      request.onupgradeneeded = () => {
        request.result.createObjectStore('uploads', { keyPath: 'id' });
        request.result.createObjectStore('latents', { keyPath: 'id' }).createIndex('modelId', 'modelId');
        request.result.createObjectStore('sessions', { keyPath: 'modelId' }).put(session(7, 1));
      };
      request.onsuccess = () => {
        request.result.close();
        resolve();
      };
      request.onerror = () => reject(request.error);
    });
    const upgraded = await open(factory, 'tab-a');
    expect((await upgraded.getSession('fixture'))?.z).toEqual([7]);
    await upgraded.putSession(session(8, 2));
    expect((await upgraded.getSession('fixture'))?.z).toEqual([8]);
  });

  it('tells the other tabs, not itself, when a latent is saved or deleted', async () => {
    const factory = new IDBFactory();
    const a = await open(factory, 'tab-a');
    const b = await open(factory, 'tab-b');
    const heardByA: string[] = [];
    a.onLibraryChange(() => heardByA.push('a'));
    const heardByB = new Promise<string>((resolve) => b.onLibraryChange(() => resolve('b')));
    await a.putLatent(latent('x', 'fixture', 1));
    await expect(heardByB).resolves.toBe('b');
    expect((await b.listLatents('fixture')).map((l) => l.id)).toEqual(['x']);
    const deleted = new Promise<void>((resolve) => b.onLibraryChange(resolve));
    await a.deleteLatent('x');
    await deleted;
    expect(heardByA).toEqual([]);
  });
});

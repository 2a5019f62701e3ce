import { IDBFactory } from 'fake-indexeddb';
import { afterEach, describe, expect, it } from 'vitest';
import { openExplorerDb, uploadId, type ExplorerDb, type SavedLatent } from './persistence';

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

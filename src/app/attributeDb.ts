/**
 * The person's own attributes (src/latent/ownAttribute.ts) and saved edits, kept in IndexedDB per model. A database
 * of its own beside persistence.ts's, so it is created and versioned independently of the images, latents and
 * sessions there. The factory is injectable so Vitest runs it on fake-indexeddb.
 */
import type { OwnAttribute } from '../latent/ownAttribute';

/** A saved edit: the change in z from an image's own code, applied elsewhere with a strength (issue 33). */
export interface SavedEdit {
  id: string;
  modelId: string;
  name: string;
  /** z after the edit minus the image's own code; length latentDim. */
  delta: number[];
  createdAt: number;
}

export interface AttributeDb {
  putAttribute(attribute: OwnAttribute): Promise<void>;
  /** One model's attributes, oldest first. */
  listAttributes(modelId: string): Promise<OwnAttribute[]>;
  deleteAttribute(id: string): Promise<void>;
  putEdit(edit: SavedEdit): Promise<void>;
  listEdits(modelId: string): Promise<SavedEdit[]>;
  deleteEdit(id: string): Promise<void>;
  close(): void;
}

export const ATTRIBUTE_DB_NAME = 'infodiffusion-explorer-attributes';
const VERSION = 1;
const ATTRIBUTES = 'attributes';
const EDITS = 'edits';

function requestToPromise<T>(request: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error ?? new Error('IndexedDB request failed'));
  });
}

/** Runs one readwrite request and resolves when its transaction commits; a synchronous throw becomes a rejection. */
function write(db: IDBDatabase, store: string, run: (objectStore: IDBObjectStore) => void): Promise<void> {
  try {
    const transaction = db.transaction(store, 'readwrite');
    run(transaction.objectStore(store));
    return new Promise((resolve, reject) => {
      transaction.oncomplete = () => resolve();
      transaction.onerror = () => reject(transaction.error ?? new Error('IndexedDB transaction failed'));
      transaction.onabort = () => reject(transaction.error ?? new Error('IndexedDB transaction aborted'));
    });
  } catch (error) {
    return Promise.reject(error instanceof Error ? error : new Error(String(error)));
  }
}

/** Opens (creating) the attribute database; rejects where storage is unavailable. */
export function openAttributeDb(factory: IDBFactory = indexedDB, name = ATTRIBUTE_DB_NAME): Promise<AttributeDb> {
  return new Promise((resolve, reject) => {
    const open = factory.open(name, VERSION);
    open.onupgradeneeded = () => {
      const db = open.result;
      if (!db.objectStoreNames.contains(ATTRIBUTES))
        db.createObjectStore(ATTRIBUTES, { keyPath: 'id' }).createIndex('modelId', 'modelId');
      if (!db.objectStoreNames.contains(EDITS))
        db.createObjectStore(EDITS, { keyPath: 'id' }).createIndex('modelId', 'modelId');
    };
    open.onerror = () => reject(open.error ?? new Error('IndexedDB could not be opened'));
    open.onblocked = () => reject(new Error('IndexedDB is blocked by another tab holding an older version open'));
    open.onsuccess = () => {
      const db = open.result;
      db.onversionchange = () => db.close();
      const list = async <T extends { createdAt: number }>(store: string, modelId: string) =>
        (await requestToPromise<T[]>(db.transaction(store).objectStore(store).index('modelId').getAll(modelId))).sort(
          (a, b) => a.createdAt - b.createdAt,
        );
      resolve({
        putAttribute: (attribute) => write(db, ATTRIBUTES, (s) => s.put(attribute)),
        listAttributes: (modelId) => list<OwnAttribute>(ATTRIBUTES, modelId),
        deleteAttribute: (id) => write(db, ATTRIBUTES, (s) => s.delete(id)),
        putEdit: (edit) => write(db, EDITS, (s) => s.put(edit)),
        listEdits: (modelId) => list<SavedEdit>(EDITS, modelId),
        deleteEdit: (id) => write(db, EDITS, (s) => s.delete(id)),
        close: () => db.close(),
      });
    };
  });
}

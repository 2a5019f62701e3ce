/**
 * What the user made, kept in IndexedDB so a reload (or a crash, or a lost GPU) loses nothing: uploaded images
 * as their original bytes, saved latents, and the working session per model (z, locks, x_T, steps, previews).
 * Plain IndexedDB, promise-wrapped; the factory is injectable so Vitest runs it on fake-indexeddb.
 *
 * Several tabs share the database. Sessions are kept per tab (under the tab's id, which survives its reloads) as
 * well as per model, so reloading a tab restores that tab's session, and a new tab starts from the latest one.
 * Saved latents are shared: a change is announced on a BroadcastChannel so the other tabs reload their list.
 */
import type { Decoder } from '../engine/protocol';
import type { StochasticSampling } from '../latent/stochasticSampling';
import type { NoiseOrigin } from './shareState';

export interface StoredUpload {
  /** Content-derived id (see uploadId), so the same file uploaded twice is stored once. */
  id: string;
  name: string;
  /** MIME type as the browser reported it. */
  type: string;
  bytes: ArrayBuffer;
  createdAt: number;
}

export interface SavedLatent {
  id: string;
  modelId: string;
  name: string;
  z: number[];
  /** Where x_T came from (null: mixed from others, e.g. an interpolation frame), and x_T itself (length H*W*C). */
  noise: NoiseOrigin | null;
  xNoise: Float32Array;
  /** The sampler of x_T (see NoiseState.stochastic); absent in records stored before it existed, which rendered with η = 0. */
  stochastic?: StochasticSampling | null;
  steps: number;
  /** The rendered image when it was saved, RGBA at the model's size. */
  thumbnail: Uint8ClampedArray;
  thumbnailSize: number;
  createdAt: number;
}

export interface SessionRecord {
  modelId: string;
  z: number[];
  zEncoded: number[] | null;
  locked: boolean[];
  /** As in SavedLatent. */
  noise: NoiseOrigin | null;
  xNoise: Float32Array;
  stochastic?: StochasticSampling | null;
  steps: number;
  /** The previews setting (student or DDIM preview steps); absent in records stored before it existed. */
  previews?: Decoder;
  updatedAt: number;
}

export interface ExplorerDb {
  putUpload(upload: StoredUpload): Promise<void>;
  getUpload(id: string): Promise<StoredUpload | undefined>;
  putLatent(latent: SavedLatent): Promise<void>;
  /** Saved latents of one model, oldest first. */
  listLatents(modelId: string): Promise<SavedLatent[]>;
  deleteLatent(id: string): Promise<void>;
  /** Stores the session as this tab's and as the model's latest. */
  putSession(session: SessionRecord): Promise<void>;
  /** This tab's session of the model if it has one (a reload), else the model's latest from any tab. */
  getSession(modelId: string): Promise<SessionRecord | undefined>;
  /** Calls `listener` when another tab saves or deletes a latent; returns the function that stops it. */
  onLibraryChange(listener: () => void): () => void;
  close(): void;
}

export const DB_NAME = 'infodiffusion-explorer';
const DB_VERSION = 2;
const UPLOADS = 'uploads';
const LATENTS = 'latents';
/** The latest session per model, from whichever tab wrote last: where a new tab starts. */
const SESSIONS = 'sessions';
/** Each tab's own session per model (added in version 2), keyed [modelId, tabId]. */
const TAB_SESSIONS = 'tabSessions';
/** A tab's sessions not written for this long are dropped when any tab writes its own: closed tabs leave them. */
export const TAB_SESSION_MAX_AGE_MS = 30 * 24 * 3600 * 1000;

function requestToPromise<T>(request: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error ?? new Error('IndexedDB request failed'));
  });
}

/** Resolves when the transaction commits, so a write is durable before the caller moves on. */
function transactionDone(transaction: IDBTransaction): Promise<void> {
  return new Promise((resolve, reject) => {
    transaction.oncomplete = () => resolve();
    transaction.onerror = () => reject(transaction.error ?? new Error('IndexedDB transaction failed'));
    transaction.onabort = () => reject(transaction.error ?? new Error('IndexedDB transaction aborted'));
  });
}

/**
 * Opens (creating or upgrading) the explorer's database. Rejects where storage is unavailable.
 * @param tabId this tab's id (stable across its reloads); without one, sessions are kept per model only
 */
export function openExplorerDb(factory: IDBFactory = indexedDB, name = DB_NAME, tabId?: string): Promise<ExplorerDb> {
  return new Promise((resolve, reject) => {
    const open = factory.open(name, DB_VERSION);
    open.onupgradeneeded = () => {
      const db = open.result;
      if (!db.objectStoreNames.contains(UPLOADS)) db.createObjectStore(UPLOADS, { keyPath: 'id' });
      if (!db.objectStoreNames.contains(LATENTS))
        db.createObjectStore(LATENTS, { keyPath: 'id' }).createIndex('modelId', 'modelId');
      if (!db.objectStoreNames.contains(SESSIONS)) db.createObjectStore(SESSIONS, { keyPath: 'modelId' });
      if (!db.objectStoreNames.contains(TAB_SESSIONS))
        db.createObjectStore(TAB_SESSIONS, { keyPath: ['modelId', 'tabId'] });
    };
    open.onerror = () => reject(open.error ?? new Error('IndexedDB could not be opened'));
    open.onblocked = () => reject(new Error('IndexedDB is blocked by another tab holding an older version open'));
    open.onsuccess = () => resolve(wrap(open.result, name, tabId));
  });
}

/**
 * Runs `write` in one readwrite transaction over `stores` and resolves when it commits. transaction() and put()
 * throw synchronously (DataCloneError, InvalidStateError on a closing database, some browsers'
 * QuotaExceededError); callers handle a rejected promise, so the throw becomes one.
 */
function writeTransaction(
  db: IDBDatabase,
  stores: string[],
  write: (transaction: IDBTransaction) => void,
): Promise<void> {
  try {
    const transaction = db.transaction(stores, 'readwrite');
    write(transaction);
    return transactionDone(transaction);
  } catch (error) {
    return Promise.reject(error instanceof Error ? error : new Error(String(error)));
  }
}

/** Deletes the tab sessions that no tab has written for TAB_SESSION_MAX_AGE_MS, inside `transaction`. */
function dropStaleTabSessions(transaction: IDBTransaction, now: number): void {
  const cursorRequest = transaction.objectStore(TAB_SESSIONS).openCursor();
  cursorRequest.onsuccess = () => {
    const cursor = cursorRequest.result;
    if (!cursor) return;
    if (now - (cursor.value as SessionRecord).updatedAt > TAB_SESSION_MAX_AGE_MS) cursor.delete();
    cursor.continue();
  };
}

function wrap(db: IDBDatabase, name: string, tabId: string | undefined): ExplorerDb {
  // A newer version opened in another tab (after a deploy) waits until this connection closes; let it go.
  db.onversionchange = () => db.close();
  const put = (store: string, value: unknown): Promise<void> =>
    writeTransaction(db, [store], (transaction) => transaction.objectStore(store).put(value));
  const get = <T>(store: string, key: IDBValidKey) =>
    requestToPromise<T | undefined>(db.transaction(store).objectStore(store).get(key));
  // Another tab's saves and deletions; a channel never hears its own messages, so this tab does not reload for its own.
  const library = typeof BroadcastChannel === 'undefined' ? null : new BroadcastChannel(`${name}:library`);
  const announce = (written: Promise<void>) => written.then(() => library?.postMessage({ kind: 'latents-changed' }));
  return {
    putUpload: (upload) => put(UPLOADS, upload),
    getUpload: (id) => get<StoredUpload>(UPLOADS, id),
    putLatent: (latent) => announce(put(LATENTS, latent)),
    listLatents: async (modelId) => {
      const all = await requestToPromise<SavedLatent[]>(
        db.transaction(LATENTS).objectStore(LATENTS).index('modelId').getAll(modelId),
      );
      return all.sort((a, b) => a.createdAt - b.createdAt);
    },
    deleteLatent: (id) =>
      announce(writeTransaction(db, [LATENTS], (transaction) => transaction.objectStore(LATENTS).delete(id))),
    putSession: (session) => {
      if (tabId === undefined) return put(SESSIONS, session);
      return writeTransaction(db, [SESSIONS, TAB_SESSIONS], (transaction) => {
        transaction.objectStore(SESSIONS).put(session);
        transaction.objectStore(TAB_SESSIONS).put({ ...session, tabId });
        dropStaleTabSessions(transaction, session.updatedAt);
      });
    },
    getSession: async (modelId) => {
      if (tabId !== undefined) {
        const own = await get<SessionRecord & { tabId: string }>(TAB_SESSIONS, [modelId, tabId]);
        if (own) {
          const { tabId: _, ...session } = own;
          return session;
        }
      }
      return get<SessionRecord>(SESSIONS, modelId);
    },
    onLibraryChange: (listener) => {
      if (!library) return () => {};
      const onMessage = (event: MessageEvent) => {
        if ((event.data as { kind?: string } | null)?.kind === 'latents-changed') listener();
      };
      library.addEventListener('message', onMessage);
      return () => library.removeEventListener('message', onMessage);
    },
    close: () => {
      library?.close();
      db.close();
    },
  };
}

/**
 * A short content id for an upload: FNV-1a over the bytes, in base 36, prefixed with the length. Stable across
 * reloads, so `src=upload:<id>` in a link finds the same image in this browser's storage.
 */
export function uploadId(bytes: Uint8Array): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i += 1) {
    hash ^= bytes[i];
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return `${bytes.length.toString(36)}-${hash.toString(36)}`;
}

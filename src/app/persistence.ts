/**
 * What the user made, kept in IndexedDB so a reload (or a crash, or a lost GPU) loses nothing: uploaded images
 * as their original bytes, saved latents, and the working session per model (z, locks, x_T, steps, previews).
 * Plain IndexedDB, promise-wrapped; the factory is injectable so Vitest runs it on fake-indexeddb.
 */
import type { PreviewDecoder } from '../state/latentSlice';
import type { StochasticSampling } from '../state/stochasticSampling';
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
  previews?: PreviewDecoder;
  updatedAt: number;
}

export interface ExplorerDb {
  putUpload(upload: StoredUpload): Promise<void>;
  getUpload(id: string): Promise<StoredUpload | undefined>;
  putLatent(latent: SavedLatent): Promise<void>;
  /** Saved latents of one model, oldest first. */
  listLatents(modelId: string): Promise<SavedLatent[]>;
  deleteLatent(id: string): Promise<void>;
  putSession(session: SessionRecord): Promise<void>;
  getSession(modelId: string): Promise<SessionRecord | undefined>;
  close(): void;
}

export const DB_NAME = 'infodiffusion-explorer';
const DB_VERSION = 1;
const UPLOADS = 'uploads';
const LATENTS = 'latents';
const SESSIONS = 'sessions';

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

/** Opens (creating or upgrading) the explorer's database. Rejects where storage is unavailable. */
export function openExplorerDb(factory: IDBFactory = indexedDB, name = DB_NAME): Promise<ExplorerDb> {
  return new Promise((resolve, reject) => {
    const open = factory.open(name, DB_VERSION);
    open.onupgradeneeded = () => {
      const db = open.result;
      if (!db.objectStoreNames.contains(UPLOADS)) db.createObjectStore(UPLOADS, { keyPath: 'id' });
      if (!db.objectStoreNames.contains(LATENTS)) db.createObjectStore(LATENTS, { keyPath: 'id' }).createIndex('modelId', 'modelId');
      if (!db.objectStoreNames.contains(SESSIONS)) db.createObjectStore(SESSIONS, { keyPath: 'modelId' });
    };
    open.onerror = () => reject(open.error ?? new Error('IndexedDB could not be opened'));
    open.onblocked = () => reject(new Error('IndexedDB is blocked by another tab holding an older version open'));
    open.onsuccess = () => resolve(wrap(open.result));
  });
}

function wrap(db: IDBDatabase): ExplorerDb {
  const put = (store: string, value: unknown): Promise<void> => {
    // transaction() and put() throw synchronously (DataCloneError, InvalidStateError on a closing database, some
    // browsers' QuotaExceededError); callers handle a rejected promise, so turn the throw into one.
    try {
      const transaction = db.transaction(store, 'readwrite');
      transaction.objectStore(store).put(value);
      return transactionDone(transaction);
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
  };
  const get = <T>(store: string, key: string) => requestToPromise<T | undefined>(db.transaction(store).objectStore(store).get(key));
  return {
    putUpload: (upload) => put(UPLOADS, upload),
    getUpload: (id) => get<StoredUpload>(UPLOADS, id),
    putLatent: (latent) => put(LATENTS, latent),
    listLatents: async (modelId) => {
      const all = await requestToPromise<SavedLatent[]>(db.transaction(LATENTS).objectStore(LATENTS).index('modelId').getAll(modelId));
      return all.sort((a, b) => a.createdAt - b.createdAt);
    },
    deleteLatent: (id) => {
      const transaction = db.transaction(LATENTS, 'readwrite');
      transaction.objectStore(LATENTS).delete(id);
      return transactionDone(transaction);
    },
    putSession: (session) => put(SESSIONS, session),
    getSession: (modelId) => get<SessionRecord>(SESSIONS, modelId),
    close: () => db.close(),
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

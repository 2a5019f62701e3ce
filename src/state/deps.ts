/**
 * Everything the stores reach outside themselves, passed in when a store is created: the engine, storage,
 * HTTP, image decoding and the clock. The app wires the real ones (src/bootstrap.ts); Vitest passes fakes,
 * so every action runs in Node without a GPU, a canvas or a network.
 */
import type { AttributeDb } from '../app/attributeDb';
import type { ExplorerDb } from '../app/persistence';
import type { PreparedImage } from '../app/imageInput';
import type { Preprocessing } from '../model/metadata';
import type { JobRegistry } from './jobs';
import type { ExplorerEngine } from './types';

export interface ExplorerDeps {
  engine: ExplorerEngine;
  /** Opens IndexedDB; rejects where storage is unavailable (the app then keeps everything in memory). */
  openDb: () => Promise<ExplorerDb>;
  /** GET a same-origin URL; rejects with a message naming the URL and the HTTP status. */
  fetchBytes: (url: string) => Promise<ArrayBuffer>;
  /** Decodes and preprocesses image bytes (src/app/imageInput.ts in the browser). */
  prepareImage: (bytes: Uint8Array, mimeType: string, prep: Preprocessing) => Promise<PreparedImage>;
  /** The document's base URL: relative model paths resolve against it (the worker has another base). */
  baseUrl: string;
  /** Milliseconds, monotonic (performance.now in the browser). */
  now: () => number;
  /** Opens the own-attribute database (src/app/attributeDb.ts); without it own attributes last the page. */
  openAttributeDb?: () => Promise<AttributeDb>;
}

/** What each slice creator receives besides set/get: the deps and the store's job registry (on deps.engine). */
export interface SliceContext {
  deps: ExplorerDeps;
  jobs: JobRegistry;
  /** The database, opened once on first use; null when storage is unavailable. */
  db: () => Promise<ExplorerDb | null>;
}

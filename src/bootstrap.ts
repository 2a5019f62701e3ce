/**
 * Wires the explorer together in the browser: the engine worker, storage, image decoding, the store, and the
 * subscriptions that run outside React (render loop, session storage, URL). main.tsx calls it once.
 */
import { openAttributeDb } from './app/attributeDb';
import { connectAttributeSync } from './state/attributeSync';
import { EngineClient } from './engine/client';
import type { EngineEvent } from './engine/protocol';
import { connectLibrarySync } from './state/librarySync';
import { connectRenderLoop } from './state/renderLoop';
import { connectSessionSync } from './state/sessionSync';
import { createExplorerStore, type ExplorerStore } from './state/store';
import type { ExplorerEngine } from './state/types';
import { prepareImage } from './app/imageInput';
import { DB_NAME, openExplorerDb } from './app/persistence';
import { readShareLink } from './app/shareState';
import { installTestBridge } from './testBridge';
import { connectUrlSync } from './state/urlSync';

const TAB_ID_KEY = 'infodiffusion-explorer:tab';

/**
 * This tab's id, kept in sessionStorage: a reload keeps it, another tab gets its own, so each tab restores its
 * own session (persistence.ts). Undefined where sessionStorage is unavailable: sessions are then per model only.
 */
function tabId(): string | undefined {
  try {
    let id = sessionStorage.getItem(TAB_ID_KEY);
    if (!id) {
      // randomUUID needs a secure context; a page served over plain HTTP on a LAN address is not one.
      id =
        typeof crypto.randomUUID === 'function'
          ? crypto.randomUUID()
          : `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
      sessionStorage.setItem(TAB_ID_KEY, id);
    }
    return id;
  } catch {
    return undefined;
  }
}

async function fetchSameOrigin(url: string): Promise<ArrayBuffer> {
  const response = await fetch(url, { credentials: 'same-origin' });
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status} ${response.statusText}`.trim());
  return response.arrayBuffer();
}

/**
 * The engine as the store sees it: the client's methods, plus a way for the test bridge to deliver an event
 * (a simulated device loss) through the same listeners the engine's own events reach.
 */
function engineWithEventInjection(client: EngineClient): {
  engine: ExplorerEngine;
  inject: (event: EngineEvent) => void;
} {
  const listeners = new Set<(event: EngineEvent) => void>();
  client.onEvent((event) => listeners.forEach((listener) => listener(event)));
  const engine: ExplorerEngine = {
    load: (...args) => client.load(...args),
    encode: (...args) => client.encode(...args),
    invert: (...args) => client.invert(...args),
    sample: (...args) => client.sample(...args),
    nll: (...args) => client.nll(...args),
    mmseCurve: (...args) => client.mmseCurve(...args),
    itd: (...args) => client.itd(...args),
    forwardNoise: (...args) => client.forwardNoise(...args),
    stats: (...args) => client.stats(...args),
    openChannel: (...args) => client.openChannel(...args),
    closeChannel: (...args) => client.closeChannel(...args),
    closeChannels: (...args) => client.closeChannels(...args),
    onEvent: (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
  return { engine, inject: (event) => listeners.forEach((listener) => listener(event)) };
}

export function bootstrap(): ExplorerStore {
  const client = new EngineClient();
  const { engine, inject } = engineWithEventInjection(client);
  const store = createExplorerStore({
    engine,
    openDb: () => openExplorerDb(indexedDB, DB_NAME, tabId()),
    fetchBytes: fetchSameOrigin,
    prepareImage,
    baseUrl: document.baseURI,
    now: () => performance.now(),
    openAttributeDb: () => openAttributeDb(indexedDB),
  });
  connectRenderLoop(store, engine, () => performance.now());
  connectSessionSync(store);
  connectLibrarySync(store);
  connectAttributeSync(store, window.location.search, window.location, window.history);
  connectUrlSync(store, window.history, window.location);
  if (navigator.webdriver || import.meta.env.DEV) installTestBridge(store, engine, inject);

  const { state: share, problems } = readShareLink(window.location.search);
  for (const problem of problems) store.getState().addNotice('error', `The link could not be used fully: ${problem}.`);
  void store.getState().start(share);
  return store;
}

/** Dependencies for store tests: in-memory HTTP, fake-indexeddb storage and a canvas-free image "decoder". */
import { IDBFactory } from 'fake-indexeddb';
import { ImageInputError, type PreparedImage } from '../../app/imageInput';
import { openExplorerDb } from '../../app/persistence';
import type { ExplorerDeps } from '../deps';
import type { ModelMetadata } from '../../model/metadata';
import { createFakeEngine, fakeMetadata, FAKE_SIZE, type FakeEngine } from './fakeEngine';

export const BASE_URL = 'http://app.test/explorer/';

/** The site the fake fetch serves: the catalog and the fixture's model.json. */
export function fakeSite(): Map<string, unknown> {
  return new Map<string, unknown>([
    [
      `${BASE_URL}models/index.json`,
      {
        models: [
          { id: 'fixture', path: 'models/fixture/', default: true },
          { id: 'broken', path: 'models/broken/' },
        ],
      },
    ],
    [`${BASE_URL}models/fixture/model.json`, { format: 'infodiffusion-explorer/model', metadata: fakeMetadata() }],
    [`${BASE_URL}models/fixture/gallery/0.png`, new Uint8Array([200, 201]).buffer],
  ]);
}

/**
 * "Decodes" test bytes: a first byte of 0 is refused like a corrupt file; otherwise every pixel takes the
 * value of the first byte, mapped to [-1, 1].
 */
export async function fakePrepareImage(bytes: Uint8Array): Promise<PreparedImage> {
  if (bytes[0] === 0)
    throw new ImageInputError('The browser could not decode this file: it is damaged or in a format it cannot read.');
  const count = FAKE_SIZE * FAKE_SIZE;
  const value = bytes[0] / 127.5 - 1;
  return {
    pixels: new Float32Array(count).fill(value),
    preview: new Uint8ClampedArray(count * 4).fill(bytes[0]),
    inverted: false,
    flattenedAlpha: false,
    format: 'png',
    sourceWidth: FAKE_SIZE,
    sourceHeight: FAKE_SIZE,
    notes: [],
  };
}

export interface TestDeps extends ExplorerDeps {
  engine: FakeEngine;
  site: Map<string, unknown>;
  idb: IDBFactory;
}

export function createTestDeps(
  options: { manualSamples?: boolean; idb?: IDBFactory; metadata?: ModelMetadata } = {},
): TestDeps {
  const site = fakeSite();
  const idb = options.idb ?? new IDBFactory();
  let clock = 0;
  return {
    engine: createFakeEngine({ manualSamples: options.manualSamples, metadata: options.metadata }),
    site,
    idb,
    openDb: () => openExplorerDb(idb),
    fetchBytes: async (url) => {
      const body = site.get(url);
      if (body === undefined) throw new Error(`${url}: HTTP 404 Not Found`);
      return body instanceof ArrayBuffer ? body : new TextEncoder().encode(JSON.stringify(body)).buffer;
    },
    prepareImage: (bytes) => fakePrepareImage(bytes),
    baseUrl: BASE_URL,
    now: () => (clock += 10),
  };
}

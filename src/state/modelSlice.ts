/**
 * The model picker and the engine's lifecycle: the bundled catalog (public/models/index.json), loading a
 * package from the catalog, a same-origin URL or picked files, load progress, the backend report, and the
 * engine's own failures (device lost, worker crashed) kept as data for the UI.
 */
import type { StateCreator } from 'zustand';
import type { ShareState } from '../app/shareState';
import { packageFilesFromPick, type PickedFile } from '../app/modelFiles';
import type { BackendChoice, BackendReport, ModelSource, ModelStats, Progress } from '../engine/protocol';
import type { ModelMetadata } from '../model/metadata';
import type { SliceContext } from './deps';
import type { ExplorerState } from './store';
import { describeError } from './describeError';
import { EngineError } from '../engine/client';

/** Batch sizes the engine compiles shaders for at load: the live view, and the batches grids render in. */
export const GRID_BATCH = 8;
const WARMUP_BATCH_SIZES = [1, GRID_BATCH];

export interface CatalogEntry {
  id: string;
  /** Folder path relative to the site ("models/fixture/"). */
  path: string;
  isDefault: boolean;
  displayName: string;
  description: string;
  /** A tiny random-weight model for tests: listed, but marked. */
  isFixture: boolean;
  /** metadata.baselineOf: the model this package is the baseline of, or null. */
  baselineOf: string | null;
  /** provenance.dataset and "<imageSize>x<channels>": which bundled models can be compared (the I-MMSE panel). */
  dataset: string | null;
  imageShape: string | null;
  /** Why the entry's model.json could not be read, or null. */
  problem: string | null;
}

export type CatalogStatus = { kind: 'loading' } | { kind: 'ready' } | { kind: 'error'; message: string };

/** Where the loaded model came from: a catalog entry, a URL typed in, or files picked from disk. */
export type ModelOrigin =
  | { kind: 'bundled'; id: string; baseUrl: string }
  | { kind: 'url'; baseUrl: string }
  /** Picked files: `assets` keeps copies of the non-weight files (gallery images), since the load transfers the rest away. */
  | { kind: 'files'; label: string; assets: Record<string, ArrayBuffer> };

export type LoadStatus =
  | { kind: 'idle' }
  | { kind: 'loading'; label: string; progress: Progress | null }
  | { kind: 'ready' }
  | {
      kind: 'error';
      label: string;
      message: string;
      /** The package file at fault ("group1-shard2of2.bin", "model.json"), when the refusal names one. */
      file?: string;
      /** What only a developer needs (byte offsets), shown behind a toggle. */
      details?: string;
      /** The model that stays loaded and usable because the new one failed (its display name). */
      kept?: string;
    };

export interface LoadedModel {
  id: string;
  metadata: ModelMetadata;
  origin: ModelOrigin;
  stats: ModelStats;
  loadMs: number;
  compileMs: number;
}

export interface ModelSlice {
  catalog: CatalogEntry[];
  catalogStatus: CatalogStatus;
  /** The backend asked for (`?backend=`); 'auto' lets the engine choose. */
  backendChoice: BackendChoice;
  loadStatus: LoadStatus;
  model: LoadedModel | null;
  backend: BackendReport | null;
  /** The engine failed under a loaded model (device lost, worker crash): what happened, for a banner with a way back. */
  engineFailure: string | null;
  /** The link's state, applied once the model it names is ready (then cleared). */
  pendingShare: ShareState | null;

  /** Reads the catalog, then opens the model the link names, else the default one. */
  start(share: ShareState): Promise<void>;
  loadCatalog(): Promise<void>;
  openBundledModel(id: string): Promise<void>;
  /** A model folder on this site, as a relative or absolute URL. */
  openModelUrl(url: string): Promise<void>;
  openModelFiles(files: readonly File[]): Promise<void>;
  /** Loads the current model again (after a device loss), optionally on another backend. */
  reloadModel(backend?: BackendChoice): Promise<void>;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Validates index.json ({ models: [{ id, path, default? }] }) and returns its entries. */
export function parseModelIndex(json: unknown): { id: string; path: string; isDefault: boolean }[] {
  if (!isRecord(json) || !Array.isArray(json.models))
    throw new Error('models/index.json must be an object with a "models" list');
  return json.models.map((entry, i) => {
    if (!isRecord(entry) || typeof entry.id !== 'string' || typeof entry.path !== 'string') {
      throw new Error(`models/index.json: entry ${i} needs a string "id" and "path"`);
    }
    return {
      id: entry.id,
      path: entry.path.endsWith('/') ? entry.path : `${entry.path}/`,
      isDefault: entry.default === true,
    };
  });
}

function decodeJson(bytes: ArrayBuffer, what: string): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch (error) {
    throw new Error(`${what} is not valid JSON: ${(error as Error).message}`);
  }
}

export function createModelSlice({ deps, jobs }: SliceContext): StateCreator<ExplorerState, [], [], ModelSlice> {
  /** Reads a catalog entry's model.json for the name and description the picker shows. */
  async function describeEntry(entry: { id: string; path: string; isDefault: boolean }): Promise<CatalogEntry> {
    const base: CatalogEntry = {
      ...entry,
      displayName: entry.id,
      description: '',
      isFixture: false,
      baselineOf: null,
      dataset: null,
      imageShape: null,
      problem: null,
    };
    try {
      const json = decodeJson(
        await deps.fetchBytes(new URL(`${entry.path}model.json`, deps.baseUrl).href),
        `${entry.path}model.json`,
      );
      const metadata = isRecord(json) && isRecord(json.metadata) ? json.metadata : {};
      const provenance = isRecord(metadata.provenance) ? metadata.provenance : {};
      return {
        ...base,
        displayName: typeof metadata.displayName === 'string' ? metadata.displayName : entry.id,
        description: typeof metadata.description === 'string' ? metadata.description : '',
        isFixture: provenance.source === 'fixture',
        baselineOf: typeof metadata.baselineOf === 'string' ? metadata.baselineOf : null,
        dataset: typeof provenance.dataset === 'string' ? provenance.dataset : null,
        imageShape: isRecord(metadata.preprocessing)
          ? `${String(metadata.preprocessing.imageSize)}x${String(metadata.preprocessing.channels)}`
          : null,
      };
    } catch (error) {
      return { ...base, problem: describeError(error) };
    }
  }

  return (set, get) => {
    /** Counts loads, so a load that finishes after a newer one started writes nothing. */
    let loadGeneration = 0;

    /**
     * Loads a package into the engine. A fresh model starts a new session (the link's state, the stored session,
     * or a prior sample); `keepSession` reloads the same model after a failure with everything the user made intact.
     */
    async function loadPackage(
      source: ModelSource,
      origin: ModelOrigin,
      label: string,
      backend: BackendChoice,
      keepSession = false,
    ): Promise<void> {
      const generation = ++loadGeneration;
      // A new model is staged (the engine swaps only on success), so the current one, with the person's image, z
      // and edits, stays until the new one is ready; a reload of the same model keeps the session anyway.
      const current = get().model;
      jobs.abortAll();
      set({ loadStatus: { kind: 'loading', label, progress: null }, engineFailure: null });
      try {
        const result = await deps.engine.load(source, {
          backend,
          warmupBatchSizes: WARMUP_BATCH_SIZES,
          onProgress: (progress) => {
            if (generation === loadGeneration) set({ loadStatus: { kind: 'loading', label, progress } });
          },
        });
        if (generation !== loadGeneration) return;
        const metadata = result.metadata;
        if (!keepSession) get().clearModelState();
        set({
          model: {
            id: metadata.id,
            metadata,
            origin,
            stats: result.stats,
            loadMs: result.loadMs,
            compileMs: result.compileMs,
          },
          backend: result.backend,
          loadStatus: { kind: 'ready' },
        });
        if (keepSession) {
          get().invalidateFrame();
          return;
        }
        const share = get().pendingShare;
        set({ pendingShare: null });
        await get().beginSession(share);
      } catch (error) {
        if (generation !== loadGeneration) return;
        const fault = error instanceof EngineError ? error.fault : {};
        // The engine keeps its current model when a load fails, unless the backend had to change under it.
        const kept =
          current && (keepSession || backend === get().backendChoice) ? current.metadata.displayName : undefined;
        set({
          loadStatus: {
            kind: 'error',
            label,
            message: describeError(error),
            ...(fault.file ? { file: fault.file } : {}),
            ...(fault.details ? { details: fault.details } : {}),
            ...(kept && !keepSession ? { kept } : {}),
          },
          ...(kept ? {} : { model: null }),
        });
        if (kept) get().invalidateFrame();
      }
    }

    return {
      catalog: [],
      catalogStatus: { kind: 'loading' },
      backendChoice: 'auto',
      loadStatus: { kind: 'idle' },
      model: null,
      backend: null,
      engineFailure: null,
      pendingShare: null,

      async start(share) {
        set({ backendChoice: share.backend ?? 'auto', pendingShare: share });
        deps.engine.onEvent((event) => {
          switch (event.type) {
            case 'backend':
              set({ backend: event.report });
              return;
            case 'deviceLost':
              jobs.abortAll();
              set({
                engineFailure: `The GPU device was lost (${event.backend}): ${event.message}`,
                loadStatus: { kind: 'idle' },
              });
              return;
            case 'workerCrashed':
              jobs.abortAll();
              set({ engineFailure: `The engine stopped: ${event.message}`, loadStatus: { kind: 'idle' } });
              return;
            case 'leak':
              get().addNotice(
                'warning',
                `Engine job ${event.leak.kind} #${event.leak.id} left ${event.leak.numTensors - event.leak.baselineTensors} tensors behind.`,
              );
              return;
            default: {
              const _exhaustive: never = event;
              return _exhaustive;
            }
          }
        });
        await get().loadCatalog();
        const { catalog } = get();
        const wanted = share.model ? catalog.find((entry) => entry.id === share.model) : undefined;
        if (share.model && !wanted) {
          get().addNotice('error', `The link names the model "${share.model}", which is not among the bundled models.`);
        }
        const entry = wanted ?? catalog.find((e) => e.isDefault && !e.problem) ?? catalog.find((e) => !e.problem);
        if (entry) await get().openBundledModel(entry.id);
      },

      async loadCatalog() {
        set({ catalogStatus: { kind: 'loading' } });
        try {
          const index = parseModelIndex(
            decodeJson(await deps.fetchBytes(new URL('models/index.json', deps.baseUrl).href), 'models/index.json'),
          );
          const catalog = await Promise.all(index.map(describeEntry));
          set({ catalog, catalogStatus: { kind: 'ready' } });
        } catch (error) {
          set({
            catalog: [],
            catalogStatus: { kind: 'error', message: `The model list could not be read: ${describeError(error)}` },
          });
        }
      },

      async openBundledModel(id) {
        const entry = get().catalog.find((e) => e.id === id);
        if (!entry) {
          set({ loadStatus: { kind: 'error', label: id, message: `No bundled model is called "${id}".` } });
          return;
        }
        const baseUrl = new URL(entry.path, deps.baseUrl).href;
        await loadPackage(
          { kind: 'url', baseUrl },
          { kind: 'bundled', id, baseUrl },
          entry.displayName,
          get().backendChoice,
        );
      },

      async openModelUrl(url) {
        let resolved: URL;
        try {
          resolved = new URL(url.trim().endsWith('/') ? url.trim() : `${url.trim()}/`, deps.baseUrl);
        } catch {
          set({ loadStatus: { kind: 'error', label: url, message: `"${url}" is not a URL.` } });
          return;
        }
        if (resolved.origin !== new URL(deps.baseUrl).origin) {
          const message = `Only models served by this site can be opened by URL (the page allows no other origin); ${resolved.origin} is another site. Download the model folder and open it from disk instead.`;
          set({ loadStatus: { kind: 'error', label: url, message } });
          return;
        }
        await loadPackage(
          { kind: 'url', baseUrl: resolved.href },
          { kind: 'url', baseUrl: resolved.href },
          resolved.pathname,
          get().backendChoice,
        );
      },

      async openModelFiles(picked) {
        let packageFiles;
        try {
          const read: PickedFile[] = await Promise.all(
            picked.map(async (file) => ({
              path: file.webkitRelativePath || file.name,
              bytes: await file.arrayBuffer(),
            })),
          );
          packageFiles = packageFilesFromPick(read);
        } catch (error) {
          set({ loadStatus: { kind: 'error', label: 'chosen files', message: describeError(error) } });
          return;
        }
        // The engine takes the weight buffers by transfer; keep copies of what the app itself reads later.
        const assets: Record<string, ArrayBuffer> = {};
        for (const [path, bytes] of packageFiles.files) {
          if (!path.endsWith('.bin')) assets[path] = bytes.slice(0);
        }
        // Loose files are labelled "model.json", which would blame model.json for a short shard: say what was chosen.
        const label = packageFiles.label === 'model.json' ? 'the chosen files' : packageFiles.label;
        await loadPackage(
          { kind: 'files', files: packageFiles.files },
          { kind: 'files', label: packageFiles.label, assets },
          label,
          get().backendChoice,
        );
      },

      async reloadModel(backend) {
        const model = get().model;
        const choice = backend ?? get().backendChoice;
        set({ backendChoice: choice });
        if (!model) {
          const entry = get().catalog.find((e) => e.isDefault && !e.problem) ?? get().catalog.find((e) => !e.problem);
          if (entry) await get().openBundledModel(entry.id);
          return;
        }
        if (model.origin.kind === 'files') {
          // Picked weights were handed to the engine and went with it; only the user can hand them over again.
          const message =
            'The model was opened from files, which the engine no longer holds: open the same files again to continue (your latents are kept).';
          set({ loadStatus: { kind: 'error', label: model.metadata.displayName, message } });
          return;
        }
        await loadPackage(
          { kind: 'url', baseUrl: model.origin.baseUrl },
          model.origin,
          model.metadata.displayName,
          choice,
          true,
        );
      },
    };
  };
}

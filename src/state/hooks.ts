/**
 * Named hooks over the explorer store (xyflow's useNodes style): components never write selectors. Each hook's
 * doc says what makes it re-render. Selectors are module-level constants, and hooks that return objects or
 * arrays compare them shallowly.
 */
import { createContext, createElement, useContext, useEffect, useSyncExternalStore, type ReactNode } from 'react';
import { useStore } from 'zustand';
import { useShallow } from 'zustand/react/shallow';
import { attributeScore } from '../latent/latentMath';
import { gridCost, type GridCost } from './batchRender';
import { studentPreviewCalls } from './latentSlice';
import type { RenderActivity } from './renderSlice';
import type { ExplorerState, ExplorerStore } from './store';

const StoreContext = createContext<ExplorerStore | null>(null);

export function ExplorerStoreProvider({ store, children }: { store: ExplorerStore; children: ReactNode }) {
  return createElement(StoreContext.Provider, { value: store }, children);
}

/** The store itself, for transient subscriptions (canvases) that must not re-render. */
export function useStoreApi(): ExplorerStore {
  const store = useContext(StoreContext);
  if (!store) throw new Error('useStoreApi: no ExplorerStoreProvider above this component');
  return store;
}

function useExplorer<T>(selector: (state: ExplorerState) => T): T {
  return useStore(useStoreApi(), selector);
}

type ActionName = {
  [K in keyof ExplorerState]: ExplorerState[K] extends (...args: never[]) => unknown ? K : never;
}[keyof ExplorerState];

/** One store action. Actions never change, so this never re-renders. */
export function useAction<K extends ActionName>(name: K): ExplorerState[K] {
  return useExplorer((state) => state[name]);
}

/**
 * Calls `onChange` with the selected value now and whenever it changes, without re-rendering: for values that
 * change every frame (the main image, a player's position) drawn through refs.
 */
export function useTransientSubscription<T>(selector: (state: ExplorerState) => T, onChange: (value: T) => void): void {
  const store = useStoreApi();
  useEffect(() => {
    let previous = selector(store.getState());
    onChange(previous);
    return store.subscribe((state) => {
      const next = selector(state);
      if (next !== previous) {
        previous = next;
        onChange(next);
      }
    });
  }, [store, selector, onChange]);
}

const selectCatalog = (s: ExplorerState) => ({ catalog: s.catalog, catalogStatus: s.catalogStatus });
/** The bundled models and whether the list could be read. Re-renders when either changes. */
export const useCatalog = () => useExplorer(useShallow(selectCatalog));

const selectLoadStatus = (s: ExplorerState) => s.loadStatus;
/** Model loading progress or error. Re-renders on every progress event while loading. */
export const useLoadStatus = () => useExplorer(selectLoadStatus);

const selectModel = (s: ExplorerState) => s.model;
/** The loaded model (metadata, origin, costs), or null. Re-renders when another model loads. */
export const useLoadedModel = () => useExplorer(selectModel);

const selectMetadata = (s: ExplorerState) => s.model?.metadata ?? null;
/** The loaded model's metadata, or null. Re-renders when another model loads. */
export const useModelMetadata = () => useExplorer(selectMetadata);

const selectBackend = (s: ExplorerState) => ({ backend: s.backend, backendChoice: s.backendChoice });
/** The backend in use (and why) and the one asked for. Re-renders when either changes. */
export const useBackend = () => useExplorer(useShallow(selectBackend));

const selectEngineFailure = (s: ExplorerState) => s.engineFailure;
/** What went wrong with the engine under a loaded model (device lost, crash), or null. */
export const useEngineFailure = () => useExplorer(selectEngineFailure);

const selectLatentDim = (s: ExplorerState) => s.z.length;
/** The number of latent dimensions in the current z. Re-renders only when it changes. */
export const useLatentDim = () => useExplorer(selectLatentDim);

/** For transient subscriptions: z_dim (undefined before a model is loaded). Make one per row and keep it. */
export const latentValueSelector = (dim: number) => (s: ExplorerState) => s.z[dim] as number | undefined;

/** The reference value of dimension `dim` (encoded, sampled, saved) and what kind it is. Re-renders when the reference changes. */
export const useLatentReference = (dim: number) =>
  useExplorer(useShallow((s: ExplorerState) => ({ value: s.zReference?.[dim] ?? null, kind: s.referenceKind })));

/** Whether dimension `dim` is locked. Re-renders only when that lock flips. */
export const useLatentLocked = (dim: number) => useExplorer((s) => s.locked[dim] ?? false);

/**
 * The score of z along attribute direction `index` (latentMath.attributeScore), or null before a model with that
 * direction is loaded. Not deferred: a slider whose value lags its own change would be set back by the browser's
 * trailing change event. Re-renders when that score changes.
 */
export const useAttributeScore = (index: number) =>
  useExplorer((s) => {
    const direction = s.model?.metadata.attributeDirections[index];
    return direction && direction.vector.length === s.z.length ? attributeScore(s.z, direction) : null;
  });

const selectZ = (s: ExplorerState) => s.z;
/** The whole z. Re-renders on every change of any dimension: only for views that need all of it. */
export const useLatentVector = () => useExplorer(selectZ);

const selectSampling = (s: ExplorerState) => ({
  steps: s.steps,
  previewSteps: s.previewSteps,
  previewDecoder: s.previewDecoder,
  /** The student's calls per frame, or null when the model has no student. */
  studentCalls: s.model?.metadata.student?.plan.length ?? null,
  seed: s.seed,
  eta: s.noise?.stochastic?.eta ?? 0,
});
/** Step counts, the previews setting, the last seed and the η the main view renders with. Re-renders when one changes. */
export const useSamplingSettings = () => useExplorer(useShallow(selectSampling));

const selectNoiseId = (s: ExplorerState) => s.noise?.id ?? null;
/** The id of the current x_T ("seed:7", a gallery image's, an upload's): which image source z is decoded from. */
export const useNoiseId = () => useExplorer(selectNoiseId);

const selectRenderStatus = (s: ExplorerState) => s.renderStatus;
/** The main view's last render failure, or idle. Re-renders when a render fails and when the next frame lands. */
export const useRenderStatus = () => useExplorer(selectRenderStatus);

const selectRenderActivity = (s: ExplorerState) => s.renderActivity;
/**
 * The main view's render in progress (its decoder, steps done and total), or null. Read from the render loop's
 * transient feed, not the store: it re-renders its caller on every DDIM step and nothing else.
 */
export function useRenderActivity(): RenderActivity | null {
  const feed = useExplorer(selectRenderActivity);
  return useSyncExternalStore(feed.subscribe, feed.get);
}

/** Whether the main view is rendering. Re-renders when a render starts or the last one ends, not per step. */
export function useRendering(): boolean {
  const feed = useExplorer(selectRenderActivity);
  return useSyncExternalStore(feed.subscribe, () => feed.get() !== null);
}

const selectRenderTiming = (s: ExplorerState) => ({
  latencyMs: s.frame?.latencyMs ?? null,
  quality: s.frame?.quality ?? null,
  steps: s.frame?.steps ?? null,
  renderId: s.frame?.renderId ?? 0,
  fps: s.fps,
});
/** Latency, fps, quality and id of the frame on screen. Re-renders with every new frame. */
export const useRenderTiming = () => useExplorer(useShallow(selectRenderTiming));

const selectHasFrame = (s: ExplorerState) => s.frame !== null;
/** Whether any image is on screen. Re-renders when that flips. */
export const useHasFrame = () => useExplorer(selectHasFrame);

const selectFrame = (s: ExplorerState) => s.frame;
/** For transient subscriptions: the main frame. */
export const mainFrameSelector = selectFrame;

const selectInput = (s: ExplorerState) => ({
  source: s.source,
  inputStatus: s.inputStatus,
  reconstruction: s.reconstruction,
  reconstructionFidelity: s.reconstructionFidelity,
});
/** The user's image, its processing state and its reconstruction. Re-renders when any changes (each inversion step). */
export const useInput = () => useExplorer(useShallow(selectInput));

const selectLibrary = (s: ExplorerState) => ({
  savedLatents: s.savedLatents,
  storage: s.storage,
  saveFailure: s.saveFailure,
  unstoredLatentIds: s.unstoredLatentIds,
});
/** Saved latents of this model, whether storage works and whether the last save failed. Re-renders when any changes. */
export const useLibrary = () => useExplorer(useShallow(selectLibrary));

const selectNotices = (s: ExplorerState) => s.notices;
/** Messages for the banner. Re-renders when one is added or dismissed. */
export const useNotices = () => useExplorer(selectNotices);

const selectActiveTool = (s: ExplorerState) => s.activeTool;
/** The open tool tab. */
export const useActiveTool = () => useExplorer(selectActiveTool);

const selectInterpolation = (s: ExplorerState) => ({
  endpoints: s.endpoints,
  latentPath: s.latentPath,
  stripLength: s.stripLength,
  gridSize: s.gridSize,
  strip: s.strip,
  grid: s.grid,
});
/** Interpolation endpoints, settings and results. Re-renders when any changes (each rendered batch). */
export const useInterpolation = () => useExplorer(useShallow(selectInterpolation));

const selectTraversal = (s: ExplorerState) => ({
  traversal: s.traversal,
  traversalLength: s.traversalLength,
  traversalSpanStd: s.traversalSpanStd,
  sortTraversal: s.sortTraversal,
});
/** Traversal settings and rows. Re-renders when any changes (each rendered batch). */
export const useTraversal = () => useExplorer(useShallow(selectTraversal));

const selectTrajectory = (s: ExplorerState) => s.trajectory;
/** The denoising trajectory steps and status. Re-renders per collected step. */
export const useTrajectory = () => useExplorer(selectTrajectory);

const selectTrajectoryPosition = (s: ExplorerState) => s.trajectoryPosition;
/** The trajectory step on show. */
export const useTrajectoryPosition = () => useExplorer(selectTrajectoryPosition);

const selectForwardNoise = (s: ExplorerState) => ({
  logSnr: s.logSnr,
  forwardNoise: s.forwardNoise,
  status: s.forwardNoiseStatus,
});
/** Forward-noising level, result and status. */
export const useForwardNoise = () => useExplorer(useShallow(selectForwardNoise));

const selectImmse = (s: ExplorerState) => ({
  immse: s.immse,
  nllSamples: s.nllSamples,
  compareWith: s.immseCompareWith,
});
/** The I-MMSE results, status, sample count and the model compared with. Re-renders when any of them changes. */
export const useImmse = () => useExplorer(useShallow(selectImmse));

const selectAnalysisSubject = (s: ExplorerState) => (s.source ? s.source.name : s.frame ? 'the generated image' : null);
/** The name of the image the analysis views look at, or null when there is none. */
export const useAnalysisSubject = () => useExplorer(selectAnalysisSubject);

const selectGridPace = (s: ExplorerState) => ({
  stepMs: s.stepMs,
  steps: s.steps,
  studentCalls: studentPreviewCalls(s),
});

/**
 * What a grid of `images` will cost before it starts (gridCost), at the pace of the main view's last full frame;
 * null before one. Re-renders when that pace, the steps or the previews setting change.
 */
export function useGridCost(images: number): GridCost | null {
  const { stepMs, steps, studentCalls } = useExplorer(useShallow(selectGridPace));
  return gridCost(images, steps, studentCalls, stepMs);
}

/**
 * The explorer's one store, bound from typed slices (zustand slices pattern). Each store instance gets its own
 * dependencies, and its jobs run on its engine's channels (src/state/jobs.ts), so tests build a fresh store per
 * case with a fake engine, and nothing lives at module level.
 */
import { createStore, type StateCreator, type StoreApi } from 'zustand/vanilla';
import type { ExplorerDb } from '../app/persistence';
import { createAttributeSlice, type AttributeSlice } from './attributeSlice';
import { createPrincipalSlice, type PrincipalSlice } from './principalSlice';
import { createEditSlice, type EditSlice } from './editSlice';
import { createSwapGridSlice, type SwapGridSlice } from './swapGridSlice';
import type { ExplorerDeps, SliceContext } from './deps';
import { createInputSlice, type InputSlice } from './inputSlice';
import { createInterpolationSlice, initialInterpolationState, type InterpolationSlice } from './interpolationSlice';
import { createJobRegistry, type JobName } from './jobs';
import { createLatentSlice, type LatentSlice } from './latentSlice';
import { createLibrarySlice, type LibrarySlice } from './librarySlice';
import { createModelSlice, type ModelSlice } from './modelSlice';
import { createRenderSlice, type RenderSlice } from './renderSlice';
import { createTeachingSlice, initialTeachingState, type TeachingSlice } from './teachingSlice';
import { createTraversalSlice, initialTraversalState, type TraversalSlice } from './traversalSlice';
import { createViewSlice, type ViewSlice } from './viewSlice';
import { describeError } from './describeError';

interface SessionSlice {
  /** The store's database, opened on first use; null where browser storage is unavailable. */
  database(): Promise<ExplorerDb | null>;
  /** Drops every tool result (on a model switch); tool settings stay. */
  clearTools(): void;
  /** Back to the state the store was created with (tests, and "start over"). */
  reset(): void;
}

export type ExplorerState = ModelSlice &
  LatentSlice &
  InputSlice &
  RenderSlice &
  InterpolationSlice &
  TraversalSlice &
  TeachingSlice &
  LibrarySlice &
  ViewSlice &
  AttributeSlice &
  PrincipalSlice &
  EditSlice &
  SwapGridSlice &
  SessionSlice;

export type ExplorerStore = StoreApi<ExplorerState>;

const TOOL_JOBS: JobName[] = [
  'trajectory',
  'forward-noise',
  'immse',
  'traversal',
  'interpolation-strip',
  'interpolation-grid',
];

export function createExplorerStore(deps: ExplorerDeps): ExplorerStore {
  const jobs = createJobRegistry(deps.engine);
  let database: Promise<ExplorerDb | null> | null = null;

  return createStore<ExplorerState>()((set, get, api) => {
    /** Opens storage once; a failure is reported once and the app carries on in memory. */
    function db(): Promise<ExplorerDb | null> {
      database ??= deps.openDb().then(
        (opened) => {
          set({ storage: 'ready' });
          return opened;
        },
        (error: unknown) => {
          set({ storage: 'unavailable' });
          get().addNotice(
            'warning',
            `Browser storage is unavailable, so nothing will be kept after this page closes (${describeError(error)}).`,
          );
          return null;
        },
      );
      return database;
    }

    const context: SliceContext = { deps, jobs, db };
    const sessionSlice: SessionSlice = {
      database: db,
      clearTools() {
        for (const name of TOOL_JOBS) jobs.cancel(name);
        set({ ...initialTeachingState, ...initialTraversalState, ...initialInterpolationState });
      },
      reset() {
        jobs.abortAll();
        set(api.getInitialState(), true);
      },
    };
    const slice = <T>(creator: StateCreator<ExplorerState, [], [], T>): T => creator(set, get, api);
    return {
      ...slice(createModelSlice(context)),
      ...slice(createLatentSlice(context)),
      ...slice(createInputSlice(context)),
      ...slice(createRenderSlice()),
      ...slice(createInterpolationSlice(context)),
      ...slice(createTraversalSlice(context)),
      ...slice(createTeachingSlice(context)),
      ...slice(createLibrarySlice(context)),
      ...slice(createViewSlice()),
      ...slice(createAttributeSlice(context)),
      ...slice(createPrincipalSlice(context)),
      ...slice(createEditSlice(context)),
      ...slice(createSwapGridSlice(context)),
      ...sessionSlice,
    };
  });
}

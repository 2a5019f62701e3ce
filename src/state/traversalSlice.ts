/**
 * Latent traversals in the official code's layout (`run.py --mode disentangle`, docs/sources.md §1.6): one row
 * per latent dimension, that dimension set to N values across its spread while the rest of z and x_T stay fixed.
 * Rows fill in batch by batch (the student's frames first where the model has one, then the full sampler's); they can be
 * sorted by how much they change the image, and any cell made current.
 */
import type { StateCreator } from 'zustand';
import { linspace, rowVariation } from '../latent/latentMath';
import type { LatentStats } from '../model/metadata';
import type { SliceContext } from './deps';
import { renderToolFrames, toolRenderStarting } from './batchRender';
import { studentPreviewCalls } from './latentSlice';
import type { ExplorerState } from './store';
import { IDLE, type Frame, type NoiseState, type TaskStatus } from './types';

export interface TraversalRow {
  dim: number;
  values: number[];
  frames: Frame[];
  /** rowVariation of the frames: how much this dimension changes the image (0 until the row is complete). */
  variation: number;
}

export interface TraversalSlice {
  /** Values per dimension. */
  traversalLength: number;
  /** Half-width of each row's span, in standard deviations of that dimension over the training set. */
  traversalSpanStd: number;
  sortTraversal: boolean;
  traversal: { rows: TraversalRow[]; base: { z: number[]; noise: NoiseState } | null; status: TaskStatus };

  setTraversalLength(length: number): void;
  setTraversalSpan(spanStd: number): void;
  setSortTraversal(sort: boolean): void;
  renderTraversal(): Promise<void>;
  cancelTraversal(): void;
  /** Makes cell (dim, index) of the last traversal the current z. */
  pickTraversalCell(dim: number, index: number): void;
}

export const initialTraversalState = {
  traversal: { rows: [], base: null, status: IDLE },
} satisfies Partial<TraversalSlice>;

/** The values row `dim` sweeps: mean +- spanStd * std, evenly spaced (a dead dimension sweeps +- spanStd). */
export function traversalValues(stats: LatentStats, dim: number, length: number, spanStd: number): number[] {
  const std = stats.std[dim] > 0 ? stats.std[dim] : 1;
  return linspace(stats.mean[dim] - spanStd * std, stats.mean[dim] + spanStd * std, length);
}

/** Rows with frames filled in from a flat, row-major frame list (rows fill as batches arrive). */
function fillRows(rows: TraversalRow[], frames: Frame[], length: number): TraversalRow[] {
  return rows.map((row, r) => {
    const rowFrames = frames.slice(r * length, (r + 1) * length);
    return {
      ...row,
      frames: rowFrames,
      variation: rowFrames.length === length ? rowVariation(rowFrames.map((f) => f.pixels)) : 0,
    };
  });
}

export function createTraversalSlice({
  deps,
  jobs,
}: SliceContext): StateCreator<ExplorerState, [], [], TraversalSlice> {
  return (set, get) => ({
    ...initialTraversalState,
    traversalLength: 7,
    traversalSpanStd: 2,
    sortTraversal: false,

    setTraversalLength(traversalLength) {
      set({ traversalLength });
    },

    setTraversalSpan(traversalSpanStd) {
      set({ traversalSpanStd });
    },

    setSortTraversal(sortTraversal) {
      set({ sortTraversal });
    },

    async renderTraversal() {
      const { model, z, noise, traversalLength: length, traversalSpanStd } = get();
      if (!model || !noise || z.length === 0) return;
      const metadata = model.metadata;
      const base = { z, noise };
      const emptyRows: TraversalRow[] = z.map((_, dim) => ({
        dim,
        values: traversalValues(metadata.latent, dim, length, traversalSpanStd),
        frames: [],
        variation: 0,
      }));
      const items = emptyRows.flatMap((row) =>
        row.values.map((value) => ({ z: z.map((v, k) => (k === row.dim ? value : v)), noise })),
      );
      const studentCalls = studentPreviewCalls(get());
      await jobs.run(
        'traversal',
        (job) => {
          set({ traversal: { rows: emptyRows, base, status: toolRenderStarting(studentCalls, items.length) } });
          // The student's frames first where it has one, then the full sampler's in their place.
          return renderToolFrames(deps.engine, metadata, items, job, {
            channel: 'traversal',
            steps: get().steps,
            studentCalls,
            onProgress: (sofar, status) =>
              set({ traversal: { rows: fillRows(emptyRows, sofar, length), base, status } }),
          });
        },
        (outcome) =>
          set({
            traversal:
              outcome.kind === 'done'
                ? { rows: fillRows(emptyRows, outcome.value, length), base, status: { kind: 'done' } }
                : { ...get().traversal, status: outcome },
          }),
      );
    },

    cancelTraversal() {
      jobs.cancel('traversal');
      const traversal = get().traversal;
      if (traversal.status.kind === 'running') set({ traversal: { ...traversal, status: IDLE } });
    },

    pickTraversalCell(dim, index) {
      const { rows, base } = get().traversal;
      const row = rows.find((r) => r.dim === dim);
      if (!row || !base || index >= row.values.length) return;
      const z = base.z.map((v, k) => (k === dim ? row.values[index] : v));
      get().setLatent(z, base.noise);
    },
  });
}

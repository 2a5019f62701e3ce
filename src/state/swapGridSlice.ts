/**
 * z versus x_T (issue 33), the diffusion-autoencoder figure: rows take z from some images, columns take x_T from
 * others (their inversions, or fresh seeded noise), and every cell decodes (z of its row, x_T of its column). Read
 * along a row, what the code keeps (the image's identity, for InfoDiffusion's semantic code); down a column, what
 * the noise keeps (fine detail, placement). Renders in batches like every grid: the student's pass first where the
 * package has one, latest-wins, cancellable, with progress.
 */
import type { StateCreator } from 'zustand';
import { isAbortError } from '../engine/client';
import { renderInBatchesRefined } from './batchRender';
import type { SliceContext } from './deps';
import { describeError } from './describeError';
import { pickCurrentImage, pickFileImage, pickGalleryImage, pickSavedImage, type PickedImage } from './imageCodes';
import { seedNoise, studentPreviewCalls } from './latentSlice';
import type { ExplorerState } from './store';
import { IDLE, type Frame, type TaskStatus } from './types';

/** The most images on either side of the grid (the grid renders rows x columns images). */
export const MAX_SWAP_SIDE = 6;

/** One image of the grid's pool: its z can make a row, its x_T a column. A seed gives a column only. */
export interface SwapImage extends PickedImage {
  asRow: boolean;
  asColumn: boolean;
}

export interface SwapGrid {
  images: SwapImage[];
  /** Encoding and inverting an added image, or why it failed. */
  pickStatus: TaskStatus;
  /** The rendered grid: row and column labels, cells row by row. */
  rows: string[];
  columns: string[];
  cells: Frame[];
  status: TaskStatus;
}

export interface SwapGridSlice {
  swapGrid: SwapGrid;
  addSwapCurrent(): void;
  addSwapGallery(index: number): Promise<void>;
  addSwapSaved(latentId: string): void;
  addSwapFile(file: Blob, name?: string): Promise<void>;
  /** A column of fresh x_T ~ N(0, I) from `seed`. */
  addSwapSeed(seed: number): void;
  setSwapRole(key: string, role: 'asRow' | 'asColumn', on: boolean): void;
  removeSwapImage(key: string): void;
  renderSwapGrid(): Promise<void>;
  cancelSwapGrid(): void;
  /** Makes cell (row, column) of the last grid current. */
  pickSwapCell(row: number, column: number): void;
  clearSwapGrid(): void;
}

export const initialSwapGridState = {
  swapGrid: { images: [], pickStatus: IDLE, rows: [], columns: [], cells: [], status: IDLE } as SwapGrid,
} satisfies Partial<SwapGridSlice>;

export function createSwapGridSlice({ deps }: SliceContext): StateCreator<ExplorerState, [], [], SwapGridSlice> {
  return (set, get) => {
    let picking = new AbortController();
    let rendering = new AbortController();
    /** The (z, x_T) of each cell of the last render, row by row, for pickSwapCell. */
    let lastCells: { z: number[]; noise: PickedImage['noise'] }[] = [];

    function patch(value: Partial<SwapGrid>): void {
      set({ swapGrid: { ...get().swapGrid, ...value } });
    }

    function add(image: PickedImage, roles: { asRow: boolean; asColumn: boolean }): void {
      const images = get().swapGrid.images.filter((i) => i.key !== image.key);
      patch({ images: [...images, { ...image, ...roles }] });
    }

    async function addPicked(pick: (signal: AbortSignal) => Promise<PickedImage>, label: string): Promise<void> {
      const { signal } = picking;
      patch({ pickStatus: { kind: 'running', label: `Encoding and inverting ${label}`, done: 0, total: 0 } });
      try {
        const image = await pick(signal);
        if (signal.aborted) return;
        add(image, { asRow: true, asColumn: true });
        patch({ pickStatus: { kind: 'done' } });
      } catch (error) {
        if (isAbortError(error) || signal.aborted) return;
        patch({ pickStatus: { kind: 'error', message: `${label} could not be added: ${describeError(error)}` } });
      }
    }

    return {
      ...initialSwapGridState,

      addSwapCurrent() {
        const image = pickCurrentImage(get());
        if (image) add(image, { asRow: true, asColumn: true });
      },

      async addSwapGallery(index) {
        const item = get().model?.metadata.gallery[index];
        await addPicked((signal) => pickGalleryImage(get(), deps, index, signal), item?.label ?? 'The gallery image');
      },

      addSwapSaved(latentId) {
        const image = pickSavedImage(get(), latentId);
        if (image) add(image, { asRow: true, asColumn: true });
      },

      async addSwapFile(file, name) {
        const label = name ?? ((file as File).name || 'the image');
        await addPicked((signal) => pickFileImage(get(), deps, file, label, signal), label);
      },

      addSwapSeed(seed) {
        const metadata = get().model?.metadata;
        if (!metadata) return;
        add(
          {
            key: `seed:${seed}`,
            label: `noise, seed ${seed}`,
            z: [],
            noise: seedNoise(metadata, seed),
            thumbnail: null,
          },
          { asRow: false, asColumn: true },
        );
      },

      setSwapRole(key, role, on) {
        patch({
          images: get().swapGrid.images.map((i) =>
            // A seed has no code, so it cannot make a row.
            i.key === key && !(role === 'asRow' && i.z.length === 0) ? { ...i, [role]: on } : i,
          ),
        });
      },

      removeSwapImage(key) {
        patch({ images: get().swapGrid.images.filter((i) => i.key !== key) });
      },

      async renderSwapGrid() {
        const metadata = get().model?.metadata;
        if (!metadata) return;
        const { images } = get().swapGrid;
        const rows = images.filter((i) => i.asRow && i.z.length > 0).slice(0, MAX_SWAP_SIDE);
        const columns = images.filter((i) => i.asColumn).slice(0, MAX_SWAP_SIDE);
        if (rows.length === 0 || columns.length === 0) {
          patch({
            status: {
              kind: 'error',
              message: 'Add at least one image for the rows (its z) and one for the columns (its x_T).',
            },
          });
          return;
        }
        rendering.abort();
        rendering = new AbortController();
        const { signal } = rendering;
        // x_T of a seeded column renders with deterministic DDIM like an inverted one, so a column differs only
        // in its x_T, not in its step noise.
        const items = rows.flatMap((row) =>
          columns.map((column) => ({ z: row.z, noise: { ...column.noise, stochastic: null } })),
        );
        lastCells = items;
        const studentCalls = studentPreviewCalls(get());
        const total = items.length;
        const labels = { rows: rows.map((r) => r.label), columns: columns.map((c) => c.label) };
        patch({
          ...labels,
          cells: [],
          status: { kind: 'running', label: studentCalls === null ? 'Rendering' : 'Student preview', done: 0, total },
        });
        try {
          const frames = await renderInBatchesRefined(deps.engine, metadata, items, {
            channel: 'swap-grid',
            steps: get().steps,
            studentCalls,
            signal,
            onFrames: (sofar, { pass, refined }) => {
              if (signal.aborted) return;
              patch({
                cells: sofar,
                status: {
                  kind: 'running',
                  label: pass === 'student' ? 'Student preview' : 'Rendering',
                  done: pass === 'student' ? sofar.length : refined,
                  total,
                },
              });
            },
          });
          if (signal.aborted) return;
          patch({ cells: frames, status: { kind: 'done' } });
        } catch (error) {
          if (isAbortError(error) || signal.aborted) return;
          patch({ status: { kind: 'error', message: describeError(error) } });
        }
      },

      cancelSwapGrid() {
        rendering.abort();
        picking.abort();
        picking = new AbortController();
        const grid = get().swapGrid;
        patch({
          status: grid.status.kind === 'running' ? IDLE : grid.status,
          pickStatus: grid.pickStatus.kind === 'running' ? IDLE : grid.pickStatus,
        });
      },

      pickSwapCell(row, column) {
        const columns = get().swapGrid.columns.length;
        const cell = lastCells[row * columns + column];
        if (!cell) return;
        set({ z: cell.z, zReference: cell.z, referenceKind: 'saved', noise: cell.noise });
      },

      clearSwapGrid() {
        rendering.abort();
        picking.abort();
        picking = new AbortController();
        lastCells = [];
        set(initialSwapGridState);
      },
    };
  };
}

/**
 * z versus x_T (issue 33), the diffusion-autoencoder figure: rows take z from some images, columns take x_T from
 * others (their inversions, or fresh seeded noise), and every cell decodes (z of its row, x_T of its column). Read
 * along a row, what the code keeps (the image's identity, for InfoDiffusion's semantic code); down a column, what
 * the noise keeps (fine detail, placement). Renders in batches like every grid: the student's pass first where the
 * package has one, latest-wins, cancellable, with progress.
 */
import type { StateCreator } from 'zustand';
import { renderToolFrames, toolRenderStarting } from './batchRender';
import type { SliceContext } from './deps';
import { createJobGroup } from './jobs';
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

export function createSwapGridSlice({ deps, jobs }: SliceContext): StateCreator<ExplorerState, [], [], SwapGridSlice> {
  return (set, get) => {
    /** The images being encoded and inverted: several may be added at once; "Cancel" stops them all. */
    const picking = createJobGroup(jobs, 'swap-pick');
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
      patch({ pickStatus: { kind: 'running', label: `Encoding and inverting ${label}`, done: 0, total: 0 } });
      await picking.run(
        (job) => pick(job.signal),
        (outcome) => {
          if (outcome.kind === 'error') {
            patch({ pickStatus: { kind: 'error', message: `${label} could not be added: ${outcome.message}` } });
            return;
          }
          add(outcome.value, { asRow: true, asColumn: true });
          patch({ pickStatus: { kind: 'done' } });
        },
      );
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
        // x_T of a seeded column renders with deterministic DDIM like an inverted one, so a column differs only
        // in its x_T, not in its step noise.
        const items = rows.flatMap((row) =>
          columns.map((column) => ({ z: row.z, noise: { ...column.noise, stochastic: null } })),
        );
        lastCells = items;
        const studentCalls = studentPreviewCalls(get());
        const labels = { rows: rows.map((r) => r.label), columns: columns.map((c) => c.label) };
        await jobs.run(
          'swap-grid',
          (job) => {
            patch({ ...labels, cells: [], status: toolRenderStarting(studentCalls, items.length) });
            return renderToolFrames(deps.engine, metadata, items, job, {
              channel: 'swap-grid',
              steps: get().steps,
              studentCalls,
              onProgress: (cells, status) => patch({ cells, status }),
            });
          },
          (outcome) =>
            patch(outcome.kind === 'done' ? { cells: outcome.value, status: { kind: 'done' } } : { status: outcome }),
        );
      },

      cancelSwapGrid() {
        jobs.cancel('swap-grid');
        picking.cancelAll();
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
        jobs.cancel('swap-grid');
        picking.cancelAll();
        lastCells = [];
        set(initialSwapGridState);
      },
    };
  };
}

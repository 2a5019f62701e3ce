/**
 * Interpolation between two (z, x_T) endpoints, as the official InfoDiffusion code does it (`run.py --mode
 * interpolate`, docs/sources.md §1.6): z along a quarter circle (or a straight line), x_T by slerp. A strip of
 * frames between A and B, and a 2-D grid between four corners A (top left), B (top right), C (bottom left), D
 * (bottom right).
 */
import type { StateCreator } from 'zustand';
import { fractions, lerp, quarterCircle, slerp } from '../latent/latentMath';
import type { SliceContext } from './deps';
import { pickCurrentImage } from './imageCodes';
import { renderToolFrames, toolRenderStarting } from './batchRender';
import { studentPreviewCalls } from './latentSlice';
import { mixSampling } from '../latent/stochasticSampling';
import type { ExplorerState } from './store';
import { IDLE, type Frame, type LatentSnapshot, type NoiseState, type TaskStatus } from './types';

export type EndpointSlot = 'a' | 'b' | 'c' | 'd';
export type LatentPath = 'quarter-circle' | 'linear';

export interface Endpoint extends LatentSnapshot {
  label: string;
  /** The image the endpoint showed when it was picked. */
  thumbnail: Frame | null;
}

/** A rendered set of frames and the snapshots that made them (clicking a frame makes its snapshot current). */
export interface FrameSet {
  frames: Frame[];
  snapshots: LatentSnapshot[];
  status: TaskStatus;
}

export interface InterpolationSlice {
  endpoints: Record<EndpointSlot, Endpoint | null>;
  latentPath: LatentPath;
  stripLength: number;
  gridSize: number;
  strip: FrameSet;
  grid: FrameSet;

  /** Puts the current (z, x_T) and image into an endpoint slot. */
  setEndpointFromCurrent(slot: EndpointSlot): void;
  setEndpointFromSaved(slot: EndpointSlot, latentId: string): void;
  setLatentPath(path: LatentPath): void;
  setStripLength(length: number): void;
  setGridSize(size: number): void;
  renderStrip(): Promise<void>;
  renderGrid(): Promise<void>;
  cancelInterpolation(): void;
}

const EMPTY_SET: FrameSet = { frames: [], snapshots: [], status: IDLE };

export const initialInterpolationState = {
  endpoints: { a: null, b: null, c: null, d: null },
  strip: EMPTY_SET,
  grid: EMPTY_SET,
} satisfies Partial<InterpolationSlice>;

/** The point at fraction e between two snapshots: z along `path`, x_T by slerp. */
export function interpolateSnapshots(
  a: LatentSnapshot,
  b: LatentSnapshot,
  e: number,
  path: LatentPath,
): LatentSnapshot {
  const z = path === 'quarter-circle' ? quarterCircle(a.z, b.z, e) : lerp(a.z, b.z, e);
  const sameNoise = a.noise.id === b.noise.id;
  const noise: NoiseState = sameNoise
    ? a.noise
    : {
        id: `mix(${a.noise.id},${b.noise.id},${e.toFixed(4)})`,
        origin: null,
        xNoise: slerp(a.noise.xNoise, b.noise.xNoise, e),
        stochastic: mixSampling(a.noise.stochastic, b.noise.stochastic, e),
      };
  return { z, noise };
}

/**
 * Grid cells row by row: top edge A -> B, bottom edge C -> D, each column blended from top to bottom.
 * For the quarter-circle path this applies the path twice, which is what a 2-D sweep of InfoDiffusion's
 * interpolation means; the corners come out exact.
 */
export function gridSnapshots(
  corners: Record<EndpointSlot, LatentSnapshot>,
  size: number,
  path: LatentPath,
): LatentSnapshot[] {
  const steps = fractions(size);
  const cells: LatentSnapshot[] = [];
  for (const v of steps) {
    for (const u of steps) {
      const top = interpolateSnapshots(corners.a, corners.b, u, path);
      const bottom = interpolateSnapshots(corners.c, corners.d, u, path);
      cells.push(interpolateSnapshots(top, bottom, v, path));
    }
  }
  return cells;
}

export function createInterpolationSlice({
  deps,
  jobs,
}: SliceContext): StateCreator<ExplorerState, [], [], InterpolationSlice> {
  return (set, get) => {
    function setFrameSet(name: 'strip' | 'grid', value: FrameSet): void {
      set(name === 'strip' ? { strip: value } : { grid: value });
    }

    async function renderSet(name: 'strip' | 'grid', snapshots: LatentSnapshot[]): Promise<void> {
      const metadata = get().model?.metadata;
      if (!metadata) return;
      const total = snapshots.length;
      const studentCalls = studentPreviewCalls(get());
      await jobs.run(
        `interpolation-${name}`,
        (job) => {
          setFrameSet(name, { frames: [], snapshots, status: toolRenderStarting(studentCalls, total) });
          // The student's frames first where it has one (the player can play them at once), then the full sampler's.
          return renderToolFrames(deps.engine, metadata, snapshots, job, {
            channel: `interpolation-${name}`,
            steps: get().steps,
            studentCalls,
            onProgress: (sofar, status) => setFrameSet(name, { frames: sofar, snapshots, status }),
          });
        },
        (outcome) =>
          setFrameSet(
            name,
            outcome.kind === 'done'
              ? { frames: outcome.value, snapshots, status: { kind: 'done' } }
              : { frames: get()[name].frames, snapshots, status: outcome },
          ),
      );
    }

    function setEndpoint(slot: EndpointSlot, endpoint: Endpoint): void {
      set({ endpoints: { ...get().endpoints, [slot]: endpoint } });
    }

    return {
      ...initialInterpolationState,
      latentPath: 'quarter-circle',
      stripLength: 8,
      gridSize: 4,

      setEndpointFromCurrent(slot) {
        const current = pickCurrentImage(get());
        if (!current) return;
        setEndpoint(slot, { z: current.z, noise: current.noise, label: current.label, thumbnail: get().frame });
      },

      setEndpointFromSaved(slot, latentId) {
        const saved = get().savedLatents.find((l) => l.id === latentId);
        const snapshot = saved ? get().snapshotOfSaved(saved) : null;
        if (!saved || !snapshot) return;
        setEndpoint(slot, {
          ...snapshot,
          label: saved.name,
          thumbnail: { rgba: saved.thumbnail, pixels: new Float32Array(0), size: saved.thumbnailSize },
        });
      },

      setLatentPath(latentPath) {
        set({ latentPath });
      },

      setStripLength(stripLength) {
        set({ stripLength });
      },

      setGridSize(gridSize) {
        set({ gridSize });
      },

      async renderStrip() {
        const { a, b } = get().endpoints;
        if (!a || !b) return;
        const path = get().latentPath;
        await renderSet(
          'strip',
          fractions(get().stripLength).map((e) => interpolateSnapshots(a, b, e, path)),
        );
      },

      async renderGrid() {
        const { a, b, c, d } = get().endpoints;
        if (!a || !b || !c || !d) return;
        await renderSet('grid', gridSnapshots({ a, b, c, d }, get().gridSize, get().latentPath));
      },

      cancelInterpolation() {
        jobs.cancel('interpolation-strip');
        jobs.cancel('interpolation-grid');
        const { strip, grid } = get();
        set({
          strip: { ...strip, status: strip.status.kind === 'running' ? IDLE : strip.status },
          grid: { ...grid, status: grid.status.kind === 'running' ? IDLE : grid.status },
        });
      },
    };
  };
}

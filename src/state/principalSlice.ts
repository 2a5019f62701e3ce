/**
 * Principal directions as sliders (issue 33): the model's principal directions (src/latent/principal.ts), ranked
 * by how much each changes the image. The ranking renders, from the current (z, x_T), the pair z -/+ 2 sqrt(variance)
 * along each direction, in batches with the fast decoder (the student where the package has one, else DDIM with
 * the preview steps), and scores each direction by the mean absolute pixel difference of its pair. Until it has
 * run, directions are listed by the share of code variance they explain.
 */
import type { StateCreator } from 'zustand';
import { isAbortError } from '../engine/client';
import { moveToScore } from '../latent/attributeFit';
import { principalAxis, principalDirections, type PrincipalDirections } from '../latent/principal';
import type { ModelMetadata } from '../model/metadata';
import { renderInBatches } from './batchRender';
import type { SliceContext } from './deps';
import { describeError } from './describeError';
import { studentPreviewCalls } from './latentSlice';
import type { ExplorerState } from './store';
import { IDLE, type TaskStatus } from './types';

/** How far either side of the current code the ranking moves, in standard deviations along the direction. */
export const RANKING_SPREAD_STD = 2;

export interface PrincipalRanking {
  /** Direction indices, the one that changes the image most first; null until ranked. */
  order: number[] | null;
  /** Mean absolute pixel change of each direction's pair (model units), by direction index. */
  effects: number[];
  status: TaskStatus;
}

export interface PrincipalSlice {
  /** The loaded model's principal directions (preparePrincipal), or null before a model is loaded. */
  principal: PrincipalDirections | null;
  /** The metadata `principal` was computed for. */
  principalModel: ModelMetadata | null;
  principalRanking: PrincipalRanking;
  /** Computes the loaded model's directions (on load; the ranking and sliders read them). */
  preparePrincipal(): void;
  /** Ranks the directions by how much each changes the current image. */
  rankPrincipal(): Promise<void>;
  cancelPrincipalRanking(): void;
  /** Moves z along principal direction k so its coordinate (from the training mean) becomes `target`. */
  setPrincipalScore(k: number, target: number): void;
  clearPrincipalRanking(): void;
}

export const initialPrincipalState = {
  principal: null,
  principalModel: null,
  principalRanking: { order: null, effects: [], status: IDLE } as PrincipalRanking,
} satisfies Partial<PrincipalSlice>;

/** Mean absolute difference of two equally long pixel arrays. */
export function meanAbsoluteDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < a.length; i += 1) sum += Math.abs(a[i] - b[i]);
  return a.length > 0 ? sum / a.length : 0;
}

export function createPrincipalSlice({ deps }: SliceContext): StateCreator<ExplorerState, [], [], PrincipalSlice> {
  return (set, get) => {
    let ranking = new AbortController();
    /** The loaded model's directions, computed once per model (the fallback's eigen-decomposition is not free). */
    function directionsOf(metadata: ModelMetadata): PrincipalDirections {
      const known = get().principal;
      if (known && get().principalModel === metadata) return known;
      const principal = principalDirections(metadata.latent, metadata.architecture.latentDim);
      set({ principal, principalModel: metadata });
      return principal;
    }

    return {
      ...initialPrincipalState,

      preparePrincipal() {
        const metadata = get().model?.metadata;
        if (metadata) directionsOf(metadata);
      },

      async rankPrincipal() {
        const { model, z, noise, steps, previewSteps } = get();
        if (!model || !noise || z.length === 0) return;
        ranking.abort();
        ranking = new AbortController();
        const { signal } = ranking;
        const metadata = model.metadata;
        const principal = directionsOf(metadata);
        const items = principal.components.flatMap((vector, k) => {
          const step = RANKING_SPREAD_STD * Math.sqrt(principal.variance[k]);
          return [-1, 1].map((sign) => ({ z: z.map((v, i) => v + sign * step * vector[i]), noise }));
        });
        const studentCalls = studentPreviewCalls(get());
        const total = items.length;
        set({
          principalRanking: { order: null, effects: [], status: { kind: 'running', label: 'Ranking', done: 0, total } },
        });
        try {
          const frames = await renderInBatches(deps.engine, metadata, items, {
            channel: 'principal-ranking',
            steps: studentCalls ?? Math.min(previewSteps, steps),
            decoder: studentCalls === null ? 'ddim' : 'student',
            signal,
            onFrames: (sofar) => {
              if (signal.aborted) return;
              set({
                principalRanking: {
                  order: null,
                  effects: [],
                  status: { kind: 'running', label: 'Ranking', done: sofar.length, total },
                },
              });
            },
          });
          if (signal.aborted || get().model !== model) return;
          const effects = principal.components.map((_, k) =>
            meanAbsoluteDifference(frames[2 * k].pixels, frames[2 * k + 1].pixels),
          );
          const order = effects.map((_, k) => k).sort((i, j) => effects[j] - effects[i]);
          set({ principalRanking: { order, effects, status: { kind: 'done' } } });
        } catch (error) {
          if (isAbortError(error) || signal.aborted) return;
          set({
            principalRanking: {
              ...get().principalRanking,
              status: { kind: 'error', message: describeError(error) },
            },
          });
        }
      },

      cancelPrincipalRanking() {
        ranking.abort();
        const current = get().principalRanking;
        if (current.status.kind === 'running') set({ principalRanking: { ...current, status: IDLE } });
      },

      setPrincipalScore(k, target) {
        const metadata = get().model?.metadata;
        if (!metadata || get().z.length !== metadata.architecture.latentDim) return;
        const principal = directionsOf(metadata);
        if (k >= principal.components.length) return;
        set({ z: moveToScore(get().z, principalAxis(principal, k, metadata.latent.mean), target, get().locked) });
      },

      clearPrincipalRanking() {
        ranking.abort();
        set(initialPrincipalState);
      },
    };
  };
}

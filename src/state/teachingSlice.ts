/**
 * The teaching views: the DDIM trajectory of the current image (x_t and the predicted x0 after every step),
 * the forward process at a chosen log-SNR, and the I-MMSE view of Information-Theoretic Diffusion (the MMSE
 * curves, the exact-discrete and continuous likelihoods with their standard errors, a second model of the same
 * data scored on the same draws with their ensemble, and the image scored without its code).
 */
import type { StateCreator } from 'zustand';
import type { FloatImageBatch, ItdResult } from '../engine/protocol';
import type { ModelMetadata } from '../model/metadata';
import type { SliceContext } from './deps';
import { frameFromBatch } from './renderSlice';
import { samplePrior } from '../latent/latentMath';
import { samplerParams } from '../latent/stochasticSampling';
import type { ExplorerState } from './store';
import { IDLE, type Frame, type TaskStatus } from './types';

export interface TrajectoryStep {
  /** 1-based step number. */
  step: number;
  /** The timestep the network was evaluated at. */
  t: number;
  xt: Frame;
  x0Pred: Frame;
}

/** Which image the analysis views look at: the user's image as the model sees it, else the generated one. */
export interface AnalysisImage {
  label: string;
  pixels: Float32Array;
}

export interface TeachingSlice {
  trajectory: { steps: TrajectoryStep[]; status: TaskStatus };
  /** Index into trajectory.steps of the step on show. */
  trajectoryPosition: number;
  logSnr: number;
  forwardNoise: { xt: Frame; alphaBar: number; nearestTimestep: number; imageLabel: string } | null;
  forwardNoiseStatus: TaskStatus;
  /** Log-SNR samples K of each likelihood pass (continuous and exact-discrete). */
  nllSamples: number;
  /** The I-MMSE analysis of the image on show (src/engine/itdRequest.ts), its name and progress. */
  immse: { result: ItdResult | null; imageLabel: string | null; status: TaskStatus };
  /** The catalog id of a second model of the same data set to score beside the loaded one, or null. */
  immseCompareWith: string | null;

  runTrajectory(): Promise<void>;
  setTrajectoryPosition(position: number): void;
  setLogSnr(logSnr: number): Promise<void>;
  setNllSamples(samples: number): void;
  setImmseCompareWith(id: string | null): void;
  runImmse(): Promise<void>;
  cancelImmse(): void;
}

/** Log-SNR grid points of the MMSE curve, and noise draws averaged per point. */
const CURVE_POINTS = 24;
const CURVE_REPEATS = 2;
/** Prior draws of z the unconditional figures average the network over (each multiplies that run's network calls). */
const PRIOR_DRAWS = 2;
/** Fixed seeds: the same image gives the same curve, the same noising, every time. */
const ANALYSIS_SEED = 0;

export function analysisImage(state: ExplorerState): AnalysisImage | null {
  if (state.source) return { label: state.source.name, pixels: state.source.prepared.pixels };
  if (state.frame) return { label: 'the generated image', pixels: state.frame.pixels };
  return null;
}

function batchOf(metadata: ModelMetadata, pixels: Float32Array): FloatImageBatch {
  const { imageSize, channels } = metadata.preprocessing;
  return { shape: [1, imageSize, imageSize, channels], data: pixels };
}

export const initialTeachingState = {
  trajectory: { steps: [], status: IDLE },
  trajectoryPosition: 0,
  forwardNoise: null,
  forwardNoiseStatus: IDLE,
  immse: { result: null, imageLabel: null, status: IDLE },
  immseCompareWith: null,
} satisfies Partial<TeachingSlice>;

export function createTeachingSlice({ deps, jobs }: SliceContext): StateCreator<ExplorerState, [], [], TeachingSlice> {
  return (set, get) => ({
    ...initialTeachingState,
    logSnr: 0,
    nllSamples: 64,

    async runTrajectory() {
      const { model, z, noise, steps } = get();
      if (!model || !noise || z.length === 0) return;
      const metadata = model.metadata;
      const collected: TrajectoryStep[] = [];
      await jobs.run(
        'trajectory',
        (job) => {
          set({
            trajectory: { steps: [], status: { kind: 'running', label: 'Denoising', done: 0, total: steps } },
            trajectoryPosition: 0,
          });
          return deps.engine.sample(
            {
              channel: 'trajectory',
              z: { shape: [1, z.length], data: Float32Array.from(z) },
              noise: { kind: 'tensor', xNoise: batchOf(metadata, noise.xNoise) },
              steps,
              ...samplerParams([noise.stochastic]),
              returnTrajectory: true,
            },
            {
              signal: job.signal,
              onProgress: (progress) => {
                if (!progress.xt || !progress.x0Pred || !job.isCurrent()) return;
                collected.push({
                  step: progress.step,
                  t: progress.t,
                  xt: frameFromBatch(progress.xt, metadata, 0),
                  x0Pred: frameFromBatch(progress.x0Pred, metadata, 0),
                });
                // The view stays at the first step (set above): there x_t is still mostly noise and the predicted x0 is the
                // network's first guess, so the two panels differ; at the last step both show the finished image.
                set({
                  trajectory: {
                    steps: collected.slice(),
                    status: { kind: 'running', label: 'Denoising', done: progress.step, total: progress.totalSteps },
                  },
                });
              },
            },
          );
        },
        (outcome) =>
          set({
            trajectory: {
              steps: collected.slice(),
              status: outcome.kind === 'done' ? { kind: 'done' } : outcome,
            },
          }),
      );
    },

    setTrajectoryPosition(position) {
      const last = get().trajectory.steps.length - 1;
      set({ trajectoryPosition: Math.max(0, Math.min(last, position)) });
    },

    async setLogSnr(logSnr) {
      set({ logSnr });
      const metadata = get().model?.metadata;
      const image = analysisImage(get());
      if (!metadata || !image) return;
      await jobs.run(
        'forward-noise',
        (job) => {
          set({ forwardNoiseStatus: { kind: 'running', label: 'Noising', done: 0, total: 1 } });
          return deps.engine.forwardNoise(
            batchOf(metadata, image.pixels),
            { logSnr, seed: ANALYSIS_SEED },
            { signal: job.signal },
          );
        },
        (outcome) => {
          if (outcome.kind === 'error') {
            set({ forwardNoiseStatus: outcome });
            return;
          }
          const result = outcome.value;
          set({
            forwardNoise: {
              xt: frameFromBatch(result.xt, metadata, 0),
              alphaBar: result.alphaBar,
              nearestTimestep: result.nearestTimestep,
              imageLabel: image.label,
            },
            forwardNoiseStatus: { kind: 'done' },
          });
        },
      );
    },

    setNllSamples(nllSamples) {
      set({ nllSamples });
    },

    setImmseCompareWith(immseCompareWith) {
      set({ immseCompareWith });
    },

    async runImmse() {
      const { model, catalog, immseCompareWith } = get();
      const metadata = model?.metadata;
      const image = analysisImage(get());
      if (!metadata || !image) return;
      const images = batchOf(metadata, image.pixels);
      const z = get().source && get().referenceKind === 'encoded' && get().zReference ? get().zReference! : undefined;
      const latentDim = metadata.architecture.latentDim;
      // Fixed prior draws (seeds after the analysis seed): the unconditional figures average the network over them.
      const zPrior = Array.from({ length: PRIOR_DRAWS }, (_, s) =>
        samplePrior(metadata.latent, latentDim, ANALYSIS_SEED + 1 + s),
      ).flat();
      const compare = catalog.find((entry) => entry.id === immseCompareWith && entry.id !== metadata.id);
      const running = (done: number, total: number): TaskStatus => ({
        kind: 'running',
        label: 'Noisy images scored',
        done,
        total,
      });
      await jobs.run(
        'immse',
        (job) => {
          set({ immse: { result: null, imageLabel: image.label, status: running(0, 0) } });
          return deps.engine.itd(
            images,
            {
              samples: get().nllSamples,
              points: CURVE_POINTS,
              repeats: CURVE_REPEATS,
              seed: ANALYSIS_SEED,
              z: z ? { shape: [1, z.length], data: Float32Array.from(z) } : undefined,
              zPrior: { shape: [PRIOR_DRAWS, latentDim], data: Float32Array.from(zPrior) },
              compareWith: compare ? { kind: 'url', baseUrl: new URL(compare.path, deps.baseUrl).href } : undefined,
            },
            {
              signal: job.signal,
              onProgress: (p) => {
                if (p.phase === 'calls' && job.isCurrent())
                  set({ immse: { ...get().immse, status: running(p.done, p.total) } });
              },
            },
          );
        },
        (outcome) =>
          set({
            immse:
              outcome.kind === 'done'
                ? { result: outcome.value, imageLabel: image.label, status: { kind: 'done' } }
                : { ...get().immse, status: outcome },
          }),
      );
    },

    cancelImmse() {
      jobs.cancel('immse');
      const immse = get().immse;
      if (immse.status.kind === 'running') set({ immse: { ...immse, status: IDLE } });
    },
  });
}

/**
 * The latent code being explored: z, its reference value (the encoded z, or the prior draw it started from),
 * per-dimension locks, the x_T renders start from, and the step counts. Changing any of these is all a
 * component does; the render loop (renderLoop.ts) notices and regenerates the image.
 */
import type { StateCreator } from 'zustand';
import { applyAttribute, normalDraws, randomiseUnlocked, samplePrior } from '../latent/latentMath';
import { MAX_STEPS, type NoiseOrigin, type ShareState } from '../app/shareState';
import type { Decoder } from '../engine/protocol';
import type { ModelMetadata } from '../model/metadata';
import type { SliceContext } from './deps';
import type { ExplorerState } from './store';
import { priorSampling, type StochasticSampling } from '../latent/stochasticSampling';
import type { LatentSnapshot, NoiseState } from './types';

/** A step count held to 1..MAX_STEPS (src/app/shareState.ts owns the range, for the Steps field and links alike). */
export function clampSteps(steps: number): number {
  return Math.min(MAX_STEPS, Math.max(1, Math.round(steps)));
}

/** Full-quality DDIM steps when neither the link nor a stored session says otherwise. */
export const DEFAULT_STEPS = 20;
/** Preview steps while a slider is held: enough for the shape, few enough to keep up with the hand. */
export const DEFAULT_PREVIEW_STEPS = 3;

export type ReferenceKind = 'encoded' | 'sampled' | 'saved' | 'link';

/**
 * Who draws the frames shown while z changes, before the full sampler's settled frame: the package's distilled
 * student (when it has one), or DDIM with `previewSteps` steps.
 */
export type PreviewDecoder = Decoder;
/** A model with a student previews with it unless the user chose otherwise: a student call costs one DDIM step. */
export const DEFAULT_PREVIEW_DECODER: PreviewDecoder = 'student';

export interface LatentSlice {
  z: number[];
  /** What "reset" returns to and the slider marks: the encoded z of the current image, or the z it started from. */
  zReference: number[] | null;
  referenceKind: ReferenceKind | null;
  locked: boolean[];
  noise: NoiseState | null;
  steps: number;
  previewSteps: number;
  /** The previews setting; it matters only for a model with a student (see studentPreviewCalls in renderLoop.ts). */
  previewDecoder: PreviewDecoder;
  /** True while a slider is held (pointer down or key held): renders use previewSteps. */
  adjusting: boolean;
  /** Seed of the last prior draw (z and x_T), shown in the sampler's seed field. */
  seed: number;

  /** Starts a model's session from a link, else the stored session, else a prior draw. */
  beginSession(share: ShareState | null): Promise<void>;
  /** Forgets everything tied to the loaded model (before another one loads). */
  clearModelState(): void;
  setLatentValue(dim: number, value: number): void;
  beginAdjust(): void;
  endAdjust(): void;
  resetDimension(dim: number): void;
  resetAll(): void;
  toggleLock(dim: number): void;
  /** Unlocked dimensions from the model's prior p(z), reproducibly from `seed`; x_T stays. */
  randomise(seed: number): void;
  /** A fresh z and x_T, both from `seed`; optionally a new step count. */
  sampleFromPrior(seed: number, steps?: number): void;
  setSteps(steps: number): void;
  setPreviewSteps(steps: number): void;
  setPreviewDecoder(decoder: PreviewDecoder): void;
  /** Makes a saved or rendered (z, x_T) pair current. */
  applySnapshot(snapshot: LatentSnapshot, referenceKind: ReferenceKind): void;
  /** Makes (z, x_T) current and keeps the reference and locks: the current image moved (a traversal cell). */
  setLatent(z: number[], noise: NoiseState): void;
  /** Moves z along attribute direction `index` so its score becomes `target`. */
  setAttributeScore(index: number, target: number): void;
}

/**
 * The student's calls per frame when previews are the student's (the model has one and the setting asks for
 * it), else null. The main view, grids and strips all ask this one question.
 */
export function studentPreviewCalls(state: {
  model: { metadata: ModelMetadata } | null;
  previewDecoder: PreviewDecoder;
}): number | null {
  const student = state.model?.metadata.student;
  return student && state.previewDecoder === 'student' ? student.plan.length : null;
}

export function imageElementCount(metadata: ModelMetadata): number {
  const { imageSize, channels } = metadata.preprocessing;
  return imageSize * imageSize * channels;
}

/** x_T ~ N(0, I) for a seed: the same numbers as the engine's seeded noise (see latentMath.normalDraws). */
export function seedNoise(metadata: ModelMetadata, seed: number): NoiseState {
  return {
    id: `seed:${seed}`,
    origin: { kind: 'seed', seed },
    xNoise: normalDraws(imageElementCount(metadata), seed),
    stochastic: priorSampling(seed),
  };
}

/**
 * The noise state of an x_T kept in storage (a session, a saved latent). A seed names its x_T and sampler
 * exactly; an inverted or mixed x_T is named `fallbackId` and keeps its stored sampler (none in records older
 * than the field: those rendered with η = 0).
 */
export function storedNoise(
  origin: NoiseOrigin | null,
  fallbackId: string,
  record: { xNoise: Float32Array; stochastic?: StochasticSampling | null },
): NoiseState {
  if (origin?.kind === 'seed')
    return { id: `seed:${origin.seed}`, origin, xNoise: record.xNoise, stochastic: priorSampling(origin.seed) };
  return { id: fallbackId, origin, xNoise: record.xNoise, stochastic: record.stochastic ?? null };
}

/** A new current (z, x_T), and the z that "reset" returns to. */
export interface AdoptedLatent {
  z: number[];
  zReference: number[];
  referenceKind: ReferenceKind;
  noise: NoiseState;
}

/**
 * This slice's fields for a new current (z, x_T): the locks stay while the dimension count does. The slice's own
 * actions use it, and the input slice hands its encoded image to it, because that image's z, x_T, reconstruction
 * and frame must reach subscribers in one store update (as renderSlice's framePatch does for the frame).
 */
export function adoptLatent(
  state: Pick<LatentSlice, 'locked'>,
  next: AdoptedLatent,
): Pick<LatentSlice, 'z' | 'zReference' | 'referenceKind' | 'locked' | 'noise'> {
  return { ...next, locked: state.locked.length === next.z.length ? state.locked : next.z.map(() => false) };
}

export const initialLatentState = {
  z: [] as number[],
  zReference: null,
  referenceKind: null,
  locked: [] as boolean[],
  noise: null,
  steps: DEFAULT_STEPS,
  previewSteps: DEFAULT_PREVIEW_STEPS,
  previewDecoder: DEFAULT_PREVIEW_DECODER,
  adjusting: false,
  seed: 0,
} satisfies Partial<LatentSlice>;

export function createLatentSlice({ db }: SliceContext): StateCreator<ExplorerState, [], [], LatentSlice> {
  return (set, get) => {
    function requireModel(): ModelMetadata | null {
      return get().model?.metadata ?? null;
    }

    /** Applies the link's state: its steps, and its z and x_T where it has them. */
    async function applyShare(share: ShareState, metadata: ModelMetadata): Promise<void> {
      const dim = metadata.architecture.latentDim;
      let z = share.z;
      if (z && z.length !== dim) {
        get().addNotice(
          'error',
          `The link's z has ${z.length} values but this model has ${dim} latent dimensions; it was ignored.`,
        );
        z = undefined;
      }
      if (share.steps) set({ steps: share.steps, previewSteps: Math.min(get().previewSteps, share.steps) });
      const noise = share.noise;
      if (noise?.kind === 'gallery') {
        await get().openGalleryItem(noise.index, { zOverride: z });
        return;
      }
      if (noise?.kind === 'upload') {
        const upload = await (await db())?.getUpload(noise.id);
        if (upload) {
          await get().ingestImage(
            upload.bytes,
            upload.type,
            upload.name,
            { kind: 'upload', id: upload.id },
            { zOverride: z },
          );
          return;
        }
        get().addNotice(
          'error',
          'The link was made from an uploaded image that is not stored in this browser; showing its z with seeded noise instead.',
        );
      }
      if (!z && noise?.kind !== 'seed') return;
      const seed = noise?.kind === 'seed' ? noise.seed : 0;
      const zStart = z ?? samplePrior(metadata.latent, dim, seed);
      set({
        z: zStart,
        zReference: zStart,
        referenceKind: 'link',
        locked: zStart.map(() => false),
        noise: seedNoise(metadata, seed),
        seed,
      });
    }

    /** Restores the stored session of this model; returns false when there is none. */
    async function restoreSession(metadata: ModelMetadata, linkSteps: number | undefined): Promise<boolean> {
      const session = await (await db())?.getSession(metadata.id);
      const dim = metadata.architecture.latentDim;
      // A record that does not fit this model's shapes (written for an older version of it) is ignored.
      if (
        !session ||
        session.z.length !== dim ||
        !(session.xNoise instanceof Float32Array) ||
        session.xNoise.length !== imageElementCount(metadata)
      )
        return false;
      const origin = session.noise;
      const noise = storedNoise(origin, `session:${session.updatedAt}`, session);
      // A session stored when the app allowed more steps comes back within today's range.
      const steps = clampSteps(linkSteps ?? session.steps);
      set({
        z: session.z,
        zReference: session.zEncoded ?? session.z,
        referenceKind: session.zEncoded ? 'encoded' : 'sampled',
        locked: session.locked.length === dim ? session.locked : session.z.map(() => false),
        noise,
        steps,
        previewSteps: Math.min(DEFAULT_PREVIEW_STEPS, steps),
        previewDecoder: session.previews ?? get().previewDecoder,
        seed: origin?.kind === 'seed' ? origin.seed : get().seed,
      });
      if (origin && origin.kind !== 'seed') await get().restoreSource(origin);
      return true;
    }

    return {
      ...initialLatentState,

      async beginSession(share) {
        const metadata = requireModel();
        if (!metadata) return;
        void get().loadLibrary();
        if (share) await applyShare(share, metadata);
        if (get().z.length === metadata.architecture.latentDim) return;
        if (await restoreSession(metadata, share?.steps)) return;
        get().sampleFromPrior(get().seed);
      },

      clearModelState() {
        const { steps, previewDecoder } = get();
        set({ ...initialLatentState, steps, previewSteps: Math.min(DEFAULT_PREVIEW_STEPS, steps), previewDecoder });
        get().clearInput();
        get().clearRender();
        get().clearTools();
      },

      setLatentValue(dim, value) {
        const z = get().z.slice();
        z[dim] = value;
        set({ z });
      },

      beginAdjust() {
        if (!get().adjusting) set({ adjusting: true });
      },

      endAdjust() {
        if (get().adjusting) set({ adjusting: false });
      },

      resetDimension(dim) {
        const reference = get().zReference;
        if (!reference) return;
        get().setLatentValue(dim, reference[dim]);
      },

      resetAll() {
        const { zReference, locked, z } = get();
        if (!zReference) return;
        set({ z: z.map((v, k) => (locked[k] ? v : zReference[k])) });
      },

      toggleLock(dim) {
        const locked = get().locked.slice();
        locked[dim] = !locked[dim];
        set({ locked });
      },

      randomise(seed) {
        const metadata = requireModel();
        if (!metadata) return;
        set({ z: randomiseUnlocked(get().z, get().locked, metadata.latent, seed) });
      },

      sampleFromPrior(seed, steps) {
        const metadata = requireModel();
        if (!metadata) return;
        // A prior draw is not the user's image: "Your image" (and the views that analyse it) let go of it, so
        // nothing on screen claims the new picture came from the old upload.
        get().clearInput();
        const z = samplePrior(metadata.latent, metadata.architecture.latentDim, seed);
        set({
          ...adoptLatent(get(), { z, zReference: z, referenceKind: 'sampled', noise: seedNoise(metadata, seed) }),
          seed,
          ...(steps ? { steps, previewSteps: Math.min(DEFAULT_PREVIEW_STEPS, steps) } : {}),
        });
      },

      setSteps(wanted) {
        const steps = clampSteps(wanted);
        set({ steps, previewSteps: Math.min(get().previewSteps, steps) });
      },

      setPreviewSteps(previewSteps) {
        set({ previewSteps: Math.min(previewSteps, get().steps) });
      },

      setPreviewDecoder(previewDecoder) {
        set({ previewDecoder });
      },

      applySnapshot(snapshot, referenceKind) {
        set({ z: snapshot.z, zReference: snapshot.z, referenceKind, noise: snapshot.noise });
      },

      setLatent(z, noise) {
        set({ z, noise });
      },

      setAttributeScore(index, target) {
        const direction = requireModel()?.attributeDirections[index];
        if (!direction) return;
        set({ z: applyAttribute(get().z, direction, target, get().locked) });
      },
    };
  };
}

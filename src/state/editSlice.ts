/**
 * Edit transfer (issue 33): an edit is the change in z from an image's own code (z - zReference of the current
 * image, or a saved edit). "Apply this edit to…" adds it, times a strength, to another image's code (a gallery
 * image, a saved latent, an uploaded file) and renders that image before and after, side by side, with the
 * image's own x_T: the student's frames first where the package has one, then the full sampler's. Saved edits are
 * kept per model in the attribute database (src/app/attributeDb.ts).
 */
import type { StateCreator } from 'zustand';
import type { AttributeDb, SavedEdit } from '../app/attributeDb';
import { renderToolFrames, toolRenderStarting } from './batchRender';
import type { SliceContext } from './deps';
import { describeError } from './describeError';
import { pickFileImage, pickGalleryImage, pickSavedImage, type PickedImage } from './imageCodes';
import { studentPreviewCalls } from './latentSlice';
import type { ExplorerState } from './store';
import { IDLE, type Frame, type TaskStatus } from './types';

/** Strength slider range: 0 (no edit) to 2 (twice the edit); negative strengths undo it. */
export const MIN_STRENGTH = -1;
export const MAX_STRENGTH = 2;

export type EditSource = { kind: 'current' } | { kind: 'saved'; id: string };

export interface EditTransfer {
  source: EditSource;
  strength: number;
  target: PickedImage | null;
  /** Encoding and inverting the target, or why it failed. */
  targetStatus: TaskStatus;
  before: Frame | null;
  after: Frame | null;
  status: TaskStatus;
}

export interface EditSlice {
  editTransfer: EditTransfer;
  savedEdits: SavedEdit[];

  setEditSource(source: EditSource): void;
  /** Sets the strength and re-renders the "after" image if a target is set. */
  setEditStrength(strength: number): void;
  setEditTargetFromGallery(index: number): Promise<void>;
  setEditTargetFromSaved(latentId: string): Promise<void>;
  setEditTargetFromFile(file: Blob, name?: string): Promise<void>;
  /** Renders the target before and after the edit. */
  renderEditTransfer(): Promise<void>;
  cancelEditTransfer(): void;
  /** Makes the edited target the current image. */
  makeEditedTargetCurrent(): void;
  saveCurrentEdit(name: string): Promise<void>;
  deleteSavedEdit(id: string): Promise<void>;
  loadSavedEdits(): Promise<void>;
  clearEdits(): void;
}

export const initialEditState = {
  editTransfer: {
    source: { kind: 'current' },
    strength: 1,
    target: null,
    targetStatus: IDLE,
    before: null,
    after: null,
    status: IDLE,
  } as EditTransfer,
  savedEdits: [] as SavedEdit[],
} satisfies Partial<EditSlice>;

/** The current image's edit: its z minus its own code; null when it has none or it is unchanged. */
export function currentEdit(state: Pick<ExplorerState, 'z' | 'zReference'>): number[] | null {
  const { z, zReference } = state;
  if (!zReference || zReference.length !== z.length) return null;
  const delta = z.map((v, k) => v - zReference[k]);
  return delta.some((v) => v !== 0) ? delta : null;
}

/** |delta|, for labels. */
export function editSize(delta: readonly number[]): number {
  return Math.hypot(...delta);
}

export function createEditSlice({ deps, jobs }: SliceContext): StateCreator<ExplorerState, [], [], EditSlice> {
  return (set, get) => {
    let attributeDb: Promise<AttributeDb | null> | null = null;
    function storage(): Promise<AttributeDb | null> {
      attributeDb ??= (deps.openAttributeDb?.() ?? Promise.reject(new Error('no attribute storage'))).catch(() => null);
      return attributeDb;
    }

    function patch(value: Partial<EditTransfer>): void {
      set({ editTransfer: { ...get().editTransfer, ...value } });
    }

    /** The edit the source names, or null (no edit on the current image, a deleted saved edit). */
    function sourceDelta(): number[] | null {
      const source = get().editTransfer.source;
      if (source.kind === 'current') return currentEdit(get());
      return get().savedEdits.find((e) => e.id === source.id)?.delta ?? null;
    }

    async function pickTarget(pick: (signal: AbortSignal) => Promise<PickedImage>, label: string): Promise<void> {
      jobs.cancel('edit-transfer');
      patch({
        target: null,
        before: null,
        after: null,
        status: IDLE,
        targetStatus: { kind: 'running', label: `Encoding and inverting ${label}`, done: 0, total: 0 },
      });
      let picked = false;
      await jobs.run(
        'edit-target',
        (job) => pick(job.signal),
        (outcome) => {
          if (outcome.kind === 'error') {
            patch({ targetStatus: { kind: 'error', message: `${label} could not be used: ${outcome.message}` } });
            return;
          }
          patch({ target: outcome.value, targetStatus: { kind: 'done' } });
          picked = true;
        },
      );
      if (picked) await get().renderEditTransfer();
    }

    return {
      ...initialEditState,

      setEditSource(source) {
        patch({ source });
        if (get().editTransfer.target) void get().renderEditTransfer();
      },

      setEditStrength(strength) {
        patch({ strength: Math.min(MAX_STRENGTH, Math.max(MIN_STRENGTH, strength)) });
        if (get().editTransfer.target) void get().renderEditTransfer();
      },

      async setEditTargetFromGallery(index) {
        const item = get().model?.metadata.gallery[index];
        await pickTarget((signal) => pickGalleryImage(get(), deps, index, signal), item?.label ?? 'The gallery image');
      },

      async setEditTargetFromSaved(latentId) {
        const picked = pickSavedImage(get(), latentId);
        if (!picked) return;
        await pickTarget(async () => picked, picked.label);
      },

      async setEditTargetFromFile(file, name) {
        const label = name ?? ((file as File).name || 'the image');
        await pickTarget((signal) => pickFileImage(get(), deps, file, label, signal), label);
      },

      async renderEditTransfer() {
        const metadata = get().model?.metadata;
        const { target, strength } = get().editTransfer;
        if (!metadata || !target) return;
        const delta = sourceDelta();
        if (!delta) {
          patch({
            before: null,
            after: null,
            status: {
              kind: 'error',
              message: 'There is no edit to apply: move a slider away from the current image’s own code first.',
            },
          });
          return;
        }
        const edited = target.z.map((v, k) => v + strength * delta[k]);
        const items = [
          { z: target.z, noise: target.noise },
          { z: edited, noise: target.noise },
        ];
        const studentCalls = studentPreviewCalls(get());
        await jobs.run(
          'edit-transfer',
          (job) => {
            patch({ status: toolRenderStarting(studentCalls, items.length) });
            return renderToolFrames(deps.engine, metadata, items, job, {
              channel: 'edit-transfer',
              steps: get().steps,
              studentCalls,
              onProgress: (sofar, status) => patch({ before: sofar[0] ?? null, after: sofar[1] ?? null, status }),
            });
          },
          (outcome) =>
            patch(
              outcome.kind === 'done'
                ? { before: outcome.value[0], after: outcome.value[1], status: { kind: 'done' } }
                : { status: outcome },
            ),
        );
      },

      cancelEditTransfer() {
        jobs.cancel('edit-transfer');
        jobs.cancel('edit-target');
        const transfer = get().editTransfer;
        patch({
          status: transfer.status.kind === 'running' ? IDLE : transfer.status,
          targetStatus: transfer.targetStatus.kind === 'running' ? IDLE : transfer.targetStatus,
        });
      },

      makeEditedTargetCurrent() {
        const { target, strength } = get().editTransfer;
        const delta = sourceDelta();
        if (!target || !delta) return;
        const z = target.z.map((v, k) => v + strength * delta[k]);
        set({ z, zReference: target.z, referenceKind: 'saved', noise: target.noise });
      },

      async saveCurrentEdit(name) {
        const modelId = get().model?.id;
        const delta = currentEdit(get());
        if (!modelId || !delta) return;
        const createdAt = Date.now();
        const edit: SavedEdit = {
          id: `${modelId}-edit-${createdAt.toString(36)}-${Math.round(deps.now() * 1000).toString(36)}`,
          modelId,
          name: name.trim() || `Edit ${get().savedEdits.length + 1}`,
          delta,
          createdAt,
        };
        set({ savedEdits: [...get().savedEdits, edit] });
        await (
          await storage()
        )
          ?.putEdit(edit)
          .catch((error: unknown) =>
            get().addNotice(
              'error',
              `The edit "${edit.name}" could not be stored, so it lasts only until the page closes: ${describeError(error)}`,
            ),
          );
      },

      async deleteSavedEdit(id) {
        set({ savedEdits: get().savedEdits.filter((e) => e.id !== id) });
        const source = get().editTransfer.source;
        if (source.kind === 'saved' && source.id === id) patch({ source: { kind: 'current' } });
        await (
          await storage()
        )
          ?.deleteEdit(id)
          .catch((error: unknown) =>
            get().addNotice('error', `The edit could not be deleted from storage: ${describeError(error)}`),
          );
      },

      async loadSavedEdits() {
        const modelId = get().model?.id;
        const db = await storage();
        if (!modelId || !db) return;
        try {
          const stored = await db.listEdits(modelId);
          if (get().model?.id === modelId) set({ savedEdits: stored });
        } catch (error) {
          get().addNotice('warning', `Saved edits could not be read from storage: ${describeError(error)}`);
        }
      },

      clearEdits() {
        jobs.cancel('edit-target');
        jobs.cancel('edit-transfer');
        set(initialEditState);
      },
    };
  };
}

/**
 * The person's own attributes (issue 33): a draft (a name and examples marked as having the attribute or not, from
 * the current image, the gallery, saved latents or grid cells), the direction fitted to them (src/latent/
 * attributeFit.ts), and the saved attributes of the loaded model, each a named slider beside the package's own.
 * Kept in IndexedDB (src/app/attributeDb.ts), exported and imported as JSON, carried in share links
 * (attributeSync.ts). Moving a slider only writes z; the render loop does the rest.
 */
import type { StateCreator } from 'zustand';
import type { AttributeDb } from '../app/attributeDb';
import { fileSizeProblem } from '../app/imageInput';
import { uploadId } from '../app/persistence';
import { fitAttribute, moveToScore, type AttributeFit } from '../latent/attributeFit';
import {
  attributeFile,
  cleanAttributeName,
  MAX_ATTRIBUTE_NAME,
  parseAttributeFile,
  parseAttributeParam,
  type OwnAttribute,
} from '../latent/ownAttribute';
import type { SliceContext } from './deps';
import { describeError } from './describeError';
import { encodeImageBytes, galleryFileBytes } from './imageCodes';
import { createJobGroup, type Job } from './jobs';
import type { ExplorerState } from './store';
import { IDLE, type TaskStatus } from './types';

/** One marked example of the draft attribute. */
export interface AttributeExample {
  /** Identifies the image, so one is not marked twice: 'gallery:3', 'saved:<id>', 'current:<render key>'. */
  key: string;
  label: string;
  z: number[];
  thumbnail: { rgba: Uint8ClampedArray; size: number } | null;
  /** True: the image has the attribute; false: it lacks it. */
  has: boolean;
}

/** The draft's fit, or why there is none yet. */
export type DraftFit = { kind: 'fit'; fit: AttributeFit } | { kind: 'none'; reason: string };

export interface AttributeSlice {
  ownAttributes: OwnAttribute[];
  attributeDraft: { name: string; examples: AttributeExample[]; fit: DraftFit };
  /** Encoding an example (gallery), or why it failed. */
  exampleStatus: TaskStatus;
  /** The last import's result, shown beside the import control. */
  attributeImport: { kind: 'idle' } | { kind: 'error'; message: string } | { kind: 'done'; count: number };

  setAttributeDraftName(name: string): void;
  /** Marks the current image (its z and the frame on screen). */
  addCurrentExample(has: boolean): void;
  addGalleryExample(index: number, has: boolean): Promise<void>;
  addSavedExample(latentId: string, has: boolean): void;
  /** Marks an image file (encoded on its own; it is not stored and does not become current). */
  addFileExample(file: Blob, has: boolean, name?: string): Promise<void>;
  /** Marks an image a tool drew (a traversal or interpolation cell): its z and frame. */
  addCodeExample(example: Omit<AttributeExample, 'has'>, has: boolean): void;
  setExampleHas(key: string, has: boolean): void;
  removeExample(key: string): void;
  clearAttributeDraft(): void;
  /** Saves the draft's fit as a named attribute (kept in storage), and starts a new draft. */
  saveAttributeDraft(): Promise<void>;
  deleteOwnAttribute(id: string): Promise<void>;
  /** Moves z along own attribute `id` so its score becomes `target` (locked dimensions stay). */
  setOwnAttributeScore(id: string, target: number): void;
  /** Reads the loaded model's own attributes from storage, keeping those only in memory (from a link). */
  loadOwnAttributes(): Promise<void>;
  /** The loaded model's own attributes as the text of an attribute file; null with none. */
  exportOwnAttributes(): string | null;
  importOwnAttributes(text: string): Promise<void>;
  /** A link's `attr` values: each one that fits the model is added (and stored); one that does not, a notice. */
  applyLinkAttributes(values: readonly string[]): Promise<void>;
  /** Drops the draft and the list (before another model's are loaded). */
  clearOwnAttributes(): void;
}

const NO_EXAMPLES: DraftFit = { kind: 'none', reason: 'Mark at least two images with the attribute and two without.' };

export const initialAttributeState = {
  ownAttributes: [] as OwnAttribute[],
  attributeDraft: { name: '', examples: [] as AttributeExample[], fit: NO_EXAMPLES },
  exampleStatus: IDLE,
  attributeImport: { kind: 'idle' },
} satisfies Partial<AttributeSlice>;

/** The fit of these examples, or why there is none. */
export function draftFit(examples: readonly AttributeExample[]): DraftFit {
  const positives = examples.filter((e) => e.has).map((e) => e.z);
  const negatives = examples.filter((e) => !e.has).map((e) => e.z);
  if (positives.length < 2 || negatives.length < 2)
    return {
      kind: 'none',
      reason: `Mark at least two images with the attribute and two without (now ${positives.length} with, ${negatives.length} without).`,
    };
  try {
    return { kind: 'fit', fit: fitAttribute(positives, negatives) };
  } catch (error) {
    return { kind: 'none', reason: describeError(error) };
  }
}

export function createAttributeSlice({
  deps,
  jobs,
}: SliceContext): StateCreator<ExplorerState, [], [], AttributeSlice> {
  return (set, get) => {
    let attributeDb: Promise<AttributeDb | null> | null = null;
    /**
     * The examples being encoded: each mark encodes on its own (a quick second mark must not abort the first);
     * "Start over" cancels them all, and a model switch aborts them with every other job.
     */
    const encoding = createJobGroup(jobs, 'attribute-example');
    /** The attribute database, opened once; null where storage is unavailable (attributes then last the page). */
    function storage(): Promise<AttributeDb | null> {
      attributeDb ??= (deps.openAttributeDb?.() ?? Promise.reject(new Error('no attribute storage'))).catch(() => null);
      return attributeDb;
    }

    function setExamples(examples: AttributeExample[]): void {
      set({ attributeDraft: { ...get().attributeDraft, examples, fit: draftFit(examples) } });
    }

    function addExample(example: AttributeExample): void {
      const examples = get().attributeDraft.examples.filter((e) => e.key !== example.key);
      setExamples([...examples, example]);
    }

    /** Adds attributes to the list and to storage; a failed store is a notice, the attribute stays for this page. */
    async function keep(attributes: OwnAttribute[]): Promise<void> {
      set({ ownAttributes: [...get().ownAttributes, ...attributes] });
      const db = await storage();
      for (const attribute of attributes)
        await db
          ?.putAttribute(attribute)
          .catch((error: unknown) =>
            get().addNotice(
              'error',
              `The attribute "${attribute.name}" could not be stored, so it lasts only until the page closes: ${describeError(error)}`,
            ),
          );
    }

    function modelShape() {
      const metadata = get().model?.metadata;
      return metadata ? { id: metadata.id, latentDim: metadata.architecture.latentDim } : null;
    }

    /**
     * Encodes one marked example (a gallery image, a file) and adds it, unless the model changed meanwhile;
     * `failure` prefixes the engine's or the loader's message.
     */
    async function encodeExample(
      label: string,
      failure: string,
      encode: (job: Job) => Promise<AttributeExample>,
    ): Promise<void> {
      const model = get().model;
      await encoding.run(
        (job) => {
          set({ exampleStatus: { kind: 'running', label: `Encoding ${label}`, done: 0, total: encoding.pending } });
          return encode(job);
        },
        (outcome) => {
          if (outcome.kind === 'error') {
            set({ exampleStatus: { kind: 'error', message: `${failure}: ${outcome.message}` } });
            return;
          }
          if (get().model !== model) return;
          addExample(outcome.value);
          if (encoding.pending === 1) set({ exampleStatus: { kind: 'done' } });
        },
      );
    }

    /** A name not yet used by an own attribute: "Name", else "Name 2", "Name 3"... */
    function freeName(name: string): string {
      const taken = new Set(get().ownAttributes.map((a) => a.name));
      if (!taken.has(name)) return name;
      let n = 2;
      while (taken.has(`${name} ${n}`)) n += 1;
      return `${name} ${n}`;
    }

    return {
      ...initialAttributeState,

      setAttributeDraftName(name) {
        set({ attributeDraft: { ...get().attributeDraft, name: name.slice(0, MAX_ATTRIBUTE_NAME) } });
      },

      addCurrentExample(has) {
        const { z, frame, noise, source, referenceKind } = get();
        if (z.length === 0) return;
        const label =
          source && referenceKind === 'encoded'
            ? source.name
            : noise?.origin?.kind === 'seed'
              ? `seed ${noise.origin.seed}`
              : 'current image';
        const key = `current:${z.map((v) => v.toPrecision(6)).join(',')}`;
        addExample({ key, label, z, thumbnail: frame ? { rgba: frame.rgba, size: frame.size } : null, has });
      },

      async addGalleryExample(index, has) {
        const model = get().model;
        const item = model?.metadata.gallery[index];
        if (!model || !item) return;
        const key = `gallery:${index}`;
        const known = get().attributeDraft.examples.find((e) => e.key === key);
        if (known) {
          get().setExampleHas(key, has);
          return;
        }
        await encodeExample(item.label, `Gallery image "${item.label}" could not be encoded`, async (job) => {
          const bytes = await galleryFileBytes(model, deps, item.file);
          const encoded = await encodeImageBytes(deps, model.metadata, bytes, 'image/png', job.signal);
          return {
            key,
            label: `${item.label} (gallery ${index + 1})`,
            z: encoded.z,
            thumbnail: encoded.thumbnail,
            has,
          };
        });
      },

      async addFileExample(file, has, name) {
        const model = get().model;
        if (!model) return;
        const label = name ?? ((file as File).name || 'image file');
        const tooLarge = fileSizeProblem(file.size);
        if (tooLarge) {
          set({ exampleStatus: { kind: 'error', message: tooLarge } });
          return;
        }
        await encodeExample(label, `${label} could not be encoded`, async (job) => {
          const bytes = await file.arrayBuffer();
          const encoded = await encodeImageBytes(deps, model.metadata, bytes, file.type, job.signal);
          return {
            key: `upload:${uploadId(new Uint8Array(bytes))}`,
            label,
            z: encoded.z,
            thumbnail: encoded.thumbnail,
            has,
          };
        });
      },

      addSavedExample(latentId, has) {
        const saved = get().savedLatents.find((l) => l.id === latentId);
        if (!saved || saved.z.length !== get().model?.metadata.architecture.latentDim) return;
        addExample({
          key: `saved:${saved.id}`,
          label: saved.name,
          z: saved.z,
          thumbnail: { rgba: saved.thumbnail, size: saved.thumbnailSize },
          has,
        });
      },

      addCodeExample(example, has) {
        addExample({ ...example, has });
      },

      setExampleHas(key, has) {
        setExamples(get().attributeDraft.examples.map((e) => (e.key === key ? { ...e, has } : e)));
      },

      removeExample(key) {
        setExamples(get().attributeDraft.examples.filter((e) => e.key !== key));
      },

      clearAttributeDraft() {
        encoding.cancelAll();
        set({ attributeDraft: initialAttributeState.attributeDraft, exampleStatus: IDLE });
      },

      async saveAttributeDraft() {
        const model = modelShape();
        const { name, examples, fit } = get().attributeDraft;
        const clean = cleanAttributeName(name);
        if (!model || fit.kind !== 'fit' || clean === null) return;
        const createdAt = Date.now();
        const attribute: OwnAttribute = {
          id: `${model.id}-attr-${createdAt.toString(36)}-${Math.round(deps.now() * 1000).toString(36)}`,
          modelId: model.id,
          name: freeName(clean),
          vector: fit.fit.vector,
          bias: fit.fit.bias,
          method: fit.fit.method,
          positives: examples.filter((e) => e.has).length,
          negatives: examples.filter((e) => !e.has).length,
          correct: fit.fit.correct,
          createdAt,
        };
        get().clearAttributeDraft();
        await keep([attribute]);
      },

      async deleteOwnAttribute(id) {
        set({ ownAttributes: get().ownAttributes.filter((a) => a.id !== id) });
        await (
          await storage()
        )
          ?.deleteAttribute(id)
          .catch((error: unknown) =>
            get().addNotice('error', `The attribute could not be deleted from storage: ${describeError(error)}`),
          );
      },

      setOwnAttributeScore(id, target) {
        const attribute = get().ownAttributes.find((a) => a.id === id);
        if (!attribute || attribute.vector.length !== get().z.length) return;
        set({ z: moveToScore(get().z, attribute, target, get().locked) });
      },

      async loadOwnAttributes() {
        const modelId = get().model?.id;
        const db = await storage();
        if (!modelId || !db) return;
        try {
          const stored = await db.listAttributes(modelId);
          if (get().model?.id !== modelId) return;
          const storedIds = new Set(stored.map((a) => a.id));
          const memoryOnly = get().ownAttributes.filter((a) => a.modelId === modelId && !storedIds.has(a.id));
          set({ ownAttributes: [...stored, ...memoryOnly] });
        } catch (error) {
          get().addNotice('warning', `Your attributes could not be read from storage: ${describeError(error)}`);
        }
      },

      exportOwnAttributes() {
        const model = modelShape();
        const own = get().ownAttributes;
        if (!model || own.length === 0) return null;
        return `${JSON.stringify(attributeFile(model, own), null, 1)}\n`;
      },

      async importOwnAttributes(text) {
        const model = modelShape();
        if (!model) return;
        let attributes: OwnAttribute[];
        try {
          attributes = parseAttributeFile(text, model, Date.now());
        } catch (error) {
          set({ attributeImport: { kind: 'error', message: describeError(error) } });
          return;
        }
        // A re-import of the same attributes keeps one copy: same name and (to link precision) the same direction.
        const fresh = attributes.filter(
          (a) =>
            !get().ownAttributes.some(
              (o) => o.name === a.name && o.vector.every((v, k) => Math.abs(v - a.vector[k]) < 1e-3),
            ),
        );
        set({ attributeImport: { kind: 'done', count: fresh.length } });
        await keep(fresh);
      },

      async applyLinkAttributes(values) {
        const model = modelShape();
        if (!model || values.length === 0) return;
        const now = Date.now();
        const fresh: OwnAttribute[] = [];
        values.forEach((value, i) => {
          try {
            const attribute = parseAttributeParam(value, model, now, i);
            const known = [...get().ownAttributes, ...fresh].some(
              (o) => o.name === attribute.name && o.vector.every((v, k) => Math.abs(v - attribute.vector[k]) < 1e-3),
            );
            if (!known) fresh.push(attribute);
          } catch (error) {
            get().addNotice('error', `The link's attribute could not be used: ${describeError(error)}`);
          }
        });
        await keep(fresh);
      },

      clearOwnAttributes() {
        encoding.cancelAll();
        set(initialAttributeState);
      },
    };
  };
}

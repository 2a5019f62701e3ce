/**
 * The user's image: upload, drop, paste or gallery -> preprocessing (what the model sees) -> encoder z ->
 * DDIM inversion with that z (x_T) -> reconstruction. On success the image's (z, x_T) becomes current, and the
 * reconstruction doubles as the first main-view frame, so nothing is rendered twice.
 */
import type { StateCreator } from 'zustand';
import { fileSizeProblem, type PreparedImage } from '../app/imageInput';
import { reconstructionPsnr } from '../app/imageQuality';
import { uploadId } from '../app/persistence';
import type { NoiseOrigin } from '../app/shareState';
import type { FloatImageBatch } from '../engine/protocol';
import type { ModelMetadata } from '../model/metadata';
import type { SliceContext } from './deps';
import { galleryFileBytes } from './imageCodes';
import { adoptLatent } from './latentSlice';
import { frameFromBatch, framePatch, renderKey } from './renderSlice';
import type { ExplorerState } from './store';
import { IDLE, type Frame, type TaskStatus } from './types';
import { describeError } from './describeError';

export interface SourceImage {
  /** 'gallery-3' or the upload's content id. */
  id: string;
  name: string;
  origin: Extract<NoiseOrigin, { kind: 'gallery' | 'upload' }>;
  /** The original file, for the thumbnail and for storage. */
  bytes: ArrayBuffer;
  mimeType: string;
  prepared: PreparedImage;
}

export interface ReconstructionFidelity {
  /** dB against the model input, measured as the pipeline's evaluation measures it (src/app/imageQuality.ts). */
  psnr: number;
  steps: number;
}

export interface IngestOptions {
  /** Make this z current instead of the encoded one (a link's edited z); x_T still comes from the image. */
  zOverride?: number[];
}

export interface InputSlice {
  source: SourceImage | null;
  /** Preparing, encoding, inverting, reconstructing, or the reason it failed. */
  inputStatus: TaskStatus;
  /** Decode(Enc(x), x_T) of the source image at full quality. */
  reconstruction: Frame | null;
  /** How faithful that reconstruction is to the model input, and at how many DDIM steps (inversion and decoding). */
  reconstructionFidelity: ReconstructionFidelity | null;

  /** A file from the file input, drag and drop, or the clipboard. */
  openImageFile(file: Blob, name?: string): Promise<void>;
  openGalleryItem(index: number, options?: IngestOptions): Promise<void>;
  ingestImage(
    bytes: ArrayBuffer,
    mimeType: string,
    name: string,
    origin: SourceImage['origin'],
    options?: IngestOptions,
  ): Promise<void>;
  /** Shows a stored session's source image again (after a reload) and re-renders its reconstruction. */
  restoreSource(origin: NoiseOrigin): Promise<void>;
  cancelInput(): void;
  clearInput(): void;
}

export const initialInputState = {
  source: null,
  inputStatus: IDLE,
  reconstruction: null,
  reconstructionFidelity: null,
} satisfies Partial<InputSlice>;

function fidelity(
  reconstruction: Frame,
  prepared: PreparedImage,
  metadata: ModelMetadata,
  steps: number,
): ReconstructionFidelity {
  return { psnr: reconstructionPsnr(reconstruction.pixels, prepared.pixels, metadata.preprocessing.valueRange), steps };
}

export function createInputSlice({ deps, jobs, db }: SliceContext): StateCreator<ExplorerState, [], [], InputSlice> {
  return (set, get) => {
    function running(label: string, done = 0, total = 0): void {
      set({ inputStatus: { kind: 'running', label, done, total } });
    }

    /** Gallery file bytes, from the server or from the files the model was opened from. */
    async function galleryBytes(file: string): Promise<ArrayBuffer> {
      const model = get().model;
      if (!model) throw new Error('no model is loaded');
      return galleryFileBytes(model, deps, file);
    }

    function imageBatch(metadata: ModelMetadata, pixels: Float32Array): FloatImageBatch {
      const { imageSize, channels } = metadata.preprocessing;
      return { shape: [1, imageSize, imageSize, channels], data: pixels };
    }

    async function prepare(bytes: ArrayBuffer, mimeType: string, metadata: ModelMetadata): Promise<PreparedImage> {
      return deps.prepareImage(new Uint8Array(bytes), mimeType, metadata.preprocessing);
    }

    /** Renders the reconstruction of (z, x_T) on its own channel; rejects with an AbortError when aborted. */
    async function reconstruct(
      metadata: ModelMetadata,
      z: Float32Array,
      xNoise: FloatImageBatch,
      steps: number,
      signal: AbortSignal,
    ): Promise<Frame> {
      const result = await deps.engine.sample(
        {
          channel: 'reconstruction',
          z: { shape: [1, z.length], data: z },
          noise: { kind: 'tensor', xNoise },
          steps,
          eta: 0,
        },
        { signal, onProgress: (p) => running('Reconstructing', p.step, p.totalSteps) },
      );
      return frameFromBatch(result.images, metadata, 0);
    }

    return {
      ...initialInputState,

      async openImageFile(file, name) {
        const fileName = name ?? ((file as File).name || 'pasted image');
        // Refused by its size before a byte is read: a 2 GB video dropped by mistake never reaches memory.
        const tooLarge = fileSizeProblem(file.size);
        if (tooLarge) {
          set({ inputStatus: { kind: 'error', message: tooLarge } });
          return;
        }
        let bytes: ArrayBuffer;
        try {
          bytes = await file.arrayBuffer();
        } catch (error) {
          set({ inputStatus: { kind: 'error', message: `The file could not be read: ${describeError(error)}` } });
          return;
        }
        const id = uploadId(new Uint8Array(bytes));
        await get().ingestImage(bytes, file.type, fileName, { kind: 'upload', id });
      },

      async openGalleryItem(index, options) {
        const metadata = get().model?.metadata;
        const item = metadata?.gallery[index];
        if (!metadata || !item) {
          set({ inputStatus: { kind: 'error', message: `The model's gallery has no image ${index + 1}.` } });
          return;
        }
        let bytes: ArrayBuffer;
        try {
          bytes = await galleryBytes(item.file);
        } catch (error) {
          set({
            inputStatus: {
              kind: 'error',
              message: `Gallery image "${item.label}" could not be read: ${describeError(error)}`,
            },
          });
          return;
        }
        await get().ingestImage(bytes, 'image/png', item.label, { kind: 'gallery', index }, options);
      },

      async ingestImage(bytes, mimeType, name, origin, options = {}) {
        const metadata = get().model?.metadata;
        if (!metadata) return;
        await jobs.run(
          'input',
          async (job) => {
            const steps = get().steps;
            running('Reading the image');
            const prepared = await prepare(bytes, mimeType, metadata);
            job.throwIfSuperseded();
            const id = origin.kind === 'upload' ? origin.id : `gallery-${origin.index}`;
            set({
              source: { id, name, origin, bytes, mimeType, prepared },
              reconstruction: null,
              reconstructionFidelity: null,
            });
            if (origin.kind === 'upload') {
              const storage = await db();
              await storage
                ?.putUpload({ id, name, type: mimeType, bytes, createdAt: Date.now() })
                .catch((error: unknown) => {
                  get().addNotice(
                    'warning',
                    `The image could not be stored for the next visit: ${describeError(error)}`,
                  );
                });
            }
            const images = imageBatch(metadata, prepared.pixels);
            running('Encoding');
            const encoded = await deps.engine.encode(images, { signal: job.signal });
            running('Inverting to x_T', 0, steps);
            const inverted = await deps.engine.invert(
              images,
              { steps, z: encoded.z },
              { signal: job.signal, onProgress: (p) => running('Inverting to x_T', p.step, p.totalSteps) },
            );
            const reconstruction = await reconstruct(metadata, encoded.z.data, inverted.xNoise, steps, job.signal);
            return {
              prepared,
              steps,
              zEncoded: Array.from(encoded.z.data),
              xNoise: inverted.xNoise.data,
              reconstruction,
            };
          },
          (outcome) => {
            if (outcome.kind === 'error') {
              set({ inputStatus: outcome });
              return;
            }
            const { prepared, steps, zEncoded, xNoise, reconstruction } = outcome.value;
            const z = options.zOverride ?? zEncoded;
            // An inverted x_T reproduces the image with deterministic DDIM only.
            const noise = {
              id: `${origin.kind}:${origin.kind === 'upload' ? origin.id : origin.index}:s${steps}`,
              origin,
              xNoise,
              stochastic: null,
            };
            set({
              reconstruction,
              reconstructionFidelity: fidelity(reconstruction, prepared, metadata, steps),
              inputStatus: { kind: 'done' },
              // One store update: the latent slice's new (z, x_T) and, unless z was overridden, the render slice's
              // frame, each built by its owner.
              ...adoptLatent(get(), { z, zReference: zEncoded, referenceKind: 'encoded', noise }),
              ...(options.zOverride ? {} : framePatch(get(), reconstruction, renderKey(z, noise.id), steps)),
            });
          },
        );
      },

      async restoreSource(origin) {
        const metadata = get().model?.metadata;
        const noise = get().noise;
        if (!metadata || !noise || origin.kind === 'seed') return;
        await jobs.run(
          'input',
          async (job) => {
            let source: Omit<SourceImage, 'prepared'>;
            if (origin.kind === 'upload') {
              const upload = await (await db())?.getUpload(origin.id);
              if (!upload) return null;
              source = { id: upload.id, name: upload.name, origin, bytes: upload.bytes, mimeType: upload.type };
            } else {
              const item = metadata.gallery[origin.index];
              if (!item) return null;
              source = {
                id: `gallery-${origin.index}`,
                name: item.label,
                origin,
                bytes: await galleryBytes(item.file),
                mimeType: 'image/png',
              };
            }
            const prepared = await prepare(source.bytes, source.mimeType, metadata);
            job.throwIfSuperseded();
            set({ source: { ...source, prepared } });
            const zReference = get().zReference ?? get().z;
            const steps = get().steps;
            const reconstruction = await reconstruct(
              metadata,
              Float32Array.from(zReference),
              imageBatch(metadata, noise.xNoise),
              steps,
              job.signal,
            );
            return { prepared, steps, reconstruction };
          },
          (outcome) => {
            if (outcome.kind === 'error') {
              set({
                inputStatus: {
                  kind: 'error',
                  message: `The stored image could not be shown again: ${outcome.message}`,
                },
              });
              return;
            }
            if (!outcome.value) return;
            const { prepared, steps, reconstruction } = outcome.value;
            set({
              reconstruction,
              reconstructionFidelity: fidelity(reconstruction, prepared, metadata, steps),
              inputStatus: { kind: 'done' },
            });
          },
        );
      },

      cancelInput() {
        jobs.cancel('input');
        set({ inputStatus: IDLE });
      },

      clearInput() {
        jobs.cancel('input');
        set(initialInputState);
      },
    };
  };
}

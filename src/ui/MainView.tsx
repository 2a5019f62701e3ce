import { useCallback, useRef, useState, type ReactNode } from 'react';
import { downloadBlob, encodePng, scaleFor, upscaleNearest } from '../app/exportImage';
import { linkTravel } from '../state/urlSync';
import {
  mainFrameSelector,
  useAction,
  useEngineFailure,
  useHasFrame,
  useLoadedModel,
  useNoiseId,
  useRenderActivity,
  useRendering,
  useRenderStatus,
  useRenderTiming,
  useSamplingSettings,
  useStoreApi,
  useTransientSubscription,
} from '../state/hooks';
import { decoderLabel, type MainFrame } from '../state/renderSlice';
import { drawFrame } from './PixelCanvas';
import { PriorSampler } from './PriorSampler';

/**
 * The generated image. It is drawn through a store subscription into the canvas (no React render per frame),
 * and `data-render-id` tells tests which frame is on screen.
 */
function GeneratedCanvas() {
  const canvasRef = useRef<HTMLCanvasElement>(null);
  const onFrame = useCallback((frame: MainFrame | null) => {
    const canvas = canvasRef.current;
    if (!canvas) return;
    if (!frame) {
      // No model, or another one loading: an old model's image must not linger.
      canvas.getContext('2d')?.clearRect(0, 0, canvas.width, canvas.height);
      delete canvas.dataset.quality;
      return;
    }
    drawFrame(canvas, frame);
    canvas.dataset.renderId = String(frame.renderId);
    canvas.dataset.quality = frame.quality;
  }, []);
  useTransientSubscription(mainFrameSelector, onFrame);
  return (
    <canvas
      ref={canvasRef}
      role="img"
      aria-label="Generated image"
      className="pixel-canvas generated-canvas"
      data-testid="view.main.canvas"
      data-render-id="0"
    />
  );
}

/** The main view's state in words; re-renders per DDIM step while rendering, alone. */
function RenderState() {
  const activity = useRenderActivity();
  const status = useRenderStatus();
  const engineFailure = useEngineFailure();
  const state = engineFailure
    ? 'Stopped'
    : activity
      ? `Rendering ${activity.step}/${activity.totalSteps}`
      : status.kind === 'error'
        ? 'Failed'
        : 'Ready';
  return <dd role="status">{state}</dd>;
}

/** The progress bar over the canvas; re-renders per DDIM step while rendering, alone. */
function RenderProgress() {
  const activity = useRenderActivity();
  if (!activity) return null;
  return (
    <progress
      className="canvas-progress"
      aria-label="Render progress"
      max={activity.totalSteps}
      value={activity.step}
    />
  );
}

/** The canvas's frame, marked busy while a render runs (re-renders when rendering starts or stops, not per step). */
function CanvasFrame({ children }: { children: ReactNode }) {
  const rendering = useRendering();
  return <div className={`canvas-frame ${rendering ? 'canvas-frame-busy' : ''}`}>{children}</div>;
}

/** Latency, frame rate and decoder of the frame on screen: re-renders once per frame. */
function RenderStats() {
  const { latencyMs, fps, steps, quality } = useRenderTiming();
  return (
    <dl className="render-stats" aria-label="Render statistics">
      <div>
        <dt>Latency</dt>
        <dd data-testid="stats.latency">{latencyMs === null ? '–' : `${Math.round(latencyMs)} ms`}</dd>
      </div>
      <div>
        <dt>Frames/s</dt>
        <dd data-testid="stats.fps">{fps === null ? '–' : fps.toFixed(1)}</dd>
      </div>
      <div>
        <dt>Frame</dt>
        <dd
          data-testid="stats.decoder"
          title="The decoder that drew the image on screen: the distilled student or DDIM previews while z changes, then the full sampler"
        >
          {quality === null || steps === null ? '–' : decoderLabel(quality, steps)}
        </dd>
      </div>
      <div className="render-state">
        <dt>State</dt>
        <RenderState />
      </div>
    </dl>
  );
}

/** What the last "Copy link" said, for the model it was copied under (a model switch makes it stale). */
interface CopyReport {
  model: unknown;
  noiseId: string | null;
  text: string;
  /** The link cannot carry the image: what would travel instead. */
  seeded: { seed: number; href: string } | null;
}

function ExportActions() {
  const store = useStoreApi();
  const model = useLoadedModel();
  const hasFrame = useHasFrame();
  const saveCurrentLatent = useAction('saveCurrentLatent');
  const noiseId = useNoiseId();
  const [report, setReport] = useState<CopyReport | null>(null);
  // What was copied belongs to the model and the image source it was copied under: once another model loads, or
  // another image (an upload, a prior draw) replaces x_T, it no longer describes what is on screen.
  const copyReport = report && report.model === model && report.noiseId === noiseId ? report : null;

  const downloadPng = async () => {
    const frame = store.getState().frame;
    if (!frame) return;
    const big = upscaleNearest(frame, scaleFor(frame.size, 512));
    downloadBlob(
      await encodePng(big.rgba, big.size, big.size),
      `${model?.id ?? 'infodiffusion'}-${frame.renderId}.png`,
    );
  };
  const copy = async (href: string, copied: string, fallback: string) => {
    try {
      await navigator.clipboard.writeText(href);
      return copied;
    } catch {
      return fallback;
    }
  };
  const copyLink = async () => {
    const travel = linkTravel(store.getState(), window.location.search);
    const text = await copy(window.location.href, 'Link copied', 'Copy the address bar: it holds the link');
    const seeded = travel.travels
      ? null
      : {
          seed: travel.seed,
          href: `${window.location.origin}${window.location.pathname}${travel.seededSearch}${window.location.hash}`,
        };
    setReport({ model, noiseId, text, seeded });
  };
  const copySeededLink = async (seeded: { seed: number; href: string }) => {
    const text = await copy(seeded.href, `Link with seed ${seeded.seed} copied`, `Copy this link: ${seeded.href}`);
    setReport({ model, noiseId, text, seeded: null });
  };
  return (
    <div className="export-actions">
      <button type="button" className="button button-secondary" disabled={!hasFrame} onClick={() => void downloadPng()}>
        Download PNG
      </button>
      <button type="button" className="button button-secondary" disabled={!hasFrame} onClick={() => void copyLink()}>
        Copy link
      </button>
      <button
        type="button"
        className="button button-secondary"
        disabled={!hasFrame}
        onClick={() => void saveCurrentLatent()}
      >
        Save latent
      </button>
      {copyReport && !copyReport.seeded && (
        <span className="hint" role="status">
          {copyReport.text}
        </span>
      )}
      {copyReport?.seeded && (
        <div className="banner banner-warning link-warning" role="status">
          <div>
            <p>
              <strong>{copyReport.text}, but it cannot carry your uploaded image.</strong> The image stays in this
              browser: anyone else who opens the link sees this z decoded from other noise, a different picture.
            </p>
            <p>
              What travels: this z with x_T drawn from seed {copyReport.seeded.seed} (one picture for everyone, though
              not this one), or this picture as a PNG file they can open as their image. Saved latents stay in this
              browser.
            </p>
          </div>
          <div className="banner-actions">
            <button
              type="button"
              className="button button-secondary"
              onClick={() => void copySeededLink(copyReport.seeded!)}
            >
              Copy the seeded link
            </button>
            <button type="button" className="button button-secondary" onClick={() => void downloadPng()}>
              Download PNG
            </button>
          </div>
        </div>
      )}
    </div>
  );
}

/**
 * The generated image with its render state, timings, export actions and the prior sampler. It re-renders when
 * the model, the sampling settings or a render error change, never per frame or per DDIM step: frames reach the
 * canvas through a subscription, progress through RenderProgress and RenderState.
 */
export function MainView() {
  // Counted by the drag benchmark (src/cli/benchDrag.ts): this view must not re-render per frame or per step.
  performance.mark('main-view:react-render');
  performance.clearMarks('main-view:react-render');
  const status = useRenderStatus();
  const { steps, eta } = useSamplingSettings();
  const hasFrame = useHasFrame();
  const model = useLoadedModel();
  return (
    <section className="card main-view" aria-labelledby="main-heading">
      <div className="card-heading">
        <h2 id="main-heading">Generated image</h2>
        <span
          className="hint"
          data-testid="view.sampler"
          title={
            eta > 0
              ? 'Stochastic DDIM: seeded fresh noise at every step, which keeps prior draws free of speckle'
              : 'Deterministic DDIM: the sampler an inverted x_T maps back to its image'
          }
        >
          DDIM, {steps} steps, η = {Number(eta.toFixed(2))}
        </span>
      </div>
      <CanvasFrame>
        <GeneratedCanvas />
        {!hasFrame && <p className="canvas-placeholder">{model ? 'Rendering the first image…' : 'No model loaded'}</p>}
        <RenderProgress />
      </CanvasFrame>
      {status.kind === 'error' && (
        <p className="status status-error" role="alert">
          {status.message}
        </p>
      )}
      <RenderStats />
      <ExportActions />
      <PriorSampler />
    </section>
  );
}

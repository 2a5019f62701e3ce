import { useCallback, useRef, useState } from 'react';
import { downloadBlob, encodePng, scaleFor, upscaleNearest } from '../app/exportImage';
import { mainFrameSelector, useAction, useEngineFailure, useHasFrame, useLoadedModel, useRenderStatus, useRenderTiming, useSamplingSettings, useStoreApi, useTransientSubscription } from '../state/hooks';
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
  return <canvas ref={canvasRef} role="img" aria-label="Generated image" className="pixel-canvas generated-canvas" data-testid="view.main.canvas" data-render-id="0" />;
}

function RenderStats() {
  const { latencyMs, fps, steps, quality } = useRenderTiming();
  const status = useRenderStatus();
  const engineFailure = useEngineFailure();
  const state = engineFailure ? 'Stopped' : status.kind === 'rendering' ? `Rendering ${status.step}/${status.totalSteps}` : status.kind === 'error' ? 'Failed' : 'Ready';
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
        <dd data-testid="stats.decoder" title="The decoder that drew the image on screen: the distilled student or DDIM previews while z changes, then the full sampler">
          {quality === null || steps === null ? '–' : decoderLabel(quality, steps)}
        </dd>
      </div>
      <div className="render-state">
        <dt>State</dt>
        <dd role="status">{state}</dd>
      </div>
    </dl>
  );
}

function ExportActions() {
  const store = useStoreApi();
  const model = useLoadedModel();
  const hasFrame = useHasFrame();
  const saveCurrentLatent = useAction('saveCurrentLatent');
  const [copyState, setCopyState] = useState<string | null>(null);

  const downloadPng = async () => {
    const frame = store.getState().frame;
    if (!frame) return;
    const big = upscaleNearest(frame, scaleFor(frame.size, 512));
    downloadBlob(await encodePng(big.rgba, big.size, big.size), `${model?.id ?? 'infodiffusion'}-${frame.renderId}.png`);
  };
  const copyLink = async () => {
    try {
      await navigator.clipboard.writeText(window.location.href);
      setCopyState('Link copied');
    } catch {
      setCopyState('Copy the address bar: it holds the link');
    }
  };
  return (
    <div className="export-actions">
      <button type="button" className="button button-secondary" disabled={!hasFrame} onClick={() => void downloadPng()}>
        Download PNG
      </button>
      <button type="button" className="button button-secondary" disabled={!hasFrame} onClick={() => void copyLink()}>
        Copy link
      </button>
      <button type="button" className="button button-secondary" disabled={!hasFrame} onClick={() => void saveCurrentLatent()}>
        Save latent
      </button>
      {copyState && (
        <span className="hint" role="status">
          {copyState}
        </span>
      )}
    </div>
  );
}

/** The generated image with its render state, timings, export actions and the prior sampler. */
export function MainView() {
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
          title={eta > 0 ? 'Stochastic DDIM: seeded fresh noise at every step, which keeps prior draws free of speckle' : 'Deterministic DDIM: the sampler an inverted x_T maps back to its image'}
        >
          DDIM, {steps} steps, η = {Number(eta.toFixed(2))}
        </span>
      </div>
      <div className={`canvas-frame ${status.kind === 'rendering' ? 'canvas-frame-busy' : ''}`}>
        <GeneratedCanvas />
        {!hasFrame && <p className="canvas-placeholder">{model ? 'Rendering the first image…' : 'No model loaded'}</p>}
        {status.kind === 'rendering' && <progress className="canvas-progress" aria-label="Render progress" max={status.totalSteps} value={status.step} />}
      </div>
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

import { useId } from 'react';
import { downloadBlob, gifBlob, scaleFor, upscaleNearest } from '../app/exportImage';
import { describeGridCost } from '../state/batchRender';
import { useAction, useGridCost, useHasFrame, useInterpolation, useLibrary, useLoadedModel } from '../state/hooks';
import type { EndpointSlot } from '../state/interpolationSlice';
import type { Frame } from '../state/types';
import { ClampedNumberInput } from './ClampedNumberInput';
import { FrameButton } from './FrameButton';
import { FramePlayer } from './FramePlayer';
import { PixelCanvas } from './PixelCanvas';
import { TaskStatusLine } from './TaskStatusLine';

const SLOT_NAMES: Record<EndpointSlot, string> = { a: 'A', b: 'B', c: 'C', d: 'D' };

function EndpointPicker({ slot }: { slot: EndpointSlot }) {
  const { endpoints } = useInterpolation();
  const { savedLatents } = useLibrary();
  const hasFrame = useHasFrame();
  const setEndpointFromCurrent = useAction('setEndpointFromCurrent');
  const setEndpointFromSaved = useAction('setEndpointFromSaved');
  const endpoint = endpoints[slot];
  const id = useId();
  return (
    <div className="endpoint">
      <div className="endpoint-thumb">
        <PixelCanvas
          frame={endpoint?.thumbnail ?? null}
          label={`Endpoint ${SLOT_NAMES[slot]}${endpoint ? `: ${endpoint.label}` : ' (empty)'}`}
        />
        <span className="endpoint-slot" aria-hidden="true">
          {SLOT_NAMES[slot]}
        </span>
      </div>
      <div className="endpoint-controls">
        <span className="endpoint-label">{endpoint?.label ?? 'empty'}</span>
        <button
          type="button"
          className="button button-secondary button-small"
          disabled={!hasFrame}
          onClick={() => setEndpointFromCurrent(slot)}
        >
          Set {SLOT_NAMES[slot]} from current
        </button>
        {savedLatents.length > 0 && (
          <>
            <label htmlFor={id} className="visually-hidden">
              Endpoint {SLOT_NAMES[slot]} from a saved latent
            </label>
            <select
              id={id}
              className="select-small"
              value=""
              onChange={(event) => event.target.value && setEndpointFromSaved(slot, event.target.value)}
            >
              <option value="">or a saved latent…</option>
              {savedLatents.map((latent) => (
                <option key={latent.id} value={latent.id}>
                  {latent.name}
                </option>
              ))}
            </select>
          </>
        )}
      </div>
    </div>
  );
}

function gifOf(frames: readonly Frame[]): Blob {
  const scale = scaleFor(frames[0].size, 192);
  const big = frames.map((frame) => upscaleNearest(frame, scale));
  return gifBlob(
    big.map((image) => ({ rgba: image.rgba, width: image.size, height: image.size })),
    150,
  );
}

/** Interpolation between images or saved latents: a strip, an animated player and a 2-D grid between four corners. */
export function InterpolationPanel() {
  const { endpoints, latentPath, stripLength, gridSize, strip, grid } = useInterpolation();
  const stripCost = useGridCost(stripLength);
  const gridCostEstimate = useGridCost(gridSize * gridSize);
  const model = useLoadedModel();
  const setLatentPath = useAction('setLatentPath');
  const setStripLength = useAction('setStripLength');
  const setGridSize = useAction('setGridSize');
  const renderStrip = useAction('renderStrip');
  const renderGrid = useAction('renderGrid');
  const cancelInterpolation = useAction('cancelInterpolation');
  const applySnapshot = useAction('applySnapshot');
  const lengthId = useId();
  const gridId = useId();
  const stripReady = endpoints.a !== null && endpoints.b !== null;
  const gridReady = stripReady && endpoints.c !== null && endpoints.d !== null;
  return (
    <div className="tool-body">
      <div className="explain">
        <h3>Interpolation</h3>
        <p>
          Pick two endpoints (encode an image, set it as A; encode another, set it as B). Frames in between move z along
          a quarter circle, z(e) = cos(eπ/2)·z<sub>A</sub> + sin(eπ/2)·z<sub>B</sub>, as InfoDiffusion does, or along a
          straight line, and blend the noise x<sub>T</sub> by spherical interpolation, so every frame stays a plausible
          diffusion start. Click a frame to make it current.
        </p>
      </div>
      <div className="endpoints">
        {(['a', 'b', 'c', 'd'] as const).map((slot) => (
          <EndpointPicker key={slot} slot={slot} />
        ))}
      </div>
      <div className="tool-controls">
        <fieldset className="segmented">
          <legend className="visually-hidden">Path of z</legend>
          {(['quarter-circle', 'linear'] as const).map((path) => (
            <label key={path} className={latentPath === path ? 'segmented-on' : ''}>
              <input
                type="radio"
                name="latent-path"
                value={path}
                checked={latentPath === path}
                onChange={() => setLatentPath(path)}
              />
              {path === 'quarter-circle' ? 'Quarter circle' : 'Straight line'}
            </label>
          ))}
        </fieldset>
        <label htmlFor={lengthId} className="field-label">
          Frames
        </label>
        <ClampedNumberInput id={lengthId} min={2} max={32} fallback={2} value={stripLength} onChange={setStripLength} />
        <button type="button" className="button" disabled={!stripReady} onClick={() => void renderStrip()}>
          Interpolate A → B
        </button>
        <label htmlFor={gridId} className="field-label">
          Grid size
        </label>
        <ClampedNumberInput id={gridId} min={2} max={8} fallback={2} value={gridSize} onChange={setGridSize} />
        <button
          type="button"
          className="button button-secondary"
          disabled={!gridReady}
          onClick={() => void renderGrid()}
        >
          Grid between A, B, C, D
        </button>
      </div>
      {stripCost && gridCostEstimate && strip.status.kind !== 'running' && grid.status.kind !== 'running' && (
        <p className="hint" data-testid="interpolation.cost">
          Strip: {describeGridCost(stripCost)}. Grid: {describeGridCost(gridCostEstimate)}.
        </p>
      )}
      <TaskStatusLine status={strip.status} onCancel={cancelInterpolation} name="interpolation" />
      {strip.frames.length > 0 && (
        <div className="strip-row">
          <ol className="frame-strip" aria-label="Interpolation strip">
            {strip.frames.map((frame, i) => (
              <li key={i}>
                <FrameButton
                  frame={frame}
                  label={`Interpolation frame ${i + 1}`}
                  actionLabel={`Make interpolation frame ${i + 1} current`}
                  onClick={() => applySnapshot(strip.snapshots[i], 'saved')}
                />
              </li>
            ))}
          </ol>
          <FramePlayer frames={strip.frames} label="Interpolation" />
          <button
            type="button"
            className="button button-secondary"
            onClick={() => downloadBlob(gifOf(strip.frames), `${model?.id ?? 'model'}-interpolation.gif`)}
          >
            Download GIF
          </button>
        </div>
      )}
      <TaskStatusLine status={grid.status} onCancel={cancelInterpolation} name="grid" />
      {grid.frames.length > 0 && (
        <ol
          className="frame-grid"
          aria-label="Interpolation grid"
          style={{ gridTemplateColumns: `repeat(${Math.round(Math.sqrt(grid.snapshots.length))}, minmax(0, 96px))` }}
        >
          {grid.frames.map((frame, i) => (
            <li key={i}>
              <FrameButton
                frame={frame}
                label={`Grid cell ${i + 1}`}
                actionLabel={`Make grid cell ${i + 1} current`}
                onClick={() => applySnapshot(grid.snapshots[i], 'saved')}
              />
            </li>
          ))}
        </ol>
      )}
    </div>
  );
}

import { useId, useMemo } from 'react';
import { downloadBlob, gifBlob, scaleFor, tileImages, upscaleNearest } from '../app/exportImage';
import { describeGridCost } from '../state/batchRender';
import { useAction, useGridCost, useHasFrame, useLoadedModel, useModelMetadata, useTraversal } from '../state/hooks';
import type { TraversalRow } from '../state/traversalSlice';
import { ClampedNumberInput } from './ClampedNumberInput';
import { FrameButton } from './FrameButton';
import { TaskStatusLine } from './TaskStatusLine';

/** An animated GIF in which every dimension sweeps at once: frame j tiles each row's j-th image. */
function traversalGif(rows: readonly TraversalRow[], length: number): Blob {
  const complete = rows.filter((row) => row.frames.length === length);
  const scale = scaleFor(complete[0].frames[0].size, 64);
  const columns = Math.ceil(Math.sqrt(complete.length));
  const frames = Array.from({ length }, (_, j) =>
    tileImages(
      complete.map((row) => upscaleNearest(row.frames[j], scale)),
      columns,
      2,
    ),
  );
  const there = [...frames, ...frames.slice(1, -1).reverse()];
  return gifBlob(there, 180);
}

/** Traversals in the paper's layout: each dimension swept across its spread, the rest of z and x_T fixed. */
export function TraversalPanel() {
  const { traversal, traversalLength, traversalSpanStd, sortTraversal } = useTraversal();
  const metadata = useModelMetadata();
  const model = useLoadedModel();
  const hasFrame = useHasFrame();
  const cost = useGridCost((metadata?.architecture.latentDim ?? 0) * traversalLength);
  const setTraversalLength = useAction('setTraversalLength');
  const setTraversalSpan = useAction('setTraversalSpan');
  const setSortTraversal = useAction('setSortTraversal');
  const renderTraversal = useAction('renderTraversal');
  const cancelTraversal = useAction('cancelTraversal');
  const pickTraversalCell = useAction('pickTraversalCell');
  const lengthId = useId();
  const spanId = useId();
  const rows = useMemo(
    () => (sortTraversal ? [...traversal.rows].sort((a, b) => b.variation - a.variation) : traversal.rows),
    [traversal.rows, sortTraversal],
  );
  const complete = traversal.status.kind === 'done';
  return (
    <div className="tool-body">
      <div className="explain">
        <h3>Latent traversals</h3>
        <p>
          Each row sets one dimension of z to evenly spaced values across mean ± {traversalSpanStd} standard deviations
          (over the training set) and keeps everything else, x<sub>T</sub> included, fixed, as in the InfoDiffusion
          paper&apos;s figures. A disentangled dimension changes one thing along its row. Sorting puts the dimensions
          that change the image most on top. Click a cell to make it current.
        </p>
      </div>
      <div className="tool-controls">
        <label htmlFor={lengthId} className="field-label">
          Values per dimension
        </label>
        <ClampedNumberInput
          id={lengthId}
          min={3}
          max={15}
          fallback={3}
          value={traversalLength}
          onChange={setTraversalLength}
        />
        <label htmlFor={spanId} className="field-label">
          Span (± std)
        </label>
        <ClampedNumberInput
          id={spanId}
          min={0.5}
          max={4}
          step={0.5}
          fallback={2}
          value={traversalSpanStd}
          onChange={setTraversalSpan}
        />
        <button type="button" className="button" disabled={!hasFrame} onClick={() => void renderTraversal()}>
          Render traversals
        </button>
        <label className="checkbox">
          <input
            type="checkbox"
            checked={sortTraversal}
            onChange={(event) => setSortTraversal(event.target.checked)}
            disabled={!complete}
          />
          Sort by how much the image changes
        </label>
        {complete && rows.length > 0 && (
          <button
            type="button"
            className="button button-secondary"
            onClick={() => downloadBlob(traversalGif(rows, traversalLength), `${model?.id ?? 'model'}-traversal.gif`)}
          >
            Download GIF
          </button>
        )}
      </div>
      {cost && traversal.status.kind !== 'running' && (
        <p className="hint" data-testid="traversal.cost">
          {describeGridCost(cost)}
        </p>
      )}
      <TaskStatusLine status={traversal.status} onCancel={cancelTraversal} name="traversal" />
      {rows.length > 0 && (
        <ol className="traversal-grid" aria-label="Traversal grid">
          {rows.map((row) => {
            const name = metadata?.dimensionNames[row.dim];
            return (
              <li key={row.dim} className="traversal-row">
                <span className="traversal-label">
                  z{row.dim + 1}
                  {name ? <span className="latent-name">{name}</span> : null}
                </span>
                <ol
                  className="traversal-cells"
                  style={{ gridTemplateColumns: `repeat(${row.values.length}, minmax(0, 72px))` }}
                >
                  {row.values.map((value, j) => (
                    <li key={j}>
                      {row.frames[j] ? (
                        <FrameButton
                          frame={row.frames[j]}
                          label={`Dimension ${row.dim + 1} at ${value.toFixed(2)}`}
                          actionLabel={`Dimension ${row.dim + 1} at ${value.toFixed(2)}: make current`}
                          onClick={() => pickTraversalCell(row.dim, j)}
                        />
                      ) : (
                        <span className="cell-pending" aria-hidden="true" />
                      )}
                    </li>
                  ))}
                </ol>
              </li>
            );
          })}
        </ol>
      )}
    </div>
  );
}

import { useState } from 'react';
import { useSwapGrid } from '../state/attributeHooks';
import { useAction } from '../state/hooks';
import { ImagePicker } from './ImagePicker';
import { PixelCanvas } from './PixelCanvas';
import { TaskStatusLine } from './TaskStatusLine';
import './attributes.css';

/** z versus x_T: rows take z from some images, columns x_T from others; every cell decoded. */
export function SwapGridPanel() {
  const grid = useSwapGrid();
  const addSwapCurrent = useAction('addSwapCurrent');
  const addSwapGallery = useAction('addSwapGallery');
  const addSwapSaved = useAction('addSwapSaved');
  const addSwapFile = useAction('addSwapFile');
  const addSwapSeed = useAction('addSwapSeed');
  const setSwapRole = useAction('setSwapRole');
  const removeSwapImage = useAction('removeSwapImage');
  const renderSwapGrid = useAction('renderSwapGrid');
  const cancelSwapGrid = useAction('cancelSwapGrid');
  const pickSwapCell = useAction('pickSwapCell');
  const [seed, setSeed] = useState(1);
  const columns = grid.columns.length;
  return (
    <div className="tool-body">
      <div className="explain">
        <h3>What z decides, what x_T decides</h3>
        <p>
          A diffusion autoencoder decodes an image from two things: its code z and its noise x<sub>T</sub>. Each row
          below keeps one image&apos;s z, each column one image&apos;s x<sub>T</sub> (its DDIM inversion, or fresh noise
          from a seed). Along a row, what stays is what the code decides (for a good semantic code, what the image is);
          down a column, what stays is what the noise decides (fine detail, placement). Where a row and a column come
          from the same image, the cell is its reconstruction. Click a cell to make it current.
        </p>
      </div>
      <ImagePicker
        purpose="Grid"
        verb="Add"
        onCurrent={addSwapCurrent}
        onGallery={(index) => void addSwapGallery(index)}
        onSaved={addSwapSaved}
        onFile={(file) => void addSwapFile(file)}
      />
      <div className="example-source">
        <label htmlFor="swap-seed">Fresh noise, seed</label>
        <input
          id="swap-seed"
          type="number"
          min={0}
          step={1}
          value={seed}
          onChange={(event) => setSeed(Math.max(0, Math.round(Number(event.target.value) || 0)))}
        />
        <button type="button" className="button button-secondary button-small" onClick={() => addSwapSeed(seed)}>
          Add a noise column
        </button>
      </div>
      <TaskStatusLine status={grid.pickStatus} name="image" onCancel={cancelSwapGrid} />
      {grid.images.length > 0 && (
        <ul className="examples" aria-label="Grid images">
          {grid.images.map((image) => (
            <li key={image.key} className="example">
              <PixelCanvas frame={image.thumbnail} label={image.label} />
              <span className="example-label">{image.label}</span>
              <span>
                <label>
                  <input
                    type="checkbox"
                    checked={image.asRow}
                    disabled={image.z.length === 0}
                    onChange={(event) => setSwapRole(image.key, 'asRow', event.target.checked)}
                  />{' '}
                  z (row)
                </label>{' '}
                <label>
                  <input
                    type="checkbox"
                    checked={image.asColumn}
                    onChange={(event) => setSwapRole(image.key, 'asColumn', event.target.checked)}
                  />{' '}
                  x<sub>T</sub> (column)
                </label>
              </span>
              <button
                type="button"
                className="button button-quiet button-small"
                aria-label={`Remove ${image.label} from the grid`}
                onClick={() => removeSwapImage(image.key)}
              >
                ✕
              </button>
            </li>
          ))}
        </ul>
      )}
      <div className="button-row">
        <button
          type="button"
          className="button"
          disabled={grid.images.length === 0 || grid.status.kind === 'running'}
          onClick={() => void renderSwapGrid()}
        >
          Render the grid
        </button>
      </div>
      <TaskStatusLine status={grid.status} name="z × x_T grid" onCancel={cancelSwapGrid} />
      {columns > 0 && (
        <div
          className="swap-grid"
          role="grid"
          aria-label="z versus x_T grid"
          style={{ gridTemplateColumns: `110px repeat(${columns}, auto)` }}
        >
          <div role="row" style={{ display: 'contents' }}>
            <span role="columnheader" className="swap-grid-label">
              z ↓ / x<sub>T</sub> →
            </span>
            {grid.columns.map((label, c) => (
              <span key={c} role="columnheader" className="swap-grid-label" title={label}>
                x<sub>T</sub>: {label}
              </span>
            ))}
          </div>
          {grid.rows.map((rowLabel, r) => (
            <div key={r} role="row" style={{ display: 'contents' }}>
              <span role="rowheader" className="swap-grid-label" title={rowLabel}>
                z: {rowLabel}
              </span>
              {grid.columns.map((columnLabel, c) => (
                <span key={c} role="gridcell">
                  <button
                    type="button"
                    className="swap-grid-cell"
                    aria-label={`z of ${rowLabel} with x_T of ${columnLabel}: make current`}
                    disabled={!grid.cells[r * columns + c]}
                    onClick={() => pickSwapCell(r, c)}
                  >
                    <PixelCanvas
                      frame={grid.cells[r * columns + c] ?? null}
                      label={`z of ${rowLabel}, x_T of ${columnLabel}`}
                    />
                  </button>
                </span>
              ))}
            </div>
          ))}
        </div>
      )}
    </div>
  );
}

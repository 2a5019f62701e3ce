import { modelLabel } from '../app/modelCard';
import { useId, useState, type ChangeEvent, type FormEvent } from 'react';
import { useAction, useCatalog, useLoadedModel, useLoadStatus } from '../state/hooks';
import type { LoadStatus } from '../state/modelSlice';
import { ModelCard } from './ModelCard';

function formatBytes(bytes: number): string {
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(0)} KB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}

/** Loading progress in words and a bar: bytes first, then shader compilation. */
function LoadProgress({ status }: { status: Extract<LoadStatus, { kind: 'loading' }> }) {
  const progress = status.progress;
  let text = `Loading ${status.label}…`;
  let fraction: number | undefined;
  if (progress?.phase === 'download') {
    text =
      progress.totalBytes > 0
        ? `Reading weights: ${formatBytes(progress.loadedBytes)} of ${formatBytes(progress.totalBytes)}`
        : `Reading weights: ${formatBytes(progress.loadedBytes)}`;
    fraction = progress.totalBytes > 0 ? progress.loadedBytes / progress.totalBytes : undefined;
  } else if (progress?.phase === 'compile') {
    text = `Compiling shaders: ${progress.done} of ${progress.total}`;
    fraction = progress.total > 0 ? progress.done / progress.total : undefined;
  }
  return (
    <div className="load-progress" role="status">
      <span>{text}</span>
      <progress aria-label="Model loading progress" max={1} value={fraction} />
    </div>
  );
}

/** "Open a model": files or a folder from disk, or a model folder on this site. */
function OpenModelForm({ onDone }: { onDone: () => void }) {
  const openModelFiles = useAction('openModelFiles');
  const openModelUrl = useAction('openModelUrl');
  const [url, setUrl] = useState('');
  const id = useId();
  const submitUrl = (event: FormEvent) => {
    event.preventDefault();
    if (!url.trim()) return;
    onDone();
    void openModelUrl(url);
  };
  const openChosenFiles = (event: ChangeEvent<HTMLInputElement>) => {
    const files = [...(event.target.files ?? [])];
    // Cleared so that choosing the same files again still fires a change.
    event.target.value = '';
    if (files.length === 0) return;
    onDone();
    void openModelFiles(files);
  };
  return (
    <div className="open-model">
      <p className="hint">A model is a folder holding model.json and its weight shards (see docs/model-format.md).</p>
      <div className="open-model-row">
        <label className="button button-secondary file-button">
          Choose model files…
          <input
            type="file"
            multiple
            className="visually-hidden"
            aria-label="Model files"
            accept=".json,.bin,.png"
            onChange={openChosenFiles}
          />
        </label>
        <label className="button button-secondary file-button">
          Choose model folder…
          <input
            type="file"
            className="visually-hidden"
            aria-label="Model folder"
            ref={(input) => input?.setAttribute('webkitdirectory', '')}
            onChange={openChosenFiles}
          />
        </label>
      </div>
      <form className="open-model-row" onSubmit={submitUrl}>
        <label htmlFor={`${id}-url`} className="field-label">
          Model URL
        </label>
        <input
          id={`${id}-url`}
          type="text"
          placeholder="models/my-model/"
          value={url}
          onChange={(event) => setUrl(event.target.value)}
        />
        <button type="submit" className="button button-secondary">
          Open URL
        </button>
      </form>
    </div>
  );
}

/** The model picker: bundled models, "open a model", load progress and load errors. */
export function ModelPicker() {
  const { catalog, catalogStatus } = useCatalog();
  const model = useLoadedModel();
  const openBundledModel = useAction('openBundledModel');
  const [opening, setOpening] = useState(false);
  const selectId = useId();
  const bundledId = model?.origin.kind === 'bundled' ? model.origin.id : '';
  return (
    <div className="model-picker">
      <div className="model-picker-row">
        <label htmlFor={selectId} className="field-label">
          Model
        </label>
        <select
          id={selectId}
          title={model ? `${model.metadata.displayName}: ${model.metadata.description}` : undefined}
          value={bundledId}
          disabled={catalogStatus.kind === 'loading'}
          onChange={(event) => void openBundledModel(event.target.value)}
        >
          {!bundledId && (
            <option value="">{model ? `${model.metadata.displayName} (opened)` : 'Choose a model'}</option>
          )}
          {catalog.map((entry) => (
            <option key={entry.id} value={entry.id} disabled={entry.problem !== null}>
              {modelLabel(entry)}
              {entry.isFixture ? ' (test fixture)' : ''}
              {entry.problem ? ' (unavailable)' : ''}
            </option>
          ))}
        </select>
        <button
          type="button"
          className="button button-secondary"
          aria-expanded={opening}
          onClick={() => setOpening(!opening)}
        >
          Open a model…
        </button>
        <ModelCard />
      </div>
      {opening && <OpenModelForm onDone={() => setOpening(false)} />}
    </div>
  );
}

function startOfSentence(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** Model loading progress, or why the model, or the model list, could not be loaded. */
export function ModelStatus() {
  const loadStatus = useLoadStatus();
  const { catalogStatus } = useCatalog();
  return (
    <>
      {catalogStatus.kind === 'error' && (
        <p className="banner banner-error" role="alert">
          {catalogStatus.message}
        </p>
      )}
      {loadStatus.kind === 'loading' && <LoadProgress status={loadStatus} />}
      {loadStatus.kind === 'error' && (
        <div className="banner banner-error" role="alert">
          <div>
            <p>
              <strong>{startOfSentence(loadStatus.label)} could not be loaded.</strong> {loadStatus.message}
              {/[.!?]$/.test(loadStatus.message) ? '' : '.'}
            </p>
            {loadStatus.file && (
              <p>
                File at fault: <code>{loadStatus.file}</code>
              </p>
            )}
            {loadStatus.kept && <p>{loadStatus.kept} is still loaded, with your image, z and edits.</p>}
            {loadStatus.details && (
              <details className="load-error-details">
                <summary>Details</summary>
                <code>{loadStatus.details}</code>
              </details>
            )}
          </div>
        </div>
      )}
    </>
  );
}

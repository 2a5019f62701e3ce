import { memo, useCallback, useId, useMemo, useRef, useState } from 'react';
import { sliderRange } from '../latent/latentMath';
import { LockIcon, ResetIcon } from './icons';
import {
  latentValueSelector,
  useAction,
  useLatentDim,
  useLatentLocked,
  useLatentReference,
  useModelMetadata,
  useTransientSubscription,
} from '../state/hooks';
import { useSliderHold } from './useSliderHold';

const REFERENCE_NAMES = {
  encoded: 'encoded value',
  sampled: 'sampled value',
  saved: 'saved value',
  link: 'linked value',
} as const;

/**
 * One latent dimension: a native range input (keyboard operable), its value, the reference value marked under
 * the track, and lock and reset buttons. The value reaches the input and its readout through a store
 * subscription, not a React render: a drag changes z on every input event, and re-rendering for each would
 * cost the main thread far more than setting two DOM properties.
 */
const LatentSliderRow = memo(function LatentSliderRow({ dim }: { dim: number }) {
  const metadata = useModelMetadata();
  const reference = useLatentReference(dim);
  const locked = useLatentLocked(dim);
  const setLatentValue = useAction('setLatentValue');
  const hold = useSliderHold();
  const toggleLock = useAction('toggleLock');
  const resetDimension = useAction('resetDimension');
  const inputRef = useRef<HTMLInputElement>(null);
  const outputRef = useRef<HTMLOutputElement>(null);
  const id = useId();
  const range = useMemo(
    () => (metadata ? sliderRange(metadata.latent, dim) : { min: -3, max: 3, step: 0.03 }),
    [metadata, dim],
  );
  const name = metadata?.dimensionNames[dim] ?? null;
  const percent = (v: number) => `${(100 * (v - range.min)) / (range.max - range.min)}%`;

  const selectValue = useMemo(() => latentValueSelector(dim), [dim]);
  const showValue = useCallback(
    (value: number | undefined) => {
      const input = inputRef.current;
      const output = outputRef.current;
      if (!input || !output || value === undefined) return;
      const text = value.toFixed(2);
      // When the user moved the slider it already shows this value; only a change from elsewhere (reset,
      // randomise, a new image) moves the thumb.
      if (Math.abs(Number(input.value) - value) > range.step / 2) input.value = String(value);
      input.setAttribute('aria-valuetext', text);
      output.textContent = text;
    },
    [range.step],
  );
  useTransientSubscription(selectValue, showValue);

  return (
    <li className={`latent-row ${locked ? 'latent-row-locked' : ''}`}>
      <label htmlFor={id} className="latent-label">
        <span className="latent-index">z{dim + 1}</span>
        {name && (
          <span className="latent-name" id={`${id}-name`}>
            {name}
          </span>
        )}
      </label>
      <div className="latent-track">
        <input
          ref={inputRef}
          id={id}
          type="range"
          aria-label={`Latent dimension ${dim + 1}`}
          aria-describedby={name ? `${id}-name` : undefined}
          min={range.min}
          max={range.max}
          step={range.step}
          defaultValue={range.min}
          disabled={locked}
          {...hold}
          onChange={(event) => setLatentValue(dim, Number(event.target.value))}
        />
        {reference.value !== null && reference.kind && (
          <span
            className="latent-marker"
            style={{ left: percent(Math.min(range.max, Math.max(range.min, reference.value))) }}
            title={`${REFERENCE_NAMES[reference.kind]}: ${reference.value.toFixed(2)}`}
            aria-hidden="true"
          />
        )}
      </div>
      <output ref={outputRef} htmlFor={id} className="latent-value" />
      <button
        type="button"
        className={`icon-button ${locked ? 'icon-button-on' : ''}`}
        aria-pressed={locked}
        aria-label={`Lock dimension ${dim + 1}`}
        title={locked ? 'Unlock' : 'Lock'}
        onClick={() => toggleLock(dim)}
      >
        <LockIcon closed={locked} />
      </button>
      <button
        type="button"
        className="icon-button"
        aria-label={`Reset dimension ${dim + 1}`}
        title="Reset to the marked value"
        disabled={reference.value === null || locked}
        onClick={() => resetDimension(dim)}
      >
        <ResetIcon />
      </button>
    </li>
  );
});

/** One slider per latent dimension, with reset, lock and seeded randomisation from the prior. */
export function LatentPanel() {
  const latentDim = useLatentDim();
  const resetAll = useAction('resetAll');
  const randomise = useAction('randomise');
  const [seedText, setSeedText] = useState('1');
  const seedId = useId();
  const seed = Number(seedText);
  const seedValid = Number.isInteger(seed) && seed >= 0;
  return (
    <section className="card latent-panel" aria-labelledby="latent-heading">
      <div className="card-heading">
        <h2 id="latent-heading">Latent z</h2>
        <span className="hint">{latentDim} dimensions</span>
      </div>
      <div className="latent-actions">
        <button type="button" className="button button-secondary" disabled={latentDim === 0} onClick={resetAll}>
          Reset all
        </button>
        <div className="input-group">
          {/* Not the sampler's image seed: this one draws only the unlocked dimensions of z, and x_T stays (see PriorSampler). */}
          <label htmlFor={seedId} className="field-label">
            Randomise seed (unlocked z only)
          </label>
          <input
            id={seedId}
            type="number"
            min={0}
            className="seed-input"
            value={seedText}
            onChange={(event) => setSeedText(event.target.value)}
            aria-invalid={!seedValid}
            title="Draws the unlocked dimensions of z; x_T and the image seed under the generated image stay as they are"
          />
          <button
            type="button"
            className="button button-secondary"
            disabled={latentDim === 0 || !seedValid}
            onClick={() => {
              randomise(seed);
              setSeedText(String(seed + 1));
            }}
          >
            Randomise
          </button>
        </div>
      </div>
      <p className="hint">
        Drag a slider for a quick preview; the full-quality image follows when you let go. Locked dimensions keep their
        value on reset and randomise, which draws the others to suit them.
      </p>
      <ol className="latent-list">
        {Array.from({ length: latentDim }, (_, dim) => (
          <LatentSliderRow key={dim} dim={dim} />
        ))}
      </ol>
    </section>
  );
}

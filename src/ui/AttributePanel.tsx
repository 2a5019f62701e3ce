import { useId, type KeyboardEvent } from 'react';
import { useAction, useAttributeScore, useLatentDim, useModelMetadata } from '../state/hooks';
import type { AttributeDirection } from '../model/metadata';

/** Scores span this many units either side of the boundary (z has roughly unit spread per direction). */
const SCORE_RANGE = 4;
/** The slider's step; the range ends are integers, so the grid of steps is the multiples of SCORE_STEP. */
const SCORE_STEP = 0.02;

/**
 * A score rounded to the slider's grid and written as the browser writes it ("-0.06", not "-0.0600000001").
 * A range input keeps only on-grid values: given the raw score, it would store the rounded one, and React, seeing
 * the two differ, reports that rounded value as a change, which moved z back each time a key moved it (issue 32).
 */
function onGrid(score: number): string {
  return String(Number((Math.round(score / SCORE_STEP) * SCORE_STEP).toFixed(2)));
}

/**
 * One attribute direction: a native range input over its score. Keys (arrows, Page, Home, End), pointer and
 * programmatic changes all arrive as change events and set the score exactly. The row reads its own score, not a
 * deferred copy of z, so the value React holds is never older than the one the user just set.
 */
function AttributeSlider({ direction, index }: { direction: AttributeDirection; index: number }) {
  const score = useAttributeScore(index);
  const setAttributeScore = useAction('setAttributeScore');
  const beginAdjust = useAction('beginAdjust');
  const endAdjust = useAction('endAdjust');
  const id = useId();
  if (score === null) return null;
  const min = Math.min(-SCORE_RANGE, Math.floor(score));
  const max = Math.max(SCORE_RANGE, Math.ceil(score));
  return (
    <li className="attribute-row">
      <label htmlFor={id}>{direction.name}</label>
      <input
        id={id}
        type="range"
        aria-label={`Attribute ${direction.name}`}
        min={min}
        max={max}
        step={SCORE_STEP}
        value={onGrid(score)}
        onPointerDown={() => {
          beginAdjust();
          window.addEventListener('pointerup', endAdjust, { once: true });
        }}
        onKeyDown={(event: KeyboardEvent) => {
          if (
            event.key.startsWith('Arrow') ||
            event.key.startsWith('Page') ||
            event.key === 'Home' ||
            event.key === 'End'
          )
            beginAdjust();
        }}
        onKeyUp={endAdjust}
        onBlur={endAdjust}
        onChange={(event) => setAttributeScore(index, Number(event.target.value))}
      />
      <output htmlFor={id} className={score >= 0 ? 'attribute-positive' : 'attribute-negative'}>
        {score >= 0 ? '+' : ''}
        {score.toFixed(2)}
      </output>
    </li>
  );
}

/** Sliders along the model's attribute directions, applied to the current z (locked dimensions stay). */
export function AttributePanel() {
  const metadata = useModelMetadata();
  const latentDim = useLatentDim();
  const directions = metadata?.attributeDirections ?? [];
  const groups = [...new Set(directions.map((d) => d.group))];
  return (
    <div className="tool-body">
      <div className="explain">
        <h3>Attribute directions</h3>
        <p>
          Each slider moves z along a direction found by a linear classifier on encoded training images. The value is
          the signed distance from the classifier&apos;s boundary: positive means the model&apos;s code reads as that
          attribute. Moving one slider changes z along that direction only, so the others may move too when directions
          overlap.
        </p>
      </div>
      {directions.length === 0 ? (
        <p className="hint">This model ships no attribute directions.</p>
      ) : (
        <div className="attribute-groups">
          {groups.map((group) => (
            <div key={group} className="attribute-group">
              <h4>{group}</h4>
              <ul>
                {directions.map((direction, index) =>
                  direction.group === group && latentDim === direction.vector.length ? (
                    <AttributeSlider key={direction.name} direction={direction} index={index} />
                  ) : null,
                )}
              </ul>
            </div>
          ))}
        </div>
      )}
    </div>
  );
}

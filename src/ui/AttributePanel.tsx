import { useDeferredValue, useId, type KeyboardEvent } from 'react';
import { attributeScore } from '../app/latentMath';
import { useAction, useLatentVector, useModelMetadata } from '../state/hooks';
import type { AttributeDirection } from '../model/metadata';

/** Scores span this many units either side of the boundary (z has roughly unit spread per direction). */
const SCORE_RANGE = 4;

function AttributeSlider({ direction, index, score }: { direction: AttributeDirection; index: number; score: number }) {
  const setAttributeScore = useAction('setAttributeScore');
  const beginAdjust = useAction('beginAdjust');
  const endAdjust = useAction('endAdjust');
  const id = useId();
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
        step={0.02}
        value={score}
        onPointerDown={() => {
          beginAdjust();
          window.addEventListener('pointerup', endAdjust, { once: true });
        }}
        onKeyDown={(event: KeyboardEvent) => {
          if (event.key.startsWith('Arrow') || event.key.startsWith('Page')) beginAdjust();
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
  // Deferred: while a latent slider is dragged, the scores follow at low priority instead of inside each input event.
  const z = useDeferredValue(useLatentVector());
  const directions = metadata?.attributeDirections ?? [];
  const groups = [...new Set(directions.map((d) => d.group))];
  return (
    <div className="tool-body">
      <div className="explain">
        <h3>Attribute directions</h3>
        <p>
          Each slider moves z along a direction found by a linear classifier on encoded training images. The value is the signed distance from the
          classifier&apos;s boundary: positive means the model&apos;s code reads as that attribute. Moving one slider changes z along that direction
          only, so the others may move too when directions overlap.
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
                  direction.group === group && z.length === direction.vector.length ? <AttributeSlider key={direction.name} direction={direction} index={index} score={attributeScore(z, direction)} /> : null,
                )}
              </ul>
            </div>
          ))}
        </div>
      )}
    </div>
  );
}

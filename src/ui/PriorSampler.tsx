import { useId, useState, type FormEvent } from 'react';
import { useAction, useLoadedModel, useSamplingSettings } from '../state/hooks';
import { MAX_STEPS } from '../app/shareState';
import { priorLabel, priorReason } from '../latent/latentMath';

/** The integer typed in `text` when it lies in [min, max], else null. */
function parseBounded(text: string, min: number, max: number): number | null {
  const value = Number(text);
  return Number.isInteger(value) && value >= min && value <= max ? value : null;
}

/** "Sample from the prior": z ~ p(z) (the model's own prior) and x_T ~ N(0, I) from one seed, with the step counts used for rendering. */
export function PriorSampler() {
  const { steps, previewSteps, previewDecoder, studentCalls, seed } = useSamplingSettings();
  const model = useLoadedModel();
  const sampleFromPrior = useAction('sampleFromPrior');
  const setSteps = useAction('setSteps');
  const setPreviewSteps = useAction('setPreviewSteps');
  const setPreviewDecoder = useAction('setPreviewDecoder');
  const [seedText, setSeedText] = useState(String(seed));
  // A seed set elsewhere (a link, a restored session) replaces what the field shows.
  const [shownSeed, setShownSeed] = useState(seed);
  if (seed !== shownSeed) {
    setShownSeed(seed);
    setSeedText(String(seed));
  }
  const id = useId();
  const seedValue = parseBounded(seedText, 0, 2 ** 32 - 1);

  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (seedValue !== null) sampleFromPrior(seedValue);
  };
  return (
    <form className="prior-sampler" onSubmit={submit} aria-labelledby={`${id}-heading`}>
      <h3 id={`${id}-heading`}>Sample from the prior</h3>
      {model && (
        <p className="hint">
          z ~ {priorLabel(model.metadata.latent)}, {priorReason(model.metadata.latent)}; x_T ~ N(0, I) and the noise of
          every step (stochastic DDIM, η = 1); all from the seed.
        </p>
      )}
      <div className="prior-sampler-fields">
        <div className="field">
          <label htmlFor={`${id}-seed`}>Image seed</label>
          <input
            id={`${id}-seed`}
            type="number"
            min={0}
            step={1}
            value={seedText}
            onChange={(event) => setSeedText(event.target.value)}
            aria-invalid={seedValue === null}
            title="Names a whole image: z, x_T and the step noise of a prior draw; a link carries it as seed="
          />
        </div>
        <div className="field">
          <label htmlFor={`${id}-steps`}>Steps</label>
          <input
            id={`${id}-steps`}
            type="number"
            min={1}
            max={MAX_STEPS}
            aria-describedby={`${id}-steps-range`}
            value={steps}
            onChange={(event) => {
              const value = parseBounded(event.target.value, 1, MAX_STEPS);
              if (value !== null) setSteps(value);
            }}
          />
          <span id={`${id}-steps-range`} className="field-range">
            1 to {MAX_STEPS}
          </span>
        </div>
        <div className="field">
          <label htmlFor={`${id}-preview`}>Preview steps</label>
          <input
            id={`${id}-preview`}
            type="number"
            min={1}
            max={steps}
            aria-describedby={`${id}-preview-range`}
            value={previewSteps}
            onChange={(event) => {
              const value = parseBounded(event.target.value, 1, steps);
              if (value !== null) setPreviewSteps(value);
            }}
          />
          <span id={`${id}-preview-range`} className="field-range">
            1 to {steps}
          </span>
        </div>
        {studentCalls !== null && (
          <div className="field">
            <label htmlFor={`${id}-previews`}>Previews</label>
            <select
              id={`${id}-previews`}
              value={previewDecoder}
              title="Who draws the image while z changes, before the full sampler's: the model's distilled student (its whole plan for a typed value, reset or new draw; while a slider is held by pointer or key, as many calls as fit a 30 fps frame, which the status line names), or DDIM with the preview steps"
              onChange={(event) => setPreviewDecoder(event.target.value === 'ddim' ? 'ddim' : 'student')}
            >
              <option value="student">
                student ({studentCalls} {studentCalls === 1 ? 'call' : 'calls'})
              </option>
              <option value="ddim">
                full sampler ({previewSteps} {previewSteps === 1 ? 'step' : 'steps'})
              </option>
            </select>
          </div>
        )}
      </div>
      <div className="button-row">
        <button type="submit" className="button" disabled={!model || seedValue === null}>
          Sample from the prior
        </button>
        <button
          type="button"
          className="button button-quiet"
          disabled={!model}
          onClick={() => {
            const next = (seedValue ?? seed) + 1;
            setSeedText(String(next));
            sampleFromPrior(next);
          }}
        >
          Next seed
        </button>
      </div>
    </form>
  );
}

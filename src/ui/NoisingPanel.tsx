import { useEffect, useId } from 'react';
import { sigmoid } from '../diffusion/sigmoid';
import { useAction, useAnalysisSubject, useForwardNoise, useInput, useStoreApi } from '../state/hooks';
import { PixelCanvas } from './PixelCanvas';
import { TaskStatusLine } from './TaskStatusLine';

/** The forward process at a chosen log-SNR: x_t = sqrt(alphaBar) x + sqrt(1 - alphaBar) eps, alphaBar = sigmoid(logSnr). */
export function NoisingPanel() {
  const { logSnr, forwardNoise, status } = useForwardNoise();
  const subject = useAnalysisSubject();
  const { source } = useInput();
  const setLogSnr = useAction('setLogSnr');
  const store = useStoreApi();
  const id = useId();
  const alphaBar = sigmoid(logSnr);

  // Noise the image as soon as the view opens or the image changes, at the level already chosen.
  useEffect(() => {
    if (subject) void setLogSnr(store.getState().logSnr);
  }, [subject, source, store, setLogSnr]);

  return (
    <div className="tool-body">
      <div className="explain">
        <h3>Forward noising</h3>
        <p>
          Training adds Gaussian noise to images: x<sub>t</sub> = √ᾱ·x + √(1−ᾱ)·ε. The log signal-to-noise ratio,
          log(ᾱ/(1−ᾱ)), says how much of the image is left: at +5 it is barely touched, at 0 signal and noise are equal,
          at −5 almost nothing of it remains. The denoiser learns to undo every level; the slider also shows which
          network timestep t sits at that level in this model&apos;s schedule.
        </p>
      </div>
      {!subject ? (
        <p className="hint">Generate or upload an image first.</p>
      ) : (
        <>
          <div className="tool-controls">
            <label htmlFor={id} className="field-label">
              Log-SNR
            </label>
            <input
              id={id}
              type="range"
              min={-10}
              max={10}
              step={0.1}
              value={logSnr}
              onChange={(event) => void setLogSnr(Number(event.target.value))}
              className="wide-range"
            />
            <output htmlFor={id}>{logSnr.toFixed(1)}</output>
          </div>
          <TaskStatusLine status={status} name="noising" />
          <div className="noising-view">
            <figure>
              <PixelCanvas
                frame={forwardNoise?.xt ?? null}
                label={`${subject} noised to log-SNR ${logSnr.toFixed(1)}`}
                className="teaching-canvas"
              />
              <figcaption>x_t of {forwardNoise?.imageLabel ?? subject}</figcaption>
            </figure>
            <dl className="facts">
              <div>
                <dt>
                  <span className="symbol">ᾱ</span> (signal share)
                </dt>
                <dd>{alphaBar.toFixed(4)}</dd>
              </div>
              <div>
                <dt>
                  Noise share <span className="symbol">√(1−ᾱ)</span>
                </dt>
                <dd>{Math.sqrt(1 - alphaBar).toFixed(4)}</dd>
              </div>
              <div>
                <dt>
                  Nearest timestep <span className="symbol">t</span>
                </dt>
                <dd>{forwardNoise ? forwardNoise.nearestTimestep : '–'}</dd>
              </div>
            </dl>
          </div>
        </>
      )}
    </div>
  );
}

import { useId } from 'react';
import { useAction, useAnalysisSubject, useImmse, useModelMetadata } from '../state/hooks';
import { MmseChart } from './MmseChart';
import { TaskStatusLine } from './TaskStatusLine';

const SAMPLE_CHOICES = [32, 64, 128, 256];

/** The I-MMSE view of Information-Theoretic Diffusion: the MMSE curve, its gap to the Gaussian baseline, and -log p(x). */
export function ImmsePanel() {
  const { immse, nllSamples } = useImmse();
  const subject = useAnalysisSubject();
  const metadata = useModelMetadata();
  const runImmse = useAction('runImmse');
  const cancelImmse = useAction('cancelImmse');
  const setNllSamples = useAction('setNllSamples');
  const id = useId();
  const dimensions = metadata ? metadata.preprocessing.imageSize ** 2 * metadata.preprocessing.channels : 0;
  return (
    <div className="tool-body">
      <div className="explain">
        <h3>Likelihood from denoising (I-MMSE)</h3>
        <p>
          Information-Theoretic Diffusion links denoising to probability: the better a denoiser recovers an image from
          every level of noise, the more likely the image. The curve is the denoiser&apos;s mean squared error on this
          image against the noise level. The dashed curve is what the best linear denoiser achieves on a Gaussian with
          the data&apos;s statistics; half the shaded area between them is how many nats −log p(x) lies below that
          Gaussian&apos;s. The estimate averages {nllSamples} random noise levels, hence the ± standard error.
        </p>
        <ul className="legend">
          <li>
            <span className="swatch swatch-model" /> this model
          </li>
          <li>
            <span className="swatch swatch-gaussian" /> Gaussian reference
          </li>
          <li>
            <span className="swatch swatch-normal" /> N(0, I): d·σ(α)
          </li>
        </ul>
      </div>
      <div className="tool-controls">
        <label htmlFor={id} className="field-label">
          Noise levels
        </label>
        <select id={id} value={nllSamples} onChange={(event) => setNllSamples(Number(event.target.value))}>
          {SAMPLE_CHOICES.map((k) => (
            <option key={k} value={k}>
              {k}
            </option>
          ))}
        </select>
        <button type="button" className="button" disabled={!subject} onClick={() => void runImmse()}>
          Estimate for {subject ?? 'an image'}
        </button>
      </div>
      <TaskStatusLine status={immse.status} onCancel={cancelImmse} name="likelihood estimate" />
      {immse.nll && (
        <dl className="facts nll-facts" aria-label="Likelihood estimate">
          <div>
            <dt>−log p(x), continuous</dt>
            <dd data-testid="immse.bpd">
              {immse.nll.bitsPerDim.toFixed(3)} ± {immse.nll.stdErr.toFixed(3)} bits/dim
            </dd>
          </div>
          <div>
            <dt>As 8-bit pixels (dequantised bound)</dt>
            <dd>{immse.nll.bitsPerDim8bit.toFixed(3)} bits/dim</dd>
          </div>
          <div>
            <dt>Denoiser calls</dt>
            <dd>{immse.nll.denoiserCalls}</dd>
          </div>
        </dl>
      )}
      {immse.curve && <MmseChart curve={immse.curve} dimensions={dimensions} />}
    </div>
  );
}

import { modelLabel } from '../app/modelCard';
import { useId, useMemo } from 'react';
import type { BitsWithError, ItdFigures, ItdResult } from '../engine/protocol';
import { useAction, useAnalysisSubject, useCatalog, useImmse, useModelMetadata } from '../state/hooks';
import { MmseChart, type ChartSeries } from './MmseChart';
import { TaskStatusLine } from './TaskStatusLine';
import './immse.css';

const SAMPLE_CHOICES = [32, 64, 128, 256];

/** "3.812 ± 0.041". */
function figure(value: BitsWithError, digits = 3): string {
  return `${value.bitsPerDim.toFixed(digits)} ± ${value.stdErr.toFixed(digits)}`;
}

/** Contiguous log-SNR runs where each model's discrete curve is the lower one: "−10.3 to 2.1". */
function winnerRuns(
  logSnr: readonly number[],
  winner: readonly number[],
): { member: number; from: number; to: number }[] {
  const runs: { member: number; from: number; to: number }[] = [];
  winner.forEach((member, j) => {
    const last = runs[runs.length - 1];
    if (last && last.member === member) last.to = logSnr[j];
    else runs.push({ member, from: logSnr[j], to: logSnr[j] });
  });
  return runs;
}

/** The three figures of one denoiser, as table cells (exact discrete leads: it is the comparable one). */
function FigureCells({ figures }: { figures: ItdFigures }) {
  return (
    <>
      <td>{figure(figures.discrete)}</td>
      <td>{figure(figures.dequantisedBound)}</td>
      <td>{figure(figures.continuous)}</td>
    </>
  );
}

function Results({ result, dimensions, shape }: { result: ItdResult; dimensions: number; shape: string }) {
  const [main, other] = result.members;
  const curve = main.curve;
  const ensemble = result.ensemble;
  const memberName = (m: number) => (m === 0 ? 'this model' : result.members[m].displayName);
  const series: ChartSeries[] = [
    { key: 'normal', values: curve.standardNormal, className: 'chart-normal' },
    { key: 'gaussian', values: curve.gaussian, className: 'chart-gaussian' },
    { key: 'model', values: curve.mmse, className: 'chart-model' },
  ];
  if (curve.discrete) series.push({ key: 'discrete', values: curve.discrete, className: 'chart-discrete' });
  if (other) {
    series.push({ key: 'other', values: other.curve.mmse, className: 'chart-other' });
    if (other.curve.discrete)
      series.push({ key: 'other-discrete', values: other.curve.discrete, className: 'chart-other-discrete' });
  }
  if (ensemble) series.push({ key: 'ensemble', values: ensemble.discreteMmse, className: 'chart-ensemble' });
  const [trainedLow, trainedHigh] = result.trainedLogSnrRange;
  return (
    <>
      <table className="immse-table" aria-label="Likelihood estimates">
        <thead>
          <tr>
            <th scope="col">Denoiser</th>
            <th scope="col">
              Exact discrete −log₂ P(x)
              <br />
              <small>bits per 8-bit pixel</small>
            </th>
            <th scope="col">
              Dequantised bound
              <br />
              <small>bits per 8-bit pixel</small>
            </th>
            <th scope="col">
              Continuous density −log₂ p(x̃)
              <br />
              <small>bits/dim in [−1, 1]</small>
            </th>
          </tr>
        </thead>
        <tbody>
          {result.members.map((member, m) => (
            <tr key={member.id} data-testid={`immse.row.${m === 0 ? 'model' : 'compare'}`}>
              <th scope="row">
                {modelLabel(member)}
                {m === 0 ? ', z = Enc(x)' : ', its own z = Enc(x)'}
              </th>
              <FigureCells figures={member} />
            </tr>
          ))}
          {ensemble && (
            <tr data-testid="immse.row.ensemble">
              <th scope="row">Ensemble: the lower curve at each noise level</th>
              <FigureCells figures={ensemble} />
            </tr>
          )}
          {result.unconditional && (
            <tr data-testid="immse.row.unconditional">
              <th scope="row">
                This model without z (averaged over {result.unconditional.priorDraws} prior draws of z)
              </th>
              <FigureCells figures={result.unconditional} />
            </tr>
          )}
        </tbody>
      </table>
      <p className="immse-notes">
        Lower is better. <strong>Exact discrete</strong> is the probability of this very 8-bit image, the figure to
        compare across models and with published bits per dimension: the denoiser&apos;s estimate is rounded to the 256
        pixel levels, so its error falls to zero at high SNR and the area under that curve is −log P(x) (Kong,
        Brekelmans &amp; Ver Steeg, 2023). <strong>Dequantised bound</strong> is the continuous density of the image
        plus uniform noise within each level, shifted by log₂ 127.5: an upper bound on the same quantity.{' '}
        <strong>Continuous density</strong> is the density in [−1, 1] space, usually negative (a density above 1 on a
        small cube). ± is one standard error over the random noise levels.
      </p>
      {result.zSaves && (
        <p className="immse-notes" data-testid="immse.zSaves">
          <strong>What z tells the denoiser:</strong> knowing z = Enc(x) saves {figure(result.zSaves.perPixel)} bits per
          pixel, about {Math.round(result.zSaves.totalBits).toLocaleString('en')} bits for the whole image (exact
          discrete, without z minus with z, on the same noise draws). That is the information the code carries about
          this image, which the InfoDiffusion objective maximises.
        </p>
      )}
      {ensemble && (
        <p className="immse-notes" data-testid="immse.winner.text">
          <strong>Which model wins where</strong> (lower exact-discrete curve, the strip along the chart&apos;s top):{' '}
          {winnerRuns(curve.logSnr, ensemble.winner)
            .map((run) =>
              run.from === run.to
                ? `${memberName(run.member)} at log-SNR ${run.from.toFixed(1)}`
                : `${memberName(run.member)} from log-SNR ${run.from.toFixed(1)} to ${run.to.toFixed(1)}`,
            )
            .join('; ')}
          . The ensemble uses the better of the two at each noise level, as the I-MMSE relation allows. It reads which
          is better from these curves, drawn with their own noise, so that the choice never sees the draws it is scored
          on: on one image it can land a hair above the better model; over many images it cannot.
        </p>
      )}
      <MmseChart
        logSnr={curve.logSnr}
        series={series}
        dimensions={dimensions}
        shade={{ upper: curve.gaussian, lower: curve.mmse }}
        trainedLogSnrRange={result.trainedLogSnrRange}
        winner={ensemble ? { values: ensemble.winner, classNames: ['winner-model', 'winner-other'] } : undefined}
        ariaLabel="MMSE against log-SNR: this model's continuous and discrete curves against the Gaussian reference"
      />
      <ul className="legend">
        <li>
          <span className="swatch swatch-model" /> this model
        </li>
        {curve.discrete && (
          <li>
            <span className="swatch swatch-discrete" /> this model, rounded to 8 bits (exact discrete)
          </li>
        )}
        {other && (
          <li>
            <span className="swatch swatch-other" /> {other.displayName} (and rounded, dashed)
          </li>
        )}
        {ensemble && (
          <li>
            <span className="swatch swatch-ensemble" /> ensemble (discrete)
          </li>
        )}
        <li>
          <span className="swatch swatch-gaussian" /> Gaussian reference
        </li>
        <li>
          <span className="swatch swatch-normal" /> N(0, I): d·σ(α)
        </li>
      </ul>
      {result.unconditional && (
        <MmseChart
          logSnr={curve.logSnr}
          series={[
            { key: 'with', values: curve.discrete ?? curve.mmse, className: 'chart-discrete' },
            {
              key: 'without',
              values: result.unconditional.curve.discrete ?? result.unconditional.curve.mmse,
              className: 'chart-unconditional',
            },
          ]}
          dimensions={dimensions}
          shade={{
            upper: result.unconditional.curve.discrete ?? result.unconditional.curve.mmse,
            lower: curve.discrete ?? curve.mmse,
          }}
          trainedLogSnrRange={result.trainedLogSnrRange}
          ariaLabel="Exact-discrete MMSE with z = Enc(x) and without z: half the shaded area is what z saves"
        />
      )}
      {result.unconditional && (
        <ul className="legend">
          <li>
            <span className="swatch swatch-discrete" /> with z = Enc(x)
          </li>
          <li>
            <span className="swatch swatch-unconditional" /> without z (prior draws averaged)
          </li>
        </ul>
      )}
      <p className="immse-notes">
        <strong>d = {dimensions.toLocaleString('en')}</strong>, the number of pixel values ({shape}): errors are summed
        over them, so a curve at d does no better than guessing no noise at all. The network was trained at log-SNR{' '}
        {trainedLow.toFixed(1)} to {trainedHigh.toFixed(1)} only (the white band); outside it (grey) the estimates do
        not ask it but use the Gaussian reference&apos;s denoiser (and, for the discrete figure above the band, plain
        rounding of the noisy image), with closed-form tails beyond the sampled range {result.logSnrRange[0].toFixed(1)}{' '}
        to {result.logSnrRange[1].toFixed(1)}. Every stand-in is a real denoiser, so each figure stays an upper bound in
        expectation. The curves still show the network&apos;s own error out there, for what it is worth.
      </p>
      <p className="immse-notes" data-testid="immse.cost">
        Scored {result.scored.toLocaleString('en')} noisy images (the progress count):{' '}
        {result.networkEvaluations.toLocaleString('en')} network evaluations in {result.networkCalls} batched calls (the
        run without z asks the network once per prior draw; outside the trained range it is not asked),{' '}
        {(result.elapsedMs / 1000).toFixed(1)} s.
      </p>
    </>
  );
}

/** The I-MMSE view of Information-Theoretic Diffusion: MMSE curves, likelihoods, comparison and what z saves. */
export function ImmsePanel() {
  const { immse, nllSamples, compareWith } = useImmse();
  const subject = useAnalysisSubject();
  const metadata = useModelMetadata();
  const { catalog } = useCatalog();
  // Bundled models of the same data set: scored on the same image, they can be compared and ensembled.
  const compareChoices = useMemo(
    () =>
      catalog.filter(
        (entry) =>
          entry.problem === null &&
          metadata !== null &&
          entry.id !== metadata.id &&
          entry.dataset === metadata.provenance.dataset &&
          entry.imageShape === `${metadata.preprocessing.imageSize}x${metadata.preprocessing.channels}`,
      ),
    [catalog, metadata],
  );
  const runImmse = useAction('runImmse');
  const cancelImmse = useAction('cancelImmse');
  const setNllSamples = useAction('setNllSamples');
  const setImmseCompareWith = useAction('setImmseCompareWith');
  const id = useId();
  const size = metadata?.preprocessing.imageSize ?? 0;
  const channels = metadata?.preprocessing.channels ?? 0;
  const dimensions = size * size * channels;
  return (
    <div className="tool-body">
      <div className="explain">
        <h3>Likelihood from denoising (I-MMSE)</h3>
        <p>
          Information-Theoretic Diffusion links denoising to probability: the better a denoiser recovers an image from
          every level of noise, the more probable the image. The curves are the denoiser&apos;s squared error on this
          image against the noise level; half the area under the rounded curve is −log P(x). Pick a second model of the
          same data to compare the two on the same image and the same noise, and to see their ensemble.
        </p>
      </div>
      <div className="tool-controls">
        <label htmlFor={`${id}-samples`} className="field-label">
          Noise levels
        </label>
        <select id={`${id}-samples`} value={nllSamples} onChange={(event) => setNllSamples(Number(event.target.value))}>
          {SAMPLE_CHOICES.map((k) => (
            <option key={k} value={k}>
              {k}
            </option>
          ))}
        </select>
        <label htmlFor={`${id}-compare`} className="field-label">
          Compare with
        </label>
        <select
          id={`${id}-compare`}
          value={compareWith ?? ''}
          onChange={(event) => setImmseCompareWith(event.target.value || null)}
        >
          <option value="">no other model</option>
          {compareChoices.map((choice) => (
            <option key={choice.id} value={choice.id}>
              {modelLabel(choice)}
            </option>
          ))}
        </select>
        <button type="button" className="button" disabled={!subject} onClick={() => void runImmse()}>
          Estimate for {subject ?? 'an image'}
        </button>
      </div>
      <TaskStatusLine status={immse.status} onCancel={cancelImmse} name="likelihood estimate" />
      {immse.result && (
        <Results
          result={immse.result}
          dimensions={dimensions}
          shape={`${size}×${size}${channels === 1 ? ' grayscale' : ` × ${channels} channels`}`}
        />
      )}
    </div>
  );
}

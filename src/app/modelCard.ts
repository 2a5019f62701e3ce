/**
 * What a user should know about the model in front of them, in words: the data, the latent, the objective, how
 * far it was trained, and the measured numbers its package carries (provenance.metrics, written by
 * train/infodiff/evaluate.py). Plain data in, label/value rows out; the UI only lays them out.
 */
import type { ModelMetadata } from '../model/metadata';

export interface ModelCardRow {
  label: string;
  value: string;
}

export interface ModelCard {
  facts: ModelCardRow[];
  /** Only the measurements the package has; empty for a package without metrics (fixture, converted). */
  metrics: ModelCardRow[];
  notes: string;
}

/** The value at `path` in a JSON-like object, or undefined. */
function at(value: unknown, path: readonly string[]): unknown {
  let node = value;
  for (const key of path) {
    if (typeof node !== 'object' || node === null) return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}

function numberAt(value: unknown, ...path: string[]): number | undefined {
  const found = at(value, path);
  return typeof found === 'number' && Number.isFinite(found) ? found : undefined;
}

/** ' (mean over factors)' when a per-attribute block holds shapes factors rather than the one 'class'. */
function overFactors(block: unknown): string {
  return typeof block === 'object' && block !== null && !('class' in block) ? ' (mean over factors)' : '';
}

const count = (n: number) => Math.round(n).toLocaleString('en-US');
const percent = (fraction: number) => `${(100 * fraction).toFixed(1)}%`;

/**
 * A model's name in pickers and tables: its display name, plus " (baseline)" for a comparison baseline
 * (metadata.baselineOf) whose name does not say so already.
 */
export function modelLabel(model: { displayName: string; baselineOf?: string | null }): string {
  const saysBaseline = /\bbaseline\b/i.test(model.displayName);
  return model.baselineOf && !saysBaseline ? `${model.displayName} (baseline)` : model.displayName;
}

/** "3h06m", "12m", "45s". */
export function formatDuration(seconds: number): string {
  if (!(seconds >= 0)) return 'unknown time';
  if (seconds < 60) return `${Math.round(seconds)}s`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `${minutes}m`;
  return `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, '0')}m`;
}

function objectiveText(objective: Record<string, unknown>): string {
  const mmd = numberAt(objective, 'mmdWeight') ?? 0;
  const kld = numberAt(objective, 'kldWeight') ?? 0;
  if (kld > 0) return `variational encoder, KL weight ${kld}${mmd > 0 ? ` and MMD λ ${mmd}` : ''}`;
  if (mmd > 0) return `InfoDiffusion: deterministic encoder, MMD towards the prior (λ ${mmd})`;
  return 'DiffAE-style: deterministic encoder, no prior regulariser';
}

/**
 * "floor hue 53%, wall hue 38%, ...": per factor, the share of its pixel change that swapping z alone produces
 * over an uploaded image's inverted noise (train/infodiff/factor_swap.py), which is what a slider can move.
 */
function swapShares(block: unknown): string | undefined {
  if (typeof block !== 'object' || block === null) return undefined;
  const parts = Object.entries(block).flatMap(([factor, shares]) => {
    const share = numberAt(shares, 'invertedNoise');
    return share === undefined ? [] : [`${factor.replace(/_/g, ' ')} ${Math.round(100 * share)}%`];
  });
  return parts.length > 0 ? parts.join(', ') : undefined;
}

/**
 * evaluate.py's measurement of prior samples drawn the way this app draws them (metrics.samplers): stochastic DDIM
 * (η = 1), z from the mixture fitted to the codes when the package has one, else from N(0, I). The headline
 * numbers are measured on N(0, I) and η = 0, which is not what a user of the app sees.
 */
function appSampler(metrics: Record<string, unknown>, fittedPrior: boolean): Record<string, unknown> | undefined {
  const samplers = at(metrics, ['samplers']);
  if (!Array.isArray(samplers)) return undefined;
  const prior = fittedPrior ? 'fitted' : 'model';
  return samplers.find(
    (s): s is Record<string, unknown> => typeof s === 'object' && s !== null && s.prior === prior && s.eta === 1,
  );
}

/** '; 27.4 as this app samples (fitted mixture, η = 1)' and the like, or '' when nothing was measured. */
function asTheAppSamples(
  measured: number | undefined,
  format: (value: number) => string,
  fittedPrior: boolean,
): string {
  return measured === undefined
    ? ''
    : `; ${format(measured)} as this app samples (${fittedPrior ? 'fitted mixture' : 'z ~ N(0, I)'}, η = 1)`;
}

/** ' with z ~ N(0, I), η = 0': the sampler of the headline FD and confidence, as evaluate.py recorded it. */
function headlineSampler(metrics: Record<string, unknown>): string {
  const prior = at(metrics, ['frechetDistance', 'prior']);
  const eta = numberAt(metrics, 'frechetDistance', 'eta');
  return typeof prior === 'string' && eta !== undefined ? ` with ${prior}, η = ${eta}` : '';
}

function metricRows(metrics: Record<string, unknown>, fittedPrior: boolean): ModelCardRow[] {
  const rows: ModelCardRow[] = [];
  const probe = numberAt(metrics, 'linearProbe', 'meanAccuracy');
  if (probe !== undefined) {
    rows.push({
      label: 'Linear probe of z',
      value: `${percent(probe)}${overFactors(at(metrics, ['linearProbe', 'attributes']))}, 5-fold`,
    });
  }
  const dci = numberAt(metrics, 'dci', 'disentanglement');
  if (dci !== undefined) rows.push({ label: 'Disentanglement (DCI)', value: dci.toFixed(3) });
  const swapped = swapShares(at(metrics, ['factorSwap', 'factors']));
  if (swapped)
    rows.push({ label: 'What z decides (factor swap)', value: `${swapped}; the rest follows the starting noise x_T` });
  const app = appSampler(metrics, fittedPrior);
  // The headline sampler is named only when the app's own is shown beside it.
  const headline = app ? headlineSampler(metrics) : '';
  const oneDecimal = (value: number) => value.toFixed(1);
  const fd = numberAt(metrics, 'frechetDistance', 'frechetDistance');
  if (fd !== undefined) {
    const samples = numberAt(metrics, 'frechetDistance', 'sampleCount');
    const appFd = asTheAppSamples(numberAt(app, 'frechetDistance'), oneDecimal, fittedPrior);
    rows.push({
      label: 'Fréchet distance of samples',
      value: `${fd.toFixed(1)}${samples ? ` (${count(samples)} samples)` : ''}${headline}${appFd}`,
    });
  }
  const confidence = numberAt(metrics, 'recognisability', 'samples', 'meanConfidence');
  if (confidence !== undefined) {
    const heads = at(metrics, ['recognisability', 'samples', 'heads']);
    const appConfidence = asTheAppSamples(numberAt(app, 'recognisability', 'meanConfidence'), percent, fittedPrior);
    const real = numberAt(metrics, 'recognisability', 'testImages', 'meanConfidence');
    const onRealImages = real === undefined ? '' : `; ${percent(real)} on real test images`;
    rows.push({
      label: "Classifier's confidence on samples",
      value: `${percent(confidence)}${overFactors(heads)}${headline}${appConfidence}${onRealImages}`,
    });
  }
  const nll = numberAt(metrics, 'nll', 'bitsPerDim8bit');
  if (nll !== undefined) rows.push({ label: '−log p(x | z)', value: `${nll.toFixed(2)} bits/dim (I-MMSE)` });
  const psnr = numberAt(metrics, 'reconstruction', 'inversion100', 'psnr');
  if (psnr !== undefined)
    rows.push({ label: 'Reconstruction', value: `${psnr.toFixed(1)} dB PSNR (100-step inversion)` });
  const measuredAt = numberAt(metrics, 'model', 'trainingSteps');
  if (rows.length > 0 && measuredAt !== undefined)
    rows.push({ label: 'Measured at', value: `step ${count(measuredAt)}` });
  return rows;
}

/**
 * What the distilled student that draws the previews is, and how faithful it measured (train/infodiff/student.py
 * `evaluate`, summarised into metadata.student.fidelity): "2 calls (v-prediction) for the 20-step sampler; 29.1 dB
 * PSNR against it at 2 calls, 24.0 at 1, plain DDIM 16.4, on 1,000 held-out images; on prior draws a Fréchet
 * distance of 5.6 against the full sampler's 5.1 on the same draws (12.3 at 1 call); distilled in 3,000 steps,
 * 2h10m".
 */
function studentFact(metadata: ModelMetadata): ModelCardRow | undefined {
  const student = metadata.student;
  if (!student) return undefined;
  const calls = student.plan.length;
  const parts = [
    `a distilled student draws the image while z changes: ${calls} ${calls === 1 ? 'call' : 'calls'} (${student.parameterisation}-prediction) standing in for the ${student.teacherSteps}-step sampler`,
  ];
  const last = numberAt(student.fidelity, 'inverted', `calls${calls}`);
  if (last !== undefined) {
    const first = calls > 1 ? numberAt(student.fidelity, 'inverted', 'calls1') : undefined;
    const plain = numberAt(student.fidelity, 'plainDdim', `calls${calls}`);
    const images = numberAt(student.fidelity, 'images');
    parts.push(
      `${last.toFixed(1)} dB PSNR against it at ${calls} ${calls === 1 ? 'call' : 'calls'}` +
        (first !== undefined ? `, ${first.toFixed(1)} at 1` : '') +
        (plain !== undefined ? `, plain DDIM ${plain.toFixed(1)}` : '') +
        (images !== undefined ? `, on ${count(images)} held-out images` : ''),
    );
  }
  const priorDistance = numberAt(student.fidelity, 'priorFrechet', `calls${calls}`);
  const settledDistance = numberAt(student.fidelity, 'settledFrechet');
  if (priorDistance !== undefined && settledDistance !== undefined) {
    const first = calls > 1 ? numberAt(student.fidelity, 'priorFrechet', 'calls1') : undefined;
    parts.push(
      `on prior draws a Fréchet distance of ${priorDistance.toFixed(1)} against the full sampler's ` +
        `${settledDistance.toFixed(1)} on the same draws` +
        (first !== undefined ? ` (${first.toFixed(1)} at 1 call)` : ''),
    );
  }
  const steps = numberAt(student.training, 'steps');
  const seconds = numberAt(student.training, 'wallTimeSeconds');
  if (metadata.provenance.source === 'fixture') parts.push('random weights');
  else if (steps !== undefined)
    parts.push(`distilled in ${count(steps)} steps${seconds !== undefined ? `, ${formatDuration(seconds)}` : ''}`);
  return { label: 'Previews', value: parts.join('; ') };
}

/** The card of a model package's metadata. */
export function modelCard(metadata: ModelMetadata): ModelCard {
  const { architecture: arch, latent, provenance } = metadata;
  const colour = arch.imageChannels === 1 ? 'grayscale' : 'RGB';
  const prior = latent.prior === '10mix' ? 'ten-Gaussian mixture prior' : 'N(0, I) prior';
  const facts: ModelCardRow[] = [
    { label: 'Data', value: `${provenance.dataset}, ${arch.imageSize}×${arch.imageSize} ${colour}` },
    {
      label: 'Latent',
      value: `${arch.latentDim} dimensions, ${prior}${latent.fitted ? `; samples from a ${latent.fitted.weights.length}-component mixture fitted to the codes` : ''}`,
    },
    { label: 'Objective', value: objectiveText(provenance.objective) },
  ];
  // A baseline package (metadata.baselineOf) says so first: it is there to be compared with, not as the model.
  if (metadata.baselineOf) facts.unshift({ label: 'Role', value: `baseline of ${metadata.baselineOf}` });
  if (provenance.source === 'fixture') {
    facts.push({ label: 'Weights', value: 'random (a test fixture, not a trained model)' });
  } else {
    const how =
      provenance.source === 'converted-official' ? 'converted from an official checkpoint' : 'trained by train/';
    // A converted checkpoint may not know its budget: its provenance then says 0.
    const budget =
      provenance.steps > 0 ? `${count(provenance.steps)} steps of batch ${provenance.batchSize}` : 'steps unknown';
    const time = provenance.wallTimeSeconds > 0 ? `, ${formatDuration(provenance.wallTimeSeconds)}` : '';
    facts.push({ label: 'Training', value: `${budget}${time} on ${provenance.hardware} (${how})` });
  }
  const previews = studentFact(metadata);
  if (previews) facts.push(previews);
  return { facts, metrics: metricRows(provenance.metrics, latent.fitted !== undefined), notes: provenance.notes };
}

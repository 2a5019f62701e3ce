/**
 * The I-MMSE analysis of one image (Information-Theoretic Diffusion, Kong, Brekelmans & Ver Steeg, ICLR 2023): for the
 * loaded model, and optionally a second package of the same data set scored on the same image and the same draws,
 * the MMSE curves (continuous and exact-discrete), the continuous, dequantised and exact-discrete figures with their
 * standard errors, their ensemble (the paper's ensembling argument: at each log-SNR the member with the lower curve), and the same
 * image scored without its code (z averaged over prior draws) to show how many bits z = Enc(x) saves. Every
 * member uses the loaded model's Gaussian reference and seed, so the draws are shared and differences are paired.
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  ensembleChoiceFromCurves,
  ensembleNll,
  estimateNll,
  mmseCurve,
  priorAveragedPredictor,
  trainedLogSnrRange,
  type BitsWithError,
  type ItdEpsPredictor,
  type MmseCurve,
  type NllEstimate,
  type NoiseSchedule,
} from '../diffusion/index';
import type { ImageBatch, LatentBatch, ModelSource } from './protocol';
import type { ReadyModel, RequestContext } from './requests';
import { imageTensor, latentTensor, RequestError } from './tensors';

/**
 * Scores one image ([1,H,W,C]) by I-MMSE. Progress: 'calls' events counting noisy images scored (done of total,
 * whether or not the network was queried for them), so the final `scored` equals the last event's total.
 */
export interface ItdRequest {
  id: number;
  kind: 'itd';
  images: ImageBatch;
  /** The loaded model's code of the image (an edited latent); default Enc(x). */
  z?: LatentBatch;
  /** Log-SNR samples K per pass of each likelihood (two passes: continuous and exact-discrete). */
  samples: number;
  /** Curve grid points and noise draws per point. */
  points: number;
  repeats: number;
  seed?: number;
  /** Prior draws [S, D] for the unconditional figures (the network averaged over them, never Enc(x)). */
  zPrior?: LatentBatch;
  /** A second package of the same data set (e.g. the model's baseline), scored on the same image and draws. */
  compareWith?: ModelSource;
}

export interface ItdFigures {
  /** -log p(x̃) of the continuous density in [-1, 1] space, bits/dim. */
  continuous: BitsWithError;
  /** continuous + log2(127.5): bits per 8-bit pixel, an upper bound in expectation. */
  dequantisedBound: BitsWithError;
  /** -log2 P(x) of the 8-bit image, bits per pixel (tails included). */
  discrete: BitsWithError;
}

export interface ItdMemberResult extends ItdFigures {
  id: string;
  displayName: string;
  /** Set when the package is a baseline (metadata.baselineOf). */
  baselineOf: string | null;
  curve: MmseCurve;
  /** Network invocations (batches) and noisy images the network evaluated, this member. */
  networkCalls: number;
  networkEvaluations: number;
}

export interface ItdResult {
  /** The loaded model first, then the comparison package when asked. */
  members: ItdMemberResult[];
  /** The loaded model without z (prior-averaged), when zPrior was given. */
  unconditional: (ItdFigures & { curve: MmseCurve; priorDraws: number }) | null;
  /** Bits z = Enc(x) saves: unconditional - conditional exact-discrete, per pixel (paired SE) and for the image. */
  zSaves: { perPixel: BitsWithError; totalBits: number } | null;
  /** The two members' ensemble, when there is a comparison. */
  ensemble:
    | (ItdFigures & {
        /** The lower of the members' curves per grid point: continuous, and exact-discrete. */
        mmse: number[];
        discreteMmse: number[];
        /** Per grid point, the index of the member with the lower discrete curve (which model wins where). */
        winner: number[];
      })
    | null;
  trainedLogSnrRange: [number, number];
  logSnrRange: [number, number];
  /** Noisy images scored in all, the progress total. */
  scored: number;
  networkCalls: number;
  networkEvaluations: number;
  elapsedMs: number;
}

/** Loads a second package for the duration of one request; the caller disposes it. */
export type CompanionLoader = (source: ModelSource, signal: AbortSignal) => Promise<ReadyModel>;

function figures(estimate: NllEstimate): ItdFigures {
  const continuous = { bitsPerDim: estimate.bitsPerDim, stdErr: estimate.stdErr };
  return {
    continuous,
    dequantisedBound: { bitsPerDim: estimate.bitsPerDim8bit, stdErr: estimate.stdErr },
    discrete: { bitsPerDim: estimate.discrete!.bitsPerDim, stdErr: estimate.discrete!.stdErr },
  };
}

/** Mean and SE of the paired per-sample difference of two discrete runs on the same draws, in bits per pixel. */
function pairedDiscreteDifference(without: NllEstimate, withZ: NllEstimate): BitsWithError {
  const a = without.terms;
  const b = withZ.terms;
  const K = a.weight.length;
  const values = Float64Array.from(a.weight, (w, k) => 0.5 * w * (a.discrete![k] - b.discrete![k]));
  const mean = values.reduce((s, v) => s + v, 0) / K;
  const spread = Math.sqrt(values.reduce((s, v) => s + (v - mean) ** 2, 0) / (K - 1) / K);
  const natsPerBitDim = a.dimensions * Math.LN2;
  return { bitsPerDim: (mean + a.tailsNats - b.tailsNats) / natsPerBitDim, stdErr: spread / natsPerBitDim };
}

export async function itdAnalysis(
  model: ReadyModel,
  request: ItdRequest,
  context: RequestContext,
  loadCompanion: CompanionLoader,
): Promise<ItdResult> {
  const x = context.own(imageTensor(request.images));
  const companion = request.compareWith ? await loadCompanion(request.compareWith, context.signal) : null;
  try {
    if (companion) {
      const { imageSize, imageChannels } = companion.model.architecture;
      const [, h, w, c] = x.shape;
      if (imageSize !== h || imageSize !== w || imageChannels !== c) {
        throw new RequestError(
          `compareWith: ${companion.model.metadata.id} takes ${imageSize}x${imageSize}x${imageChannels} images, ` +
            `this model ${h}x${w}x${c}; compare models of the same data set`,
        );
      }
    }
    const reference = model.model.metadata.gaussianReference;
    const members: { ready: ReadyModel; z: tf.Tensor2D }[] = [
      { ready: model, z: context.own(request.z ? latentTensor(request.z) : model.model.encode(x)) },
    ];
    if (companion) members.push({ ready: companion, z: context.own(companion.model.encode(x)) });
    const zPrior = request.zPrior ? context.own(latentTensor(request.zPrior)) : null;
    const curveCount = request.points * request.repeats;
    const perRun = curveCount + 2 * request.samples;
    const total = perRun * (members.length + (zPrior ? 1 : 0));
    const seed = request.seed ?? 0;
    let done = 0;
    let networkCalls = 0;
    let networkEvaluations = 0;
    const run = async (predict: ItdEpsPredictor, schedule: NoiseSchedule, z: tf.Tensor2D) => {
      const options = {
        seed,
        batchSize: model.evaluationBatch,
        trainedLogSnrRange: trainedLogSnrRange(schedule),
        signal: context.signal,
        yieldEveryBatch: context.yieldToEventLoop,
      };
      const before = done;
      const progress = ({ evaluated }: { evaluated: number }) =>
        context.progress({ phase: 'calls', done: before + evaluated, total });
      const curve = await mmseCurve(predict, schedule, reference, x, z, {
        ...options,
        points: request.points,
        repeats: request.repeats,
        onProgress: progress,
      });
      const nll = await estimateNll(predict, schedule, reference, x, z, {
        ...options,
        samples: request.samples,
        discrete: true,
        onProgress: ({ evaluated }) => progress({ evaluated: curveCount + evaluated }),
      });
      done = before + perRun;
      networkCalls += curve.denoiserCalls + nll.denoiserCalls;
      networkEvaluations += (curve.denoiserCalls > 0 ? curveCount : 0) + nll.denoiserEvaluations;
      return {
        curve,
        nll,
        calls: curve.denoiserCalls + nll.denoiserCalls,
        evaluations: curveCount + nll.denoiserEvaluations,
      };
    };
    const runs = [];
    for (const member of members) runs.push(await run(member.ready.predictEps, member.ready.schedule, member.z));
    const memberResults: ItdMemberResult[] = runs.map((r, m) => {
      const metadata = members[m].ready.model.metadata;
      return {
        id: metadata.id,
        displayName: metadata.displayName,
        baselineOf: metadata.baselineOf ?? null,
        curve: r.curve,
        ...figures(r.nll),
        networkCalls: r.calls,
        networkEvaluations: r.evaluations,
      };
    });

    let unconditional: ItdResult['unconditional'] = null;
    let zSaves: ItdResult['zSaves'] = null;
    if (zPrior) {
      const draws = zPrior.shape[0];
      const result = await run(priorAveragedPredictor(model.predictEps, zPrior), model.schedule, members[0].z);
      // The prior-averaged predictor makes one network call per draw for each batch.
      networkCalls += result.calls * (draws - 1);
      networkEvaluations += result.evaluations * (draws - 1);
      unconditional = { ...figures(result.nll), curve: result.curve, priorDraws: draws };
      const perPixel = pairedDiscreteDifference(result.nll, runs[0].nll);
      zSaves = { perPixel, totalBits: perPixel.bitsPerDim * result.nll.terms.dimensions };
    }

    let ensemble: ItdResult['ensemble'] = null;
    if (runs.length > 1) {
      const curves = runs.map((r) => r.curve);
      const samples = runs[0].nll.terms.logSnr;
      const choice = ensembleChoiceFromCurves(
        curves.map((c) => ({ logSnr: c.logSnr, values: c.mmse })),
        samples,
      );
      const discreteChoice = ensembleChoiceFromCurves(
        curves.map((c) => ({ logSnr: c.logSnr, values: c.discrete ?? c.mmse })),
        samples,
      );
      const joint = ensembleNll(
        runs.map((r) => r.nll.terms),
        choice,
        discreteChoice,
      );
      const grid = curves[0].logSnr;
      const lowest = (values: (c: MmseCurve) => number[]) =>
        grid.map((_, j) => Math.min(...curves.map((c) => values(c)[j])));
      const discreteOf = (c: MmseCurve) => c.discrete ?? c.mmse;
      ensemble = {
        continuous: joint.continuous,
        dequantisedBound: { bitsPerDim: joint.bitsPerDim8bit, stdErr: joint.continuous.stdErr },
        discrete: joint.discrete!,
        mmse: lowest((c) => c.mmse),
        discreteMmse: lowest(discreteOf),
        winner: grid.map((_, j) => {
          const values = curves.map((c) => discreteOf(c)[j]);
          return values.indexOf(Math.min(...values));
        }),
      };
    }
    return {
      members: memberResults,
      unconditional,
      zSaves,
      ensemble,
      trainedLogSnrRange: trainedLogSnrRange(model.schedule),
      logSnrRange: runs[0].nll.logSnrRange,
      scored: total,
      networkCalls,
      networkEvaluations,
      elapsedMs: context.elapsedMs(),
    };
  } finally {
    companion?.model.dispose();
  }
}

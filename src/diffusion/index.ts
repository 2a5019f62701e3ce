/** Public surface of src/diffusion: schedules, DDIM sampling and inversion, I-MMSE likelihood, seeded noise. */
export { makeSchedule, ddimTimesteps, timestepForLogSnr, type NoiseSchedule } from './schedule';
export {
  ddimSample,
  ddimInvert,
  ddimStep,
  ddimStepCoefficients,
  epsFromPrediction,
  type EpsPredictor,
  type DdimRunOptions,
  type DdimSampleOptions,
  type DdimStepInfo,
  type DdimStepCoefficients,
} from './ddim';
export {
  estimateNll,
  mmseCurve,
  LOGISTIC_CLIP,
  type ItdEpsPredictor,
  type ItdRunOptions,
  type NllOptions,
  type NllEstimate,
  type MmseCurveOptions,
  type MmseCurve,
  type DiscreteNllEstimate,
  ensembleNll,
  priorAveragedPredictor,
  type EnsembleEstimate,
} from './itd';
export {
  BITS_8BIT_OFFSET,
  ensembleChoiceFromCurves,
  trainedLogSnrRange,
  type BitsWithError,
  type NllTerms,
} from './itdDiscrete';
export { gaussianEpsPredictor, type GaussianEpsPredictor } from './gaussianDenoiser';
export { createRng, type Rng } from './random';
export { normalTensor4d } from './normalTensor';
export { throwIfAborted, isAbortError } from './abort';
export { sigmoid } from './sigmoid';

/**
 * The typed bridge the engine harness page puts on `window.__harness`, for Playwright specs and the benchmark.
 * Every method crosses `page.evaluate`, so arguments and results are plain JSON: images and latents travel as
 * number arrays with their shapes. Each named engine is an `EngineClient` with its own worker, exactly as the app
 * uses it, so two backends can run side by side in one page.
 */
import type {
  BackendChoice,
  EngineEvent,
  EngineStats,
  LoadResult,
  MmseCurveResult,
  NllResult,
  ProfileResult,
} from '../../src/engine/protocol';

export interface PlainImages {
  shape: [number, number, number, number];
  data: number[];
}

export interface PlainLatents {
  shape: [number, number];
  data: number[];
}

export interface HarnessLoadOptions {
  /** Package folder relative to the site root, e.g. 'models/fixture/'. */
  modelPath: string;
  backend?: BackendChoice;
  warmupBatchSizes?: number[];
}

/** LoadResult without the bulky metadata, plus the wall time seen from the page (worker start included). */
export interface HarnessLoad extends Omit<LoadResult, 'metadata'> {
  modelId: string;
  architecture: LoadResult['metadata']['architecture'];
  wallMs: number;
  /** Progress phases seen, in order of first appearance ('download', 'compile'). */
  phases: string[];
}

export interface HarnessSampleParams {
  channel?: string;
  z: PlainLatents;
  /** x_T as images, or a seed for x_T ~ N(0, I). */
  xNoise?: PlainImages;
  seed?: number;
  steps: number;
  eta?: number;
  returnTrajectory?: boolean;
}

export interface HarnessSample {
  images: PlainImages;
  /** Trajectory frames received (0 without returnTrajectory). */
  trajectoryFrames: number;
  /** Step progress events received. */
  stepEvents: number;
  elapsedMs: number;
  wallMs: number;
}

export interface HarnessInvert {
  xNoise: PlainImages;
  z: PlainLatents;
  elapsedMs: number;
  wallMs: number;
}

/** How each of two back-to-back requests on one channel ended. */
export interface HarnessSupersede {
  first: 'result' | 'aborted' | 'error';
  second: 'result' | 'aborted' | 'error';
  /** Step events the first request got before it was superseded. */
  firstSteps: number;
}

export interface HarnessApi {
  /** Starts an engine worker under `name` (replacing one of that name). */
  createEngine(name: string): void;
  load(name: string, options: HarnessLoadOptions): Promise<HarnessLoad>;
  encode(name: string, images: PlainImages): Promise<PlainLatents & { elapsedMs: number; wallMs: number }>;
  sample(name: string, params: HarnessSampleParams): Promise<HarnessSample>;
  invert(name: string, images: PlainImages, params: { steps: number; z?: PlainLatents }): Promise<HarnessInvert>;
  nll(
    name: string,
    images: PlainImages,
    params: { samples: number; seed?: number; z?: PlainLatents },
  ): Promise<NllResult>;
  mmseCurve(
    name: string,
    images: PlainImages,
    params: { points: number; repeats: number; seed?: number },
  ): Promise<MmseCurveResult>;
  forwardNoise(
    name: string,
    images: PlainImages,
    params: { logSnr: number; seed: number },
  ): Promise<{ xt: PlainImages; alphaBar: number; nearestTimestep: number }>;
  profile(name: string, params: { batchSize: number; repeats: number }): Promise<ProfileResult>;
  /** Two sample requests on one channel, the second sent while the first runs: latest-wins in action. */
  supersede(name: string, first: HarnessSampleParams, second: HarnessSampleParams): Promise<HarnessSupersede>;
  stats(name: string): Promise<EngineStats>;
  /** Engine events received so far (backend chosen, leaks, device loss). */
  events(name: string): EngineEvent[];
  terminate(name: string): void;
}

declare global {
  interface Window {
    __harness: HarnessApi;
  }
}

/**
 * Plain data the stores hold and the components read: no tensors, no DOM objects, arrays replaced wholesale
 * (never mutated in place), so reference equality tells a component whether anything changed.
 */
import type { EngineClient } from '../engine/client';
import type { NoiseOrigin } from '../app/shareState';
import type { StochasticSampling } from '../latent/stochasticSampling';

/** The engine methods the stores call; EngineClient implements it, tests pass a fake. */
export type ExplorerEngine = Pick<
  EngineClient,
  | 'load'
  | 'encode'
  | 'invert'
  | 'sample'
  | 'nll'
  | 'mmseCurve'
  | 'itd'
  | 'forwardNoise'
  | 'stats'
  | 'onEvent'
  | 'openChannel'
  | 'closeChannel'
  | 'closeChannels'
>;

/** A long job's state, shown next to the control that started it. */
export type TaskStatus =
  | { kind: 'idle' }
  | { kind: 'running'; label: string; done: number; total: number }
  | { kind: 'error'; message: string }
  | { kind: 'done' };

export const IDLE: TaskStatus = { kind: 'idle' };

/** One image the engine produced, ready to draw. */
export interface Frame {
  /** RGBA, size*size*4, for canvases. */
  rgba: Uint8ClampedArray;
  /** The same image in model space (NHWC without N, length size*size*channels), for reuse as an input. */
  pixels: Float32Array;
  size: number;
}

/** The initial noise x_T the renders start from, with where it came from. */
export interface NoiseState {
  /** Identifies this x_T in render keys: "seed:7", "upload:<id>:s20", "gallery:3:s20", "mix:...". */
  id: string;
  /** How a link can make this x_T again; null for an x_T mixed from others (an interpolation frame). */
  origin: NoiseOrigin | null;
  /** length H*W*C, NHWC without N. */
  xNoise: Float32Array;
  /** The DDIM that renders from this x_T: stochastic for a prior draw, null (η = 0) for an inverted x_T. */
  stochastic: StochasticSampling | null;
}

/** A z and x_T pair that can be made current again: a saved latent, a grid cell, an interpolation endpoint. */
export interface LatentSnapshot {
  z: number[];
  noise: NoiseState;
}

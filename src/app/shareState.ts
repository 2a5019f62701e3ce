/**
 * The state that makes an image, written to and read from the page URL so a link reproduces it:
 * `?model=fashion-mnist&z=0.12,-1.5,...&seed=7&steps=20` or `...&src=gallery:3`. Parsing never throws: a value
 * that does not parse is left out and named in `problems`, for the app to show, and the rest still applies.
 */
import type { BackendChoice } from '../engine/protocol';
import { BACKEND_NAMES } from '../engine/protocol';

/** Where x_T comes from: a seeded prior draw, or the inversion of a gallery image or of a stored upload. */
export type NoiseOrigin = { kind: 'seed'; seed: number } | { kind: 'gallery'; index: number } | { kind: 'upload'; id: string };

export interface ShareState {
  model?: string;
  backend?: BackendChoice;
  z?: number[];
  noise?: NoiseOrigin;
  /** Full-quality DDIM steps. */
  steps?: number;
}

export interface ParsedShareState {
  state: ShareState;
  problems: string[];
}

/**
 * Significant digits kept per latent value: 9 round-trip every float32 exactly, and the engine computes with
 * float32 z, so a link reproduces the image bit for bit rather than nearly.
 */
const Z_SIGNIFICANT_DIGITS = 9;
export const MAX_STEPS = 1000;

function parseInteger(text: string, min: number, max: number): number | null {
  if (!/^-?\d+$/.test(text)) return null;
  const value = Number(text);
  return value >= min && value <= max ? value : null;
}

/** Reads the share state from a query string (with or without the leading '?'). */
export function parseShareState(search: string): ParsedShareState {
  const params = new URLSearchParams(search);
  const state: ShareState = {};
  const problems: string[] = [];

  const model = params.get('model');
  if (model !== null) {
    if (/^[a-z0-9-]+$/.test(model)) state.model = model;
    else problems.push(`model "${model}" is not a model id (lower-case letters, digits and dashes)`);
  }

  const backend = params.get('backend');
  if (backend !== null) {
    if (backend === 'auto' || (BACKEND_NAMES as readonly string[]).includes(backend)) state.backend = backend as BackendChoice;
    else problems.push(`backend "${backend}" is not one of auto, ${BACKEND_NAMES.join(', ')}`);
  }

  const z = params.get('z');
  if (z !== null) {
    const values = z.split(',').map((part) => (part.trim() === '' ? NaN : Number(part)));
    if (values.length > 0 && values.every(Number.isFinite)) state.z = values;
    else problems.push('z must be a comma-separated list of numbers');
  }

  const seed = params.get('seed');
  const source = params.get('src');
  if (source !== null) {
    const gallery = /^gallery:(\d+)$/.exec(source);
    const upload = /^upload:([A-Za-z0-9-]+)$/.exec(source);
    if (gallery) state.noise = { kind: 'gallery', index: Number(gallery[1]) };
    else if (upload) state.noise = { kind: 'upload', id: upload[1] };
    else problems.push(`src "${source}" is not gallery:<index> or upload:<id>`);
  } else if (seed !== null) {
    const value = parseInteger(seed, 0, 2 ** 32 - 1);
    if (value !== null) state.noise = { kind: 'seed', seed: value };
    else problems.push(`seed "${seed}" is not an integer between 0 and 4294967295`);
  }

  const steps = params.get('steps');
  if (steps !== null) {
    const value = parseInteger(steps, 1, MAX_STEPS);
    if (value !== null) state.steps = value;
    else problems.push(`steps "${steps}" is not an integer between 1 and ${MAX_STEPS}`);
  }
  return { state, problems };
}

/**
 * Writes the share state into a query string, keeping parameters it does not own (e.g. test flags).
 * @param currentSearch the page's present query string, whose other parameters survive.
 */
export function formatShareState(state: ShareState, currentSearch = ''): string {
  const params = new URLSearchParams(currentSearch);
  for (const key of ['model', 'backend', 'z', 'seed', 'src', 'steps']) params.delete(key);
  if (state.model) params.set('model', state.model);
  if (state.backend && state.backend !== 'auto') params.set('backend', state.backend);
  if (state.noise?.kind === 'seed') params.set('seed', String(state.noise.seed));
  if (state.noise?.kind === 'gallery') params.set('src', `gallery:${state.noise.index}`);
  if (state.noise?.kind === 'upload') params.set('src', `upload:${state.noise.id}`);
  if (state.steps !== undefined) params.set('steps', String(state.steps));
  if (state.z) params.set('z', state.z.map((v) => formatLatentValue(v)).join(','));
  const text = params.toString().replaceAll('%2C', ',').replaceAll('%3A', ':');
  return text ? `?${text}` : '';
}

/** A latent value with Z_SIGNIFICANT_DIGITS significant digits and no trailing zeros ("-0.5", "1.23456791"). */
function formatLatentValue(value: number): string {
  const rounded = Number(value.toPrecision(Z_SIGNIFICANT_DIGITS));
  return String(Object.is(rounded, -0) ? 0 : rounded);
}

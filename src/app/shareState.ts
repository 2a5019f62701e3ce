/**
 * The state that makes an image, written to and read from the page URL so a link reproduces it:
 * `?model=fashion-mnist&z=0.12,-1.5,...&seed=7&steps=20` or `...&src=gallery:3`. Parsing never throws: a value
 * that does not parse is left out and named in `problems`, for the app to show, and the rest still applies.
 * `readShareLink` then holds what parsed to the app's ranges (checkShareRanges) the same way: a value outside them
 * is named with its range and not applied.
 */
import type { BackendChoice } from '../engine/protocol';
import { BACKEND_NAMES } from '../engine/protocol';

/** Where x_T comes from: a seeded prior draw, or the inversion of a gallery image or of a stored upload. */
export type NoiseOrigin =
  { kind: 'seed'; seed: number } | { kind: 'gallery'; index: number } | { kind: 'upload'; id: string };

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
/** The most DDIM steps a link's syntax allows: no bundled schedule has more than 1000 timesteps. */
const MAX_LINK_STEPS = 1000;
/**
 * The most full-quality DDIM steps the app renders with (the Steps field's maximum, and a link's). 100 steps is the
 * pipeline's high-fidelity inversion setting (docs/results.md); a 1000-step render takes about 27 s on WebAssembly,
 * so a link could otherwise leave the page unusable.
 */
export const MAX_STEPS = 200;
/**
 * The largest |z_k| a link may set. The bundled models encode their training sets within ±4 and the sliders span a
 * few standard deviations; 20 leaves room for codes pushed past that by edits, while z = 1e30 (which renders a
 * blank grey image) is refused.
 */
export const MAX_LINK_LATENT = 20;

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
    if (backend === 'auto' || (BACKEND_NAMES as readonly string[]).includes(backend))
      state.backend = backend as BackendChoice;
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
    const value = parseInteger(steps, 1, MAX_LINK_STEPS);
    if (value !== null) state.steps = value;
    else problems.push(`steps "${steps}" is not an integer between 1 and ${MAX_LINK_STEPS}`);
  }
  return { state, problems };
}

/**
 * Holds parsed values to the app's ranges: z within ±MAX_LINK_LATENT and steps within 1..MAX_STEPS. A value outside
 * is removed from the state and named, with its range, in the problems (after parseShareState's own).
 */
export function checkShareRanges({ state, problems }: ParsedShareState): ParsedShareState {
  const checked: ShareState = { ...state };
  const found = [...problems];
  if (checked.z) {
    const k = checked.z.findIndex((v) => Math.abs(v) > MAX_LINK_LATENT);
    if (k >= 0) {
      found.push(
        `z[${k}] = ${checked.z[k]} is outside the range -${MAX_LINK_LATENT} to ${MAX_LINK_LATENT}, so z was not applied`,
      );
      delete checked.z;
    }
  }
  if (checked.steps !== undefined && checked.steps > MAX_STEPS) {
    found.push(`steps ${checked.steps} is outside the range 1 to ${MAX_STEPS}, so the steps were not applied`);
    delete checked.steps;
  }
  return { state: checked, problems: found };
}

/** What the app reads from its URL: the parsed link, held to the app's ranges. */
export function readShareLink(search: string): ParsedShareState {
  return checkShareRanges(parseShareState(search));
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

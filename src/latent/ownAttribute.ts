/**
 * An attribute the person made from examples (attributeFit.ts), as the app keeps it, exports it to a small JSON
 * file and carries it in a share link. Reading either back checks it against the loaded model like any other
 * input: a file or link value that does not fit is refused with a message saying why, never half applied.
 */
import type { FitMethod } from './attributeFit';

export interface OwnAttribute {
  id: string;
  modelId: string;
  name: string;
  /** Unit norm, length latentDim of the model it was fitted for. */
  vector: number[];
  bias: number;
  method: FitMethod;
  /** How many examples it was fitted from, with and without the attribute. */
  positives: number;
  negatives: number;
  /** Examples on their own side of the boundary, out of positives + negatives (null: not known, e.g. from a link). */
  correct: number | null;
  createdAt: number;
}

export const ATTRIBUTE_FILE_FORMAT = 'infodiffusion-explorer/attributes';
export const ATTRIBUTE_FILE_VERSION = 1;
/** Names longer than this are refused (a slider label, not a paragraph). */
export const MAX_ATTRIBUTE_NAME = 60;

export interface AttributeFile {
  format: typeof ATTRIBUTE_FILE_FORMAT;
  version: typeof ATTRIBUTE_FILE_VERSION;
  modelId: string;
  latentDim: number;
  attributes: Pick<OwnAttribute, 'name' | 'vector' | 'bias' | 'method' | 'positives' | 'negatives' | 'correct'>[];
}

/** The model an attribute file or link must fit. */
export interface AttributeModel {
  id: string;
  latentDim: number;
}

/** The file that exports these attributes (all of one model). */
export function attributeFile(model: AttributeModel, attributes: readonly OwnAttribute[]): AttributeFile {
  return {
    format: ATTRIBUTE_FILE_FORMAT,
    version: ATTRIBUTE_FILE_VERSION,
    modelId: model.id,
    latentDim: model.latentDim,
    attributes: attributes.map(({ name, vector, bias, method, positives, negatives, correct }) => ({
      name,
      vector,
      bias,
      method,
      positives,
      negatives,
      correct,
    })),
  };
}

export class AttributeFileError extends Error {
  override name = 'AttributeFileError';
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A name the panel can show: trimmed, 1..MAX_ATTRIBUTE_NAME characters. Null if it is not one. */
export function cleanAttributeName(name: unknown): string | null {
  if (typeof name !== 'string') return null;
  const trimmed = name.trim().replace(/\s+/g, ' ');
  return trimmed.length >= 1 && trimmed.length <= MAX_ATTRIBUTE_NAME ? trimmed : null;
}

/** A finite direction of the model's length, scaled to unit norm; throws naming the problem. */
function unitVector(value: unknown, latentDim: number, where: string): number[] {
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'number' && Number.isFinite(v)))
    throw new AttributeFileError(`${where}: "vector" must be a list of finite numbers.`);
  const vector = value as number[];
  if (vector.length !== latentDim)
    throw new AttributeFileError(
      `${where} has ${vector.length} latent values but this model has ${latentDim} latent dimensions: it was made for another model.`,
    );
  const length = Math.hypot(...vector);
  if (!(length > 0)) throw new AttributeFileError(`${where}: "vector" is all zeros, which is no direction.`);
  return vector.map((v) => v / length);
}

const count = (value: unknown): number | null =>
  typeof value === 'number' && Number.isInteger(value) && value >= 0 ? value : null;

/**
 * Reads an exported attribute file (its text) for `model`.
 * @returns the attributes, with fresh ids, for this model
 * @throws AttributeFileError saying what does not fit: not JSON, not an attribute file, another model (by id or
 *   latent size), a malformed entry (naming it)
 */
export function parseAttributeFile(text: string, model: AttributeModel, now: number): OwnAttribute[] {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw new AttributeFileError('This file is not JSON, so it is not an attribute file exported by the explorer.');
  }
  if (!isRecord(data) || data.format !== ATTRIBUTE_FILE_FORMAT)
    throw new AttributeFileError(
      `This file is not an attribute file (its "format" is not "${ATTRIBUTE_FILE_FORMAT}").`,
    );
  if (data.version !== ATTRIBUTE_FILE_VERSION)
    throw new AttributeFileError(
      `This attribute file has version ${JSON.stringify(data.version)}; this explorer reads version ${ATTRIBUTE_FILE_VERSION}.`,
    );
  if (data.modelId !== model.id)
    throw new AttributeFileError(
      `These attributes were made for the model "${String(data.modelId)}", not "${model.id}": directions in one model's latent space mean nothing in another's.`,
    );
  if (data.latentDim !== model.latentDim)
    throw new AttributeFileError(
      `These attributes have ${String(data.latentDim)} latent dimensions but this model has ${model.latentDim}: they were made for another version of it.`,
    );
  if (!Array.isArray(data.attributes) || data.attributes.length === 0)
    throw new AttributeFileError('This attribute file lists no attributes.');
  return data.attributes.map((entry: unknown, i) => {
    const where = `Attribute ${i + 1}`;
    if (!isRecord(entry)) throw new AttributeFileError(`${where} is not an object.`);
    const name = cleanAttributeName(entry.name);
    if (name === null)
      throw new AttributeFileError(`${where}: "name" must be text of 1 to ${MAX_ATTRIBUTE_NAME} characters.`);
    const vector = unitVector(entry.vector, model.latentDim, `${where} ("${name}")`);
    if (typeof entry.bias !== 'number' || !Number.isFinite(entry.bias))
      throw new AttributeFileError(`${where} ("${name}"): "bias" must be a finite number.`);
    const length = Math.hypot(...(entry.vector as number[]));
    const method: FitMethod = entry.method === 'logistic' ? 'logistic' : 'mean-difference';
    return {
      id: `${model.id}-attr-${now.toString(36)}-${i}`,
      modelId: model.id,
      name,
      vector,
      // The bias scales with the vector, so the score stays the signed distance after normalising.
      bias: entry.bias / length,
      method,
      positives: count(entry.positives) ?? 0,
      negatives: count(entry.negatives) ?? 0,
      correct: count(entry.correct),
      createdAt: now,
    };
  });
}

/** Significant digits of a direction in a link: 4 move a slider's image by far less than a pixel level. */
const LINK_DIGITS = 4;
/** The most own attributes a link carries (keeps links shorter than browsers' limits). */
export const MAX_LINK_ATTRIBUTES = 8;
const num = (v: number) => String(Number(v.toPrecision(LINK_DIGITS)));

/**
 * One attribute as a link's `attr` value: name~bias~v1,v2,...~m, m = l (logistic) or d (difference of means); the
 * URL encoder escapes the name.
 */
export function formatAttributeParam(attribute: Pick<OwnAttribute, 'name' | 'vector' | 'bias' | 'method'>): string {
  const method = attribute.method === 'logistic' ? 'l' : 'd';
  return `${attribute.name}~${num(attribute.bias)}~${attribute.vector.map(num).join(',')}~${method}`;
}

/**
 * A link's `attr` value for `model`.
 * @throws AttributeFileError naming the problem (malformed, or another latent size)
 */
export function parseAttributeParam(value: string, model: AttributeModel, now: number, index = 0): OwnAttribute {
  const parts = value.split('~');
  if (parts.length !== 4 || (parts[3] !== 'l' && parts[3] !== 'd'))
    throw new AttributeFileError(`attr "${value.slice(0, 40)}" is not name~bias~vector~method`);
  const name = cleanAttributeName(parts[0]);
  if (name === null) throw new AttributeFileError(`attr "${value.slice(0, 40)}" has no usable name`);
  const bias = parts[1].trim() === '' ? NaN : Number(parts[1]);
  if (!Number.isFinite(bias)) throw new AttributeFileError(`attr "${name}": the bias is not a number`);
  const raw = parts[2].split(',').map((p) => (p.trim() === '' ? NaN : Number(p)));
  const length = Math.hypot(...raw);
  const vector = unitVector(raw, model.latentDim, `The link's attribute "${name}"`);
  return {
    id: `${model.id}-link-${now.toString(36)}-${index}`,
    modelId: model.id,
    name,
    vector,
    bias: bias / length,
    method: parts[3] === 'l' ? 'logistic' : 'mean-difference',
    positives: 0,
    negatives: 0,
    correct: null,
    createdAt: now,
  };
}

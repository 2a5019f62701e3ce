/**
 * A small JSON Schema checker: the subset contract/model.schema.json uses (type, const, enum, pattern, minimum,
 * exclusiveMinimum, minItems, maxItems, items, required, additionalProperties false, properties). Its twin
 * train/infodiff/schema_check.py walks the schema in the same order and words every problem the same way, so
 * both readers of model.json refuse a file with the same message (the cases of contract/invalid/ check this).
 *
 * Order at each value: type, const, enum, pattern, range, array length, missing fields, unknown fields, then the
 * fields in the schema's order, or the items in turn. The first problem is thrown; nothing is collected.
 */

/** The subset of JSON Schema the checker understands; any other keyword is an annotation and ignored. */
export interface JsonSchema {
  type?: SchemaType | SchemaType[];
  const?: unknown;
  enum?: unknown[];
  pattern?: string;
  /** When present, a value that fails `pattern` reads "must be <description>". */
  description?: string;
  minimum?: number;
  exclusiveMinimum?: number;
  minItems?: number;
  maxItems?: number;
  items?: JsonSchema;
  required?: string[];
  additionalProperties?: boolean;
  properties?: Record<string, JsonSchema>;
}

type SchemaType = 'object' | 'array' | 'string' | 'boolean' | 'number' | 'integer' | 'null';

/** A value that breaks the schema; the message starts with the value's path (`metadata.latent.std[2]`). */
export class SchemaViolation extends Error {
  override name = 'SchemaViolation';
}

/** A value as messages show it: compact JSON, cut at 60 characters. */
export function show(value: unknown): string {
  const text = JSON.stringify(value);
  return text === undefined ? String(value) : text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

const TYPE_WORDS: Record<SchemaType, string> = {
  object: 'an object',
  array: 'an array',
  string: 'a string',
  boolean: 'true or false',
  number: 'a finite number',
  integer: 'an integer',
  null: 'null',
};

function isType(value: unknown, type: SchemaType): boolean {
  switch (type) {
    case 'object':
      return value !== null && typeof value === 'object' && !Array.isArray(value);
    case 'array':
      return Array.isArray(value);
    case 'string':
      return typeof value === 'string';
    case 'boolean':
      return typeof value === 'boolean';
    case 'number':
      return typeof value === 'number' && Number.isFinite(value);
    case 'integer':
      return typeof value === 'number' && Number.isInteger(value);
    case 'null':
      return value === null;
  }
}

function entries(n: number): string {
  return `${n} ${n === 1 ? 'entry' : 'entries'}`;
}

function has(object: object, key: string): boolean {
  return Object.prototype.hasOwnProperty.call(object, key);
}

/** Deep equality of JSON values, for const and enum. */
function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** Throws a SchemaViolation naming `path` and the first rule of `schema` that `value` breaks. */
export function checkSchema(value: unknown, schema: JsonSchema, path: string): void {
  const fail = (problem: string): never => {
    throw new SchemaViolation(`${path} ${problem}`);
  };
  if (schema.type !== undefined) {
    const types = Array.isArray(schema.type) ? schema.type : [schema.type];
    const ok = types.some(
      (t) =>
        isType(value, t) && !(t === 'integer' && schema.minimum !== undefined && (value as number) < schema.minimum),
    );
    if (!ok) {
      const words = types.map((t) =>
        t === 'integer' && schema.minimum !== undefined ? `an integer >= ${schema.minimum}` : TYPE_WORDS[t],
      );
      fail(`must be ${words.join(' or ')}, got ${show(value)}`);
    }
  }
  if (schema.const !== undefined && !same(value, schema.const))
    fail(`must be ${JSON.stringify(schema.const)}, got ${show(value)}`);
  if (schema.enum !== undefined && !schema.enum.some((e) => same(value, e))) {
    fail(`must be one of ${schema.enum.map((e) => JSON.stringify(e)).join(', ')}, got ${show(value)}`);
  }
  if (schema.pattern !== undefined && typeof value === 'string' && !new RegExp(schema.pattern).test(value)) {
    fail(
      schema.description !== undefined
        ? `must be ${schema.description}, got ${show(value)}`
        : `must match ${schema.pattern.replace(/^\^|\$$/g, '')}, got ${show(value)}`,
    );
  }
  if (typeof value === 'number') {
    if (schema.minimum !== undefined && value < schema.minimum)
      fail(`must be >= ${schema.minimum}, got ${show(value)}`);
    if (schema.exclusiveMinimum !== undefined && !(value > schema.exclusiveMinimum))
      fail(`must be > ${schema.exclusiveMinimum}, got ${show(value)}`);
  }
  if (Array.isArray(value)) {
    const { minItems: low, maxItems: high } = schema;
    const n = value.length;
    if ((low !== undefined && n < low) || (high !== undefined && n > high)) {
      if (low !== undefined && high !== undefined)
        fail(low === high ? `must have ${entries(low)}, got ${n}` : `must have ${low} to ${high} entries, got ${n}`);
      fail(
        low !== undefined
          ? `must have at least ${entries(low)}, got ${n}`
          : `must have at most ${entries(high as number)}, got ${n}`,
      );
    }
    if (schema.items !== undefined)
      value.forEach((item, i) => checkSchema(item, schema.items as JsonSchema, `${path}[${i}]`));
  }
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const object = value as Record<string, unknown>;
    const missing = (schema.required ?? []).filter((k) => !has(object, k));
    if (missing.length > 0) fail(`is missing field(s) ${missing.join(', ')}`);
    if (schema.additionalProperties === false) {
      const unknown = Object.keys(object).filter((k) => !has(schema.properties ?? {}, k));
      if (unknown.length > 0) fail(`has unknown field(s) ${unknown.join(', ')}`);
    }
    for (const [key, field] of Object.entries(schema.properties ?? {})) {
      if (has(object, key)) checkSchema(object[key], field, path === '(root)' ? key : `${path}.${key}`);
    }
  }
}

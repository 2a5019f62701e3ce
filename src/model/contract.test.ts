/**
 * The model.json contract shared with Python: the valid document passes, and every document of
 * contract/invalid/ is refused with exactly the message its case names. train/tests/test_webpackage.py runs the
 * same cases through the PyTorch reader, so both languages word every refusal alike.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import modelSchema from './contract/model.schema.json';
import { LATENT_PRIORS, MAX_STUDENT_CALLS, PARAMETERISATIONS } from './metadata';
import { ModelPackageError, parseModelJson } from './modelJson';

const CONTRACT = join(dirname(fileURLToPath(import.meta.url)), 'contract');
const readJson = (path: string): unknown => JSON.parse(readFileSync(join(CONTRACT, path), 'utf8'));
const cases = readJson('invalid/cases.json') as { file: string; message: string }[];

describe('the model.json contract', () => {
  it('accepts the valid document', () => {
    expect(parseModelJson(readJson('valid.json')).metadata.student?.plan).toEqual([9, 4]);
  });

  it.each(cases)('refuses $file', ({ file, message }) => {
    let thrown: unknown;
    try {
      parseModelJson(readJson(`invalid/${file}`));
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ModelPackageError);
    expect((thrown as Error).message).toBe(message);
  });

  it('states the enums and limits the TypeScript types are built from', () => {
    const metadata = modelSchema.properties.metadata.properties;
    expect(metadata.latent.properties.prior.enum).toEqual([...LATENT_PRIORS]);
    expect(metadata.student.properties.parameterisation.enum).toEqual([...PARAMETERISATIONS]);
    expect(metadata.student.properties.plan.maxItems).toBe(MAX_STUDENT_CALLS);
  });
});

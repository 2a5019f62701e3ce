import { describe, expect, it } from 'vitest';
import {
  attributeFile,
  formatAttributeParam,
  parseAttributeFile,
  parseAttributeParam,
  type OwnAttribute,
} from './ownAttribute';

const model = { id: 'fashion-mnist', latentDim: 3 };
const own: OwnAttribute = {
  id: 'a1',
  modelId: 'fashion-mnist',
  name: 'Trouser-ness',
  vector: [0.6, 0, -0.8],
  bias: 0.25,
  method: 'mean-difference',
  positives: 2,
  negatives: 2,
  correct: 4,
  createdAt: 1,
};

describe('attribute files', () => {
  it('round-trips an export for the same model', () => {
    const text = JSON.stringify(attributeFile(model, [own]));
    const [back] = parseAttributeFile(text, model, 99);
    expect(back).toMatchObject({ name: 'Trouser-ness', vector: [0.6, 0, -0.8], bias: 0.25, positives: 2, correct: 4 });
    expect(back.modelId).toBe('fashion-mnist');
    expect(back.createdAt).toBe(99);
  });

  it('refuses a file that does not fit the model, saying why', () => {
    const good = attributeFile(model, [own]);
    const read = (value: unknown) => () => parseAttributeFile(JSON.stringify(value), model, 0);
    expect(() => parseAttributeFile('{not json', model, 0)).toThrow('not JSON');
    expect(read({ ...good, format: 'other' })).toThrow('not an attribute file');
    expect(read({ ...good, version: 7 })).toThrow('version 7');
    expect(read({ ...good, modelId: 'shapes' })).toThrow('made for the model "shapes", not "fashion-mnist"');
    expect(read({ ...good, latentDim: 32 })).toThrow('32 latent dimensions but this model has 3');
    expect(read({ ...good, attributes: [] })).toThrow('lists no attributes');
    expect(read({ ...good, attributes: [{ ...good.attributes[0], vector: [1, 0] }] })).toThrow(
      'Attribute 1 ("Trouser-ness") has 2 latent values but this model has 3',
    );
    expect(read({ ...good, attributes: [{ ...good.attributes[0], vector: [0, 0, 0] }] })).toThrow('all zeros');
    expect(read({ ...good, attributes: [{ ...good.attributes[0], vector: [1, 'a', 0] }] })).toThrow('finite numbers');
    expect(read({ ...good, attributes: [{ ...good.attributes[0], name: '  ' }] })).toThrow('"name" must be text');
    expect(read({ ...good, attributes: [{ ...good.attributes[0], bias: null }] })).toThrow('"bias" must be');
  });

  it('normalises a vector that is not unit length, scaling the bias with it', () => {
    const file = attributeFile(model, [{ ...own, vector: [3, 0, -4], bias: 5 }]);
    const [back] = parseAttributeFile(JSON.stringify(file), model, 0);
    expect(back.vector).toEqual([0.6, 0, -0.8]);
    expect(back.bias).toBe(1);
  });
});

describe('attribute link values', () => {
  it('round-trips to 4 significant digits, method included', () => {
    const text = formatAttributeParam({ ...own, vector: [0.123456, 0.5, -0.857142], method: 'logistic' });
    expect(text).toBe('Trouser-ness~0.25~0.1235,0.5,-0.8571~l');
    const back = parseAttributeParam(text, model, 5);
    expect(back.name).toBe('Trouser-ness');
    expect(back.method).toBe('logistic');
    expect(Math.hypot(...back.vector)).toBeCloseTo(1, 12);
  });

  it('refuses malformed values and another latent size', () => {
    expect(() => parseAttributeParam('x~1~1,2,3', model, 0)).toThrow('name~bias~vector~method');
    expect(() => parseAttributeParam('x~b~1,2,3~d', model, 0)).toThrow('bias is not a number');
    expect(() => parseAttributeParam('x~1~1,2~d', model, 0)).toThrow('2 latent values but this model has 3');
    expect(() => parseAttributeParam('x~1~1,,3~d', model, 0)).toThrow('finite numbers');
  });
});

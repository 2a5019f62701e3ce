import { describe, expect, it } from 'vitest';
import { MAX_LINK_LATENT, MAX_STEPS, formatShareState, parseShareState, readShareLink } from './shareState';

describe('share state in the URL', () => {
  it('round-trips model, backend, z, seed and steps', () => {
    const state = {
      model: 'fashion-mnist',
      backend: 'webgpu' as const,
      z: [0.5, -1.2345678912, 0],
      noise: { kind: 'seed' as const, seed: 7 },
      steps: 20,
    };
    const search = formatShareState(state);
    expect(search).toBe('?model=fashion-mnist&backend=webgpu&seed=7&steps=20&z=0.5,-1.23456789,0');
    expect(parseShareState(search)).toEqual({ state: { ...state, z: [0.5, -1.23456789, 0] }, problems: [] });
  });

  it('gives back exactly the float32 values the engine computes with', () => {
    const z = Array.from(Float32Array.of(0.1, -2.7182817, 1e-7, 3.4028e38));
    const parsed = parseShareState(formatShareState({ z })).state.z!;
    expect(Array.from(Float32Array.from(parsed))).toEqual(z);
  });

  it('writes an image source instead of a seed, and keeps parameters it does not own', () => {
    const search = formatShareState({ model: 'fixture', noise: { kind: 'gallery', index: 3 } }, '?debug=1&seed=9');
    expect(search).toBe('?debug=1&model=fixture&src=gallery:3');
    expect(parseShareState(search).state.noise).toEqual({ kind: 'gallery', index: 3 });
    expect(parseShareState('?src=upload:1a-xyz').state.noise).toEqual({ kind: 'upload', id: '1a-xyz' });
  });

  it('names every value that does not parse and keeps the rest', () => {
    const { state, problems } = parseShareState('?model=Bad_Id&backend=metal&z=1,x,3&seed=-4&steps=0');
    expect(state).toEqual({});
    expect(problems).toEqual([
      'model "Bad_Id" is not a model id (lower-case letters, digits and dashes)',
      'backend "metal" is not one of auto, webgpu, webgl, wasm, cpu',
      'z must be a comma-separated list of numbers',
      'seed "-4" is not an integer between 0 and 4294967295',
      'steps "0" is not an integer between 1 and 1000',
    ]);
  });

  it("refuses values outside the app's ranges, naming the parameter and its range, and applies the rest", () => {
    expect(readShareLink('?model=fixture&z=0.5,1e30,2&seed=3&steps=1000')).toEqual({
      state: { model: 'fixture', noise: { kind: 'seed', seed: 3 } },
      problems: [
        `z[1] = 1e+30 is outside the range -${MAX_LINK_LATENT} to ${MAX_LINK_LATENT}, so z was not applied`,
        `steps 1000 is outside the range 1 to ${MAX_STEPS}, so the steps were not applied`,
      ],
    });
    expect(readShareLink(`?z=-${MAX_LINK_LATENT},3.25&steps=${MAX_STEPS}`)).toEqual({
      state: { z: [-MAX_LINK_LATENT, 3.25], steps: MAX_STEPS },
      problems: [],
    });
    expect(readShareLink(`?steps=${MAX_STEPS + 1}`).problems).toEqual([
      `steps ${MAX_STEPS + 1} is outside the range 1 to ${MAX_STEPS}, so the steps were not applied`,
    ]);
    // Syntax problems come first, then range problems; both in the one banner list.
    expect(readShareLink('?seed=-1&z=99').problems).toEqual([
      'seed "-1" is not an integer between 0 and 4294967295',
      `z[0] = 99 is outside the range -${MAX_LINK_LATENT} to ${MAX_LINK_LATENT}, so z was not applied`,
    ]);
  });

  it('treats an empty z entry as an error, not as zero', () => {
    expect(parseShareState('?z=1,,2').problems).toEqual(['z must be a comma-separated list of numbers']);
  });
});

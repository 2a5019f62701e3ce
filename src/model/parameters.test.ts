import { describe, expect, it } from 'vitest';
import { resolveArchitecture } from './config';
import {
  expectedParameters,
  parameterCount,
  parameterSetProblems,
  planModules,
  shapeSize,
  unetPlan,
} from './parameters';

/** The official code's main branch, FashionMNIST, a_dim 32 (docs/sources.md §1.3-1.4). */
const FMNIST = resolveArchitecture({
  imageSize: 32,
  imageChannels: 1,
  baseChannels: 32,
  channelMultipliers: [1, 2, 2, 2],
  numResBlocks: 2,
  attentionLevels: [2],
  latentDim: 32,
  groupNormGroups: 32,
});

describe('unetPlan', () => {
  it('reproduces the official FashionMNIST block table', () => {
    const plan = unetPlan(FMNIST);
    const rows = planModules(plan).map((m) =>
      [m.key, m.kind, m.inChannels, m.outChannels, m.resolution, m.outResolution, m.kind === 'res' && m.attention].join(
        ' ',
      ),
    );
    expect(rows).toEqual([
      'downblocks.0 res 32 32 32 32 false',
      'downblocks.1 res 32 32 32 32 false',
      'downblocks.2 down 32 32 32 16 false',
      'downblocks.3 res 32 64 16 16 false',
      'downblocks.4 res 64 64 16 16 false',
      'downblocks.5 down 64 64 16 8 false',
      'downblocks.6 res 64 64 8 8 true',
      'downblocks.7 res 64 64 8 8 true',
      'downblocks.8 down 64 64 8 4 false',
      'downblocks.9 res 64 64 4 4 false',
      'downblocks.10 res 64 64 4 4 false',
      'middleblocks.0 res 64 64 4 4 true',
      'middleblocks.1 res 64 64 4 4 false',
      'upblocks.0 res 128 64 4 4 false',
      'upblocks.1 res 128 64 4 4 false',
      'upblocks.2 res 128 64 4 4 false',
      'upblocks.3 up 64 64 4 8 false',
      'upblocks.4 res 128 64 8 8 true',
      'upblocks.5 res 128 64 8 8 true',
      'upblocks.6 res 128 64 8 8 true',
      'upblocks.7 up 64 64 8 16 false',
      'upblocks.8 res 128 64 16 16 false',
      'upblocks.9 res 128 64 16 16 false',
      'upblocks.10 res 96 64 16 16 false',
      'upblocks.11 up 64 64 16 32 false',
      'upblocks.12 res 96 32 32 32 false',
      'upblocks.13 res 64 32 32 32 false',
      'upblocks.14 res 64 32 32 32 false',
    ]);
    expect(plan.finalChannels).toBe(32);
    expect(plan.timeChannels).toBe(128);
  });

  it('pops skips in reverse push order (head output last)', () => {
    const plan = unetPlan(FMNIST);
    const skips = plan.up.filter((m) => m.kind === 'res').map((m) => (m.kind === 'res' ? m.skipChannels : 0));
    // pushed: head 32, d0 32, d1 32, ds 32, d3 64, d4 64, ds 64, d6 64, d7 64, ds 64, d9 64, d10 64
    expect(skips).toEqual([64, 64, 64, 64, 64, 64, 64, 64, 32, 32, 32, 32]);
  });

  it('handles a single level (no sampling modules)', () => {
    const plan = unetPlan(
      resolveArchitecture({
        imageSize: 8,
        baseChannels: 4,
        channelMultipliers: [1],
        attentionLevels: [0],
        groupNormGroups: 2,
        numResBlocks: 1,
      }),
    );
    expect(planModules(plan).map((m) => `${m.key}:${m.kind}:${m.inChannels}`)).toEqual([
      'downblocks.0:res:4',
      'middleblocks.0:res:4',
      'middleblocks.1:res:4',
      'upblocks.0:res:8',
      'upblocks.1:res:8',
    ]);
  });
});

describe('expectedParameters', () => {
  const params = expectedParameters(FMNIST, 1000);

  it('lists the 749 live tensors of the official FashionMNIST state_dict', () => {
    expect(params.size).toBe(749);
    expect([...params.keys()].some((k) => k.includes('crossattn'))).toBe(false);
  });

  it('counts 5,538,114 values: 5,844,610 - 306,496 crossattn, including the 32,000-value frozen table', () => {
    expect(parameterCount(FMNIST, 1000)).toBe(5_844_610 - 306_496);
    let backbone = 0;
    let encoder = 0;
    for (const [name, shape] of params) {
      if (name.startsWith('backbone.')) backbone += shapeSize(shape);
      else if (name.startsWith('encoder.')) encoder += shapeSize(shape);
      else throw new Error(`unexpected prefix: ${name}`);
    }
    expect(encoder).toBe(2_097_793);
    // The research table's backbone figure (3,746,817) includes the 306,496 crossattn values.
    expect(backbone).toBe(3_746_817 - 306_496);
  });

  it('uses the PyTorch shapes from the research table', () => {
    const expectations: [string, number[]][] = [
      ['backbone.time_embedding.timembedding.0.weight', [1000, 32]],
      ['backbone.time_embedding.timembedding.1.weight', [128, 32]],
      ['backbone.time_embedding.timembedding.3.weight', [128, 128]],
      ['backbone.fc_a.weight', [128, 32]],
      ['backbone.head.weight', [32, 1, 3, 3]],
      ['backbone.tail.0.weight', [32]],
      ['backbone.tail.2.weight', [1, 32, 3, 3]],
      ['encoder.tail.2.weight', [1, 32, 3, 3]],
      ['encoder.fc_a.weight', [32, 1024]],
      ['encoder.fc_mu.weight', [32, 32]],
      ['encoder.fc_var.bias', [32]],
      ['backbone.downblocks.3.shortcut.weight', [64, 32, 1, 1]],
      ['backbone.downblocks.3.temb_proj.1.weight', [128, 128]],
      ['backbone.downblocks.3.aemb_proj.1.bias', [128]],
      ['backbone.downblocks.3.block2.3.weight', [64, 64, 3, 3]],
      ['backbone.downblocks.6.attn.proj_q.weight', [64, 64, 1, 1]],
      ['backbone.downblocks.2.main.weight', [32, 32, 3, 3]],
      ['backbone.upblocks.12.block1.0.weight', [96]],
      ['backbone.upblocks.12.block1.2.weight', [32, 96, 3, 3]],
      ['encoder.middleblocks.0.attn.group_norm.bias', [64]],
      ['encoder.upblocks.3.main.bias', [64]],
    ];
    for (const [name, shape] of expectations) expect(params.get(name), name).toEqual(shape);
    expect(params.has('encoder.downblocks.0.temb_proj.1.weight')).toBe(false);
    expect(params.has('encoder.downblocks.0.block3.0.weight')).toBe(false);
    expect(params.has('backbone.downblocks.0.shortcut.weight')).toBe(false);
    expect(params.has('backbone.middleblocks.1.attn.proj.weight')).toBe(false);
  });

  it('keeps the official registration order inside a block and across networks', () => {
    const keys = [...params.keys()];
    const block = keys
      .filter((k) => k.startsWith('backbone.downblocks.3.'))
      .map((k) => k.slice('backbone.downblocks.3.'.length));
    expect(block).toEqual([
      'block1.0.weight',
      'block1.0.bias',
      'block1.2.weight',
      'block1.2.bias',
      'temb_proj.1.weight',
      'temb_proj.1.bias',
      'aemb_proj.1.weight',
      'aemb_proj.1.bias',
      'block2.0.weight',
      'block2.0.bias',
      'block2.3.weight',
      'block2.3.bias',
      'block3.0.weight',
      'block3.0.bias',
      'block3.3.weight',
      'block3.3.bias',
      'shortcut.weight',
      'shortcut.bias',
    ]);
    expect(keys[0]).toBe('backbone.time_embedding.timembedding.0.weight');
    expect(keys.indexOf('backbone.tail.2.bias')).toBeLessThan(keys.indexOf('encoder.head.weight'));
    expect(keys.at(-1)).toBe('encoder.fc_var.bias');
  });
});

describe('parameterSetProblems', () => {
  it('lists every missing, unexpected and mis-shaped name at once', () => {
    const expected = new Map([
      ['a', [2]],
      ['b', [3, 4]],
      ['c', [1]],
    ]);
    const actual = new Map<string, number[]>([
      ['b', [4, 3]],
      ['c', [1]],
      ['d', [5]],
      ['e', [1]],
    ]);
    const problems = parameterSetProblems(expected, actual);
    expect(problems).toEqual([
      'missing 1 weight(s): a',
      'unexpected 2 weight(s): d, e',
      '1 shape mismatch(es): b: expected shape [3, 4], got [4, 3]',
    ]);
    expect(parameterSetProblems(expected, expected)).toEqual([]);
  });
});

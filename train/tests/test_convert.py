"""Conversion of official InfoDiffusion (main branch) checkpoints, and every refusal."""
import json
from collections import OrderedDict

import pytest
import torch

from infodiff import convert_official
from infodiff.model import expected_parameters
from infodiff.webpackage import load_web_package, read_web_package

FMNIST_ARCH = convert_official.official_architecture('fmnist', 32)


def _official_state_dict(architecture=FMNIST_ARCH, seed=0):
    """A random state_dict in the official layout: our expected parameters plus the unused crossattn block that
    every official AuxResBlock carries (GroupNorm (C) and four 1x1 convs (C, C, 1, 1)), right after its other
    weights as in the official module order."""
    generator = torch.Generator().manual_seed(seed)
    state = OrderedDict()
    shapes = expected_parameters(architecture, 1000)
    names = list(shapes)
    for i, (name, shape) in enumerate(shapes.items()):
        state[name] = torch.randn(shape, generator=generator) * 0.05
        block = _res_block_prefix(name)
        next_block = _res_block_prefix(names[i + 1]) if i + 1 < len(names) else None
        if block is not None and next_block != block:
            channels = shapes[f'{block}.block2.0.weight'][0]
            state[f'{block}.crossattn.group_norm.weight'] = torch.ones(channels)
            state[f'{block}.crossattn.group_norm.bias'] = torch.zeros(channels)
            for proj in ('proj_q', 'proj_k', 'proj_v', 'proj'):
                state[f'{block}.crossattn.{proj}.weight'] = torch.randn(channels, channels, 1, 1, generator=generator)
                state[f'{block}.crossattn.{proj}.bias'] = torch.zeros(channels)
    return state


def _res_block_prefix(name):
    """'backbone.downblocks.3' for a residual-block weight of the backbone, else None."""
    parts = name.split('.')
    if len(parts) >= 4 and parts[0] == 'backbone' and parts[1] in ('downblocks', 'middleblocks', 'upblocks') \
            and parts[3] != 'main':
        return '.'.join(parts[:3])
    return None


def test_the_synthetic_checkpoint_has_the_official_crossattn_count():
    state = _official_state_dict()
    crossattn = [k for k in state if '.crossattn.' in k]
    # docs/sources.md §1.4: 969 tensors for main FMNIST a_dim 32, 220 of them crossattn.
    assert len(state) == 969 and len(crossattn) == 220
    assert sum(state[k].numel() for k in crossattn) == 306496


def test_convert_then_load_back_gives_equal_tensors(tmp_path):
    state = _official_state_dict()
    checkpoint = tmp_path / 'model-10.pth'
    torch.save(state, checkpoint)
    manifest = convert_official.convert_checkpoint(checkpoint, 'fmnist', tmp_path / 'fmnist-official',
                                                   statistics_images=48, steps=1234, float16=False)
    model, metadata = load_web_package(manifest.parent)
    loaded = model.state_dict()
    kept = [k for k in state if '.crossattn.' not in k]
    assert set(loaded) == set(kept)
    for name in kept:
        torch.testing.assert_close(loaded[name], state[name], rtol=0, atol=0)
    assert metadata['architecture'] == FMNIST_ARCH
    assert metadata['schedule'] == convert_official.resolve_schedule(convert_official.OFFICIAL_SCHEDULE)
    provenance = metadata['provenance']
    assert provenance['source'] == 'converted-official' and provenance['dataset'] == 'fashion-mnist'
    assert provenance['steps'] == 1234 and provenance['ema'] is False and '220 unused crossattn' in provenance['notes']
    assert len(metadata['gallery']) == 16 and metadata['preprocessing']['lightOnDark'] is True
    assert len(metadata['latent']['mean']) == 32 and len(metadata['attributeDirections']) == 10
    assert metadata['latent']['prior'] == 'normal' and 'data' not in provenance  # the official run's draw is unknown
    # The weights are the official order too: the manifest lists them as the architecture does.
    names = [w['name'] for w in json.loads(manifest.read_text())['weightsManifest'][0]['weights']]
    assert names == list(expected_parameters(FMNIST_ARCH, 1000))
    weights, _ = read_web_package(manifest.parent)
    assert weights['encoder.fc_a.weight'].shape == (32, 1024)


def _refusal(state, match, architecture=FMNIST_ARCH):
    with pytest.raises(convert_official.ConversionError, match=match):
        convert_official.convert_state_dict(state, architecture, 1000)


def test_dev_branch_block4_is_refused():
    state = _official_state_dict()
    state['backbone.downblocks.0.block4.0.weight'] = torch.ones(32)
    state['backbone.downblocks.0.block4.3.weight'] = torch.zeros(32, 32, 3, 3)
    _refusal(state, 'InfoDiffusion-dev branch layout')


def test_other_channel_multipliers_are_refused():
    dev_like = convert_official.resolve_architecture({**FMNIST_ARCH, 'channelMultipliers': [1, 2, 4, 8]})
    state = OrderedDict((k, torch.zeros(s)) for k, s in expected_parameters(dev_like, 1000).items())
    _refusal(state, r'channel multipliers \[1, 2, 4, 8\], the official main branch uses \[1, 2, 2, 2\]')


def test_wrong_shape_missing_and_unexpected_keys_are_listed():
    state = _official_state_dict()
    state['backbone.head.bias'] = torch.zeros(31)
    del state['encoder.fc_var.bias']
    state['backbone.extra.weight'] = torch.zeros(3)
    with pytest.raises(convert_official.ConversionError) as info:
        convert_official.convert_state_dict(state, FMNIST_ARCH, 1000)
    message = str(info.value)
    assert 'wrong shapes: backbone.head.bias [31] (expected [32])' in message
    assert 'missing keys: encoder.fc_var.bias' in message
    assert 'unexpected keys: backbone.extra.weight' in message


def test_a_dim_that_does_not_match_the_weights_is_a_shape_error():
    state = _official_state_dict()
    _refusal(state, r'encoder.fc_a.weight \[32, 1024\] \(expected \[16, 1024\]\)',
             convert_official.official_architecture('fmnist', 16))
    assert convert_official.infer_latent_dim(state) == 32


def test_wrong_dataset_is_a_shape_error():
    _refusal(_official_state_dict(), r'backbone.head.weight \[32, 1, 3, 3\] \(expected \[64, 3, 3, 3\]\)',
             convert_official.official_architecture('cifar10', 32))


def test_prefixed_latent_and_non_finite_checkpoints_are_refused():
    state = _official_state_dict()
    _refusal(OrderedDict((f'module.{k}', v) for k, v in state.items()), "starts with 'module.'")
    _refusal(OrderedDict([('backbone.time_embed.0.weight', torch.zeros(32, 64)),
                          ('backbone.layers.0.linear.weight', torch.zeros(128, 32))]), 'latent DDIM prior')
    state['encoder.fc_mu.weight'][0, 0] = float('nan')
    _refusal(state, 'weight encoder.fc_mu.weight has non-finite values')


def test_wrapped_checkpoint_and_unknown_dataset_are_refused(tmp_path):
    wrapped = tmp_path / 'wrapped.pth'
    torch.save({'model': {'backbone.head.weight': torch.zeros(1)}, 'step': 3}, wrapped)
    with pytest.raises(convert_official.ConversionError, match='not a bare state_dict.*wrapped training checkpoint'):
        convert_official.read_official_state_dict(wrapped)
    with pytest.raises(convert_official.ConversionError, match='unknown official dataset'):
        convert_official.official_architecture('dsprites', 32)


def test_cli_reports_refusals_without_a_traceback(tmp_path, capsys):
    state = _official_state_dict()
    state['backbone.downblocks.0.block4.0.weight'] = torch.ones(32)
    checkpoint = tmp_path / 'dev.pth'
    torch.save(state, checkpoint)
    code = convert_official.main(['--checkpoint', str(checkpoint), '--dataset', 'fmnist',
                                  '--out', str(tmp_path / 'dev-model')])
    assert code == 1
    assert 'InfoDiffusion-dev branch layout' in capsys.readouterr().err
    assert not (tmp_path / 'dev-model').exists()


def test_the_swiss_roll_prior_has_no_package_form(tmp_path, capsys):
    with pytest.raises(SystemExit):
        convert_official.main(['--checkpoint', str(tmp_path / 'x.pth'), '--dataset', 'fmnist', '--out',
                               str(tmp_path / 'roll'), '--prior', 'roll'])
    assert "invalid choice: 'roll'" in capsys.readouterr().err

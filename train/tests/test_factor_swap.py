"""The swap test: which input, z or x_T, decides each shapes factor."""
import numpy as np
import pytest
import torch

from infodiff import factor_swap as swap
from infodiff import sample, shapes
from infodiff.config import load_preset, validate_train_config
from infodiff.diffusion import make_schedule
from infodiff.fixture import CONFIG_PATH, randomize_weights
from infodiff.model import InfoDiff

SCENES = np.array([[0, 1, 2, 3, 0, 4], [5, 9, 7, 1, 2, 14], [3, 3, 3, 7, 3, 0]])


def _oracle(dataset='shapes'):
    """A ReadyModel whose sampler the tests replace; only its device and sizes are read."""
    return sample.ReadyModel(model=torch.nn.Linear(1, 1), schedule=make_schedule({}),
                              architecture={'imageChannels': 3, 'imageSize': 8, 'latentDim': 192}, dataset=dataset,
                              data_dir='', metadata=None, source='oracle')


def test_share_is_the_fraction_of_the_change_carried():
    a, b = torch.zeros(2, 3, 4, 4), torch.zeros(2, 3, 4, 4)
    b[:, 0, :2] = 1.0  # the factor moves the red channel of the top half only
    assert swap.swap_share(a, b, a, b) == pytest.approx(1.0)
    assert swap.swap_share(a, a, a, b) == 0.0
    assert swap.swap_share(a, a + 0.5 * (b - a), a, b) == pytest.approx(0.5)
    # Change where the factor leaves the scene alone weighs nothing.
    elsewhere = a.clone()
    elsewhere[:, 1] = 1.0
    assert swap.swap_share(a, elsewhere, a, b) == 0.0


@pytest.mark.parametrize('decides, expected', [('code', 1.0), ('noise', 0.0)])
def test_the_input_that_decides_the_picture_gets_the_share(monkeypatch, decides, expected):
    monkeypatch.setattr(swap, 'encode', lambda loaded, x, batch_size=64: x.flatten(1))
    monkeypatch.setattr(swap, 'invert', lambda loaded, x, z, steps, batch_size=64: x.clone())
    if decides == 'code':
        monkeypatch.setattr(swap, 'decode', lambda loaded, x_t, z, steps, batch_size=64: z.reshape(x_t.shape))
    else:
        monkeypatch.setattr(swap, 'decode', lambda loaded, x_t, z, steps, batch_size=64: x_t.clone())
    result = swap.factor_swap(_oracle(), SCENES, steps=3)
    assert result['scenes'] == 3 and result['ddimSteps'] == 3
    assert list(result['factors']) == list(shapes.FACTOR_NAMES)
    for name, shares in result['factors'].items():
        assert shares['invertedNoise'] == pytest.approx(expected, abs=1e-9), name
        assert shares['freshNoise'] == pytest.approx(expected, abs=1e-9), name


def test_runs_the_real_sampler_on_a_small_shapes_network():
    cfg = validate_train_config(load_preset(CONFIG_PATH))
    arch = {**cfg.architecture, 'imageChannels': 3}
    model = InfoDiff(arch, make_schedule(cfg.schedule).timesteps)
    randomize_weights(model, seed=3)
    loaded = sample.ReadyModel(model=model.eval(), schedule=make_schedule(cfg.schedule), architecture=arch,
                                dataset='shapes', data_dir='', metadata=None, source='random')
    result = swap.factor_swap(loaded, SCENES[:2], steps=2, seed=1)
    values = [v for shares in result['factors'].values() for v in shares.values()]
    assert len(values) == 12 and all(np.isfinite(values))
    assert swap.factor_swap(loaded, SCENES[:2], steps=2, seed=1) == result  # seeded: the same numbers again


def test_other_data_sets_are_refused():
    with pytest.raises(ValueError, match='shapes'):
        swap.factor_swap(_oracle('fashion-mnist'), SCENES, steps=2)


def test_evaluate_files_the_swap_and_the_mlp_probe_for_a_shapes_checkpoint(tmp_path):
    """The shapes-only blocks end to end on a 1-step shapes run, the slow blocks skipped."""
    import json

    from infodiff import evaluate
    from infodiff.config import apply_overrides
    from infodiff.train import train

    run = tmp_path / 'run'
    cfg = apply_overrides(load_preset('configs/fmnist_tiny.json'),
                          ['--dataset=shapes', '--architecture.imageChannels=3', '--dataset_size=32',
                           '--eval_images=4', '--steps=1', '--warmup_steps=1', '--threads=1', f'--out_dir={run}'])
    train(validate_train_config(cfg))
    out = tmp_path / 'metrics.json'
    assert evaluate.main(['--model', str(run / 'checkpoint.pt'), '--out', str(out), '--skip', 'dci,fd,nll,recon',
                          '--probe-images', '30', '--mlp-probe-images', '20', '--swap-scenes', '3',
                          '--sample-steps', '2', '--device', 'cpu']) == 0
    written = json.loads(out.read_text())
    assert written['linearProbe']['samples'] == 30 and written['mlpProbe']['samples'] == 20
    assert set(written['mlpProbe']['attributes']) == set(shapes.FACTOR_NAMES)
    swapped = written['factorSwap']
    assert swapped['scenes'] == 3 and swapped['ddimSteps'] == 2
    assert set(swapped['factors']) == set(shapes.FACTOR_NAMES)

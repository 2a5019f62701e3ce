"""Sampling CLIs and the evaluation command: an analytic model checks the operations, a tiny package the CLIs."""
import json
import math

import numpy as np
import pytest
import torch
from PIL import Image

from infodiff import evaluate, sample
from infodiff.config import load_preset, validate_train_config
from infodiff.data import load_dataset, load_fashion_mnist
from infodiff.diffusion import make_schedule
from infodiff.export import attribute_directions, encode_all, gaussian_reference, latent_statistics, write_gallery
from infodiff.fixture import CONFIG_PATH, randomize_weights
from infodiff.metrics import reconstruction_psnr
from infodiff.model import InfoDiff
from infodiff.objective import sample_prior
from infodiff.webpackage import state_dict_arrays, write_web_package

SCHEDULE = make_schedule({})
TOY_VARIANCE = 0.05


class GaussianLatentModel(torch.nn.Module):
    """A closed-form stand-in for InfoDiff: data x ~ N(z_0 * 1, v I). Enc(x) = (pixel mean, 0) and predict_eps is
    the exact posterior-mean noise prediction of that Gaussian at level alpha_bar[t]."""

    def __init__(self):
        super().__init__()
        self.anchor = torch.nn.Parameter(torch.zeros(1))  # gives the model a device
        self.alpha_bar = torch.tensor(SCHEDULE.alpha_bar)

    def encode(self, x):
        m = x.mean(dim=(1, 2, 3))
        return torch.stack([m, torch.zeros_like(m)], dim=1)

    def predict_eps(self, xt, t, z):
        a = self.alpha_bar[t].to(xt.dtype).reshape(-1, 1, 1, 1)
        mean = z[:, 0].to(xt.dtype).reshape(-1, 1, 1, 1)
        return torch.sqrt(1 - a) * (xt - torch.sqrt(a) * mean) / (a * TOY_VARIANCE + 1 - a)


def _toy():
    return sample.ReadyModel(model=GaussianLatentModel(), schedule=SCHEDULE,
                              architecture={'imageChannels': 1, 'imageSize': 4, 'latentDim': 2},
                              dataset='fashion-mnist', data_dir='', metadata=None, source='analytic')


def _toy_images(count, seed=123):
    generator = torch.Generator().manual_seed(seed)
    means = torch.linspace(-0.5, 0.5, count, dtype=torch.float64).reshape(count, 1, 1, 1)
    return means + math.sqrt(TOY_VARIANCE) * torch.randn(count, 1, 4, 4, generator=generator, dtype=torch.float64)


def _psnr(images, references):
    return reconstruction_psnr(images.double().numpy(), references.double().numpy())['psnr']


def test_inversion_reconstructs_and_fresh_noise_does_not():
    toy, x0 = _toy(), _toy_images(6)
    with_inversion = {s: _psnr(sample.reconstruct(toy, x0, s, inversion=True), x0) for s in (20, 100)}
    without = _psnr(sample.reconstruct(toy, x0, 100, inversion=False, seed=0), x0)
    assert with_inversion[100] > 38 and with_inversion[100] > with_inversion[20] > 25
    assert without < 22  # fresh noise keeps only what z holds: here the mean, not the pixels


def test_prior_samples_are_seeded_and_have_the_data_spread():
    toy = _toy()
    first = sample.sample_images(toy, 64, steps=100, seed=3)
    assert first.shape == (64, 1, 4, 4)
    torch.testing.assert_close(first, sample.sample_images(toy, 64, steps=100, seed=3))
    assert not torch.equal(first, sample.sample_images(toy, 64, steps=100, seed=4))
    # Each sample is N(z_0, v I) around its own z_0 ~ N(0, 1): the within-image spread is sqrt(v).
    within = (first - first.mean(dim=(1, 2, 3), keepdim=True)).std()
    assert within.item() == pytest.approx(math.sqrt(TOY_VARIANCE), rel=0.15)


def test_traversal_layout_sets_absolute_values_per_dimension():
    toy, x0 = _toy(), _toy_images(1)
    grid = sample.traversal(toy, x0, steps=50)
    assert grid.shape == (2 * 11, 1, 4, 4)
    assert sample.TRAVERSAL_VALUES == pytest.approx([-1.5 + 0.3 * k for k in range(11)])
    row0, row1 = grid[:11], grid[11:]
    # Dimension 0 is the image mean in this model: its row walks the mean through the absolute values.
    np.testing.assert_allclose(row0.mean(dim=(1, 2, 3)).numpy(), sample.TRAVERSAL_VALUES, atol=0.05)
    # Dimension 1 is ignored by the decoder: its row repeats the reconstruction.
    for image in row1:
        torch.testing.assert_close(image, row1[0])
    torch.testing.assert_close(row1[0:1], sample.reconstruct(toy, x0, 50, inversion=True))
    with pytest.raises(ValueError, match='latent dimensions \\[5\\] do not exist'):
        sample.traversal(toy, x0, steps=5, dims=[5])


def test_interpolation_ends_at_the_two_reconstructions():
    toy, pair = _toy(), _toy_images(2)
    frames = sample.interpolation(toy, pair[:1], pair[1:], steps=50, frames=5)
    assert frames.shape == (5, 1, 4, 4)
    torch.testing.assert_close(frames[:1], sample.reconstruct(toy, pair[:1], 50, inversion=True))
    torch.testing.assert_close(frames[-1:], sample.reconstruct(toy, pair[1:], 50, inversion=True), rtol=1e-6,
                               atol=1e-6)
    means = frames.mean(dim=(1, 2, 3))
    assert torch.all(means[1:] > means[:-1])  # z_0 moves monotonically from the darker image to the lighter one


def test_prior_samples_come_from_the_models_prior():
    toy = _toy()
    toy.prior = '10mix'
    seen = {}

    def capture(loaded, x_noise, z, steps, eta=0.0, generator=None, batch_size=64):
        seen['z'] = z
        return x_noise

    original = sample.decode
    sample.decode = capture
    try:
        sample.sample_images(toy, 50, steps=2, seed=6)
    finally:
        sample.decode = original
    expected = sample_prior('10mix', 50, 2, torch.Generator().manual_seed(6))
    torch.testing.assert_close(seen['z'], expected, rtol=0, atol=0)


def test_evaluation_data_is_the_training_draw():
    """A shapes model's 'train' split is its own seeded draw, capped at the training size; 'test' is the held-out
    draw of the same seed (infodiff.data: seed + 1000)."""
    toy = sample.ReadyModel(model=GaussianLatentModel(), schedule=SCHEDULE,
                             architecture={'imageChannels': 3, 'imageSize': 8, 'latentDim': 2}, dataset='shapes',
                             data_dir='', metadata=None, source='analytic', data_seed=7, train_size=12)
    training = load_dataset('shapes', '', 8, 3, 'train', size=12, seed=7)
    assert np.array_equal(sample.open_dataset(toy, 'train', shapes_count=50).factors, training.factors)
    assert np.array_equal(sample.open_dataset(toy, 'train', shapes_count=5).factors, training.factors[:5])
    held_out = load_dataset('shapes', '', 8, 3, 'test', size=5, seed=7)
    assert np.array_equal(sample.open_dataset(toy, 'test', shapes_count=5).factors, held_out.factors)
    other_seed = load_dataset('shapes', '', 8, 3, 'train', size=12, seed=0)
    assert not np.array_equal(other_seed.factors, training.factors)


def test_slerp_keeps_the_norm_and_handles_parallel_vectors():
    a = torch.tensor([3.0, 0.0])
    b = torch.tensor([0.0, 3.0])
    middle = sample.slerp(a, b, 0.5)
    assert middle.norm().item() == pytest.approx(3.0)
    torch.testing.assert_close(middle, torch.tensor([3 / math.sqrt(2), 3 / math.sqrt(2)]))
    torch.testing.assert_close(sample.slerp(a, 2 * a, 0.25), torch.tensor([3.75, 0.0]))


# --------------------------------------------------------------------------------------------- tiny package


@pytest.fixture(scope='module')
def tiny_package(tmp_path_factory):
    """The fixture architecture (16x16x1, latentDim 6) with random weights, packaged as a FashionMNIST model."""
    cfg = validate_train_config(load_preset(CONFIG_PATH))
    arch, schedule = cfg.architecture, cfg.schedule
    model = InfoDiff(arch, make_schedule(schedule).timesteps)
    randomize_weights(model, seed=7)
    model.eval()
    data = load_fashion_mnist(split='train', image_size=16, limit=300)
    z = encode_all(model, data, batch_size=100)
    out = tmp_path_factory.mktemp('packages') / 'tiny-fmnist'
    out.mkdir()
    gallery = write_gallery(out, data.images[:2].numpy(), [data.describe(0), data.describe(1)])
    metadata = {
        'id': 'tiny-fmnist', 'displayName': 'Tiny', 'description': 'Random weights for tests.',
        'architecture': arch, 'schedule': schedule,
        'preprocessing': {'imageSize': 16, 'channels': 1, 'valueRange': [-1, 1], 'lightOnDark': True},
        'latent': latent_statistics(z), 'dimensionNames': [None] * arch['latentDim'],
        'attributeDirections': attribute_directions(z, data)[:2],
        'gaussianReference': gaussian_reference(data.images.permute(0, 2, 3, 1).numpy() / 127.5 - 1),
        'gallery': gallery,
        'provenance': {'source': 'fixture', 'dataset': 'fashion-mnist', 'objective': {}, 'steps': 0, 'batchSize': 0,
                       'wallTimeSeconds': 0.0, 'hardware': 'none', 'ema': False, 'metrics': {},
                       'createdAt': '2025-01-01T00:00:00Z', 'notes': 'test package'},
    }
    write_web_package(out, state_dict_arrays(model.state_dict()), metadata)
    return out


def _png_size(path):
    with Image.open(path) as image:
        return image.size, image.mode


def test_cli_commands_write_grids_of_the_documented_layout(tiny_package, tmp_path):
    common = ['--model', str(tiny_package), '--steps', '3', '--device', 'cpu']
    sample.main(['samples', *common, '--n', '6', '--out', str(tmp_path / 's.png')])
    assert _png_size(tmp_path / 's.png') == ((3 * 18 + 2, 2 * 18 + 2), 'L')  # 3 columns of 16 px + 2 px gutters
    sample.main(['reconstruct', *common, '--n', '4', '--out', str(tmp_path / 'r.png')])
    assert _png_size(tmp_path / 'r.png') == ((4 * 18 + 2, 3 * 18 + 2), 'L')  # originals, inverted, fresh noise
    sample.main(['traversal', *common, '--index', '3', '--dims', '0,5', '--out', str(tmp_path / 't.png')])
    assert _png_size(tmp_path / 't.png') == ((11 * 18 + 2, 2 * 18 + 2), 'L')
    sample.main(['interpolate', *common, '--index', '0', '--index-b', '1', '--frames', '4',
                 '--out', str(tmp_path / 'i.png')])
    assert _png_size(tmp_path / 'i.png') == ((4 * 18 + 2, 18 + 2), 'L')


def test_grid_keeps_light_on_dark_images_as_they_are(tmp_path):
    images = -torch.ones(2, 1, 2, 2)
    images[1] = 1.0
    path = sample.save_grid(images, 2, tmp_path / 'g.png', gutter=1)
    pixels = np.asarray(Image.open(path))
    assert pixels[1, 1] == 0 and pixels[1, 4] == 255 and pixels[0, 0] == 128


def test_evaluate_writes_every_metric_for_a_tiny_run(tiny_package, tmp_path, untrained_fashion_judge):
    judge = untrained_fashion_judge
    out = tmp_path / 'metrics.json'
    argv = ['--model', str(tiny_package), '--out', str(out), '--probe-images', '60', '--fd-samples', '12',
            '--sample-steps', '2', '--classifier', str(judge), '--nll-images', '2', '--nll-samples', '8',
            '--recon-images', '3', '--recon-steps', '2,3', '--device', 'cpu']
    assert evaluate.main(argv) == 0
    report = json.loads(out.read_text())
    assert report['command'] == 'python -m infodiff.evaluate ' + ' '.join(argv)
    assert 0 <= report['linearProbe']['attributes']['class']['mean'] <= 1
    assert report['linearProbe']['samples'] == 60 and len(report['linearProbe']['attributes']['class']['folds']) == 5
    assert report['frechetDistance']['frechetDistance'] >= 0 and report['frechetDistance']['resizedFrom'] == 16
    assert sum(report['recognisability']['samples']['heads']['class']['histogram'].values()) == 12
    # eta 1 beside eta 0 by default; the stochastic samples differ, so their FD does too. Then both again with z
    # from the package's fitted latent mixture.
    deterministic, stochastic, fitted_deterministic, fitted_stochastic, encoded, encoded_stochastic = report['samplers']
    assert (deterministic['eta'], stochastic['eta']) == (0.0, 1.0) and stochastic['sampleCount'] == 12
    assert stochastic['frechetDistance'] != deterministic['frechetDistance']
    assert (deterministic['prior'], fitted_stochastic['prior']) == ('model', 'fitted')
    assert deterministic['priorDescription'] == 'z ~ N(0, I)'
    assert fitted_deterministic['priorDescription'].startswith('z ~ a 10-component Gaussian mixture fitted to ')
    assert fitted_deterministic['frechetDistance'] != deterministic['frechetDistance']
    # And with z = Enc(x) of held-out test images, the ceiling of any latent prior.
    assert (encoded['prior'], encoded['eta'], encoded_stochastic['eta']) == ('encoded', 0.0, 1.0)
    assert encoded['priorDescription'] == 'z = Enc(x) of 12 held-out test images'
    assert encoded['frechetDistance'] != deterministic['frechetDistance']
    nll = report['nll']
    assert math.isfinite(nll['bitsPerDim']) and nll['images'] == 2 and nll['samples'] == 8
    assert nll['bitsPerDim8bit'] == pytest.approx(nll['bitsPerDim'] + math.log2(127.5))
    recon = report['reconstruction']
    assert set(recon) == {'images', 'inversion2', 'inversion3', 'noInversion'}
    assert recon['noInversion']['ddimSteps'] == 3 and recon['images'] == 3
    assert 'dci' not in report  # FashionMNIST has no generative factors
    assert report['model']['dataset'] == 'fashion-mnist' and report['wallTimeSeconds'] >= 0


def test_evaluate_rejects_unknown_blocks():
    with pytest.raises(SystemExit):
        evaluate.parser().parse_args(['--model', 'm', '--out', 'o', '--skip', 'everything'])
    with pytest.raises(SystemExit):
        evaluate.parser().parse_args(['--model', 'm', '--out', 'o', '--compare-eta', '0.5,2'])
    assert evaluate.parser().parse_args(['--model', 'm', '--out', 'o', '--compare-eta', '']).compare_eta == []


def test_clis_report_bad_input_without_a_traceback(tiny_package, tmp_path, capsys):
    assert sample.main(['samples', '--model', str(tmp_path / 'missing'), '--out', str(tmp_path / 'x.png')]) == 1
    assert 'neither a web package folder nor a checkpoint file' in capsys.readouterr().err
    assert sample.main(['traversal', '--model', str(tiny_package), '--dims', '9', '--steps', '2',
                        '--out', str(tmp_path / 't.png')]) == 1
    assert 'latent dimensions [9] do not exist' in capsys.readouterr().err
    assert evaluate.main(['--model', str(tmp_path / 'missing'), '--out', str(tmp_path / 'm.json')]) == 1
    assert not (tmp_path / 'm.json').exists()


def test_grid_keeps_a_file_that_differs_only_by_rounding(tmp_path):
    def level(value):  # images at 8-bit level `value`
        return torch.full((2, 1, 4, 4), value / 127.5 - 1)

    path = sample.save_grid(level(100), 2, tmp_path / 'g.png')
    before = path.read_bytes()
    sample.save_grid(level(101), 2, path, keep_within=1)
    assert path.read_bytes() == before
    sample.save_grid(level(101), 2, path)  # without keep_within the file is always written
    assert np.asarray(Image.open(path))[2, 2] == 101
    sample.save_grid(level(150), 2, path, keep_within=1)  # a real change is written
    assert np.asarray(Image.open(path))[2, 2] == 150


def test_grid_rewrites_a_file_of_another_size_or_a_corrupt_one(tmp_path):
    path = tmp_path / 'g.png'
    path.write_bytes(b'not a png')
    sample.save_grid(torch.zeros(2, 1, 4, 4), 2, path, keep_within=1)
    assert np.asarray(Image.open(path)).shape == (8, 14)
    sample.save_grid(torch.zeros(3, 1, 4, 4), 3, path, keep_within=1)
    assert np.asarray(Image.open(path)).shape == (8, 20)

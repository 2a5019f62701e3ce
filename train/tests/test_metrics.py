"""Metrics on synthetic data whose answers are known."""
import numpy as np
import pytest
from scipy import linalg
from scipy.stats import special_ortho_group

from infodiff import metrics


def _factor_codes(n, seed):
    """Three discrete factors and a code that stores each factor in its own dimension (plus small noise)."""
    rng = np.random.default_rng(seed)
    factors = rng.integers(0, 4, size=(n, 3))
    code = factors + 0.05 * rng.standard_normal((n, 3))
    return code, factors


def test_linear_probe_on_separable_and_on_random_labels():
    rng = np.random.default_rng(0)
    z = rng.standard_normal((300, 8))
    separable = (z[:, 2] + 0.5 * z[:, 5] > 0).astype(int)
    random_labels = rng.integers(0, 2, size=300)
    result = metrics.linear_probe(z, {'separable': separable, 'random': random_labels})
    assert result['attributes']['separable']['mean'] > 0.97
    assert len(result['attributes']['separable']['folds']) == 5
    assert 0.3 < result['attributes']['random']['mean'] < 0.7
    assert result['meanAccuracy'] == pytest.approx(
        (result['attributes']['separable']['mean'] + result['attributes']['random']['mean']) / 2)


def test_linear_probe_multiclass_and_bad_labels():
    rng = np.random.default_rng(1)
    centres = 4.0 * rng.standard_normal((5, 6))
    y = rng.integers(0, 5, size=250)
    z = centres[y] + 0.3 * rng.standard_normal((250, 6))
    assert metrics.linear_probe(z, {'class': y})['attributes']['class']['mean'] > 0.98
    with pytest.raises(ValueError, match=r"labels\['class'\] must have shape \[250\]"):
        metrics.linear_probe(z, {'class': y[:10]})


def test_the_mlp_probe_reads_what_no_linear_read_out_can():
    rng = np.random.default_rng(2)
    z = rng.standard_normal((600, 4))
    xor = (z[:, 0] * z[:, 1] > 0).astype(int)  # no hyperplane separates the quadrants
    linear = metrics.linear_probe(z, {'xor': xor})['attributes']['xor']['mean']
    mlp = metrics.mlp_probe(z, {'xor': xor})
    assert linear < 0.65 and mlp['attributes']['xor']['mean'] > 0.9
    assert mlp['folds'] == 5 and mlp['samples'] == 600
    assert metrics.mlp_probe(z, {'xor': xor}) == mlp  # seeded
    with pytest.raises(ValueError, match='at least one attribute'):
        metrics.mlp_probe(z, {})


def test_dci_of_disentangled_code_is_near_one_and_rotation_lowers_it():
    code_train, factors_train = _factor_codes(400, 0)
    code_test, factors_test = _factor_codes(200, 1)
    names = ['a', 'b', 'c']
    aligned = metrics.dci(code_train, factors_train, code_test, factors_test, names, n_estimators=20)
    assert aligned['disentanglement'] > 0.9 and aligned['completeness'] > 0.9
    assert aligned['informativenessTest'] > 0.95
    assert np.argmax(np.array(aligned['importance']), axis=1).tolist() == [0, 1, 2]

    rotation = special_ortho_group.rvs(3, random_state=3)
    rotated = metrics.dci(code_train @ rotation, factors_train, code_test @ rotation, factors_test, names,
                          n_estimators=20)
    assert rotated['disentanglement'] < aligned['disentanglement'] - 0.2
    assert rotated['informativenessTest'] > 0.8  # a rotation loses no information, only its alignment


def test_dci_from_importance_by_hand():
    perfect = metrics.dci_from_importance(np.eye(3))
    assert perfect['disentanglement'] == pytest.approx(1.0) and perfect['completeness'] == pytest.approx(1.0)
    uniform = metrics.dci_from_importance(np.ones((4, 2)))
    assert uniform['disentanglement'] == pytest.approx(0.0) and uniform['completeness'] == pytest.approx(0.0)
    # Code 0 splits evenly between two factors (D_0 = 0), code 1 is pure (D_1 = 1), weights 2/3 and 1/3.
    r = np.array([[1.0, 1.0], [0.0, 1.0]])
    mixed = metrics.dci_from_importance(r)
    assert mixed['perCode'] == pytest.approx([0.0, 1.0])
    assert mixed['disentanglement'] == pytest.approx(1.0 / 3.0)
    # Factor 0 lives in code 0 only (C = 1); factor 1 splits evenly (C = 0); weights 1/3 and 2/3.
    assert mixed['completeness'] == pytest.approx(1.0 / 3.0)
    with pytest.raises(ValueError, match='all zero'):
        metrics.dci_from_importance(np.zeros((2, 2)))


def test_factor_dimension_names():
    importance = np.array([
        [0.90, 0.05, 0.05],   # clearly factor a
        [0.45, 0.40, 0.15],   # no clear winner
        [0.02, 0.03, 0.95],   # clearly factor c
        [0.0001, 0.0, 0.0],   # pure but barely used
    ])
    assert metrics.factor_dimension_names(importance, ['a', 'b', 'c']) == ['a', None, 'c', None]
    with pytest.raises(ValueError, match='2 factor names'):
        metrics.factor_dimension_names(importance, ['a', 'b'])


def test_frechet_distance_identical_and_shifted_sets():
    rng = np.random.default_rng(0)
    features = rng.standard_normal((500, 6)) @ rng.standard_normal((6, 6))
    assert metrics.frechet_distance(features, features)['frechetDistance'] == pytest.approx(0.0, abs=1e-6)
    shift = np.array([1.0, -2.0, 0.5, 0.0, 3.0, -1.0])
    shifted = metrics.frechet_distance(features, features + shift)
    assert shifted['frechetDistance'] == pytest.approx(float(shift @ shift), rel=1e-6)
    assert shifted['meanTerm'] == pytest.approx(float(shift @ shift))


def test_frechet_distance_matches_closed_form_for_diagonal_covariances():
    # For diagonal covariances the trace term is sum (sqrt(a_i) - sqrt(b_i))^2.
    rng = np.random.default_rng(1)
    a = rng.standard_normal((4000, 3)) * np.array([1.0, 2.0, 0.5])
    b = rng.standard_normal((4000, 3)) * np.array([3.0, 1.0, 0.5])
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    mean_diff = a.mean(0) - b.mean(0)
    reference = mean_diff @ mean_diff + np.trace(cov_a + cov_b - 2 * linalg.sqrtm(linalg.sqrtm(cov_a) @ cov_b
                                                                                     @ linalg.sqrtm(cov_a)).real)
    result = metrics.frechet_distance(a, b)['frechetDistance']
    assert result == pytest.approx(reference, rel=1e-6)
    assert result == pytest.approx((1 - 3) ** 2 + (2 - 1) ** 2, rel=0.1)


def test_frechet_distance_with_fewer_samples_than_dimensions_is_finite():
    rng = np.random.default_rng(2)
    a, b = rng.standard_normal((10, 40)), rng.standard_normal((12, 40))
    value = metrics.frechet_distance(a, b)['frechetDistance']
    assert np.isfinite(value) and value > 0
    with pytest.raises(ValueError, match='feature dimensions differ'):
        metrics.frechet_distance(a, b[:, :5])


def test_reconstruction_psnr_by_hand():
    reference = np.zeros((2, 4, 4, 1))
    images = reference.copy()
    images[0] += 0.2            # in [0, 1] space an error of 0.1 everywhere: MSE 0.01, PSNR 20 dB
    images[1, 0, 0, 0] = 1.0    # one pixel off by 0.5 in [0, 1]: MSE 0.25 / 16, PSNR 10 log10(64)
    result = metrics.reconstruction_psnr(images, reference)
    expected = [20.0, 10 * np.log10(64.0)]
    assert result['perImage'] == pytest.approx(expected)
    assert result['psnr'] == pytest.approx(np.mean(expected))
    assert metrics.reconstruction_psnr(reference, reference)['psnr'] == pytest.approx(100.0)
    with pytest.raises(ValueError, match='same batched shape'):
        metrics.reconstruction_psnr(images, reference[:1])


def test_high_frequency_energy_by_hand_and_against_grain():
    flat = np.zeros((2, 1, 5, 5))
    assert metrics.high_frequency_energy(flat) == 0.0
    ramp = np.broadcast_to(np.linspace(-1, 1, 5), (2, 1, 5, 5))  # linear: each pixel is its neighbours' mean
    assert metrics.high_frequency_energy(ramp) == pytest.approx(0.0, abs=1e-12)
    spike = np.full((1, 3, 3), -1.0)
    spike[0, 1, 1] = 1.0        # on [0, 1]: the one interior pixel is 1, its neighbours 0: Laplacian 1
    assert metrics.high_frequency_energy(spike) == pytest.approx(1.0)
    smooth = np.sin(np.linspace(0, np.pi, 16))[None, None, :, None] * np.ones((4, 3, 16, 16)) * 0.8
    grainy = smooth + np.random.default_rng(0).normal(0, 0.1, smooth.shape)
    assert metrics.high_frequency_energy(grainy) > 20 * metrics.high_frequency_energy(smooth)
    with pytest.raises(ValueError, match='H, W >= 3'):
        metrics.high_frequency_energy(np.zeros((2, 2, 2)))

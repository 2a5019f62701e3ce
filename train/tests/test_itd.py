"""I-MMSE estimator against the analytic Gaussian denoiser, whose exact log-density is known."""
import math

import numpy as np
import pytest
import torch

from infodiff import itd
from infodiff.diffusion import make_schedule

IMAGE_SHAPE = (1, 4, 4)  # [C, H, W], d = 16
D = 16


def _gaussian_problem(seed=0):
    """Data N(mean, diag(lambda)) with a spread of eigenvalues, its exact denoiser and the matching reference."""
    rng = np.random.default_rng(seed)
    log_lambda = rng.uniform(-4.0, -0.5, size=D)
    mean = torch.tensor(rng.uniform(-0.5, 0.5, size=D).reshape(IMAGE_SHAPE))
    variances = torch.tensor(np.exp(log_lambda).reshape(IMAGE_SHAPE))
    reference = itd.GaussianReference(
        mean=mean, variance=float(np.exp(log_lambda).mean()), log_eigenvalues=log_lambda,
        log_snr_loc=float(-log_lambda.mean()), log_snr_scale=float(math.sqrt(1 + 3 / math.pi * log_lambda.var())))
    return mean, variances, reference


def _exact_bits_per_dim(x, mean, variances):
    nats = 0.5 * ((x - mean) ** 2 / variances).flatten(1).sum(1) + 0.5 * torch.log(2 * math.pi * variances).sum()
    return (nats / (D * math.log(2))).numpy()


def test_nll_recovers_the_exact_gaussian_log_density_within_the_standard_error():
    mean, variances, reference = _gaussian_problem()
    generator = torch.Generator().manual_seed(1)
    x = mean + torch.sqrt(variances) * torch.randn((6,) + IMAGE_SHAPE, generator=generator, dtype=torch.float64)
    z = torch.zeros(6, 2, dtype=torch.float64)
    result = itd.estimate_nll(itd.gaussian_denoiser(mean, variances), make_schedule({}).alpha_bar, reference, x, z,
                              samples=256, dequantize=False, batch_size=100, generator=torch.Generator().manual_seed(2))
    exact = _exact_bits_per_dim(x, mean, variances)
    estimated = np.array([p['bitsPerDim'] for p in result['perImage']])
    std_err = np.array([p['stdErr'] for p in result['perImage']])
    assert np.all(np.abs(estimated - exact) < 3 * std_err)
    assert np.all(std_err < 0.1)
    # Averaged over images the Monte Carlo errors shrink by sqrt(6).
    assert abs(result['bitsPerDim'] - exact.mean()) < 3 * std_err.mean() / math.sqrt(6)
    assert result['bitsPerDim8bit'] == pytest.approx(result['bitsPerDim'] + math.log2(127.5))
    # The plain estimate (no control variate) has the same expectation and a larger error.
    plain = result['withoutControlVariate']
    assert abs(plain['bitsPerDim'] - exact.mean()) < 4 * plain['stdErr']
    assert result['denoiserCalls'] == math.ceil(6 * 256 / 100) and result['denoiserEvaluations'] == 6 * 256


def test_dequantised_estimate_is_the_density_of_the_jittered_image():
    # With dequantisation, the estimate is -log p(x~) of x~ = x + U(-delta/2, delta/2): for a smooth density this is
    # -log p(x) up to O(delta^2 / lambda), so it stays within the SE of the exact value at x.
    mean, variances, reference = _gaussian_problem(seed=3)
    x = mean + torch.sqrt(variances) * torch.randn((1,) + IMAGE_SHAPE, generator=torch.Generator().manual_seed(4),
                                                   dtype=torch.float64)
    result = itd.estimate_nll(itd.gaussian_denoiser(mean, variances), make_schedule({}).alpha_bar, reference, x,
                              torch.zeros(1, 2, dtype=torch.float64), samples=512, dequantize=True)
    assert result['dequantized']
    assert abs(result['bitsPerDim'] - _exact_bits_per_dim(x, mean, variances)[0]) < 3 * result['stdErr'] + 0.01


def test_estimate_is_reproducible_from_the_seed():
    mean, variances, reference = _gaussian_problem()
    x = mean.expand((2,) + IMAGE_SHAPE).clone()

    def run(seed):
        return itd.estimate_nll(itd.gaussian_denoiser(mean, variances), make_schedule({}).alpha_bar, reference, x,
                                torch.zeros(2, 1, dtype=torch.float64), samples=16,
                                generator=torch.Generator().manual_seed(seed))['bitsPerDim']

    assert run(5) == run(5) != run(6)


def test_network_denoiser_is_called_at_the_nearest_timestep():
    schedule = make_schedule({})
    seen = []

    def network(xt, t, z):
        seen.append(t.clone())
        return torch.zeros_like(xt)

    mean, variances, reference = _gaussian_problem()
    x = mean.expand((1,) + IMAGE_SHAPE).clone()
    itd.estimate_nll(itd.network_denoiser(network), schedule.alpha_bar, reference, x,
                     torch.zeros(1, 2, dtype=torch.float64), samples=8, batch_size=5)
    assert [len(t) for t in seen] == [5, 3]
    timesteps = torch.cat(seen)
    assert timesteps.dtype == torch.int64 and timesteps.min() >= 0 and timesteps.max() <= 999


def test_timestep_for_log_snr_is_the_nearest_entry_with_clamping_and_ties_to_the_smaller_t():
    alpha_bar = make_schedule({}).alpha_bar
    table = itd.log_snr_table(alpha_bar)
    queries = np.concatenate([np.linspace(table[-1] - 3, table[0] + 3, 997), table[[0, 17, 500, 999]],
                              [(table[41] + table[42]) / 2]])
    brute_force = np.array([int(np.argmin(np.abs(table - q))) for q in queries])  # argmin picks the first (smaller t)
    np.testing.assert_array_equal(itd.timestep_for_log_snr(alpha_bar, queries), brute_force)
    assert itd.timestep_for_log_snr(alpha_bar, np.array([1e9, -1e9])).tolist() == [0, 999]
    with pytest.raises(ValueError, match='NaN'):
        itd.timestep_for_log_snr(alpha_bar, np.array([np.nan]))


def test_truncated_logistic_weights_integrate_over_the_clipped_range():
    # E[w f(alpha)] = integral of f over [mu - c s, mu + c s]: for f = 1 the length 2 c s, for f = alpha its moment.
    log_snr, weight = itd.truncated_logistic_samples(2.0, 3.0, 4000, torch.Generator().manual_seed(0))
    assert log_snr.min() >= 2.0 - 12.0 and log_snr.max() <= 2.0 + 12.0
    assert np.all(np.diff(log_snr) > 0)  # one sample per stratum, in order
    assert weight.mean() == pytest.approx(24.0, rel=1e-2)
    assert (weight * log_snr).mean() == pytest.approx(((14.0 ** 2) - (-10.0) ** 2) / 2, rel=2e-2)


def test_mmse_curve_of_the_exact_denoiser_matches_its_closed_form():
    # For fixed x, eps - eps_pred = (1 - g sqrt(1-a)) eps - g sqrt(a) (x - m) with g = sqrt(1-a)/(a lambda + 1 - a),
    # so E_eps ||eps - eps_pred||^2 = sum_i (1 - g_i sqrt(1-a))^2 + g_i^2 a (x_i - m_i)^2; averaged over x ~ data
    # that is the Gaussian MMSE sum_i sigma(alpha + ln lambda_i).
    mean, variances, reference = _gaussian_problem()
    # The curve is that of the 8-bit image, so the closed form is evaluated at the quantised x.
    x = itd.quantise(mean + torch.sqrt(variances) * torch.randn(
        (16,) + IMAGE_SHAPE, generator=torch.Generator().manual_seed(7), dtype=torch.float64))
    curve = itd.mmse_curve(itd.gaussian_denoiser(mean, variances), make_schedule({}).alpha_bar, reference, x,
                           torch.zeros(16, 1, dtype=torch.float64), points=9, repeats=16, batch_size=1024)
    log_snr = np.array(curve['logSnr'])
    assert len(log_snr) == 9 and np.all(np.diff(log_snr) > 0)
    a = 1 / (1 + np.exp(-log_snr))[:, None, None]
    lam = variances.flatten().numpy()[None, None, :]
    gain = np.sqrt(1 - a) / (a * lam + 1 - a)
    offsets = (x - mean).flatten(1).numpy()[None, :, :] ** 2
    expected = ((1 - gain * np.sqrt(1 - a)) ** 2 + gain ** 2 * a * offsets).sum(-1).mean(-1)
    np.testing.assert_allclose(curve['mmse'], expected, rtol=0.05)
    population = ((1 - gain * np.sqrt(1 - a)) ** 2 + gain ** 2 * a * lam).sum(-1)[:, 0]
    np.testing.assert_allclose(curve['gaussian'], population, rtol=1e-9)
    assert curve['standardNormal'][-1] == pytest.approx(D / (1 + math.exp(-log_snr[-1])))
    np.testing.assert_allclose(curve['xSpaceMmse'], np.exp(-log_snr) * curve['mmse'])


def test_reference_from_metadata_reorders_nhwc_to_nchw():
    h, w, c = 2, 3, 2
    nhwc = np.arange(h * w * c, dtype=np.float32)
    reference = itd.reference_from_metadata(
        {'kind': 'diagonal', 'mean': nhwc.tolist(), 'variance': 0.5, 'logEigenvalues': [0.0] * (h * w * c),
         'logSnrLoc': 0.0, 'logSnrScale': 1.0}, (h, w, c))
    assert tuple(reference.mean.shape) == (c, h, w)
    assert reference.mean[1, 1, 2].item() == nhwc.reshape(h, w, c)[1, 2, 1]
    with pytest.raises(ValueError, match='variance must be positive'):
        itd.reference_from_metadata({'mean': nhwc.tolist(), 'variance': 0.0, 'logEigenvalues': [0.0] * 12,
                                     'logSnrLoc': 0.0, 'logSnrScale': 1.0}, (h, w, c))


def test_mismatched_inputs_are_refused():
    mean, variances, reference = _gaussian_problem()
    denoiser = itd.gaussian_denoiser(mean, variances)
    alpha_bar = make_schedule({}).alpha_bar
    with pytest.raises(ValueError, match='NCHW vs NHWC'):
        itd.estimate_nll(denoiser, alpha_bar, reference, torch.zeros(1, 4, 4, 1), torch.zeros(1, 2))
    with pytest.raises(ValueError, match='z must be'):
        itd.estimate_nll(denoiser, alpha_bar, reference, torch.zeros((2,) + IMAGE_SHAPE), torch.zeros(1, 2))
    with pytest.raises(ValueError, match='samples must be'):
        itd.estimate_nll(denoiser, alpha_bar, reference, torch.zeros((1,) + IMAGE_SHAPE), torch.zeros(1, 2), samples=1)

"""The discrete estimator, the trained-range treatment, ensembles and the unconditional denoiser of infodiff.itd,
on problems with a closed form."""
import math

import numpy as np
import pytest
import torch

from infodiff import itd
from infodiff.diffusion import make_schedule

ALPHA_BAR = make_schedule({}).alpha_bar
SHAPE = (1, 2, 4)  # [C, H, W], d = 8
D = 8
# Three of the 256 levels (u = 0, 96, 255) with their probabilities, the same in every pixel, pixels independent.
POINTS = torch.tensor([0, 96, 255], dtype=torch.float64) * (2 / 255) - 1
PROBS = torch.tensor([0.5, 0.3, 0.2], dtype=torch.float64)


def toy_denoiser(probs=PROBS):
    """The exact eps-predictor of the toy (posterior mean over the three points, per pixel) at the exact log-SNR;
    with other ``probs``, the posterior mean under a wrong prior: a worse denoiser."""
    log_prior = torch.log(probs)

    def eps_fn(xt, t, z, log_snr):
        shape = (-1,) + (1,) * (xt.dim() - 1)
        a = torch.sigmoid(log_snr).double().reshape(shape)
        one_minus = torch.sigmoid(-log_snr).double().reshape(shape)
        logits = log_prior - 0.5 * (xt.double().unsqueeze(-1) - torch.sqrt(a).unsqueeze(-1) * POINTS) ** 2 \
            / one_minus.unsqueeze(-1)
        x_pred = (torch.softmax(logits, dim=-1) * POINTS).sum(-1)
        return ((xt.double() - torch.sqrt(a) * x_pred) / torch.sqrt(one_minus)).to(xt.dtype)
    return eps_fn


def toy_reference():
    mean = float((PROBS * POINTS).sum())
    variance = float((PROBS * (POINTS - mean) ** 2).sum())
    # A wide logistic, so the sampled range covers every log-SNR where the toy's MMSE is not yet zero.
    return itd.GaussianReference(mean=torch.full(SHAPE, mean, dtype=torch.float64), variance=variance,
                                 log_eigenvalues=np.full(D, math.log(variance)), log_snr_loc=6.0, log_snr_scale=3.0)


def toy_images(count, seed):
    index = torch.multinomial(PROBS, count * D, replacement=True, generator=torch.Generator().manual_seed(seed))
    return POINTS[index].reshape((count,) + SHAPE), index.reshape(count, D)


def test_discrete_estimate_of_the_optimal_denoiser_is_the_exact_log_probability():
    x, index = toy_images(4, seed=1)
    exact_bits = (-torch.log(PROBS[index]).sum(1) / (D * math.log(2))).numpy()
    result = itd.estimate_nll(toy_denoiser(), ALPHA_BAR, toy_reference(), x, torch.zeros(4, 1, dtype=torch.float64),
                              samples=1024, batch_size=512, discrete=True, generator=torch.Generator().manual_seed(2))
    per_image = result['discrete']['perImage']
    for (estimate, exact) in zip(per_image, exact_bits):
        assert abs(estimate['bitsPerDim'] - exact) < 3 * estimate['stdErr'] + 1e-3
        assert estimate['stdErr'] < 0.15  # d = 8: a few nats over 1024 samples
    # The tails outside [mu - 4s, mu + 4s] = [-6, 18] are negligible for this toy, but present.
    assert 0 < result['discrete']['tailsBitsPerDim'] < 0.01


def test_a_worse_denoiser_gives_a_larger_discrete_estimate_and_the_ensemble_is_never_above_a_member():
    x, _ = toy_images(6, seed=3)
    z = torch.zeros(6, 1, dtype=torch.float64)
    reference = toy_reference()
    members = [toy_denoiser(), toy_denoiser(torch.tensor([0.2, 0.3, 0.5], dtype=torch.float64)),
               itd.gaussian_denoiser(reference.mean, torch.full(SHAPE, reference.variance, dtype=torch.float64))]
    runs = [itd.estimate_nll(m, ALPHA_BAR, reference, x, z, samples=256, batch_size=512, discrete=True,
                             shared_log_snr=True, return_terms=True, generator=torch.Generator().manual_seed(4))
            for m in members]
    assert runs[0]['discrete']['bitsPerDim'] < runs[1]['discrete']['bitsPerDim']
    ensemble = itd.ensemble_nll([r['terms'] for r in runs])
    for run in runs:
        assert ensemble['bitsPerDim'] <= run['bitsPerDim'] + 1e-12
        assert ensemble['discrete']['bitsPerDim'] <= run['discrete']['bitsPerDim'] + 1e-12
    # A member ensembled with itself is that member.
    alone = itd.ensemble_nll([runs[1]['terms'], runs[1]['terms']])
    assert alone['bitsPerDim'] == pytest.approx(runs[1]['bitsPerDim'], abs=1e-12)
    assert alone['discrete']['bitsPerDim'] == pytest.approx(runs[1]['discrete']['bitsPerDim'], abs=1e-12)
    other_draws = itd.estimate_nll(members[0], ALPHA_BAR, reference, x, z, samples=256, shared_log_snr=True,
                                   return_terms=True, generator=torch.Generator().manual_seed(5))
    with pytest.raises(ValueError, match='same draws'):
        itd.ensemble_nll([runs[0]['terms'], other_draws['terms']])


def test_outside_the_trained_range_the_network_is_not_called_and_the_reference_stands_in():
    seen = []
    low, high = itd.trained_log_snr_range(ALPHA_BAR)
    assert low == pytest.approx(itd.log_snr_table(ALPHA_BAR)[-1]) and high > 9 > -4 > low

    def network(xt, t, z, log_snr):
        seen.append(log_snr.clone())
        return torch.zeros_like(xt)

    x, _ = toy_images(2, seed=6)
    z = torch.zeros(2, 1, dtype=torch.float64)
    result = itd.estimate_nll(network, ALPHA_BAR, toy_reference(), x, z, samples=64, discrete=True,
                              trained_range=(low, high), return_terms=True)
    called = torch.cat(seen)
    assert called.min() >= low and called.max() <= high
    terms = result['terms']
    outside = (terms['log_snr'] < low) | (terms['log_snr'] > high)
    assert outside.any() and (~outside).any()
    assert np.all(terms['model'][outside] == terms['linear'][outside])
    assert result['denoiserEvaluations'] == int((~outside).sum())
    assert len(called) == 2 * result['denoiserEvaluations']  # the continuous pass and the discrete one
    assert result['trainedLogSnrRange'] == [low, high]
    kinds = itd.discrete_denoiser_kinds(np.array([low - 1, 0.0, 10.0, high + 1]), (low, high))
    assert kinds.tolist() == [itd.KIND_LINEAR, itd.KIND_MODEL, itd.KIND_SOFT_ROUNDED, itd.KIND_ROUNDING]
    # Above the range the discrete integrand is plain rounding: with a wide margin, it makes no error.
    assert np.all(terms['discrete'][terms['log_snr'] > 16] == 0)


def test_soft_round_snaps_to_the_levels_at_high_snr_and_leaves_the_ends_clamped():
    levels = itd.quantise(torch.tensor([-1.3, -1.0, 0.1234, 0.999, 1.7], dtype=torch.float64))
    assert torch.all(torch.abs((levels + 1) / (2 / 255) - torch.round((levels + 1) / (2 / 255))) < 1e-9)
    assert levels[0] == -1 and levels[-1] == 1
    near = levels + 0.3 * (2 / 255)
    snapped = itd.soft_round(near, torch.full((5,), 16.0, dtype=torch.float64))
    torch.testing.assert_close(snapped, levels, atol=1e-12, rtol=0)
    # At the start of soft rounding, halfway between two levels stays halfway.
    midway = itd.soft_round(torch.tensor([100.5 * (2 / 255) - 1], dtype=torch.float64),
                            torch.tensor([itd.SOFT_ROUND_FROM], dtype=torch.float64))
    assert midway.item() == pytest.approx(100.5 * (2 / 255) - 1, abs=1e-9)
    # Near the lower end there are fewer levels below, so the same offset is pulled up.
    low = itd.soft_round(torch.tensor([0.5 * (2 / 255) - 1], dtype=torch.float64),
                         torch.tensor([itd.SOFT_ROUND_FROM], dtype=torch.float64))
    assert low.item() > 0.5 * (2 / 255) - 1


def test_the_tails_match_their_integrals():
    # Left: the linear denoiser's expected error A^2 + B^2 per pixel, integrated numerically up to alpha_L.
    variance, distance, d, alpha_left = 0.3, 2.5, 8, -4.0
    grid = np.linspace(-60, alpha_left, 200001)
    gamma = np.exp(grid)
    per_pixel = d * (gamma * variance / (gamma * variance + 1)) ** 2 + gamma * distance / (gamma * variance + 1) ** 2
    numeric = 0.5 * np.trapz(per_pixel, grid)
    assert itd.linear_left_tail_nats(alpha_left, distance, d, variance) == pytest.approx(numeric, rel=1e-6)
    # Right: the rounding denoiser's analytic error against Monte Carlo at one log-SNR.
    alpha = 11.0
    eps = torch.randn(400000, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    x = torch.full_like(eps, 40 * (2 / 255) - 1)
    rounded = itd.quantise(x + math.exp(-alpha / 2) * eps)
    monte_carlo = math.exp(alpha) * float(((rounded - x) ** 2).mean())
    assert itd.rounding_mse_per_level(alpha) == pytest.approx(monte_carlo, rel=0.02)
    assert itd.rounding_mse_per_level(alpha, edge=True) == pytest.approx(itd.rounding_mse_per_level(alpha) / 2)
    assert itd.rounding_tail_nats(30.0) == 0 < itd.rounding_tail_nats(11.5)


def test_the_prior_averaged_denoiser_averages_over_the_draws_and_ignores_the_given_z():
    def network(xt, t, z):
        return xt * z[:, :1].reshape(-1, 1, 1, 1)

    eps_fn = itd.prior_averaged_denoiser(network, torch.tensor([[1.0], [3.0]]))
    xt = torch.ones(2, 1, 2, 2)
    out = eps_fn(xt, torch.zeros(2, dtype=torch.long), torch.full((2, 1), 100.0), torch.zeros(2))
    torch.testing.assert_close(out, 2 * xt)

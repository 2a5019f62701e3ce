"""The objective's terms against hand values, and the schedules/samplers it and the exporters rely on."""
import math

import numpy as np
import pytest
import torch

from infodiff.config import load_preset, validate_train_config
from infodiff.diffusion import (ddim_invert, ddim_plan, ddim_sample, ddim_sigma, ddim_step, make_schedule, q_sample)
from infodiff.model import TrainingForward, EncoderOutput, build_model
from infodiff.objective import (InfoDiffusionObjective, ObjectiveConfig, compute_mmd, gaussian_mixture_prior,
                                kl_to_standard_normal, mmd_kernel, sample_prior)

FIXTURE = validate_train_config(load_preset("configs/fixture.json")).architecture


# ------------------------------------------------------------------ schedules

def test_official_linear_schedule_hand_values():
    s = make_schedule({})
    assert s.betas[0] == 1e-5 and s.betas[-1] == 1e-2 and len(s.betas) == 1000
    assert s.betas[1] == pytest.approx(1e-5 + (1e-2 - 1e-5) / 999, rel=1e-12)
    assert s.alpha_bar[0] == pytest.approx(0.99999, rel=1e-12)
    assert s.alpha_bar[1] == pytest.approx((1 - 1e-5) * (1 - (1e-5 + (1e-2 - 1e-5) / 999)), rel=1e-12)
    # the official schedule's values (docs/sources.md §1.2): alpha_bar_499 = 0.285, alpha_bar_999 = 0.00659
    assert s.alpha_bar[499] == pytest.approx(0.285, abs=5e-4)
    assert s.alpha_bar[999] == pytest.approx(0.00659, abs=5e-5)
    assert np.all(np.diff(s.log_snr()) < 0)


def test_cosine_schedule_hand_values():
    s = make_schedule({"kind": "cosine", "timesteps": 4, "cosineOffset": 0.008})
    f = [math.cos(((u / 4) + 0.008) / 1.008 * math.pi / 2) ** 2 for u in range(5)]
    expected = [min(1 - f[i + 1] / f[i], 0.999) for i in range(4)]
    assert np.allclose(s.betas, expected, rtol=1e-12)
    assert s.betas[-1] == 0.999  # f(T) = cos(pi/2)^2 ~ 0, so the last beta is capped
    assert np.allclose(s.alpha_bar, np.cumprod(1 - np.array(expected)), rtol=1e-12)


def test_ddim_plan():
    assert ddim_plan(1000, 3) == [999, 500, 0]  # 499.5 rounds half up, like Math.round
    assert ddim_plan(1000, 1) == [999]
    assert ddim_plan(1000, 2) == [999, 0]
    assert ddim_plan(1000, 4) == [999, 666, 333, 0]
    assert ddim_plan(10, 10) == list(range(9, -1, -1))
    with pytest.raises(ValueError, match="exceed"):
        ddim_plan(10, 11)
    with pytest.raises(ValueError, match="at least one"):
        ddim_plan(10, 0)


def test_q_sample_and_ddim_step_coefficients():
    alpha_bar = torch.tensor([0.64, 0.36], dtype=torch.float64)
    x0, eps = torch.full((1, 1, 1, 1), 2.0, dtype=torch.float64), torch.full((1, 1, 1, 1), -1.0, dtype=torch.float64)
    xt = q_sample(x0, torch.tensor([1]), eps, alpha_bar)
    assert xt.item() == pytest.approx(0.6 * 2 - 0.8)
    x_next, x0_pred = ddim_step(xt, eps, 0.36, 0.64)
    assert x0_pred.item() == pytest.approx(2.0)
    assert x_next.item() == pytest.approx(0.8 * 2 - 0.6)
    sigma = ddim_sigma(1.0, 0.36, 0.64)
    assert sigma == pytest.approx(math.sqrt(0.36 / 0.64) * math.sqrt(1 - 0.36 / 0.64))
    noisy, _ = ddim_step(xt, eps, 0.36, 0.64, sigma, torch.ones_like(xt))
    assert noisy.item() == pytest.approx(0.8 * 2 + math.sqrt(1 - 0.64 - sigma ** 2) * -1 + sigma)


def point_mass_denoiser(target, alpha_bar):
    """The exact eps-predictor of data concentrated at one image: eps = (x_t - sqrt(a_t) x*) / sqrt(1 - a_t)."""
    def predict(x, t, z):
        a = torch.from_numpy(alpha_bar).to(x.dtype)[t].reshape(-1, 1, 1, 1)
        return (x - torch.sqrt(a) * target) / torch.sqrt(1 - a)
    return predict


@pytest.mark.parametrize("eta", [0.0, 0.5, 1.0])
def test_ddim_recovers_a_point_mass_from_any_start(eta):
    schedule = make_schedule({})
    target = torch.linspace(-1, 1, 8, dtype=torch.float64).reshape(1, 2, 2, 2)
    x_noise = torch.randn(3, 2, 2, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    seen = []
    x0 = ddim_sample(point_mass_denoiser(target, schedule.alpha_bar), schedule, ddim_plan(1000, 7), x_noise,
                     torch.zeros(3, 1), eta=eta, generator=torch.Generator().manual_seed(1), callback=seen.append)
    assert torch.allclose(x0, target.expand_as(x0), atol=1e-9)
    assert [s["t"] for s in seen] == ddim_plan(1000, 7)
    assert all(torch.allclose(s["x0_pred"], target.expand_as(x0), atol=1e-9) for s in seen)
    # xt is each step's input and x_next its output, as onStep's xt in src/diffusion/ddim.ts.
    assert torch.equal(seen[0]["xt"], x_noise) and torch.equal(seen[-1]["x_next"], x0)
    assert all(torch.equal(a["x_next"], b["xt"]) for a, b in zip(seen, seen[1:]))


def test_ddim_sampling_and_inversion_follow_the_shared_convention_literally():
    """A nonlinear closed-form denoiser; every line below is DDIM's Eq. (12) on the plan of docs/sources.md §3, written
    out once more."""
    schedule = make_schedule({"timesteps": 50})
    ab = schedule.alpha_bar
    plan = ddim_plan(50, 4)
    calls = []

    def denoiser(x, t, z):
        calls.append(int(t[0]))
        return torch.tanh(x * (1 + t[:, None, None, None] / 50.0)) + z.mean(1).reshape(-1, 1, 1, 1)

    x = torch.randn(2, 1, 3, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    z = torch.randn(2, 4, dtype=torch.float64)
    expected = x.clone()
    for i, t in enumerate(plan):
        eps = torch.tanh(expected * (1 + t / 50.0)) + z.mean(1).reshape(-1, 1, 1, 1)
        x0_pred = (expected - math.sqrt(1 - ab[t]) * eps) / math.sqrt(ab[t])
        a_prev = ab[plan[i + 1]] if i + 1 < len(plan) else 1.0
        expected = math.sqrt(a_prev) * x0_pred + math.sqrt(1 - a_prev) * eps
    assert torch.allclose(ddim_sample(denoiser, schedule, plan, x, z), expected, atol=1e-12)
    assert calls == plan

    calls.clear()
    expected = x.clone()
    S = len(plan)
    for i in range(S - 1, -1, -1):
        t_eval = plan[min(i + 1, S - 1)]
        a_cur = ab[plan[i + 1]] if i + 1 < S else 1.0
        eps = torch.tanh(expected * (1 + t_eval / 50.0)) + z.mean(1).reshape(-1, 1, 1, 1)
        x0_pred = (expected - math.sqrt(1 - a_cur) * eps) / math.sqrt(a_cur)
        expected = math.sqrt(ab[plan[i]]) * x0_pred + math.sqrt(1 - ab[plan[i]]) * eps
    assert torch.allclose(ddim_invert(denoiser, schedule, plan, x, z), expected, atol=1e-12)
    assert calls == [plan[3], plan[3], plan[2], plan[1]]  # S calls, the first two at the smallest t


def test_ddim_refuses_eta_above_one():
    schedule = make_schedule({})
    with pytest.raises(ValueError, match="eta"):
        ddim_sample(lambda x, t, z: x, schedule, [999, 0], torch.zeros(1, 1, 2, 2), torch.zeros(1, 1), eta=1.5)


# ------------------------------------------------------------------ MMD, priors, KL

def test_mmd_against_a_hand_computed_value():
    x = torch.tensor([[0.0, 0.0], [1.0, 0.0]], dtype=torch.float64)
    y = torch.tensor([[0.0, 1.0]], dtype=torch.float64)
    # k(a, b) = exp(-mean_d (a_d - b_d)^2 / D), D = 2
    k_xx = (2 + 2 * math.exp(-0.25)) / 4
    k_yy = 1.0
    k_xy = (math.exp(-0.25) + math.exp(-0.5)) / 2
    assert compute_mmd(x, y).item() == pytest.approx(k_xx + k_yy - 2 * k_xy, rel=1e-12)
    assert mmd_kernel(x, y)[1, 0].item() == pytest.approx(math.exp(-0.5))


def test_mmd_is_zero_for_identical_samples_and_grows_with_a_shift():
    x = torch.randn(64, 8, generator=torch.Generator().manual_seed(0))
    assert compute_mmd(x, x).item() == pytest.approx(0.0, abs=1e-7)
    assert compute_mmd(x, x + 3).item() > compute_mmd(x, x + 1).item() > 0


def test_ten_mixture_prior():
    z = gaussian_mixture_prior(20000, 4, torch.Generator().manual_seed(0))
    assert z.shape == (20000, 4)
    pairs = z.reshape(-1, 2)
    angles = torch.atan2(pairs[:, 1], pairs[:, 0]) % (2 * math.pi)
    nearest = torch.round(angles / (2 * math.pi / 10)) % 10
    offset = (angles - nearest * 2 * math.pi / 10 + math.pi) % (2 * math.pi) - math.pi
    assert offset.abs().mean() < 0.2  # mass sits on the 10 rotated axes
    for k in range(10):
        counts = (nearest == k).float().mean().item()
        assert counts == pytest.approx(0.1, abs=0.01)
    centre = pairs[nearest == 0].mean(0)
    assert centre[0].item() == pytest.approx(1.4, abs=0.03) and centre[1].item() == pytest.approx(0.0, abs=0.03)
    assert pairs[nearest == 0][:, 0].std().item() == pytest.approx(0.5, abs=0.05)
    with pytest.raises(ValueError, match="even"):
        sample_prior("10mix", 4, 3)
    with pytest.raises(ValueError, match="prior must be"):
        sample_prior("roll", 4, 2)


def test_kl_hand_values():
    assert kl_to_standard_normal(torch.zeros(3, 5), torch.zeros(3, 5)).item() == 0.0
    assert kl_to_standard_normal(torch.ones(3, 5), torch.zeros(3, 5)).item() == pytest.approx(2.5)
    log_var = torch.full((1, 1), math.log(4.0))
    assert kl_to_standard_normal(torch.zeros(1, 1), log_var).item() == pytest.approx(0.5 * (4 - 1 - math.log(4)))


# ------------------------------------------------------------------ the objective

class OracleModel(torch.nn.Module):
    """Predicts eps exactly plus a constant error, so every term has a closed form."""

    def __init__(self, alpha_bar, error, dim=4):
        super().__init__()
        self.alpha_bar = torch.from_numpy(alpha_bar)
        self.error = error
        self.architecture = {"latentDim": dim}
        self.seen_t = None
        self.seen_noise = None

    def forward(self, x0, xt, t, latent_noise=None):
        a = self.alpha_bar[t].to(x0.dtype).reshape(-1, 1, 1, 1)
        eps = (xt - torch.sqrt(a) * x0) / torch.sqrt(1 - a)
        self.seen_t, self.seen_noise = t, latent_noise
        codes = torch.zeros(x0.shape[0], self.architecture["latentDim"], dtype=x0.dtype)
        z = codes if latent_noise is None else codes + latent_noise
        return TrainingForward(eps + self.error, z, EncoderOutput(codes, codes, codes))


def test_eps_mse_and_the_t0_reconstruction_estimator():
    schedule = make_schedule({"timesteps": 2})  # t = 0 half of the time, so the estimator is exercised
    objective = InfoDiffusionObjective(schedule, ObjectiveConfig(mmd_weight=0.0))
    model = OracleModel(schedule.alpha_bar, 0.1)
    x0 = torch.rand(16, 1, 4, 4, dtype=torch.float64)
    terms = objective(model, x0, torch.Generator().manual_seed(0))
    assert terms.eps_mse.item() == pytest.approx(0.01)
    a0 = schedule.alpha_bar[0]
    at_zero = (model.seen_t == 0).double().mean().item()
    assert 0 < at_zero < 1
    # x0_pred - x0 = -sqrt((1 - a0)/a0) * 0.1 at t = 0; recon averages that error over the t = 0 rows only
    assert terms.recon.item() == pytest.approx(at_zero * (1 - a0) / a0 * 0.01, rel=1e-9)
    assert terms.mmd.item() == 0 and terms.kld.item() == 0
    assert terms.total.item() == pytest.approx(terms.eps_mse.item() + terms.recon.item())


def test_which_latent_and_which_regulariser():
    schedule = make_schedule({"timesteps": 10})
    x0 = torch.rand(8, 1, 4, 4, dtype=torch.float64)
    model = OracleModel(schedule.alpha_bar, 0.0)

    mmd_only = InfoDiffusionObjective(schedule, ObjectiveConfig(mmd_weight=0.1))(model, x0, torch.Generator())
    assert model.seen_noise is None and mmd_only.mmd.item() > 0 and mmd_only.kld.item() == 0

    diffae = InfoDiffusionObjective(schedule, ObjectiveConfig(mmd_weight=0.0))(model, x0, torch.Generator())
    assert model.seen_noise is None and diffae.mmd.item() == 0

    kl = InfoDiffusionObjective(schedule, ObjectiveConfig(mmd_weight=0.0, kld_weight=2.0))(model, x0, torch.Generator())
    assert model.seen_noise is not None and kl.kld.item() == 0  # mu = log_var = 0: KL is exactly 0

    capped = InfoDiffusionObjective(schedule, ObjectiveConfig(mmd_weight=0.0, kld_weight=2.0, use_capacity=True,
                                                              capacity_max=25.0))
    assert capped(model, x0, torch.Generator(), progress=0.4).kld.item() == pytest.approx(2.0 * 10.0)
    assert capped(model, x0, torch.Generator(), progress=3.0).kld.item() == pytest.approx(2.0 * 25.0)


def test_mmd_term_uses_the_weighted_kernel_statistic():
    schedule = make_schedule({"timesteps": 10})
    model = OracleModel(schedule.alpha_bar, 0.0)
    x0 = torch.rand(8, 1, 4, 4, dtype=torch.float64)
    terms = InfoDiffusionObjective(schedule, ObjectiveConfig(mmd_weight=0.5))(model, x0, torch.Generator().manual_seed(5))
    generator = torch.Generator().manual_seed(5)
    torch.randint(0, 10, (8,), generator=generator)  # replay the draws: t, eps, then the prior samples
    torch.randn(x0.shape, generator=generator, dtype=torch.float64)
    prior = torch.randn((8, 4), generator=generator, dtype=torch.float64)
    assert terms.mmd.item() == pytest.approx(0.5 * compute_mmd(prior, torch.zeros(8, 4, dtype=torch.float64)).item())


def test_objective_on_the_real_model_is_reproducible_and_differentiable():
    schedule = make_schedule({})
    model = build_model(FIXTURE, 1000, seed=0)
    objective = InfoDiffusionObjective(schedule, ObjectiveConfig())
    x0 = torch.rand(4, 1, 16, 16) * 2 - 1
    model.eval()
    first = objective(model, x0, torch.Generator().manual_seed(1))
    second = objective(model, x0, torch.Generator().manual_seed(1))
    assert torch.equal(first.total, second.total)
    first.total.backward()
    assert model.encoder.fc_a.weight.grad is not None  # the MMD and the decoder reach the encoder
    assert model.encoder.fc_mu.weight.grad is None  # mu takes no part in the MMD-only objective

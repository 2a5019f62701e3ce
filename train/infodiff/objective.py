"""The InfoDiffusion training objective, one wrapper used by training and evaluation alike.

Per batch of clean images x in [-1, 1] (official ``models.py`` ``InfoDiff.loss_fn``, docs/sources.md §1.1):

    t ~ U{0..T-1}, eps ~ N(0, I), x_t = sqrt(alpha_bar_t) x + sqrt(1 - alpha_bar_t) eps
    (a, mu, log_var) = Enc(x)                       (the clean image is encoded, not x_t)
    z = a                                           MMD only, or neither term (the DiffAE baseline)
    z = a_q = mu + eps' exp(log_var / 2)            whenever kld_weight > 0
    loss = mean((eps_theta(x_t, t, z) - eps)^2)     eps-MSE over all elements, no per-t weight
         + recon                                    the 1/T "reconstruction" term, see below
         + mmd_weight * MMD(prior samples, z_mmd)   z_mmd = a, or mu when both weights are > 0 (as official)
         + kld_weight * KL  or  kld_weight * |KL - C|,  C = capacity_max * progress

The paper's tractable objective with zeta = 1 leaves only lambda * D(q(z) || p(z)), D = MMD, which is why the
InfoDiffusion setting uses a deterministic encoder. KL is averaged over the batch (the official main branch sums
it, which ties beta to the batch size; dev averages, as we do).

The reconstruction term. The official code forms x0_hat = (x - beta_0 / sqrt(1 - alpha_bar_0) eps_hat)/sqrt(alpha_0)
from the *clean* x and the eps_hat predicted at the *random* t, using the t = 0 coefficients, and adds
mean((x0_hat - x)^2) / T. That is not the L0 decoder term of the ELBO: it is a tiny penalty on |eps_hat|^2 (about
1e-8 in size). What it stands for is (1/T) L0 with L0 = E|x - x0_pred(x_{t=0}, 0, z)|^2, the error of the model's
reconstruction from the least-noisy level. We estimate exactly that without an extra network pass: the batch
elements whose sampled t is 0 already have x_t at level alpha_bar_0, and

    recon = mean_i [ 1(t_i = 0) * mean_pixels (x0_pred_i - x_i)^2 ]

has expectation P(t = 0) E[L0] = (1/T) E[L0]. Its size stays negligible (the official weight is 1e-3 and
x0_pred at t = 0 is within ~3e-3 of x), and both versions leave the gradient practically unchanged.

Kernel: k(x, y) = exp(-mean_d (x_d - y_d)^2 / D) (so exp(-|x - y|^2 / D^2)), D = latentDim; the MMD is the
biased V-statistic mean K_xx + mean K_yy - 2 mean K_xy with the diagonals included (official ``compute_mmd``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple, Optional

import torch

from . import rng
from .diffusion import Schedule, q_sample

MIXTURE_COMPONENTS = 10
MIXTURE_STD = (0.5, 0.1)  # std along and across each component's axis
MIXTURE_SHIFT = 1.4  # distance of each component's centre from the origin
# TrainConfig.prior -> metadata.latent.prior of a package (docs/model-format.md), which names the distribution.
PACKAGE_PRIOR_NAMES = {"regular": "normal", "10mix": "10mix"}


@dataclass(frozen=True)
class ObjectiveConfig:
    mmd_weight: float = 0.1  # lambda (official 0.1); 0 with kld_weight 0 is the DiffAE baseline
    kld_weight: float = 0.0  # beta of the KL variants
    use_capacity: bool = False  # beta |KL - C| with C = capacity_max * progress
    capacity_max: float = 25.0
    prior: str = "regular"  # 'regular' = N(0, I), '10mix' = the 2-D ten-Gaussian mixture on each pair of dims

    @classmethod
    def from_train_config(cls, cfg) -> "ObjectiveConfig":
        return cls(cfg.mmd_weight, cfg.kld_weight, cfg.use_capacity, cfg.capacity_max, cfg.prior)

    def as_provenance(self) -> dict:
        """The camelCase block written to metadata.provenance.objective."""
        return {"mmdWeight": self.mmd_weight, "kldWeight": self.kld_weight, "prior": self.prior,
                "useCapacity": self.use_capacity, "capacityMax": self.capacity_max,
                "latent": "a_q = mu + noise * exp(log_var / 2)" if self.kld_weight > 0 else "a (deterministic)"}


class LossTerms(NamedTuple):
    """All 0-d tensors; ``total`` carries the gradient, the others are its (already weighted) parts."""

    total: torch.Tensor
    eps_mse: torch.Tensor
    recon: torch.Tensor
    mmd: torch.Tensor  # mmd_weight * MMD
    kld: torch.Tensor  # kld_weight * KL (or * |KL - C|)


def mmd_kernel(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """k(x_i, y_j) = exp(-mean_d (x_id - y_jd)^2 / D) for x [N,D], y [M,D] -> [N,M]."""
    dim = x.shape[1]
    squared = (x[:, None, :] - y[None, :, :]).square().mean(dim=2)
    return torch.exp(-squared / dim)


def compute_mmd(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Biased (V-statistic) MMD^2 between samples x [N,D] and y [M,D], diagonals included."""
    return mmd_kernel(x, x).mean() + mmd_kernel(y, y).mean() - 2 * mmd_kernel(x, y).mean()


def gaussian_mixture_prior(n: int, dim: int, generator: Optional[torch.Generator] = None,
                           device=None, dtype=torch.float32) -> torch.Tensor:
    """[n, dim] samples of the official '10mix' prior: each consecutive pair of dims independently picks one of
    10 components, draws (u, v) ~ N(0, diag(0.5^2, 0.1^2)), rotates it by r = 2 pi k / 10 and shifts it by 1.4
    along the rotated axis: (u cos r - v sin r + 1.4 cos r, u sin r + v cos r + 1.4 sin r)."""
    if dim % 2 != 0:
        raise ValueError(f"the 10mix prior needs an even latent dimension, got {dim}")
    pairs = dim // 2
    component = rng.integers(MIXTURE_COMPONENTS, (n, pairs), generator, device)
    noise = rng.normal((n, pairs, 2), generator, device, dtype)
    u, v = noise[..., 0] * MIXTURE_STD[0], noise[..., 1] * MIXTURE_STD[1]
    angle = component.to(dtype) * (2 * math.pi / MIXTURE_COMPONENTS)
    cos, sin = torch.cos(angle), torch.sin(angle)
    x = u * cos - v * sin + MIXTURE_SHIFT * cos
    y = u * sin + v * cos + MIXTURE_SHIFT * sin
    return torch.stack([x, y], dim=-1).reshape(n, dim)


def sample_prior(kind: str, n: int, dim: int, generator: Optional[torch.Generator] = None,
                 device=None, dtype=torch.float32) -> torch.Tensor:
    """[n, dim] samples of p(z): 'regular' = N(0, I) or '10mix'."""
    if kind == "regular":
        return rng.normal((n, dim), generator, device, dtype)
    if kind == "10mix":
        return gaussian_mixture_prior(n, dim, generator, device, dtype)
    raise ValueError(f"prior must be 'regular' or '10mix', got {kind!r}")


def kl_to_standard_normal(mu: torch.Tensor, log_var: torch.Tensor) -> torch.Tensor:
    """Batch mean of KL(N(mu, exp(log_var)) || N(0, I)) = -1/2 sum_d (1 + log_var - mu^2 - exp(log_var))."""
    return (-0.5 * (1 + log_var - mu.square() - log_var.exp()).sum(dim=1)).mean()


class InfoDiffusionObjective:
    """loss(model, x0) for InfoDiff (or a DistributedDataParallel wrapper around one). Holds no state between calls."""

    def __init__(self, schedule: Schedule, config: ObjectiveConfig):
        self.config = config
        self.timesteps = schedule.timesteps
        self.alpha_bar = torch.from_numpy(schedule.alpha_bar)  # float64 [T], moved to x0's device on use

    def __call__(self, model, x0: torch.Tensor, generator: Optional[torch.Generator] = None,
                 progress: float = 0.0) -> LossTerms:
        """x0 [B,C,H,W] clean images in [-1, 1]; ``generator`` draws t, eps, the latent noise and the prior
        samples (dropout uses the global RNG); progress in [0, 1] drives the capacity C."""
        cfg = self.config
        batch = x0.shape[0]
        device = x0.device
        alpha_bar = self.alpha_bar.to(device)
        t = rng.integers(self.timesteps, (batch,), generator, device)
        eps = rng.normal(x0.shape, generator, device, x0.dtype)
        xt = q_sample(x0, t, eps, alpha_bar)
        dim = model.module.architecture["latentDim"] if hasattr(model, "module") else model.architecture["latentDim"]
        latent_noise = None
        if cfg.kld_weight > 0:
            latent_noise = rng.normal((batch, dim), generator, device, x0.dtype)
        out = model(x0, xt, t, latent_noise)

        eps_mse = (out.eps_pred - eps).square().mean()

        level = alpha_bar[t].to(x0.dtype).reshape(-1, 1, 1, 1)
        x0_pred = (xt - torch.sqrt(1 - level) * out.eps_pred) / torch.sqrt(level)
        per_image = (x0_pred - x0).square().mean(dim=(1, 2, 3))
        recon = ((t == 0).to(x0.dtype) * per_image).mean()

        zero = torch.zeros((), device=device, dtype=x0.dtype)
        mmd = zero
        if cfg.mmd_weight > 0:
            target = out.encoded.mu if cfg.kld_weight > 0 else out.encoded.a
            prior = sample_prior(cfg.prior, batch, dim, generator, device, x0.dtype)
            mmd = cfg.mmd_weight * compute_mmd(prior, target)
        kld = zero
        if cfg.kld_weight > 0:
            kl = kl_to_standard_normal(out.encoded.mu, out.encoded.log_var)
            if cfg.use_capacity:
                capacity = cfg.capacity_max * min(max(progress, 0.0), 1.0)
                kl = (kl - capacity).abs()
            kld = cfg.kld_weight * kl
        total = eps_mse + recon + mmd + kld
        return LossTerms(total, eps_mse, recon, mmd, kld)

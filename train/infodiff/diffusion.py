"""Noise schedules, forward noising and the DDIM sampler/inverter, exactly as the web runtime computes them.

Notation (code name -> symbol; DDIM = Song, Meng & Ermon 2021, ICLR):
    alpha_bar[t]   -> alpha-bar_t = prod_{s<=t} (1 - beta_s), the signal level of x_t (t = 0..T-1)
    xt             -> x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) eps      (DDPM eq. 4)
    x_noise        -> x_T, the start of sampling, at level alpha_bar[T-1]
    eps            -> eps_theta(x_t, t, z), the network's noise prediction
    prediction     -> what the network outputs: eps (the teachers), x0, or v = sqrt(a) eps - sqrt(1 - a) x0
                      (Salimans & Ho 2022, ICLR, §4 and appendix D; distilled students use v)
    x0_pred        -> (x_t - sqrt(1 - alpha_bar_t) eps) / sqrt(alpha_bar_t)          (DDIM eq. 12, "predicted x0")
    sigma          -> eta sqrt((1 - a_prev)/(1 - a_t)) sqrt(1 - a_t/a_prev)           (DDIM eq. 16)
    plan           -> tau_0 > ... > tau_{S-1}: the S timesteps visited, from T-1 down to 0

The formulas are the project's shared conventions (the TypeScript runtime in src/diffusion uses the same, and
the golden files written by infodiff.fixture check one against the other). Two deliberate differences from the
official code (its `sampling.py`; docs/sources.md §1.5 and §3): we skip steps with a plan whose step i uses level
alpha_bar[tau_i] consistently with training (the official DDIM is off by one index), and inversion keeps z fixed
to Enc(x_0) instead of re-encoding the noisy x_t.

Schedules are float64 numpy arrays on the CPU; the sampling arithmetic runs in the dtype of x (float64 for the
golden files). Networks are passed in as callables ``denoiser(xt [B,C,H,W], t int64 [B], z [B,D]) -> eps``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional

import numpy as np
import torch

from . import rng
from .config import resolve_schedule

Denoiser = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]
StepCallback = Callable[[Dict[str, object]], None]
PARAMETERISATIONS = ("eps", "x0", "v")


@dataclass(frozen=True)
class Schedule:
    """The forward process as data: betas and alpha_bar, float64 [T]."""

    betas: np.ndarray
    alpha_bar: np.ndarray

    @property
    def timesteps(self) -> int:
        return len(self.betas)

    def log_snr(self) -> np.ndarray:
        """ln(alpha_bar / (1 - alpha_bar)) per timestep, float64 [T] (decreasing)."""
        return np.log(self.alpha_bar) - np.log1p(-self.alpha_bar)


def make_schedule(schedule: Dict) -> Schedule:
    """Builds betas and alpha_bar from a (possibly partial) schema schedule dict.

    linear: betas = linspace(betaStart, betaEnd, T) in float64 (official InfoDiffusion: 1e-5 -> 1e-2, T = 1000).
    cosine (Nichol & Dhariwal 2021, eq. 17): f(u) = cos(((u/T) + s)/(1 + s) * pi/2)^2,
        beta_i = min(1 - f(i+1)/f(i), 0.999) for i = 0..T-1.
    Both: alpha_bar = cumprod(1 - beta).
    """
    s = resolve_schedule(schedule)
    steps = s["timesteps"]
    if s["kind"] == "linear":
        betas = np.linspace(s["betaStart"], s["betaEnd"], steps, dtype=np.float64)
    else:
        offset = s["cosineOffset"]
        u = np.arange(steps + 1, dtype=np.float64)
        f = np.cos(((u / steps) + offset) / (1 + offset) * math.pi / 2) ** 2
        betas = np.minimum(1 - f[1:] / f[:-1], 0.999)
    return Schedule(betas=betas, alpha_bar=np.cumprod(1 - betas))


def ddim_plan(timesteps: int, steps: int) -> List[int]:
    """tau_i = round((T-1)(1 - i/(S-1))) for i = 0..S-1 (S >= 2), or [T-1] for S = 1: from T-1 down to 0.

    Rounding is half away from zero (Math.round and Python's round differ on .5; the values are never
    negative, so floor(x + 0.5) is the shared rule).
    """
    if steps < 1:
        raise ValueError(f"DDIM needs at least one step, got {steps}")
    if steps > timesteps:
        raise ValueError(f"DDIM steps {steps} exceed the schedule's T = {timesteps}")
    if steps == 1:
        return [timesteps - 1]
    return [int(math.floor((timesteps - 1) * (1 - i / (steps - 1)) + 0.5)) for i in range(steps)]


def q_sample(x0: torch.Tensor, t: torch.Tensor, eps: torch.Tensor, alpha_bar: torch.Tensor) -> torch.Tensor:
    """x_t = sqrt(alpha_bar[t]) x0 + sqrt(1 - alpha_bar[t]) eps (DDPM eq. 4).

    x0, eps [B,C,H,W]; t int64 [B]; alpha_bar [T] tensor on x0's device (any float dtype, cast to x0's).
    """
    level = alpha_bar[t].to(x0.dtype).reshape(-1, *([1] * (x0.dim() - 1)))
    return torch.sqrt(level) * x0 + torch.sqrt(1 - level) * eps


def ddim_step(x: torch.Tensor, eps: torch.Tensor, alpha_from: float, alpha_to: float,
              sigma: float = 0.0, noise: Optional[torch.Tensor] = None):
    """Moves x from level alpha_from to level alpha_to given eps; returns (x_next, x0_pred).

    1. x0_pred = (x - sqrt(1 - alpha_from) eps) / sqrt(alpha_from)                      (DDIM eq. 12)
    2. x_next  = sqrt(alpha_to) x0_pred + sqrt(1 - alpha_to - sigma^2) eps + sigma noise
    Sampling moves to a higher alpha (less noise); inversion calls the same step towards a lower alpha.
    """
    x0_pred = (x - math.sqrt(1 - alpha_from) * eps) / math.sqrt(alpha_from)
    # max(., 0) only absorbs rounding when alpha_to = 1 (the last sampling step); eta <= 1 keeps it >= 0.
    x_next = math.sqrt(alpha_to) * x0_pred + math.sqrt(max(1 - alpha_to - sigma ** 2, 0.0)) * eps
    if sigma > 0:
        if noise is None:
            raise ValueError("ddim_step with sigma > 0 needs noise")
        x_next = x_next + sigma * noise
    return x_next, x0_pred


def eps_from_prediction(prediction: torch.Tensor, x: torch.Tensor, alpha: float, parameterisation: str) -> torch.Tensor:
    """The noise estimate implied by a network output at level alpha (x = sqrt(a) x0 + sqrt(1 - a) eps):

    eps: the output itself;  x0: eps = (x - sqrt(a) x0) / sqrt(1 - a);  v: eps = sqrt(a) v + sqrt(1 - a) x.
    ddim_step then recovers x0 = sqrt(a) x - sqrt(1 - a) v for v, without eps-prediction's 1/sqrt(a) blow-up
    at high noise (Salimans & Ho 2022, §4).
    """
    if parameterisation == "eps":
        return prediction
    if parameterisation == "x0":
        return (x - math.sqrt(alpha) * prediction) / math.sqrt(1 - alpha)
    if parameterisation == "v":
        return math.sqrt(alpha) * prediction + math.sqrt(1 - alpha) * x
    raise ValueError(f"parameterisation must be one of {', '.join(PARAMETERISATIONS)}, got {parameterisation!r}")


def ddim_sigma(eta: float, alpha_t: float, alpha_prev: float) -> float:
    """sigma_t(eta) = eta sqrt((1 - a_prev)/(1 - a_t)) sqrt(1 - a_t/a_prev) (DDIM eq. 16)."""
    if eta == 0:
        return 0.0
    return eta * math.sqrt((1 - alpha_prev) / (1 - alpha_t)) * math.sqrt(1 - alpha_t / alpha_prev)


def _time_batch(value: int, like: torch.Tensor) -> torch.Tensor:
    return torch.full((like.shape[0],), int(value), dtype=torch.int64, device=like.device)


def ddim_decode(denoiser: Denoiser, schedule: Schedule, plan: List[int], x_noise: torch.Tensor, z: torch.Tensor,
                eta: float = 0.0, generator: Optional[torch.Generator] = None,
                callback: Optional[StepCallback] = None, parameterisation: str = "eps") -> torch.Tensor:
    """Decodes x_T [B,C,H,W] with latent z [B,D] along ``plan``; returns x_0 (= x0_pred of the last step).

    For i = 0..S-1: eps = eps_theta(x, tau_i, z) (from the network's output by ``parameterisation``);
    a_t = alpha_bar[tau_i]; a_prev = alpha_bar[tau_{i+1}], or 1 after the last step;
    x <- ddim_step(x, eps, a_t, a_prev, sigma(eta)). No clipping. ``generator`` draws the eta > 0 noise on its own
    device (any device; see infodiff.rng), then moves it to x's device.
    ``callback({'i', 't', 'xt', 'x_next', 'x0_pred'})`` runs after each step: t is the timestep the network was
    called at, xt the step's input and x_next its output (the same meaning as onStep in src/diffusion/ddim.ts).
    Differentiable (distillation trains through it); ``ddim_sample`` is the same without gradients.
    """
    if not 0 <= eta <= 1:
        raise ValueError(f"DDIM eta must be in [0, 1], got {eta}")
    alpha_bar = schedule.alpha_bar
    x = x_noise
    for i, t in enumerate(plan):
        alpha_t = float(alpha_bar[t])
        eps = eps_from_prediction(denoiser(x, _time_batch(t, x), z), x, alpha_t, parameterisation)
        alpha_prev = float(alpha_bar[plan[i + 1]]) if i + 1 < len(plan) else 1.0
        sigma = ddim_sigma(eta, alpha_t, alpha_prev)
        noise = None
        if sigma > 0:
            noise = rng.normal(x.shape, generator, x.device, x.dtype)
        x_next, x0_pred = ddim_step(x, eps, alpha_t, alpha_prev, sigma, noise)
        if callback is not None:
            callback({"i": i, "t": t, "xt": x, "x_next": x_next, "x0_pred": x0_pred})
        x = x_next
    return x


ddim_sample = torch.no_grad()(ddim_decode)


@torch.no_grad()
def ddim_invert(denoiser: Denoiser, schedule: Schedule, plan: List[int], x0: torch.Tensor, z: torch.Tensor,
                callback: Optional[StepCallback] = None) -> torch.Tensor:
    """Deterministic DDIM inversion (eta = 0) of x0 [B,C,H,W] with z fixed (normally Enc(x0)); returns x_T.

    For i = S-1 down to 0: the network is evaluated at tEval = tau[min(i+1, S-1)], on x at level
    a_cur = alpha_bar[tau_{i+1}] (or 1 for the clean start); x <- ddim_step(x, eps, a_cur, alpha_bar[tau_i]).
    The result sits at level alpha_bar[tau_0] = alpha_bar[T-1], where sampling starts; S network calls.
    ``callback`` as in ddim_decode (t = tEval, the timestep the network was called at).
    """
    alpha_bar = schedule.alpha_bar
    x = x0
    last = len(plan) - 1
    for i in range(last, -1, -1):
        t_eval = plan[min(i + 1, last)]
        alpha_cur = float(alpha_bar[plan[i + 1]]) if i + 1 <= last else 1.0
        eps = denoiser(x, _time_batch(t_eval, x), z)
        x_next, x0_pred = ddim_step(x, eps, alpha_cur, float(alpha_bar[plan[i]]))
        if callback is not None:
            callback({"i": i, "t": t_eval, "xt": x, "x_next": x_next, "x0_pred": x0_pred})
        x = x_next
    return x

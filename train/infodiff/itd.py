"""Information-Theoretic Diffusion (Kong, Brekelmans & Ver Steeg, ICLR 2023) in PyTorch: -log p(x) per image by
the pointwise I-MMSE identity, and the MMSE-versus-log-SNR curve, from an eps-prediction denoiser.

The same estimator as the web runtime (src/diffusion/itd.ts), so numbers agree between the two. Sources: the paper's
I-MMSE identity and its likelihood against a Gaussian reference, the authors' code (kxh001/ITdiffusion) for the
log-SNR sampling, and our control variate; docs/sources.md §2 gives each with its file (cited below as §2.x).
Natural logs throughout.

Notation (code name -> ITD symbol -> source):
    log_snr          -> alpha = log gamma, the log signal-to-noise ratio             §2.1
    alpha_bar        -> sigma(alpha), so 1 - alpha_bar = sigma(-alpha)             VP channel
    x, x_tilde       -> x and its dequantisation x + delta (r - 1/2), delta = 2/255  §2.4
    xt               -> the noisy image sqrt(sigma(alpha)) x~ + sqrt(sigma(-alpha)) eps (ITD calls it z;
                        here z is the InfoDiffusion latent the denoiser is conditioned on)
    eps, eps_pred    -> eps ~ N(0, I) and eps_theta(xt, t(alpha), z)                 §2.7
    model_error      -> m_k = ||eps_k - eps_pred_k||^2 summed over the d dimensions  §2.7
    linear_error     -> ||eps_k - eps_linear_k||^2, the same for the reference's predictor, same eps_k
    gaussian_mmse    -> mmse_g(alpha) = sum_i sigma(alpha + ln lambda_i)            §2.3
    h_gaussian       -> h_g = d/2 ln(2 pi e) + 1/2 sum_i ln lambda_i                 §2.3
    loc, scale       -> mu, s of the truncated logistic over alpha                   §2.5
    LOGISTIC_CLIP    -> c = 4                                                        §2.5
    weight           -> w = s tanh(c/2) / (sigma(xi) sigma(-xi)), xi = (alpha - mu)/s §2.5
    eps_linear       -> sqrt(1-ab)(xt - sqrt(ab) m)/(ab v + 1 - ab), the exact predictor of N(m, v I) §2.7

The estimate (control-variate form, docs/sources.md §2.7):
    -ln p(x~) = -ln N(x~; m, v I) + 1/2 int [mmse_eps(x~, alpha) - mmse_lin(x~, alpha)] d alpha
              ~ d/2 ln(2 pi v) + ||x~ - m||^2/(2v)
                + (1/K) sum_k 1/2 w_k (||eps_k - eps_pred_k||^2 - ||eps_k - eps_lin_k||^2)
The identity holds pointwise for any pair of denoisers, and N(m, v I)'s own denoiser gives -ln N(x~; m, v I)
exactly, so only the model-minus-linear difference is integrated, with the same eps_k in both terms: less noisy and
less truncated than the plain form h_g + (1/K) sum 1/2 w_k (m_k - mmse_g(alpha_k)), which is reported beside it.
The part of the integral outside [mu - c s, mu + c s] is taken as zero.

The network takes integer timesteps, so it is called at t = timestep_for_log_snr(alpha_k) (nearest log-SNR on the
schedule's grid, ties to the smaller t) while the noising uses the exact alpha_k; the denoiser also receives
alpha_k, which real networks ignore and analytic ones use.

Layout: any, as long as x, the reference mean and the denoiser agree (the PyTorch models use NCHW; the package
metadata stores the mean in NHWC order, see `reference_from_metadata`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Dict, Optional, Sequence

import numpy as np
import torch

from . import rng

LOGISTIC_CLIP = 4.0
QUANTISATION_STEP = 2.0 / 255.0  # spacing of the 256 u8 levels in [-1, 1]: u maps to u/127.5 - 1
BITS_8BIT_OFFSET = math.log2(127.5)  # bits/dim in [-1, 1] -> bits/dim of 8-bit data (docs/sources.md §2.4)

# eps_fn(xt [B,...], t int64 [B], z [B,D], log_snr float64 [B]) -> eps [B,...]
ItdDenoiser = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class GaussianReference:
    """Reference Gaussian of the estimator (docs/model-format.md `gaussianReference`).

    mean: float tensor shaped like one image in the layout the denoiser uses; variance: v of N(mean, v I);
    log_eigenvalues: float64 [d] ln lambda_i (spectrum or per-pixel variances); log_snr_loc / log_snr_scale: mu, s.
    """

    mean: torch.Tensor
    variance: float
    log_eigenvalues: np.ndarray
    log_snr_loc: float
    log_snr_scale: float

    def __post_init__(self) -> None:
        d = self.mean.numel()
        if len(self.log_eigenvalues) != d:
            raise ValueError(f'gaussianReference.logEigenvalues has {len(self.log_eigenvalues)} entries, '
                             f'the image has d = {d}')
        if not (self.variance > 0 and math.isfinite(self.variance)):
            raise ValueError(f'gaussianReference.variance must be positive, got {self.variance}')
        if not (self.log_snr_scale > 0 and math.isfinite(self.log_snr_scale) and math.isfinite(self.log_snr_loc)):
            raise ValueError('gaussianReference needs a finite logSnrLoc and a positive logSnrScale, got '
                             f'{self.log_snr_loc}, {self.log_snr_scale}')

    @property
    def dimensions(self) -> int:
        return self.mean.numel()

    def h_gaussian(self) -> float:
        """h_g = d/2 ln(2 pi e) + 1/2 sum ln lambda_i, the entropy of N(m, Sigma) in nats."""
        return self.dimensions / 2 * math.log(2 * math.pi * math.e) + 0.5 * float(np.sum(self.log_eigenvalues))

    def gaussian_mmse(self, log_snr: np.ndarray) -> np.ndarray:
        """mmse_g(alpha) = sum_i sigma(alpha + ln lambda_i) for each alpha [K] -> [K] float64."""
        log_snr = np.asarray(log_snr, dtype=np.float64)
        return _sigmoid(log_snr[:, None] + self.log_eigenvalues[None, :]).sum(axis=1)

    def log_snr_range(self) -> tuple[float, float]:
        half_width = LOGISTIC_CLIP * self.log_snr_scale
        return (self.log_snr_loc - half_width, self.log_snr_loc + half_width)


def reference_from_metadata(reference: Dict, image_shape_hwc: Sequence[int],
                            channels_first: bool = True) -> GaussianReference:
    """GaussianReference from a package's `gaussianReference` dict (mean in NHWC order).

    Args:
        image_shape_hwc: (H, W, C) of the model's images.
        channels_first: return the mean as [C, H, W] (PyTorch models) instead of [H, W, C].
    """
    h, w, c = image_shape_hwc
    mean = torch.tensor(np.asarray(reference['mean'], dtype=np.float32))
    if mean.numel() != h * w * c:
        raise ValueError(f'gaussianReference.mean has {mean.numel()} entries, the image has d = {h * w * c}')
    mean = mean.reshape(h, w, c)
    if channels_first:
        mean = mean.permute(2, 0, 1).contiguous()
    return GaussianReference(mean=mean, variance=float(reference['variance']),
                             log_eigenvalues=np.asarray(reference['logEigenvalues'], dtype=np.float64),
                             log_snr_loc=float(reference['logSnrLoc']), log_snr_scale=float(reference['logSnrScale']))


def log_snr_table(alpha_bar: np.ndarray) -> np.ndarray:
    """ln(alpha_bar / (1 - alpha_bar)) per timestep, float64 [T], strictly decreasing."""
    alpha_bar = np.asarray(alpha_bar, dtype=np.float64)
    return np.log(alpha_bar) - np.log1p(-alpha_bar)


def timestep_for_log_snr(alpha_bar: np.ndarray, log_snr: np.ndarray) -> np.ndarray:
    """Integer timestep whose log-SNR is nearest to each given one (ITD's logsnr2t on the schedule's own grid).

    Values above log_snr[0] map to 0, below log_snr[T-1] to T-1; ties go to the smaller t (as the web runtime).
    Args:
        alpha_bar: float64 [T], strictly decreasing.
        log_snr: [K] target log-SNRs.
    Returns:
        int64 [K].
    """
    table = log_snr_table(alpha_bar)
    log_snr = np.asarray(log_snr, dtype=np.float64)
    if np.isnan(log_snr).any():
        raise ValueError('timestep_for_log_snr: log-SNR is NaN')
    # searchsorted needs increasing order: on the reversed table, position p means table[T-p] < alpha <= table[T-1-p].
    ascending = table[::-1]
    position = np.searchsorted(ascending, log_snr, side='left')
    last = len(table) - 1
    high_t = np.clip(last - position + 1, 0, last)  # neighbour with the smaller log-SNR (larger t)
    low_t = np.clip(last - position, 0, last)  # neighbour with the larger log-SNR (smaller t)
    nearer_low = (table[low_t] - log_snr) <= (log_snr - table[high_t])
    result = np.where(nearer_low, low_t, high_t)
    result = np.where(log_snr >= table[0], 0, result)
    return np.where(log_snr <= table[last], last, result).astype(np.int64)


def truncated_logistic_samples(loc: float, scale: float, count: int, generator: torch.Generator):
    """K log-SNRs from the logistic(mu, s) truncated to [mu - c s, mu + c s], stratified (one uniform draw in each
    of K equal-probability strata: unbiased, with most of the sampling noise removed), and their importance
    weights w = 1 / density (docs/sources.md §2.5, after `logistic_integrate` in the ITD code).

    Returns (log_snr float64 [K], weight float64 [K]).
    """
    low = _sigmoid(-LOGISTIC_CLIP)
    kept_mass = _sigmoid(LOGISTIC_CLIP) - low
    jitter = rng.uniform((count,), generator, 'cpu', torch.float64).numpy()
    quantile = low + kept_mass * (np.arange(count) + jitter) / count
    xi = np.log(quantile / (1 - quantile))
    weight = scale * kept_mass / (_sigmoid(xi) * _sigmoid(-xi))
    return loc + scale * xi, weight


def estimate_nll(eps_fn: ItdDenoiser, alpha_bar: np.ndarray, reference: GaussianReference, x: torch.Tensor,
                 z: torch.Tensor, samples: int = 256, dequantize: bool = True, batch_size: int = 64,
                 generator: Optional[torch.Generator] = None) -> Dict:
    """-log p(x) of each image by I-MMSE with the control variate of docs/sources.md §2.7 (see the module doc).

    Args:
        eps_fn: denoiser (xt, t, z, log_snr) -> eps; e.g. `network_denoiser(model)`.
        alpha_bar: the model's schedule, float64 [T], for the log-SNR -> timestep mapping.
        reference: the Gaussian reference, mean shaped like one image of x.
        x: [B, ...] images in [-1, 1] model space.
        z: [B, D] their latents (the denoiser is conditioned on them; for InfoDiffusion z = Enc(x), which makes
            the figure -log p(x | z) rather than a bound on -log p(x)).
        samples: K log-SNR samples per image (>= 2).
        dequantize: add uniform noise of one quantisation step, so the 8-bit figure is a bound in expectation.
        batch_size: noisy images per network call (they mix log-SNRs and images).
        generator: seeds the alpha jitter, eps and dequantisation.
    Returns:
        {"bitsPerDim", "bitsPerDim8bit", "stdErr" (mean over images, and its standard error across images),
         "meanMonteCarloStdErr" (mean of the per-image Monte Carlo SEs), "perImage": [{"bitsPerDim", "stdErr"}],
         "withoutControlVariate": {"bitsPerDim", "stdErr"}, "denoiserCalls", "denoiserEvaluations",
         "logSnrRange", "samples", "images", "dequantized"}. All bits/dim are for the continuous density in
        [-1, 1] except bitsPerDim8bit = bitsPerDim + log2(127.5). A per-image SE is the i.i.d. formula
        std(terms) / sqrt(K), as in the web runtime; with stratified log-SNRs the true error is smaller, so it is a
        conservative figure.
    """
    if samples < 2:
        raise ValueError(f'estimate_nll: samples must be an integer >= 2, got {samples}')
    _check_batch(x, z, reference, 'estimate_nll')
    generator = generator if generator is not None else torch.Generator().manual_seed(0)
    num_images, d = x.shape[0], reference.dimensions
    log_snr = np.empty((num_images, samples))
    weight = np.empty((num_images, samples))
    for b in range(num_images):
        log_snr[b], weight[b] = truncated_logistic_samples(reference.log_snr_loc, reference.log_snr_scale, samples,
                                                           generator)
    target = _noising_target(x, dequantize, generator)
    mean = reference.mean.to(device=x.device, dtype=x.dtype)
    squared_distance = ((target - mean) ** 2).flatten(1).sum(1).double().cpu().numpy()
    model_error, linear_error, calls = _squared_errors(eps_fn, alpha_bar, target, z, mean, reference.variance,
                                                       log_snr, generator, batch_size)
    controlled = 0.5 * weight * (model_error - linear_error)
    plain = 0.5 * weight * (model_error - reference.gaussian_mmse(log_snr.reshape(-1)).reshape(log_snr.shape))
    linear_nats = d / 2 * math.log(2 * math.pi * reference.variance) + squared_distance / (2 * reference.variance)
    nats_per_bit_dim = d * math.log(2)
    bits = (linear_nats + controlled.mean(axis=1)) / nats_per_bit_dim
    mc_std_err = controlled.std(axis=1, ddof=1) / math.sqrt(samples) / nats_per_bit_dim
    plain_bits = (reference.h_gaussian() + plain.mean(axis=1)) / nats_per_bit_dim
    plain_std_err = plain.std(axis=1, ddof=1) / math.sqrt(samples) / nats_per_bit_dim
    return {
        'bitsPerDim': float(bits.mean()),
        'bitsPerDim8bit': float(bits.mean() + BITS_8BIT_OFFSET),
        'stdErr': _std_err_of_mean(bits, mc_std_err),
        'meanMonteCarloStdErr': float(mc_std_err.mean()),
        'perImage': [{'bitsPerDim': float(b), 'stdErr': float(s)} for b, s in zip(bits, mc_std_err)],
        'withoutControlVariate': {'bitsPerDim': float(plain_bits.mean()),
                                  'stdErr': _std_err_of_mean(plain_bits, plain_std_err)},
        'denoiserCalls': calls,
        'denoiserEvaluations': int(num_images * samples),
        'logSnrRange': list(reference.log_snr_range()),
        'samples': int(samples),
        'images': int(num_images),
        'dequantized': bool(dequantize),
    }


def mmse_curve(eps_fn: ItdDenoiser, alpha_bar: np.ndarray, reference: GaussianReference, x: torch.Tensor,
               z: torch.Tensor, points: int = 64, repeats: int = 4, dequantize: bool = False, batch_size: int = 64,
               generator: Optional[torch.Generator] = None) -> Dict:
    """The MMSE curve on linspace(mu - c s, mu + c s) (docs/sources.md §2.7), averaged over images and noise draws.

    Args: as `estimate_nll`; `points` grid values, `repeats` noise draws per value and image.
    Returns:
        {"logSnr": [points] increasing, "mmse": model eps-space MSE summed over dimensions (0..~d),
         "gaussian": mmse_g, "standardNormal": d sigma(alpha), "xSpaceMmse": e^-alpha mmse, "denoiserCalls"}.
    """
    if points < 2 or repeats < 1:
        raise ValueError(f'mmse_curve: points must be >= 2 and repeats >= 1, got {points}, {repeats}')
    _check_batch(x, z, reference, 'mmse_curve')
    generator = generator if generator is not None else torch.Generator().manual_seed(0)
    low, high = reference.log_snr_range()
    grid = np.linspace(low, high, points)
    log_snr = np.tile(np.repeat(grid, repeats), (x.shape[0], 1))  # [B, points * repeats]
    target = _noising_target(x, dequantize, generator)
    mean = reference.mean.to(device=x.device, dtype=x.dtype)
    model_error, _, calls = _squared_errors(eps_fn, alpha_bar, target, z, mean, reference.variance, log_snr,
                                            generator, batch_size)
    mmse = model_error.reshape(x.shape[0], points, repeats).mean(axis=(0, 2))
    return {
        'logSnr': grid.tolist(),
        'mmse': mmse.tolist(),
        'gaussian': reference.gaussian_mmse(grid).tolist(),
        'standardNormal': (reference.dimensions * _sigmoid(grid)).tolist(),
        'xSpaceMmse': (np.exp(-grid) * mmse).tolist(),
        'denoiserCalls': calls,
    }


def network_denoiser(predict_eps: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]) -> ItdDenoiser:
    """Adapts a network (xt, t, z) -> eps, such as `InfoDiff.predict_eps`, to the estimator (it ignores log_snr)."""
    def eps_fn(xt: torch.Tensor, t: torch.Tensor, z: torch.Tensor, log_snr: torch.Tensor) -> torch.Tensor:
        return predict_eps(xt, t, z)
    return eps_fn


def gaussian_denoiser(mean: torch.Tensor, variances: torch.Tensor) -> ItdDenoiser:
    """The exact eps-predictor of data N(mean, diag(variances)) at the exact log-SNR (ignores t and z):
    eps = sqrt(1 - ab) (xt - sqrt(ab) mean) / (ab v + 1 - ab), ab = sigma(log_snr). For tests and self-checks."""
    def eps_fn(xt: torch.Tensor, t: torch.Tensor, z: torch.Tensor, log_snr: torch.Tensor) -> torch.Tensor:
        shape = (-1,) + (1,) * (xt.dim() - 1)
        alpha_bar = torch.sigmoid(log_snr).to(xt.dtype).reshape(shape)
        one_minus = torch.sigmoid(-log_snr).to(xt.dtype).reshape(shape)
        m, v = mean.to(xt.dtype), variances.to(xt.dtype)
        return torch.sqrt(one_minus) * (xt - torch.sqrt(alpha_bar) * m) / (alpha_bar * v + one_minus)
    return eps_fn


# --------------------------------------------------------------------------------------------- internals


def _sigmoid(a):
    """Logistic function in float64 without overflow (as src/diffusion/sigmoid.ts)."""
    a = np.asarray(a, dtype=np.float64)
    e = np.exp(-np.abs(a))
    return np.where(a >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _check_batch(x: torch.Tensor, z: torch.Tensor, reference: GaussianReference, what: str) -> None:
    if x.dim() < 2 or tuple(x.shape[1:]) != tuple(reference.mean.shape):
        raise ValueError(f'{what}: images of shape {list(x.shape)} do not match the reference mean '
                         f'{list(reference.mean.shape)} (check the layout: NCHW vs NHWC)')
    if z.dim() != 2 or z.shape[0] != x.shape[0]:
        raise ValueError(f'{what}: z must be [B, D] with B = {x.shape[0]}, got {list(z.shape)}')


def _noising_target(x: torch.Tensor, dequantize: bool, generator: torch.Generator) -> torch.Tensor:
    if not dequantize:
        return x
    jitter = rng.uniform(x.shape, generator, x.device, torch.float64).to(x.dtype)
    return x + QUANTISATION_STEP * (jitter - 0.5)


@torch.no_grad()
def _squared_errors(eps_fn: ItdDenoiser, alpha_bar: np.ndarray, target: torch.Tensor, z: torch.Tensor,
                    mean: torch.Tensor, variance: float, log_snr: np.ndarray, generator: torch.Generator,
                    batch_size: int):
    """Noises each image at each of its log-SNRs (fresh eps each) and returns, per (image, sample), the model's
    ||eps - eps_pred||^2 and the scalar reference's ||eps - eps_lin||^2 on the same eps, float64 [B, K] each, plus
    the number of network calls. Batches mix images and log-SNRs (per-sample t)."""
    num_images, count = log_snr.shape
    flat_log_snr = log_snr.reshape(-1)
    image_index = np.repeat(np.arange(num_images), count)
    timesteps = timestep_for_log_snr(alpha_bar, flat_log_snr)
    model_error = np.empty(len(flat_log_snr))
    linear_error = np.empty(len(flat_log_snr))
    calls = 0
    for start in range(0, len(flat_log_snr), batch_size):
        stop = min(start + batch_size, len(flat_log_snr))
        rows = torch.from_numpy(image_index[start:stop]).to(target.device)
        batch_log_snr = torch.from_numpy(flat_log_snr[start:stop])
        shape = (-1,) + (1,) * (target.dim() - 1)
        # Levels in float64, then cast: in float32, 1 - alpha_bar would lose its digits at high SNR.
        signal = torch.sqrt(torch.sigmoid(batch_log_snr)).to(target.device, target.dtype).reshape(shape)
        noise_scale = torch.sqrt(torch.sigmoid(-batch_log_snr)).to(target.device, target.dtype).reshape(shape)
        linear_gain = (torch.sqrt(torch.sigmoid(-batch_log_snr))
                       / (torch.sigmoid(batch_log_snr) * variance + torch.sigmoid(-batch_log_snr)))
        linear_gain = linear_gain.to(target.device, target.dtype).reshape(shape)
        clean = target[rows]
        eps = rng.normal(clean.shape, generator, target.device, torch.float64).to(target.dtype)
        xt = signal * clean + noise_scale * eps
        t = torch.from_numpy(timesteps[start:stop]).to(target.device)
        eps_pred = eps_fn(xt, t, z[rows], batch_log_snr.to(target.device))
        if eps_pred.shape != xt.shape:
            raise ValueError(f'the denoiser returned eps of shape {list(eps_pred.shape)} '
                             f'for x_t of shape {list(xt.shape)}')
        eps_linear = (xt - signal * mean) * linear_gain
        # One device-to-host copy per batch (a sync point), of two small vectors.
        model_error[start:stop] = ((eps - eps_pred) ** 2).flatten(1).sum(1).double().cpu().numpy()
        linear_error[start:stop] = ((eps - eps_linear) ** 2).flatten(1).sum(1).double().cpu().numpy()
        calls += 1
    return model_error.reshape(num_images, count), linear_error.reshape(num_images, count), calls


def _std_err_of_mean(per_image: np.ndarray, per_image_mc_std_err: np.ndarray) -> float:
    """Standard error of the mean over images: the spread across images when there are several (it contains the
    Monte Carlo noise too), else that image's own Monte Carlo SE."""
    if len(per_image) > 1:
        return float(per_image.std(ddof=1) / math.sqrt(len(per_image)))
    return float(per_image_mc_std_err[0])

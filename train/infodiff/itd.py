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

Discrete data (Kong, Brekelmans & Ver Steeg, "Information-Theoretic Diffusion", ICLR 2023, on discrete
probabilities; their Table 2's soft-discretised column): for x on the 256-level grid, -log P(x) = 1/2 int mmse(x, alpha)
d alpha with no constant and no dequantisation, because an estimate that snaps to the grid has an error that falls
to zero at high SNR. `discrete_denoiser_kinds` says which denoiser the integrand uses at each log-SNR (the network's
estimate, soft-rounded from SOFT_ROUND_FROM), `discrete_tails_nats` adds the two tails outside the sampled range.
Every piece is a function of x_t alone, so the estimate is an upper bound in expectation: a worse denoiser only
makes it larger. Ensembles (the paper's ensembling argument): at each log-SNR any of several denoisers may be used, so the lower
MMSE of several models gives a tighter estimate (`ensemble_nll`). Conditional against unconditional: the same
integral with z = Enc(x), or with `prior_averaged_denoiser`, which never sees Enc(x); the difference is the
information z carries about x.

Outside the trained range. The network was trained on t = 0..T-1 only (the official schedule: log-SNR about
-5..11.5, `trained_log_snr_range`), while the logistic range [mu - c s, mu + c s] reaches further (FashionMNIST:
about -10..23). Queried there, a network misreads the noise level (its MMSE curve climbs above d). Given
``trained_range``, the estimators therefore do not call it outside that range: the continuous integrand uses the
Gaussian reference's own linear denoiser there (its term in the control-variate sum is then zero), the discrete one
uses the linear denoiser below and plain rounding of x_t / sqrt(alpha_bar) above (its expected error is analytic,
`rounding_mse_per_level`). Beyond the sampled range the continuous estimate takes the reference there too (term
zero); the discrete one adds the linear denoiser's closed-form integral on the left and the rounding denoiser's on
the right: the paper's tail bounds, in the Gaussian-reference form of its §3, pointwise. Each substitute is a real
denoiser, so the estimates stay upper bounds in expectation; they give up what the network might have gained there.

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
                 generator: Optional[torch.Generator] = None,
                 trained_range: Optional[Sequence[float]] = None, discrete: bool = False,
                 shared_log_snr: bool = False, return_terms: bool = False) -> Dict:
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
        With ``discrete``, also "discrete": the exact-discrete estimate of -log P(x) of the 8-bit image (see
        `discrete_terms`), from a second pass on the quantised, undequantised x with the same log-SNRs.
        With ``return_terms``, "terms": the per-sample arrays (log_snr, weight, model, linear, and discrete when
        asked), each [B, K], for ensembles (`ensemble_nll`).

    ``trained_range`` (the schedule's [min, max] log-SNR, `trained_log_snr_range`): outside it the network is not
    called and the Gaussian reference's denoiser stands in (module doc, "Outside the trained range"); None calls
    the denoiser at every log-SNR (analytic denoisers). ``shared_log_snr``: every image uses the first image's
    log-SNR draws, as the ITD code's test does, so per-log-SNR choices across images are possible (ensembles).
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
        if shared_log_snr:
            log_snr[b], weight[b] = log_snr[0], weight[0]
    # Dequantised: the 8-bit image (x quantised) plus uniform noise of one level, so the 8-bit figure is a bound.
    target = _noising_target(quantise(x) if dequantize else x, dequantize, generator)
    mean = reference.mean.to(device=x.device, dtype=x.dtype)
    squared_distance = ((target - mean) ** 2).flatten(1).sum(1).double().cpu().numpy()
    errors = _squared_errors(eps_fn, alpha_bar, target, z, mean, reference.variance, log_snr, generator, batch_size,
                             trained_range=trained_range)
    model_error, linear_error, calls = errors.model, errors.linear, errors.calls
    controlled = 0.5 * weight * (model_error - linear_error)
    plain = 0.5 * weight * (model_error - reference.gaussian_mmse(log_snr.reshape(-1)).reshape(log_snr.shape))
    linear_nats = d / 2 * math.log(2 * math.pi * reference.variance) + squared_distance / (2 * reference.variance)
    nats_per_bit_dim = d * math.log(2)
    bits = (linear_nats + controlled.mean(axis=1)) / nats_per_bit_dim
    mc_std_err = controlled.std(axis=1, ddof=1) / math.sqrt(samples) / nats_per_bit_dim
    plain_bits = (reference.h_gaussian() + plain.mean(axis=1)) / nats_per_bit_dim
    plain_std_err = plain.std(axis=1, ddof=1) / math.sqrt(samples) / nats_per_bit_dim
    result = {
        'bitsPerDim': float(bits.mean()),
        'bitsPerDim8bit': float(bits.mean() + BITS_8BIT_OFFSET),
        'stdErr': _std_err_of_mean(bits, mc_std_err),
        'meanMonteCarloStdErr': float(mc_std_err.mean()),
        'perImage': [{'bitsPerDim': float(b), 'stdErr': float(s)} for b, s in zip(bits, mc_std_err)],
        'withoutControlVariate': {'bitsPerDim': float(plain_bits.mean()),
                                  'stdErr': _std_err_of_mean(plain_bits, plain_std_err)},
        'denoiserCalls': calls,
        'denoiserEvaluations': errors.network_evaluations,
        'logSnrRange': list(reference.log_snr_range()),
        'trainedLogSnrRange': None if trained_range is None else [float(v) for v in trained_range],
        'samples': int(samples),
        'images': int(num_images),
        'dequantized': bool(dequantize),
    }
    terms = {'log_snr': log_snr, 'weight': weight, 'model': model_error, 'linear': linear_error,
             'linear_nats': linear_nats, 'dimensions': d}
    if discrete:
        quantised = quantise(x)
        discrete_errors = _squared_errors(eps_fn, alpha_bar, quantised, z, mean, reference.variance, log_snr,
                                          generator, batch_size, trained_range=trained_range, discrete=True)
        tails = discrete_tails_nats(quantised, reference, log_snr[:, 0], log_snr[:, -1])
        result['discrete'] = discrete_summary(discrete_errors.discrete, weight, tails, d)
        result['discrete']['denoiserCalls'] = discrete_errors.calls
        result['discrete']['denoiserEvaluations'] = discrete_errors.network_evaluations
        terms['discrete'] = discrete_errors.discrete
        terms['tails_nats'] = tails
    if return_terms:
        result['terms'] = terms
    return result


def mmse_curve(eps_fn: ItdDenoiser, alpha_bar: np.ndarray, reference: GaussianReference, x: torch.Tensor,
               z: torch.Tensor, points: int = 64, repeats: int = 4, dequantize: bool = False, batch_size: int = 64,
               generator: Optional[torch.Generator] = None,
               trained_range: Optional[Sequence[float]] = None) -> Dict:
    """The MMSE curve on linspace(mu - c s, mu + c s) (docs/sources.md §2.7), averaged over images and noise draws.

    Args: as `estimate_nll`; `points` grid values, `repeats` noise draws per value and image.
    Returns:
        {"logSnr": [points] increasing, "mmse": model eps-space MSE summed over dimensions (0..~d), the network's
         own at every grid value, "discrete": the discrete estimator's integrand (`discrete_denoiser_kinds`) on the
         quantised image, which falls to zero at high SNR, "trainedLogSnrRange",
         "gaussian": mmse_g, "standardNormal": d sigma(alpha), "xSpaceMmse": e^-alpha mmse, "denoiserCalls"}.
    """
    if points < 2 or repeats < 1:
        raise ValueError(f'mmse_curve: points must be >= 2 and repeats >= 1, got {points}, {repeats}')
    _check_batch(x, z, reference, 'mmse_curve')
    generator = generator if generator is not None else torch.Generator().manual_seed(0)
    low, high = reference.log_snr_range()
    grid = np.linspace(low, high, points)
    log_snr = np.tile(np.repeat(grid, repeats), (x.shape[0], 1))  # [B, points * repeats]
    # The curves are those of the 8-bit image (quantised x); with ``dequantize`` the continuous one is that of the
    # jittered image the NLL integrates, and the discrete curve, which needs x on the grid, is left out.
    target = _noising_target(quantise(x), dequantize, generator)
    mean = reference.mean.to(device=x.device, dtype=x.dtype)
    errors = _squared_errors(eps_fn, alpha_bar, target, z, mean, reference.variance, log_snr, generator,
                             batch_size, trained_range=trained_range, discrete=not dequantize,
                             network_everywhere=True)
    calls = errors.calls
    mmse = errors.model.reshape(x.shape[0], points, repeats).mean(axis=(0, 2))
    discrete_mmse = (None if errors.discrete is None
                     else errors.discrete.reshape(x.shape[0], points, repeats).mean(axis=(0, 2)).tolist())
    return {
        'logSnr': grid.tolist(),
        'mmse': mmse.tolist(),
        'discrete': discrete_mmse,
        'trainedLogSnrRange': None if trained_range is None else [float(v) for v in trained_range],
        'gaussian': reference.gaussian_mmse(grid).tolist(),
        'standardNormal': (reference.dimensions * _sigmoid(grid)).tolist(),
        'xSpaceMmse': (np.exp(-grid) * mmse).tolist(),
        'denoiserCalls': calls,
    }


# --------------------------------------------------------------------------------------------- discrete data

#: Which denoiser the discrete integrand uses at a log-SNR (`discrete_denoiser_kinds`).
KIND_LINEAR, KIND_MODEL, KIND_SOFT_ROUNDED, KIND_ROUNDING = 0, 1, 2, 3
LEVELS = 256  # 8-bit pixels: u in 0..255 maps to u * QUANTISATION_STEP - 1
#: Soft rounding starts where its kernel 1/sqrt(1 + e^alpha) is narrower than one level: alpha = ln(1/delta^2 - 1).
SOFT_ROUND_FROM = math.log(1 / QUANTISATION_STEP ** 2 - 1)
SOFT_ROUND_HALF_WINDOW = 6  # levels either side of the nearest one; the rest weigh < e^-18 of it from SOFT_ROUND_FROM


def trained_log_snr_range(alpha_bar: np.ndarray) -> tuple[float, float]:
    """[log-SNR at t = T-1, log-SNR at t = 0]: the levels the network was trained on (the official schedule's
    t = 0..999 spans about -5..11.5). Outside it the estimators do not call the network (module doc)."""
    table = log_snr_table(alpha_bar)
    return float(table[-1]), float(table[0])


def discrete_denoiser_kinds(log_snr: np.ndarray, trained_range: Optional[Sequence[float]]) -> np.ndarray:
    """Per log-SNR, the denoiser of the discrete integrand (int [K]); each is a function of x_t alone, so the
    I-MMSE integral of its error bounds -log P(x) from above in expectation (Kong et al. 2023, discrete probabilities):

    - KIND_LINEAR below the trained range: the Gaussian reference's linear denoiser (at such SNR rounding is moot);
    - KIND_MODEL inside it, below SOFT_ROUND_FROM: the network's x_pred clamped to [-1, 1];
    - KIND_SOFT_ROUNDED inside it from SOFT_ROUND_FROM: that x_pred soft-rounded to the 256 levels (`soft_round`);
    - KIND_ROUNDING above it: x_t / sqrt(alpha_bar) clamped and rounded to the nearest level (no network), whose
      expected error is analytic and is also the right tail (`discrete_tails_nats`).
    Without a trained range (analytic denoisers) only KIND_MODEL and KIND_SOFT_ROUNDED occur."""
    log_snr = np.asarray(log_snr, dtype=np.float64)
    kinds = np.where(log_snr >= SOFT_ROUND_FROM, KIND_SOFT_ROUNDED, KIND_MODEL)
    if trained_range is not None:
        low, high = trained_range
        kinds = np.where(log_snr < low, KIND_LINEAR, np.where(log_snr > high, KIND_ROUNDING, kinds))
    return kinds


def _levels(dtype, device) -> torch.Tensor:
    return (torch.arange(LEVELS, dtype=torch.float64) * QUANTISATION_STEP - 1).to(device, dtype)


def _level_index(x: torch.Tensor) -> torch.Tensor:
    # floor(v + 1/2), not torch.round (halves to even), so that halves go up as in the web runtime's Math.round.
    return torch.clamp(torch.floor((x.double() + 1) / QUANTISATION_STEP + 0.5), 0, LEVELS - 1).long()


def quantise(x: torch.Tensor) -> torch.Tensor:
    """x in [-1, 1] -> the nearest of the 256 levels u/127.5 - 1 (the 8-bit image), same dtype. The values are the
    float64 levels cast once, so a soft- or hard-rounded estimate equals them exactly."""
    return _levels(x.dtype, x.device)[_level_index(x)]


def soft_round(x_pred: torch.Tensor, log_snr: torch.Tensor) -> torch.Tensor:
    """Soft rounding to the 256 levels b (the ITD code's `soft_round`, Kong et al. 2023, and Table 2's
    soft-discretised column): sum_b b softmax_b(-1/2 (x - b)^2 (1 + e^alpha)) of x = clamp(x_pred, -1, 1), over
    the 2 * SOFT_ROUND_HALF_WINDOW + 1 levels nearest x (the others weigh nothing in float32 where it is used).
    x_pred [B, ...], log_snr [B] float64 -> [B, ...]."""
    x = torch.clamp(x_pred, -1, 1).double()
    nearest = _level_index(x)
    offsets = torch.arange(-SOFT_ROUND_HALF_WINDOW, SOFT_ROUND_HALF_WINDOW + 1, device=x.device)
    index = nearest.unsqueeze(-1) + offsets
    valid = (index >= 0) & (index < LEVELS)
    levels = index.clamp(0, LEVELS - 1).double() * QUANTISATION_STEP - 1
    precision = (1 + torch.exp(log_snr.double())).reshape((-1,) + (1,) * x.dim())
    logits = torch.where(valid, -0.5 * (x.unsqueeze(-1) - levels) ** 2 * precision, torch.tensor(-math.inf))
    weights = torch.softmax(logits, dim=-1)
    return (weights * levels).sum(-1).to(x_pred.dtype)


def discrete_estimate(x_pred: torch.Tensor, x_scaled: torch.Tensor, log_snr: torch.Tensor,
                      kinds: np.ndarray) -> torch.Tensor:
    """The discrete integrand's estimate of x per row (`discrete_denoiser_kinds`): x_pred clamped (KIND_MODEL,
    and KIND_LINEAR, whose error the caller takes from the linear denoiser), soft-rounded (KIND_SOFT_ROUNDED), or
    x_t / sqrt(alpha_bar) = ``x_scaled`` clamped and rounded (KIND_ROUNDING). [B, ...] -> [B, ...]."""
    estimate = torch.clamp(x_pred, -1, 1)
    kinds_t = torch.from_numpy(np.asarray(kinds)).to(x_pred.device)
    soft = kinds_t == KIND_SOFT_ROUNDED
    if bool(soft.any()):
        estimate[soft] = soft_round(x_pred[soft], log_snr.to(x_pred.device)[soft])
    hard = kinds_t == KIND_ROUNDING
    if bool(hard.any()):
        estimate[hard] = quantise(x_scaled[hard])
    return estimate


def rounding_mse_per_level(log_snr: float, edge: bool = False) -> float:
    """E_eps of e^alpha (x - round(clamp(x + e^{-alpha/2} eps)))^2 for one pixel of x on the grid, away from the
    ends (the clamp can only lower it, so this bounds interior pixels) or at -1 / 1 (``edge``: one side only):
    e^alpha sum_k (k delta)^2 P(rounded k levels off), P = 2 [Q((k - 1/2) s) - Q((k + 1/2) s)], s = delta e^{alpha/2}."""
    s = QUANTISATION_STEP * math.exp(log_snr / 2)
    total = 0.0
    for k in range(1, LEVELS):
        tail = 0.5 * math.erfc((k - 0.5) * s / math.sqrt(2))
        if tail < 1e-300:
            break
        total += (k * QUANTISATION_STEP) ** 2 * (tail - 0.5 * math.erfc((k + 0.5) * s / math.sqrt(2)))
    return math.exp(log_snr) * total * (1 if edge else 2)


#: The right tail's integral runs this far past its start, on this many intervals (the integrand falls like
#: exp(-delta^2 e^alpha / 8)); both languages use the same rule so their tails agree.
RIGHT_TAIL_SPAN, RIGHT_TAIL_INTERVALS = 12.0, 480


def rounding_tail_nats(log_snr_right: float) -> float:
    """1/2 int_{alpha_R}^{inf} rounding_mse_per_level(alpha) d alpha for one interior pixel (trapezoid rule)."""
    step = RIGHT_TAIL_SPAN / RIGHT_TAIL_INTERVALS
    values = [rounding_mse_per_level(log_snr_right + i * step) for i in range(RIGHT_TAIL_INTERVALS + 1)]
    return 0.5 * step * (sum(values) - 0.5 * (values[0] + values[-1]))


def linear_left_tail_nats(log_snr_left: float, squared_distance: float, dimensions: int, variance: float) -> float:
    """1/2 int_{-inf}^{alpha_L} E_eps ||eps - eps_lin||^2 d alpha for the reference N(m, v I)'s linear denoiser at
    one image: per pixel E = A^2 + B^2 with A = gamma v/(gamma v + 1), B = sqrt(gamma)(x - m)/(gamma v + 1), whose
    integral in closed form is 1/2 [d (ln u + 1/u - 1) + ||x - m||^2 / v (1 - 1/u)], u = 1 + v e^{alpha_L}. The
    Gaussian reference below the sampled range: the paper's left tail (Kong et al. 2023), pointwise."""
    u = 1 + variance * math.exp(log_snr_left)
    return 0.5 * (dimensions * (math.log(u) + 1 / u - 1) + squared_distance / variance * (1 - 1 / u))


def discrete_tails_nats(quantised: torch.Tensor, reference: GaussianReference, log_snr_left: np.ndarray,
                        log_snr_right: np.ndarray) -> np.ndarray:
    """Per image, the discrete estimate's two tails outside the sampled range, in nats, float64 [B]: the linear
    reference's below ``log_snr_left`` and the rounding denoiser's above ``log_snr_right`` (edge pixels at -1 or
    1 count half, as only one side can round wrong)."""
    mean = reference.mean.to(quantised.device, quantised.dtype)
    flat = quantised.flatten(1).double()
    squared = ((quantised - mean) ** 2).flatten(1).sum(1).double().cpu().numpy()
    edges = ((flat <= -1) | (flat >= 1)).sum(1).cpu().numpy()
    d = reference.dimensions
    tails = np.empty(len(squared))
    for b in range(len(squared)):
        left = linear_left_tail_nats(float(log_snr_left[b]), float(squared[b]), d, reference.variance)
        right = rounding_tail_nats(float(log_snr_right[b])) * ((d - edges[b]) + 0.5 * edges[b])
        tails[b] = left + right
    return tails


def discrete_summary(discrete: np.ndarray, weight: np.ndarray, tails_nats: np.ndarray, dimensions: int) -> Dict:
    """-log P(x) of each 8-bit image = tails + (1/K) sum_k 1/2 w_k e_k, with e_k the discrete integrand's error
    (Kong et al. 2023: no constant, no dequantisation). Bits per 8-bit pixel, mean over images with its SE
    (across images; one image: its Monte Carlo SE), and per image."""
    terms = 0.5 * weight * discrete
    nats_per_bit_dim = dimensions * math.log(2)
    bits = (tails_nats + terms.mean(axis=1)) / nats_per_bit_dim
    mc_std_err = terms.std(axis=1, ddof=1) / math.sqrt(terms.shape[1]) / nats_per_bit_dim
    return {'bitsPerDim': float(bits.mean()), 'stdErr': _std_err_of_mean(bits, mc_std_err),
            'meanMonteCarloStdErr': float(mc_std_err.mean()),
            'tailsBitsPerDim': float(tails_nats.mean() / nats_per_bit_dim),
            'perImage': [{'bitsPerDim': float(b), 'stdErr': float(e)} for b, e in zip(bits, mc_std_err)]}


def errors_on_draws(eps_fn: ItdDenoiser, alpha_bar: np.ndarray, reference: GaussianReference, x: torch.Tensor,
                    z: torch.Tensor, log_snr: np.ndarray, noise: torch.Tensor,
                    trained_range: Optional[Sequence[float]] = None, batch_size: int = 64) -> Dict[str, np.ndarray]:
    """The per-sample errors of one image on given draws (the golden parity case; the estimators draw their own):
    x [1, ...] (quantised here), log_snr [K], noise [K, ...] -> {"model", "linear", "discrete"} float64 [K]."""
    mean = reference.mean.to(device=x.device, dtype=x.dtype)
    errors = _squared_errors(eps_fn, alpha_bar, quantise(x), z, mean, reference.variance,
                             np.asarray(log_snr, dtype=np.float64)[None, :], torch.Generator().manual_seed(0),
                             batch_size, trained_range=trained_range, discrete=True, noise=noise)
    return {'model': errors.model[0], 'linear': errors.linear[0], 'discrete': errors.discrete[0]}


# --------------------------------------------------------------------------------------------- ensembles

def ensemble_choice_by_mean(member_errors: Sequence[np.ndarray]) -> np.ndarray:
    """Per log-SNR sample (shared by all images), the member with the lowest error averaged over the images, int
    [K] (the ITD code's ensemble: at each log-SNR the lower MMSE of several denoisers, Kong et al. 2023, ensembles, and
    Table 2). member_errors: one [B, K] array per member, on the same draws."""
    return np.argmin(np.stack([e.mean(axis=0) for e in member_errors]), axis=0)


def ensemble_choice_from_curves(curves: Sequence[Dict], log_snr: np.ndarray, key: str = 'mmse') -> np.ndarray:
    """Per log-SNR, the member whose MMSE curve (its own noise draws, so the choice never sees the draws it is
    scored on) is lowest there, by linear interpolation; int, shaped like log_snr."""
    values = [np.interp(log_snr, c['logSnr'], c[key]) for c in curves]
    return np.argmin(np.stack(values), axis=0)


def ensemble_errors(member_errors: Sequence[np.ndarray], choice: np.ndarray) -> np.ndarray:
    """[B, K]: each sample's error from the member ``choice`` names ([K] or [B, K])."""
    stacked = np.stack(member_errors)  # [M, B, K]
    choice = np.broadcast_to(np.asarray(choice), stacked.shape[1:])
    return np.take_along_axis(stacked, choice[None], axis=0)[0]


def ensemble_nll(member_terms: Sequence[Dict], choice: Optional[np.ndarray] = None) -> Dict:
    """The ensemble's continuous and discrete estimates from members' ``terms`` (estimate_nll(...,
    return_terms=True, shared_log_snr=True) with the same generator seed, so the same log-SNRs, noise and
    dequantisation). ``choice`` defaults to `ensemble_choice_by_mean` per integrand; then on the same draws the
    ensemble is never above any member. Returns {"bitsPerDim", "stdErr", "bitsPerDim8bit", "discrete": {...},
    "choice": [K] member index (continuous), "discreteChoice"}."""
    first = member_terms[0]
    for terms in member_terms[1:]:
        if not (np.array_equal(terms['log_snr'], first['log_snr']) and np.allclose(terms['linear'], first['linear'])):
            raise ValueError('ensemble_nll: the members were not evaluated on the same draws (seed, images, samples)')
    weight, linear = first['weight'], first['linear']
    cont_choice = ensemble_choice_by_mean([t['model'] for t in member_terms]) if choice is None else choice
    model = ensemble_errors([t['model'] for t in member_terms], cont_choice)
    controlled = 0.5 * weight * (model - linear)
    nats_per_bit_dim = first['dimensions'] * math.log(2)
    bits = (first['linear_nats'] + controlled.mean(axis=1)) / nats_per_bit_dim
    mc = controlled.std(axis=1, ddof=1) / math.sqrt(controlled.shape[1]) / nats_per_bit_dim
    result = {'bitsPerDim': float(bits.mean()), 'stdErr': _std_err_of_mean(bits, mc),
              'bitsPerDim8bit': float(bits.mean() + BITS_8BIT_OFFSET), 'choice': np.asarray(cont_choice).tolist(),
              'perImage': bits.tolist()}
    if all('discrete' in t for t in member_terms):
        disc_choice = ensemble_choice_by_mean([t['discrete'] for t in member_terms]) if choice is None else choice
        errors = ensemble_errors([t['discrete'] for t in member_terms], disc_choice)
        result['discrete'] = discrete_summary(errors, weight, first['tails_nats'], first['dimensions'])
        result['discreteChoice'] = np.asarray(disc_choice).tolist()
    return result


# --------------------------------------------------------------------------------------------- z or no z

def prior_averaged_denoiser(predict_eps: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor],
                            z_draws: torch.Tensor) -> ItdDenoiser:
    """An unconditional denoiser from a z-conditioned network: eps_pred(x_t) = mean_s eps(x_t, t, z_s) over fixed
    draws z_s of the prior, ignoring the z it is given. It never sees Enc(x), so its I-MMSE integral estimates
    -log p(x) (a bound in expectation), and the gap to the conditional estimate is what z = Enc(x) tells the
    denoiser about x: the information the InfoDiffusion objective maximises. z_draws [S, D]; S network calls per
    batch."""
    def eps_fn(xt: torch.Tensor, t: torch.Tensor, z: torch.Tensor, log_snr: torch.Tensor) -> torch.Tensor:
        total = None
        for draw in z_draws:
            eps = predict_eps(xt, t, draw.to(xt.device, z.dtype).expand(xt.shape[0], -1))
            total = eps if total is None else total + eps
        return total / len(z_draws)
    return eps_fn


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


@dataclass
class _Errors:
    """Per (image, sample) squared errors, float64 [B, K]: the continuous integrand's ``model`` (the linear
    reference's where the network is not called), ``linear`` and, when asked, the discrete integrand's
    ``discrete``; plus the network calls (batches) and the noisy images the network saw."""
    model: np.ndarray
    linear: np.ndarray
    discrete: Optional[np.ndarray]
    calls: int
    network_evaluations: int


@torch.no_grad()
def _squared_errors(eps_fn: ItdDenoiser, alpha_bar: np.ndarray, target: torch.Tensor, z: torch.Tensor,
                    mean: torch.Tensor, variance: float, log_snr: np.ndarray, generator: torch.Generator,
                    batch_size: int, trained_range: Optional[Sequence[float]] = None, discrete: bool = False,
                    network_everywhere: bool = False, noise: Optional[torch.Tensor] = None) -> _Errors:
    """Noises each image at each of its log-SNRs (fresh eps each, drawn whatever the network does, so two models
    given the same generator see the same draws) and returns the errors of `_Errors`.

    The network is called on the samples inside ``trained_range`` (all when it is None, or with
    ``network_everywhere``, which the curve uses to show the network's own error outside the range); batches mix
    images and log-SNRs (per-sample t). The discrete integrand follows `discrete_denoiser_kinds`. ``noise``
    [B * K, ...] replaces the drawn eps (parity files)."""
    num_images, count = log_snr.shape
    flat_log_snr = log_snr.reshape(-1)
    image_index = np.repeat(np.arange(num_images), count)
    timesteps = timestep_for_log_snr(alpha_bar, flat_log_snr)
    kinds = discrete_denoiser_kinds(flat_log_snr, trained_range)
    inside = kinds != KIND_LINEAR
    inside &= kinds != KIND_ROUNDING
    model_error = np.empty(len(flat_log_snr))
    linear_error = np.empty(len(flat_log_snr))
    discrete_error = np.empty(len(flat_log_snr)) if discrete else None
    calls = evaluations = 0
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
        eps = (rng.normal(clean.shape, generator, target.device, torch.float64).to(target.dtype) if noise is None
               else noise[start:stop].to(target.device, target.dtype))
        xt = signal * clean + noise_scale * eps
        eps_linear = (xt - signal * mean) * linear_gain
        net = np.ones(stop - start, bool) if (network_everywhere or trained_range is None) else inside[start:stop]
        eps_pred = eps_linear.clone()
        if net.any():
            picked = torch.from_numpy(np.flatnonzero(net)).to(target.device)
            t = torch.from_numpy(timesteps[start:stop]).to(target.device)
            predicted = eps_fn(xt[picked], t[picked], z[rows][picked], batch_log_snr.to(target.device)[picked])
            if predicted.shape != xt[picked].shape:
                raise ValueError(f'the denoiser returned eps of shape {list(predicted.shape)} '
                                 f'for x_t of shape {list(xt[picked].shape)}')
            eps_pred[picked] = predicted.to(xt.dtype)
            calls += 1
            evaluations += int(net.sum())
        # One device-to-host copy per batch (a sync point), of small vectors.
        model_error[start:stop] = ((eps - eps_pred) ** 2).flatten(1).sum(1).double().cpu().numpy()
        linear_error[start:stop] = ((eps - eps_linear) ** 2).flatten(1).sum(1).double().cpu().numpy()
        if discrete:
            x_pred = (xt - noise_scale * eps_pred) / signal
            estimate = discrete_estimate(x_pred, xt / signal, batch_log_snr, kinds[start:stop])
            gamma = torch.exp(batch_log_snr).to(torch.float64)
            discrete_error[start:stop] = (gamma * ((clean - estimate).double() ** 2).flatten(1).sum(1)).cpu().numpy()
            linear_rows = kinds[start:stop] == KIND_LINEAR
            discrete_error[start:stop][linear_rows] = linear_error[start:stop][linear_rows]
        if not network_everywhere and trained_range is not None:
            outside = ~inside[start:stop]
            model_error[start:stop][outside] = linear_error[start:stop][outside]
    reshape = (num_images, count)
    return _Errors(model_error.reshape(reshape), linear_error.reshape(reshape),
                   None if discrete_error is None else discrete_error.reshape(reshape), calls, evaluations)


def _std_err_of_mean(per_image: np.ndarray, per_image_mc_std_err: np.ndarray) -> float:
    """Standard error of the mean over images: the spread across images when there are several (it contains the
    Monte Carlo noise too), else that image's own Monte Carlo SE."""
    if len(per_image) > 1:
        return float(per_image.std(ddof=1) / math.sqrt(len(per_image)))
    return float(per_image_mc_std_err[0])

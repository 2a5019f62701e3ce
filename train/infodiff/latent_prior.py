"""A Gaussian mixture fitted to the encoded training set: the p(z) that prior samples are drawn from.

Why: the MMD term at the official weight and kernel (lambda 0.1; k(x, y) = exp(-|x - y|^2 / D^2), so wide that
it is nearly constant) barely moves q(z) = E_x[delta(Enc(x))] towards N(0, I): the codes of the shipped
FashionMNIST model have about half the norm of N(0, I) draws (docs/results.md, "Where the codes lie"), so such
draws land where the denoiser never saw a code. The official code's FID path meets the same problem by fitting a latent DDIM to the encoded training set;
DiffAE does the same. A full-covariance mixture of a few Gaussians is that idea at a size the browser samples in
microseconds and the package carries in a few kilobytes.

The package form (docs/model-format.md, `latent.fitted`):
    {"kind": "gaussianMixture", "fittedOn": N, "weights": [K], "means": [K][D],
     "scaleTril": [K][D (D + 1) / 2]}
scaleTril holds the Cholesky factor L of each covariance (cov = L L^T), its lower triangle packed row by row
(L[0,0], L[1,0], L[1,1], L[2,0], ...). A draw picks component k with probability weights[k] and returns
means[k] + L_k n with n ~ N(0, I).
"""
from __future__ import annotations

import warnings
from typing import Any, Dict, Optional

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture

from . import rng

MIXTURE_KIND = 'gaussianMixture'
MIXTURE_COMPONENTS = 10  # chosen on 256 samples of the fmnist model at step 10,400: 1, 10 and 50 components gave
#                          68.0%, 75.5% and 73.3% classifier confidence (eta 1); N(0, I) gave 64.5%
COVARIANCE_FLOOR = 1e-6  # added to each covariance's diagonal (sklearn's reg_covar): keeps a dead dimension valid


def fit_latent_mixture(z: np.ndarray, components: int = MIXTURE_COMPONENTS, seed: int = 0) -> Dict[str, Any]:
    """Fits a full-covariance Gaussian mixture to codes z [N, D] (N >= 2 * components) -> the package form."""
    z = np.asarray(z, dtype=np.float64)
    if z.ndim != 2 or len(z) < 2 * components:
        raise ValueError(f'fitting a {components}-component latent mixture needs [N >= {2 * components}, D] codes, '
                         f'got shape {list(z.shape)}')
    if not np.isfinite(z).all():
        raise ValueError('the codes to fit a latent mixture to hold NaN or infinite values')
    mixture = GaussianMixture(components, covariance_type='full', reg_covar=COVARIANCE_FLOOR, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', ConvergenceWarning)  # 100 EM rounds are plenty to sample from
        mixture.fit(z)
    rows, cols = np.tril_indices(z.shape[1])
    factors = np.linalg.cholesky(mixture.covariances_)
    return {'kind': MIXTURE_KIND, 'fittedOn': int(len(z)), 'weights': mixture.weights_.tolist(),
            'means': mixture.means_.tolist(), 'scaleTril': factors[:, rows, cols].tolist()}


def unpack_scale_tril(packed: np.ndarray, dim: int) -> np.ndarray:
    """[K, D (D + 1) / 2] packed lower triangles -> [K, D, D] lower-triangular matrices."""
    packed = np.asarray(packed, dtype=np.float64)
    if packed.ndim != 2 or packed.shape[1] != dim * (dim + 1) // 2:
        raise ValueError(f'scaleTril must be [K, {dim * (dim + 1) // 2}] for D = {dim}, got {list(packed.shape)}')
    rows, cols = np.tril_indices(dim)
    out = np.zeros((len(packed), dim, dim))
    out[:, rows, cols] = packed
    return out


def sample_latent_mixture(fitted: Dict[str, Any], n: int, generator: Optional[torch.Generator] = None,
                          device=None, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """[n, D] draws from a fitted mixture in the package form, seeded by ``generator``."""
    if fitted.get('kind') != MIXTURE_KIND:
        raise ValueError(f"a fitted latent prior must be of kind {MIXTURE_KIND!r}, got {fitted.get('kind')!r}")
    means = torch.tensor(fitted['means'], dtype=torch.float64)
    factors = torch.from_numpy(unpack_scale_tril(fitted['scaleTril'], means.shape[1]))
    weights = torch.tensor(fitted['weights'], dtype=torch.float64)
    # Inverse-CDF choice from uniforms (not torch.multinomial), the rule a reader in any language can repeat.
    picks = torch.searchsorted(torch.cumsum(weights / weights.sum(), 0),
                               rng.uniform((n,), generator, dtype=torch.float64)).clamp(max=len(weights) - 1)
    noise = rng.normal((n, means.shape[1]), generator, dtype=torch.float64)
    z = means[picks] + torch.einsum('nij,nj->ni', factors[picks], noise)
    return z.to(device=device, dtype=dtype)


def describe(fitted: Dict[str, Any]) -> str:
    """'a 10-component Gaussian mixture fitted to 60,000 encoded training images', for records and captions."""
    return (f"a {len(fitted['weights'])}-component Gaussian mixture fitted to {fitted['fittedOn']:,} encoded "
            f"training images")

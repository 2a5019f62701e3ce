"""Representation and image metrics, each a function returning a JSON-ready dict.

- `linear_probe`: the official latent-quality protocol (`eval_disentanglement.py`, docs/sources.md §1.7): KFold(5, shuffle,
  random_state=0), a StandardScaler fitted on the training fold, one LogisticRegression per attribute, accuracy
  as mean ± std over folds.
- `mlp_probe`: the same protocol with a small MLP: what a non-linear read-out finds in the codes.
- `dci`: DCI disentanglement / completeness / informativeness (Eastwood & Williams 2018) with one
  GradientBoostingClassifier per factor, as the official `eval_disentanglement.py` does for 3DShapes.
- `factor_dimension_names`: names a latent dimension after the factor that clearly dominates it.
- `frechet_distance`: Fréchet distance between Gaussians fitted to two feature sets (the FID formula).
- `reconstruction_psnr`: per-image PSNR of images in [-1, 1], mapped to [0, 1].

Dict keys are camelCase because these dicts are written unchanged into model.json metadata (docs/model-format.md).
"""
from __future__ import annotations

import warnings
from typing import Mapping, Sequence

import numpy as np
from scipy import linalg
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import KFold
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler

PSNR_MSE_FLOOR = 1e-10  # identical images would give an infinite PSNR, which JSON cannot hold; this caps it at 100 dB


def linear_probe(z: np.ndarray, labels: Mapping[str, np.ndarray], folds: int = 5, max_iter: int = 1000) -> dict:
    """Linear-probe accuracy of a representation for each attribute.

    Args:
        z: float [N, D] codes.
        labels: attribute name -> int [N] class labels.
        folds: number of KFold splits (shuffled, random_state 0, as the official protocol).
        max_iter: LogisticRegression iterations. The official code keeps sklearn's default (100), which stops
            before convergence on standardised 32-d codes and then depends on the solver's stopping point; a
            converged fit measures the representation rather than the optimiser.
    Returns:
        {"attributes": {name: {"mean", "std", "folds": [accuracy per fold]}}, "meanAccuracy": mean over
         attributes, "folds": folds, "samples": N}.
    """
    return _probe(z, labels, folds, lambda: LogisticRegression(max_iter=max_iter))


def mlp_probe(z: np.ndarray, labels: Mapping[str, np.ndarray], folds: int = 5, hidden: int = 64,
              max_iter: int = 500) -> dict:
    """The probe of `linear_probe` with a one-hidden-layer MLP (ReLU, Adam, seeded) in place of the logistic
    regression: what a non-linear read-out finds in z. Beside the linear probe it tells an attribute that z has
    lost from one it only holds less linearly (a hue on its colour circle, say). Same folds and return value."""
    return _probe(z, labels, folds, lambda: MLPClassifier((hidden,), max_iter=max_iter, random_state=0))


def _probe(z: np.ndarray, labels: Mapping[str, np.ndarray], folds: int, make_classifier) -> dict:
    """Accuracy per attribute of fresh `make_classifier()` fits on standardised z over shuffled KFold splits."""
    z = _as_2d('z', z)
    if not labels:
        raise ValueError('a probe needs at least one attribute')
    splitter = KFold(n_splits=folds, shuffle=True, random_state=0)
    results = {}
    for name, y in labels.items():
        y = np.asarray(y)
        if y.shape != (len(z),):
            raise ValueError(f'labels[{name!r}] must have shape [{len(z)}], got {list(y.shape)}')
        accuracies = []
        for train_index, test_index in splitter.split(z):
            scaler = StandardScaler().fit(z[train_index])
            classifier = make_classifier()
            with warnings.catch_warnings():
                # A rare non-converged fold still gives a valid (slightly pessimistic) accuracy; don't spam the log.
                warnings.simplefilter('ignore', ConvergenceWarning)
                classifier.fit(scaler.transform(z[train_index]), y[train_index])
            accuracies.append(float(classifier.score(scaler.transform(z[test_index]), y[test_index])))
        results[name] = {'mean': float(np.mean(accuracies)), 'std': float(np.std(accuracies)), 'folds': accuracies}
    return {
        'attributes': results,
        'meanAccuracy': float(np.mean([r['mean'] for r in results.values()])),
        'folds': folds,
        'samples': int(len(z)),
    }


def dci(z_train: np.ndarray, factors_train: np.ndarray, z_test: np.ndarray, factors_test: np.ndarray,
        factor_names: Sequence[str], n_estimators: int = 100, seed: int = 0) -> dict:
    """DCI scores from gradient-boosted-tree importances (Eastwood & Williams 2018).

    R[i, j] = |importance of code i for predicting factor j|. With P[i, j] = R[i, j] / sum_j R[i, j]:
    disentanglement D = sum_i rho_i (1 - H_K(P[i, :])), rho_i = sum_j R[i, j] / sum R, K = number of factors.
    Completeness is the same with the roles swapped: C = sum_j rho'_j (1 - H_D(P'[:, j])), P'[i, j] =
    R[i, j] / sum_i R[i, j], rho'_j = sum_i R[i, j] / sum R, D = number of codes.

    Args:
        z_train, z_test: float [N, D] codes.
        factors_train, factors_test: int [N, K] discrete factor labels.
        factor_names: K names.
    Returns:
        {"disentanglement", "completeness", "informativenessTrain", "informativenessTest" (mean accuracies),
         "perFactor": {name: {"trainAccuracy", "testAccuracy", "completeness"}}, "perCode": [disentanglement],
         "importance": R as nested lists [D][K]}.
    """
    z_train, z_test = _as_2d('z_train', z_train), _as_2d('z_test', z_test)
    factors_train, factors_test = _as_2d('factors_train', factors_train), _as_2d('factors_test', factors_test)
    num_factors = factors_train.shape[1]
    if len(factor_names) != num_factors or factors_test.shape[1] != num_factors:
        raise ValueError(f'{len(factor_names)} factor names for {num_factors} / {factors_test.shape[1]} factor columns')
    importance = np.zeros((z_train.shape[1], num_factors))
    per_factor = {}
    for j, name in enumerate(factor_names):
        model = GradientBoostingClassifier(n_estimators=n_estimators, random_state=seed)
        model.fit(z_train, factors_train[:, j])
        importance[:, j] = np.abs(model.feature_importances_)
        per_factor[name] = {
            'trainAccuracy': float(model.score(z_train, factors_train[:, j])),
            'testAccuracy': float(model.score(z_test, factors_test[:, j])),
        }
    scores = dci_from_importance(importance)
    for j, name in enumerate(factor_names):
        per_factor[name]['completeness'] = scores['perFactor'][j]
    return {
        'disentanglement': scores['disentanglement'],
        'completeness': scores['completeness'],
        'informativenessTrain': float(np.mean([f['trainAccuracy'] for f in per_factor.values()])),
        'informativenessTest': float(np.mean([f['testAccuracy'] for f in per_factor.values()])),
        'perFactor': per_factor,
        'perCode': scores['perCode'],
        'importance': importance.tolist(),
    }


def dci_from_importance(importance: np.ndarray) -> dict:
    """Disentanglement and completeness of an importance matrix R [D codes, K factors] (see `dci`).

    Returns {"disentanglement", "completeness", "perCode": [D], "perFactor": [K]}.
    """
    importance = np.abs(_as_2d('importance', importance))
    total = importance.sum()
    if total <= 0:
        raise ValueError('importance matrix is all zero; no code predicts any factor')
    num_codes, num_factors = importance.shape
    per_code = 1.0 - _normalised_entropy(importance, axis=1, base=num_factors)
    code_weight = importance.sum(axis=1) / total
    per_factor = 1.0 - _normalised_entropy(importance, axis=0, base=num_codes)
    factor_weight = importance.sum(axis=0) / total
    return {
        'disentanglement': float(np.sum(per_code * code_weight)),
        'completeness': float(np.sum(per_factor * factor_weight)),
        'perCode': per_code.tolist(),
        'perFactor': per_factor.tolist(),
    }


def factor_dimension_names(importance: np.ndarray, factor_names: Sequence[str], min_share: float = 0.6,
                           min_ratio: float = 2.0, min_code_weight: float = 0.25) -> list[str | None]:
    """Names each latent dimension after its dominant factor when that factor clearly dominates.

    Dimension i gets factor j's name when (1) j's share of code i's importance is at least `min_share`, (2) it is
    at least `min_ratio` times the runner-up's share, and (3) code i carries a real part of the total importance:
    its weight rho_i is at least `min_code_weight` / D (a dimension the trees barely use is left unnamed even if
    its little importance is concentrated).

    Args:
        importance: R [D, K] from `dci`.
        factor_names: K names.
    Returns:
        List of length D: a factor name or None.
    """
    importance = np.abs(_as_2d('importance', importance))
    num_codes, num_factors = importance.shape
    if len(factor_names) != num_factors:
        raise ValueError(f'{len(factor_names)} factor names for an importance matrix with {num_factors} factors')
    total = importance.sum()
    names: list[str | None] = []
    for row in importance:
        row_total = row.sum()
        if total <= 0 or row_total <= 0 or row_total / total < min_code_weight / num_codes:
            names.append(None)
            continue
        share = row / row_total
        order = np.argsort(share)[::-1]
        best = share[order[0]]
        runner_up = share[order[1]] if num_factors > 1 else 0.0
        names.append(factor_names[order[0]] if best >= min_share and best >= min_ratio * runner_up else None)
    return names


def frechet_distance(features_a: np.ndarray, features_b: np.ndarray) -> dict:
    """Fréchet distance between Gaussians fitted to two feature sets: ||mu_a - mu_b||^2 + tr(Ca + Cb - 2 (Ca Cb)^1/2).

    Args:
        features_a, features_b: float [N, F] and [M, F] feature vectors (N, M >= 2).
    Returns:
        {"frechetDistance", "meanTerm" (||mu_a - mu_b||^2), "traceTerm", "samplesA", "samplesB", "featureDim"}.
    """
    a = _as_2d('features_a', features_a).astype(np.float64)
    b = _as_2d('features_b', features_b).astype(np.float64)
    if a.shape[1] != b.shape[1]:
        raise ValueError(f'feature dimensions differ: {a.shape[1]} vs {b.shape[1]}')
    if len(a) < 2 or len(b) < 2:
        raise ValueError(f'need at least 2 samples per set for a covariance, got {len(a)} and {len(b)}')
    mean_diff = a.mean(axis=0) - b.mean(axis=0)
    cov_a = np.atleast_2d(np.cov(a, rowvar=False))
    cov_b = np.atleast_2d(np.cov(b, rowvar=False))
    trace_term = np.trace(cov_a) + np.trace(cov_b) - 2.0 * _trace_sqrt_product(cov_a, cov_b)
    mean_term = float(mean_diff @ mean_diff)
    return {
        'frechetDistance': float(mean_term + trace_term),
        'meanTerm': mean_term,
        'traceTerm': float(trace_term),
        'samplesA': int(len(a)),
        'samplesB': int(len(b)),
        'featureDim': int(a.shape[1]),
    }


def reconstruction_psnr(images: np.ndarray, references: np.ndarray) -> dict:
    """PSNR of images against references, both in [-1, 1] (any layout, batch first), measured on [0, 1].

    Values outside [-1, 1] (DDIM outputs are unclipped) are clipped first, as saving them as images would.

    PSNR_i = 10 log10(1 / MSE_i) with MSE_i over all pixels and channels of image i (floored at PSNR_MSE_FLOOR).
    Returns {"psnr": mean over images in dB, "psnrStd", "perImage": [dB], "images": N}.
    """
    images = np.asarray(images, dtype=np.float64)
    references = np.asarray(references, dtype=np.float64)
    if images.shape != references.shape or images.ndim < 2:
        raise ValueError(f'images and references must have the same batched shape, got {list(images.shape)} '
                         f'and {list(references.shape)}')
    unit_a = (np.clip(images, -1.0, 1.0) + 1.0) / 2.0
    unit_b = (np.clip(references, -1.0, 1.0) + 1.0) / 2.0
    mse = ((unit_a - unit_b) ** 2).reshape(len(images), -1).mean(axis=1)
    per_image = 10.0 * np.log10(1.0 / np.maximum(mse, PSNR_MSE_FLOOR))
    return {'psnr': float(per_image.mean()), 'psnrStd': float(per_image.std()), 'perImage': per_image.tolist(),
            'images': int(len(images))}



def high_frequency_energy(images: np.ndarray) -> float:
    """Mean squared discrete Laplacian of images in [-1, 1] ([N, C, H, W] or [N, H, W]), measured on [0, 1]:
    each interior pixel minus the mean of its four neighbours, squared, averaged over pixels, channels and images.

    Pixel-level grain (noise a sampler left in) raises it; smooth regions and edges a pixel wide add little. Compared
    between two samplers on the same draws it says which leaves more grain, which a classifier's Fréchet distance
    at 32 pixels barely sees. Values outside [-1, 1] are clipped first, as saving them as images would.
    """
    images = np.asarray(images, dtype=np.float64)
    if images.ndim < 3 or images.shape[-1] < 3 or images.shape[-2] < 3:
        raise ValueError(f'images must be batched [N, (C,) H, W] with H, W >= 3, got {list(images.shape)}')
    unit = (np.clip(images, -1.0, 1.0) + 1.0) / 2.0
    neighbours = (unit[..., :-2, 1:-1] + unit[..., 2:, 1:-1] + unit[..., 1:-1, :-2] + unit[..., 1:-1, 2:]) / 4.0
    return float(np.mean((unit[..., 1:-1, 1:-1] - neighbours) ** 2))

# --------------------------------------------------------------------------------------------- helpers


def _as_2d(name: str, array: np.ndarray) -> np.ndarray:
    array = np.asarray(array)
    if array.ndim != 2:
        raise ValueError(f'{name} must be 2-D [samples, features], got shape {list(array.shape)}')
    if np.issubdtype(array.dtype, np.floating) and not np.all(np.isfinite(array)):
        raise ValueError(f'{name} contains non-finite values')
    return array


def _normalised_entropy(weights: np.ndarray, axis: int, base: int) -> np.ndarray:
    """Entropy (log base `base`) of weights normalised along `axis`; an all-zero slice counts as uniform (1)."""
    if base < 2:
        return np.zeros(weights.shape[1 - axis])
    sums = weights.sum(axis=axis, keepdims=True)
    probabilities = np.divide(weights, sums, out=np.full_like(weights, 1.0 / weights.shape[axis]), where=sums > 0)
    logs = np.log(probabilities, out=np.zeros_like(probabilities), where=probabilities > 0)
    return -np.sum(probabilities * logs, axis=axis) / np.log(base)


def _trace_sqrt_product(cov_a: np.ndarray, cov_b: np.ndarray, eps: float = 1e-6) -> float:
    """tr((Ca Cb)^1/2) by scipy's sqrtm, with the usual numerical care.

    Ca Cb is not symmetric, and with fewer samples than feature dimensions it is singular: sqrtm may then return
    non-finite values (retry with eps added to both diagonals, which moves the trace by O(sqrt(eps))) or a result
    with a tiny imaginary part from round-off (dropped). A large imaginary part means the covariances are not
    positive semi-definite, which is a bug upstream, so it raises instead of being hidden.
    """
    product = cov_a @ cov_b
    root, _ = linalg.sqrtm(product, disp=False)
    if not np.all(np.isfinite(root)):
        offset = eps * np.eye(len(cov_a))
        root, _ = linalg.sqrtm((cov_a + offset) @ (cov_b + offset), disp=False)
    if np.iscomplexobj(root):
        largest_imaginary = np.max(np.abs(root.imag))
        # Relative to the scale of the matrix, so that large feature magnitudes do not trip the check.
        if largest_imaginary > 1e-3 * max(1.0, np.max(np.abs(root.real))):
            raise ValueError(f'sqrtm of the covariance product has imaginary part {largest_imaginary:.3g}; '
                             'are the covariances positive semi-definite?')
        root = root.real
    return float(np.trace(root))

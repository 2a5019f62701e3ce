"""Exports a training checkpoint as a web model package (docs/model-format.md) and lists it in the models index.

    cd train
    /usr/bin/python3 -m infodiff.export --checkpoint runs/fmnist-infodiff/checkpoint.pt \\
        --out ../public/models/fashion-mnist [--float32] [--metrics runs/fmnist-infodiff/metrics.json] [--default]

What goes in (k-diffusion's convert_for_inference, grown to what the app needs):
* the EMA weights by default (``--raw`` for the optimiser's weights), float16 by default (``--float32`` keeps
  full precision);
* latent statistics of z = Enc(x) over the training set (mean, std, min, max per dimension), and a Gaussian
  mixture fitted to those codes, the prior the explorer draws samples from (infodiff.latent_prior);
* attribute directions: a logistic regression on standardised z per class (FashionMNIST) or per factor value /
  factor (shapes), mapped back to unscaled z as a unit vector plus the offset of the decision boundary;
* dimensionNames (shapes: the factor that dominates each dimension's DCI importance, infodiff.metrics);
* the Gaussian reference for the I-MMSE likelihood: mean image, mean per-pixel variance, log-eigenvalues of
  the data covariance in model space (per-pixel variances when the image is too large for a spectrum);
* a gallery of 16 held-out images balanced over classes; provenance (with ``--metrics`` JSON when given, and
  the seed and size of the training-data draw, so evaluation can redraw the same images).
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import warnings
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import numpy as np
import torch
from PIL import Image

from .data import ImageDataset, balanced_indices, load_dataset
from .latent_prior import fit_latent_mixture
from .principal import principal_directions
from .objective import PACKAGE_PRIOR_NAMES, ObjectiveConfig
from .webpackage import ID_PATTERN, state_dict_arrays, write_web_package

GALLERY_SIZE = 16
SPECTRUM_MAX_PIXELS = 4096  # above this d, an eigendecomposition of the d x d covariance is too slow on a CPU
LOG_EIGENVALUE_FLOOR = math.log(1e-8)  # docs/model-format.md: ln lambda floored at ln 1e-8
METADATA_DIGITS = 7  # significant digits kept in metadata floats (float32 precision; halves model.json)
DIRECTION_SAMPLES = 20000  # rows used to fit each attribute direction
REFERENCE_SAMPLES = 20000  # training images behind the Gaussian reference (plenty for d <= 4096 moments)
DCI_SAMPLES = (3000, 1000)  # train/test rows for the DCI fit that names shapes dimensions
DISPLAY_NAMES = {"fashion-mnist": "FashionMNIST", "shapes": "Shapes"}


# ---------------------------------------------------------------------------------------------------------------
# Statistics (also used by infodiff.fixture)

@torch.no_grad()
def encode_all(model, dataset: ImageDataset, batch_size: int = 256, limit: int = 0,
               dtype: torch.dtype = torch.float32) -> np.ndarray:
    """z = model.encode(x) for the first ``limit`` rows (all when 0) of the dataset -> float64 [N, D]."""
    count = len(dataset) if limit <= 0 else min(limit, len(dataset))
    device = next(model.parameters()).device
    chunks = []
    for start in range(0, count, batch_size):
        indices = torch.arange(start, min(start + batch_size, count))
        chunks.append(model.encode(dataset.batch(indices, device, dtype)).double().cpu().numpy())
    return np.concatenate(chunks)


def latent_statistics(z: np.ndarray, prior: str = "regular") -> Dict[str, Any]:
    """metadata.latent from codes z [N, D] and the TrainConfig prior they were regularised towards."""
    if prior not in PACKAGE_PRIOR_NAMES:
        raise ValueError(f"prior must be one of {', '.join(PACKAGE_PRIOR_NAMES)}, got {prior!r}")
    return {"mean": z.mean(0).tolist(), "std": z.std(0).tolist(), "min": z.min(0).tolist(),
            "max": z.max(0).tolist(), "prior": PACKAGE_PRIOR_NAMES[prior]}


def gaussian_reference(images_nhwc: np.ndarray) -> Dict[str, Any]:
    """metadata.gaussianReference from model-space images [N, H, W, C] (flattened in NHWC order).

    kind 'spectrum' (eigenvalues of the covariance) when N > d and d <= SPECTRUM_MAX_PIXELS, else 'diagonal'
    (per-pixel variances). logSnrLoc = -mean(ln lambda), logSnrScale = sqrt(1 + (3/pi) var(ln lambda))
    (the ITD code's `dataset_info`, docs/sources.md §2.5). Moments accumulate in float64 over row chunks, so float32 input suffices.
    """
    n = len(images_nhwc)
    flat = images_nhwc.reshape(n, -1)
    d = flat.shape[1]
    spectrum = n > d and d <= SPECTRUM_MAX_PIXELS
    total = np.zeros(d)
    total_sq = np.zeros(d)
    gram = np.zeros((d, d)) if spectrum else None
    for start in range(0, n, 4096):
        chunk = flat[start:start + 4096].astype(np.float64)
        total += chunk.sum(0)
        total_sq += (chunk ** 2).sum(0)
        if gram is not None:
            gram += chunk.T @ chunk
    mean = total / n
    variances = np.maximum(total_sq - n * mean ** 2, 0) / max(n - 1, 1)
    if gram is not None:
        covariance = (gram - n * np.outer(mean, mean)) / (n - 1)
        eigenvalues = np.linalg.eigvalsh(covariance)[::-1]
    else:
        eigenvalues = np.sort(variances)[::-1]
    log_eigenvalues = np.maximum(np.log(np.maximum(eigenvalues, 1e-300)), LOG_EIGENVALUE_FLOOR)
    return {
        "kind": "spectrum" if spectrum else "diagonal",
        "mean": mean.tolist(),
        "variance": float(variances.mean()),
        "logEigenvalues": log_eigenvalues.tolist(),
        "logSnrLoc": float(-log_eigenvalues.mean()),
        "logSnrScale": float(math.sqrt(1 + (3 / math.pi) * log_eigenvalues.var())),
    }


def direction_from_classifier(z: np.ndarray, targets: np.ndarray, name: str, group: str) -> Dict[str, Any]:
    """A unit direction in z space separating targets == 1 from 0, with the boundary's offset along it.

    Logistic regression on standardised z (as the official linear probe), mapped back to z: w = w_s / s,
    b = b_s - sum(w_s m / s); then vector = w / |w| and bias = b / |w|, so the boundary is vector . z + bias = 0.
    """
    from sklearn.linear_model import LogisticRegression

    mean, scale = z.mean(0), z.std(0)
    scale = np.where(scale > 0, scale, 1.0)
    classifier = LogisticRegression(max_iter=1000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a rare non-converged fit still gives a usable direction
        classifier.fit((z - mean) / scale, targets)
    weights = classifier.coef_[0] / scale
    offset = float(classifier.intercept_[0] - np.sum(classifier.coef_[0] * mean / scale))
    norm = float(np.linalg.norm(weights))
    if norm == 0:
        raise ValueError(f"attribute {name!r}: the classifier found no direction (z carries no information on it)")
    return {"name": name, "group": group, "vector": (weights / norm).tolist(), "bias": offset / norm}


def attribute_directions(z: np.ndarray, dataset: ImageDataset, seed: int = 0) -> List[Dict[str, Any]]:
    """Class directions (one-vs-rest per class) or factor directions (shapes: one-vs-rest per value of a
    categorical factor, else one direction per ordered factor: value above its median vs not)."""
    rng = np.random.default_rng(seed)
    rows = rng.permutation(len(z))[:DIRECTION_SAMPLES]
    directions = []
    if dataset.labels is not None and dataset.label_names is not None:
        for c, name in enumerate(dataset.label_names):
            targets = (dataset.labels[rows] == c).astype(int)
            if 0 < targets.sum() < len(targets):
                directions.append(direction_from_classifier(z[rows], targets, name, "class"))
    elif dataset.factors is not None and dataset.factor_names is not None:
        value_names = dataset.factor_value_names
        for k, factor in enumerate(dataset.factor_names):
            values = dataset.factors[rows, k]
            if factor in value_names:
                for v, value_name in enumerate(value_names[factor]):
                    targets = (values == v).astype(int)
                    if 0 < targets.sum() < len(targets):
                        directions.append(direction_from_classifier(z[rows], targets, value_name, "factor"))
            else:
                targets = (values > np.median(values)).astype(int)
                if 0 < targets.sum() < len(targets):
                    directions.append(direction_from_classifier(z[rows], targets, factor, "factor"))
    return directions


def dimension_names(z_train: np.ndarray, dataset: ImageDataset, metrics: Dict[str, Any],
                    z_test: Optional[np.ndarray] = None, test_set: Optional[ImageDataset] = None) -> List[Optional[str]]:
    """Per-dimension factor names for data with generative factors (None elsewhere).

    Uses the DCI importance matrix of ``metrics`` (evaluate.py's output) when it has one, else fits DCI here on a
    subsample; either way ``metrics.factor_dimension_names`` decides which dimensions a factor clearly owns.
    """
    dim = z_train.shape[1]
    if dataset.factors is None or dataset.factor_names is None:
        return [None] * dim
    from . import metrics as metric_functions

    importance = _find_importance(metrics, dim, len(dataset.factor_names))
    if importance is None:
        n_train, n_test = DCI_SAMPLES
        if z_test is None or test_set is None or test_set.factors is None:
            z_test, factors_test = z_train[n_train:n_train + n_test], dataset.factors[n_train:n_train + n_test]
        else:
            factors_test = test_set.factors[:n_test]
            z_test = z_test[:n_test]
        result = metric_functions.dci(z_train[:n_train], dataset.factors[:n_train], z_test, factors_test,
                                      dataset.factor_names)
        importance = np.asarray(result["importance"])
    return list(metric_functions.factor_dimension_names(importance, dataset.factor_names))


def _find_importance(metrics: Any, dim: int, factors: int) -> Optional[np.ndarray]:
    """The first [dim][factors] 'importance' matrix found anywhere in a metrics dict."""
    if isinstance(metrics, dict):
        value = metrics.get("importance")
        if isinstance(value, list):
            array = np.asarray(value, dtype=np.float64)
            if array.shape == (dim, factors):
                return array
        for child in metrics.values():
            found = _find_importance(child, dim, factors)
            if found is not None:
                return found
    return None


def write_gallery(out_dir: Path, images_u8: np.ndarray, labels: Sequence[str]) -> List[Dict[str, str]]:
    """PNGs gallery/0.png.. from uint8 [N, C, H, W] images (C = 1 or 3); returns metadata.gallery."""
    folder = out_dir / "gallery"
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.png"):
        stale.unlink()
    items = []
    for i, (image, label) in enumerate(zip(images_u8, labels)):
        pixels = image[0] if image.shape[0] == 1 else np.transpose(image, (1, 2, 0))
        Image.fromarray(np.ascontiguousarray(pixels)).save(folder / f"{i}.png", optimize=False)
        items.append({"file": f"gallery/{i}.png", "label": str(label)})
    return items


def round_floats(value: Any, digits: int = METADATA_DIGITS) -> Any:
    """Rounds every float in a JSON-like structure to ``digits`` significant digits."""
    if isinstance(value, float):
        return float(f"{value:.{digits}g}") if math.isfinite(value) else value
    if isinstance(value, dict):
        return {k: round_floats(v, digits) for k, v in value.items()}
    if isinstance(value, list):
        return [round_floats(v, digits) for v in value]
    return value


def update_models_index(models_dir: Path, model_id: str, make_default: bool) -> Path:
    """Adds or refreshes ``model_id`` in models_dir/index.json ({"models": [{id, path, default}]}).

    The new entry becomes the default when asked, or when no entry is the default yet. A refreshed entry keeps its
    place in the list (the picker's order); a new one goes last.
    """
    index_path = models_dir / "index.json"
    index = json.loads(index_path.read_text(encoding="utf-8")) if index_path.is_file() else {"models": []}
    models = list(index.get("models", []))
    ids = [m.get("id") for m in models]
    position = ids.index(model_id) if model_id in ids else len(models)
    models = [m for m in models if m.get("id") != model_id]
    has_default = any(m.get("default") for m in models)
    if make_default:
        for m in models:
            m["default"] = False
    models.insert(position, {"id": model_id, "path": f"models/{model_id}/", "default": make_default or not has_default})
    index["models"] = models
    tmp = index_path.with_name("index.json.tmp")
    tmp.write_text(json.dumps(index, indent=2) + "\n", encoding="utf-8")
    tmp.replace(index_path)
    return index_path


# ---------------------------------------------------------------------------------------------------------------
# The metadata block, shared by export, convert_official and fixture

@torch.no_grad()
def build_metadata(model, model_id: str, out_dir: Path, *, train_set: ImageDataset, gallery_set: ImageDataset,
                   schedule: Dict[str, Any], provenance: Dict[str, Any], display_name: str, description: str,
                   prior: str = "regular", metrics: Optional[Dict[str, Any]] = None,
                   dci_set: Optional[ImageDataset] = None, max_images: int = 0, gallery_size: int = GALLERY_SIZE,
                   seed: int = 0, fit_prior: bool = True) -> Dict[str, Any]:
    """The package metadata (docs/model-format.md) of ``model``, computed from its data; writes the gallery PNGs
    into ``out_dir`` as a side effect (the metadata names them). Floats are rounded to METADATA_DIGITS.

    Args:
        model: InfoDiff in eval mode (its ``architecture`` is written as is).
        train_set: training images: latent statistics and attribute directions from z of its first
            ``max_images`` rows (all when 0), the Gaussian reference from REFERENCE_SAMPLES seeded rows.
        gallery_set: held-out images; ``gallery_size`` of them, balanced over classes, become the gallery.
        schedule: the resolved schema schedule the model was trained with.
        provenance: the finished metadata.provenance block (it differs per source; the caller knows it).
        prior: the TrainConfig prior the latent was regularised towards ('regular' or '10mix').
        metrics: evaluate.py output; a DCI importance matrix in it names shapes dimensions.
        dci_set: held-out images with factors, for the DCI fit that names dimensions when ``metrics`` has none.
        seed: seeds the reference rows, the direction subsample, the gallery choice and the latent mixture.
        fit_prior: fit latent.fitted, the mixture prior samples are drawn from (off for the random-weight fixture,
            whose codes say nothing).
    """
    arch = model.architecture
    z = encode_all(model, train_set, limit=max_images)
    print(f"metadata: encoded {len(z)} training images", flush=True)
    coded_set = _take(train_set, len(z))
    reference_rows = np.sort(np.random.default_rng(seed).permutation(len(train_set))[:REFERENCE_SAMPLES])
    reference_images = train_set.images[torch.from_numpy(reference_rows)].permute(0, 2, 3, 1)
    has_factors = train_set.factors is not None and dci_set is not None and dci_set.factors is not None
    z_dci = encode_all(model, dci_set) if has_factors else None
    gallery_rows = balanced_indices(gallery_set, gallery_size, seed=seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    metadata = {
        "id": model_id,
        "displayName": display_name,
        "description": description,
        "architecture": arch,
        "schedule": schedule,
        "preprocessing": {"imageSize": arch["imageSize"], "channels": arch["imageChannels"], "valueRange": [-1, 1],
                          "lightOnDark": train_set.light_on_dark},
        "latent": latent_statistics(z, prior),
        "dimensionNames": dimension_names(z, coded_set, metrics or {}, z_dci, dci_set if has_factors else None),
        "attributeDirections": attribute_directions(z, coded_set, seed=seed),
        "gaussianReference": gaussian_reference(reference_images.numpy().astype(np.float32) / 127.5 - 1),
        "gallery": write_gallery(out_dir, gallery_set.images[gallery_rows].numpy(),
                                 [gallery_set.describe(i) for i in gallery_rows]),
        "provenance": provenance,
    }
    if fit_prior:
        metadata["latent"]["fitted"] = fit_latent_mixture(z, seed=seed)
    # The axes the codes vary most along, shown as sliders beside the named directions (issue 33).
    metadata["latent"]["principal"] = principal_directions(z)
    return round_floats(metadata)


def iso_now() -> str:
    """The current UTC time as ISO 8601 without fractions, e.g. 2025-01-01T00:00:00Z (provenance.createdAt)."""
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


# ---------------------------------------------------------------------------------------------------------------
# The command

def export_checkpoint(checkpoint: str | Path, out: str | Path, float16: bool = True, use_ema: bool = True,
                      metrics_path: Optional[str | Path] = None, display_name: str = "", description: str = "",
                      notes: str = "", max_images: int = 0, make_default: bool = False,
                      update_index: bool = True, device: str = "cpu", baseline_of: str = "") -> Path:
    """Writes the package for ``checkpoint`` into ``out`` (its folder name is the model id); returns model.json.

    Weights are float16 by default (the format's compact form; ``float16=False`` keeps float32). ``device`` only
    runs the encoder for the statistics; the weights are written from the checkpoint as saved."""
    from .train import describe_config_changes, load_checkpoint_model

    out = Path(out)
    model_id = out.name
    if not ID_PATTERN.match(model_id):
        raise ValueError(f"the package folder name is the model id and must match [a-z0-9-]+, got {model_id!r}")
    model, cfg, state = load_checkpoint_model(checkpoint, use_ema=use_ema, device=device)
    ema = use_ema and state.get("ema") is not None
    metrics = json.loads(Path(metrics_path).read_text(encoding="utf-8")) if metrics_path else {}
    arch = cfg.architecture
    print(f"export: {checkpoint} (step {state['step']}, {'EMA' if ema else 'raw'} weights) -> {out}", flush=True)

    train_set = load_dataset(cfg.dataset, cfg.data_dir, cfg.image_size, arch["imageChannels"], "train",
                             cfg.dataset_size, cfg.seed)
    test_set = load_dataset(cfg.dataset, cfg.data_dir, cfg.image_size, arch["imageChannels"], "test",
                            max(GALLERY_SIZE * 64, DCI_SAMPLES[1]), cfg.seed)
    dataset_title = DISPLAY_NAMES.get(cfg.dataset, train_set.name)
    provenance = {
        "source": "trained",
        "dataset": cfg.dataset if cfg.dataset != "folder" else train_set.name,
        # The draw infodiff.data reproduces the training set from (shapes: seed + 1000 for the held-out split).
        "data": {"seed": cfg.seed, "size": len(train_set)},
        "objective": ObjectiveConfig.from_train_config(cfg).as_provenance(),
        "steps": int(state["step"]),
        "batchSize": cfg.batch_size,
        "wallTimeSeconds": float(state["wall_time_seconds"]),
        "hardware": state.get("hardware", "unknown"),
        "ema": ema,
        "metrics": metrics,
        "createdAt": iso_now(),
        "notes": " ".join(part for part in (cfg.notes, describe_config_changes(state.get("config_changes", [])),
                                            notes) if part),
    }
    metadata = build_metadata(
        model, model_id, out, train_set=train_set, gallery_set=test_set, schedule=cfg.schedule,
        provenance=provenance, display_name=display_name or default_display_name(dataset_title, cfg, state),
        description=description or (f"Trained on {dataset_title} at {cfg.image_size}x{cfg.image_size} with a "
                                    f"{arch['latentDim']}-d latent: {_objective_summary(cfg)}."),
        prior=cfg.prior, metrics=metrics, dci_set=test_set, max_images=max_images, seed=cfg.seed)
    if baseline_of:
        # A baseline package names the model it is the baseline of (docs/model-format.md `baselineOf`).
        metadata = {"id": metadata["id"], "displayName": metadata["displayName"],
                    "description": metadata["description"], "baselineOf": baseline_of,
                    **{k: v for k, v in metadata.items() if k not in ("id", "displayName", "description")}}
    manifest = write_web_package(out, state_dict_arrays(model.state_dict()), metadata, float16=float16)
    if update_index:
        index = update_models_index(out.parent, model_id, make_default)
        print(f"export: listed {model_id} in {index}", flush=True)
    print(f"export: wrote {manifest}", flush=True)
    return manifest


def default_display_name(dataset_title: str, cfg, state: Dict[str, Any]) -> str:
    """The picker's name when none is given: what, and how far trained, e.g. 'FashionMNIST · InfoDiffusion (CPU,
    5k steps)', so a package re-exported at a later step never keeps an old name."""
    kind = ("VAE-style" if cfg.kld_weight > 0 else "InfoDiffusion" if cfg.mmd_weight > 0 else "DiffAE")
    hardware = str(state.get("hardware", ""))
    where = "CPU" if hardware.startswith("CPU") else "GPU" if hardware else "unknown hardware"
    steps = int(state["step"])
    shown = (f"{steps / 1000:,.1f}".rstrip("0").rstrip(".") + "k") if steps >= 1000 else str(steps)
    return f"{dataset_title} · {kind} ({where}, {shown} steps)"


def _objective_summary(cfg) -> str:
    if cfg.kld_weight > 0:
        return f"a variational encoder with a KL penalty (beta {cfg.kld_weight:g})" + (
            f" and MMD (lambda {cfg.mmd_weight:g})" if cfg.mmd_weight > 0 else "")
    if cfg.mmd_weight > 0:
        return f"InfoDiffusion, a deterministic encoder regularised towards its prior by MMD (lambda {cfg.mmd_weight:g})"
    return "the DiffAE baseline, a deterministic encoder without a prior regulariser"


def _take(dataset: ImageDataset, count: int) -> ImageDataset:
    """The first ``count`` rows of a dataset (labels/factors aligned with the encoded codes)."""
    return ImageDataset(
        name=dataset.name, images=dataset.images[:count],
        labels=None if dataset.labels is None else dataset.labels[:count], label_names=dataset.label_names,
        factors=None if dataset.factors is None else dataset.factors[:count], factor_names=dataset.factor_names,
        light_on_dark=dataset.light_on_dark, factor_value_names=dataset.factor_value_names)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="Export a training checkpoint as a web model package.")
    parser.add_argument("--checkpoint", required=True, help="runs/<name>/checkpoint.pt")
    parser.add_argument("--out", required=True, help="package folder, e.g. ../public/models/fashion-mnist (its name is the id)")
    precision = parser.add_mutually_exclusive_group()
    precision.add_argument("--float16", dest="float16", action="store_true", default=True,
                           help="store weights as float16, the default (the time table stays float32)")
    precision.add_argument("--float32", dest="float16", action="store_false",
                           help="store weights as float32 (twice the size; bit-exact EMA weights)")
    parser.add_argument("--raw", action="store_true", help="export the optimiser's weights instead of the EMA")
    parser.add_argument("--metrics", help="JSON from infodiff.evaluate to embed in provenance.metrics")
    parser.add_argument("--display-name", default="", help="name in the model picker")
    parser.add_argument("--description", default="", help="one or two sentences for the picker")
    parser.add_argument("--notes", default="", help="appended to the config's notes in provenance.notes")
    parser.add_argument("--max-images", type=int, default=0, help="encode only this many training images (0 = all)")
    parser.add_argument("--default", action="store_true", help="make this the default model in index.json")
    parser.add_argument("--baseline-of", default="", help="mark the package as the baseline of this model id "
                        "(metadata.baselineOf), e.g. the DiffAE run of an InfoDiffusion model")
    parser.add_argument("--no-index", action="store_true", help="do not touch the models index")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu",
                        help="where the encoder runs for the statistics (default: CUDA when present)")
    args = parser.parse_args(argv)
    try:
        export_checkpoint(args.checkpoint, args.out, float16=args.float16, use_ema=not args.raw,
                          metrics_path=args.metrics, display_name=args.display_name, description=args.description,
                          notes=args.notes, max_images=args.max_images, make_default=args.default,
                          update_index=not args.no_index, device=args.device, baseline_of=args.baseline_of)
    except (ValueError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

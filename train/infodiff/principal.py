"""Principal directions of the encoded training codes: metadata.latent.principal (docs/model-format.md).

The explorer shows them as sliders (issue 33): the axes along which the encoder's codes vary most, each with the
share of the code variance it explains. ``principal_directions`` is what the export writes; ``main`` adds them to a
package that was exported before the field existed, encoding training images with the package's own encoder and
rewriting model.json only (weights, shards and the student stay byte for byte).

    python -m infodiff.principal public/models/fashion-mnist --checkpoint runs/fmnist-infodiff/checkpoint.pt
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any, Dict, Optional, Sequence

import numpy as np


def principal_directions(z: np.ndarray) -> Dict[str, Any]:
    """metadata.latent.principal of codes z [N, D] (N >= 2): the eigenvectors of their covariance, largest first.

    components[k] is a unit vector, its sign fixed so that its largest-magnitude entry is positive (an
    eigenvector's sign is arbitrary; this makes the export reproducible); variance[k] its eigenvalue (the code
    variance along it); totalVariance the trace, so variance[k] / totalVariance is the share it explains.
    """
    z = np.asarray(z, dtype=np.float64)
    if z.ndim != 2 or z.shape[0] < 2:
        raise ValueError(f"principal directions need codes [N, D] with N >= 2, got shape {z.shape}")
    centred = z - z.mean(axis=0)
    covariance = centred.T @ centred / (len(z) - 1)
    eigenvalues, eigenvectors = np.linalg.eigh(covariance)
    order = np.argsort(eigenvalues)[::-1]
    components = eigenvectors[:, order].T
    signs = np.sign(components[np.arange(len(components)), np.abs(components).argmax(axis=1)])
    components = components * np.where(signs == 0, 1, signs)[:, None]
    return {
        "fittedOn": int(len(z)),
        "components": components.tolist(),
        # eigh can return tiny negative eigenvalues for a singular covariance; variance is >= 0.
        "variance": np.clip(eigenvalues[order], 0, None).tolist(),
        "totalVariance": float(np.trace(covariance)),
    }


def add_principal_to_package(package_dir: str | Path, checkpoint: str | Path, max_images: int = 5000,
                             device: str = "cpu") -> Dict[str, Any]:
    """Writes metadata.latent.principal into an existing package from ``max_images`` training images encoded with
    the package's own encoder; the checkpoint only names the data (its TrainConfig). Returns the block."""
    import torch

    from .data import load_dataset
    from .export import encode_all, round_floats
    from .train import load_checkpoint_model
    from .webpackage import format_json, load_web_package, validate_model_json, _atomic_write

    package_dir = Path(package_dir)
    _, cfg, _ = load_checkpoint_model(checkpoint, use_ema=True, device="cpu")
    model, _ = load_web_package(package_dir, device=device)
    arch = cfg.architecture
    # Only the images encoded are loaded (for shapes, rendered): a draw of max_images scenes with the run's seed,
    # the training distribution without the cost of rendering the whole training set.
    size = min(cfg.dataset_size, max_images) if cfg.dataset_size and max_images else (cfg.dataset_size or max_images)
    train_set = load_dataset(cfg.dataset, cfg.data_dir, cfg.image_size, arch["imageChannels"], "train", size,
                             cfg.seed)
    with torch.no_grad():
        z = encode_all(model, train_set, limit=max_images)
    principal = round_floats(principal_directions(z))
    path = package_dir / "model.json"
    document = json.loads(path.read_text(encoding="utf-8"))
    document["metadata"]["latent"]["principal"] = principal
    validate_model_json(document, package_dir)
    _atomic_write(path, (format_json(document) + "\n").encode("utf-8"))
    return principal


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="Add metadata.latent.principal to an exported web package.")
    parser.add_argument("package", help="the package folder (holds model.json)")
    parser.add_argument("--checkpoint", required=True, help="the run's checkpoint.pt: which data set, which draw")
    parser.add_argument("--max-images", type=int, default=5000, help="training images to encode (CPU cost)")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)
    principal = add_principal_to_package(args.package, args.checkpoint, args.max_images, args.device)
    shares = [v / principal["totalVariance"] for v in principal["variance"][:3]]
    print(f"principal: {len(principal['components'])} directions from {principal['fittedOn']} codes; the first three "
          f"explain {', '.join(f'{s:.0%}' for s in shares)}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Exports a web package's denoiser eps_theta(x_t, t, z) to ONNX, for the benchmark's onnxruntime-web peer column.

    cd train && /usr/bin/python3 -m infodiff.onnx_export --package ../public/models/fashion-mnist --out <folder>

Why: `npm run bench` measures the TypeScript runtime against the fastest peer in the same browser run
(onnxruntime-web, issue 31), so both must run the same network with the same weights: this loads the package
exactly as the parity tests do (webpackage.load_web_package) and exports its denoiser, float32, unchanged.

Writes into <folder>:
- denoiser.onnx: inputs xt float32 [B, C, H, W], t int64 [B], z float32 [B, D]; output eps float32 [B, C, H, W];
  the batch dimension is dynamic (the bench runs batch 1 and 11).
- check_xt.npy, check_t.npy, check_z.npy, check_eps.npy: a batch of 2 seeded inputs and PyTorch's eps for them
  (float32 NCHW, t int64), which the bench feeds to onnxruntime-web and compares with (the ONNX graph checked
  against PyTorch, without the onnx or onnxruntime Python packages, which this machine does not have).
- onnx_export.json: the package, opset, shapes and the torch version, for the bench's report.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Dict, Optional, Sequence

import numpy as np
import torch

from .webpackage import load_web_package

# GroupNorm exports as InstanceNormalization + affine at 17 (GroupNormalization is opset 18, which torch 1.13
# cannot write); every op here is in onnxruntime-web's WASM and WebGPU kernel sets at 17.
OPSET = 17
CHECK_BATCH = 2


class _Denoiser(torch.nn.Module):
    """The package's denoiser alone, with the (xt, t, z) -> eps signature the runtime calls."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model

    def forward(self, xt: torch.Tensor, t: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return self.model.predict_eps(xt, t, z)


def check_inputs(architecture: Dict, timesteps: int, batch: int = CHECK_BATCH, seed: int = 0):
    """Seeded (xt [B,C,H,W] float32, t [B] int64 spread over the schedule, z [B,D] float32)."""
    generator = torch.Generator().manual_seed(seed)
    size, channels = architecture["imageSize"], architecture["imageChannels"]
    xt = torch.randn(batch, channels, size, size, generator=generator)
    t = torch.linspace(0, timesteps - 1, batch).round().long()
    z = torch.randn(batch, architecture["latentDim"], generator=generator)
    return xt, t, z


def export_denoiser(package: Path, out_dir: Path) -> Dict:
    """Writes denoiser.onnx and the check arrays into out_dir; returns the summary written as onnx_export.json."""
    model, meta = load_web_package(package)
    architecture, timesteps = model.architecture, model.timesteps
    denoiser = _Denoiser(model).eval()
    xt, t, z = check_inputs(architecture, timesteps)
    out_dir.mkdir(parents=True, exist_ok=True)
    with torch.no_grad():
        eps = denoiser(xt, t, z)
        torch.onnx.export(
            denoiser, (xt, t, z), str(out_dir / "denoiser.onnx"),
            input_names=["xt", "t", "z"], output_names=["eps"],
            dynamic_axes={"xt": {0: "batch"}, "t": {0: "batch"}, "z": {0: "batch"}, "eps": {0: "batch"}},
            opset_version=OPSET, do_constant_folding=True)
    for name, array in (("xt", xt), ("t", t), ("z", z), ("eps", eps)):
        np.save(out_dir / f"check_{name}.npy", array.numpy())
    summary = {
        "package": str(package),
        "modelId": meta.get("id"),
        "opset": OPSET,
        "inputs": {"xt": list(xt.shape[1:]), "t": [], "z": list(z.shape[1:])},
        "checkBatch": CHECK_BATCH,
        "torch": torch.__version__,
    }
    (out_dir / "onnx_export.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--package", required=True, help="web package folder (model.json and its shards)")
    parser.add_argument("--out", required=True, help="output folder for denoiser.onnx and the check arrays")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    summary = export_denoiser(Path(args.package), Path(args.out))
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())

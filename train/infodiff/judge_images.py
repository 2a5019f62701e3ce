"""The pipeline's classifier (infodiff.classifier) on image files: what the explorer's exported frames show.

    python -m infodiff.judge_images --dataset fashion-mnist before.png after.png

Prints JSON: per file, each head's class probabilities and its top class. The e2e test of own attributes
(e2e/app/attributes-shipped.spec.ts) runs it on the frames it saved, so PyTorch's judge, not the browser, says
whether a T-shirt moved towards trousers.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
from PIL import Image

from .classifier import IMAGE_SIZE, judge_spec, load_classifier, predict
from .data import to_model_space


def load_images(paths: Sequence[str | Path], channels: int) -> torch.Tensor:
    """PNG files -> [N, C, 32, 32] in [-1, 1] (grey for one channel; resized with a box filter if not 32 x 32)."""
    arrays = []
    for path in paths:
        image = Image.open(path).convert("L" if channels == 1 else "RGB")
        if image.size != (IMAGE_SIZE, IMAGE_SIZE):
            image = image.resize((IMAGE_SIZE, IMAGE_SIZE), Image.BOX)
        array = np.asarray(image, dtype=np.uint8)
        arrays.append(array[None] if channels == 1 else array.transpose(2, 0, 1))
    return to_model_space(torch.from_numpy(np.stack(arrays)))


def judge_files(paths: Sequence[str | Path], dataset: str = "fashion-mnist") -> List[Dict[str, object]]:
    """Each file's per-head probabilities ({class name: p}) and top class."""
    spec = judge_spec(dataset)
    model = load_classifier(spec)
    with torch.no_grad():
        probabilities = predict(model, load_images(paths, spec.channels))["probabilities"]
    results = []
    for i, path in enumerate(paths):
        heads = {}
        for head, names in spec.heads.items():
            p = probabilities[head][i].tolist()
            heads[head] = {"probabilities": dict(zip(names, p)), "top": names[int(np.argmax(p))]}
        results.append({"file": str(path), "heads": heads})
    return results


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="Classify image files with the pipeline's judge.")
    parser.add_argument("--dataset", default="fashion-mnist")
    parser.add_argument("files", nargs="+")
    args = parser.parse_args(argv)
    print(json.dumps(judge_files(args.files, args.dataset), indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

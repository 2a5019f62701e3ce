"""The pictures of the results page: sample grids, traversal grids and interpolation strips drawn from each model,
with their captions and the infodiff.sample commands that draw each one alone."""
from __future__ import annotations

import math
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import List

import torch

from .data import balanced_indices
from .latent_prior import describe as describe_mixture
from .report_facts import shown
from .sample import (TRAVERSAL_VALUES, ReadyModel, interpolation, load_images, open_dataset, package_mixture,
                     sample_images, save_grid, traversal)

SAMPLE_COUNT = 64
INTERPOLATION_PAIRS = 3
INTERPOLATION_FRAMES = 10
# A regenerated picture within one level of the committed one, pixel by pixel, is the same picture drawn with
# other CPU thread counts (float sums reorder); it is not rewritten, so unchanged models leave git unchanged.
ROUNDING_LEVELS = 1


@dataclass
class Picture:
    caption: str
    path: Path
    commands: List[str]


def draw_pictures(loaded: ReadyModel, name: str, model_arg: str, out_dir: Path, steps: int, seed: int,
                  batch_size: int = 64, redraw: bool = True) -> List[Picture]:
    """Writes {name}-samples.png (64 prior samples), {name}-samples-eta1.png (the same with eta 1),
    {name}-traversal.png (one row per latent dimension, values
    -1.5..1.5, of one held-out image) and {name}-interpolation.png (three pairs of held-out images of different
    classes, 10 frames each) into ``out_dir``; returns them with the infodiff.sample commands drawing each.
    With ``redraw`` False the pictures already in ``out_dir`` are described as they are (each must exist), so a
    page can be rewritten for new numbers without minutes of sampling."""

    def keep(path: Path, draw) -> None:
        if redraw:
            save_grid(*draw(), path, keep_within=ROUNDING_LEVELS)
        elif not path.is_file():
            raise FileNotFoundError(f"{path} is not drawn yet; run the report without --keep-images")
    common = f"--model {shlex.quote(model_arg)} --steps {steps} --seed {seed}"
    pictures = []
    # The same z and x_T with deterministic DDIM, then with fresh noise at every step (eta 1).
    for eta, suffix, caption in ((0.0, "", f"{SAMPLE_COUNT} samples: z from the prior, x_T ~ N(0, I), {steps} DDIM "
                                           "steps"),
                                 (1.0, "-eta1", f"the same {SAMPLE_COUNT} samples (the same z and x_T) with "
                                                f"stochastic DDIM, eta 1, {steps} steps")):
        path = out_dir / f"{name}-samples{suffix}.png"
        keep(path, lambda: (sample_images(loaded, SAMPLE_COUNT, steps, eta, seed, batch_size),
                            int(math.isqrt(SAMPLE_COUNT))))
        eta_arg = f" --eta {eta:g}" if eta else ""
        pictures.append(Picture(caption, path, [f"python -m infodiff.sample samples {common}{eta_arg} --n "
                                                f"{SAMPLE_COUNT} --out {shown(path)}"]))
    mixture = package_mixture(loaded)
    if mixture is not None:
        # What the app's prior draws look like: z from the package's fitted mixture, eta 1.
        path = out_dir / f"{name}-samples-fitted.png"
        keep(path, lambda: (sample_images(loaded, SAMPLE_COUNT, steps, 1.0, seed, batch_size, mixture),
                            int(math.isqrt(SAMPLE_COUNT))))
        pictures.append(Picture(f"{SAMPLE_COUNT} samples as the app draws them: z from the fitted latent mixture "
                                f"({describe_mixture(mixture)}), x_T ~ N(0, I), stochastic DDIM, eta 1, {steps} "
                                "steps", path,
                                [f"python -m infodiff.sample samples {common} --prior fitted --eta 1 --n "
                                 f"{SAMPLE_COUNT} --out {shown(path)}"]))

    test_set = open_dataset(loaded, "test", shapes_count=max(64, 1 + 2 * INTERPOLATION_PAIRS))
    rows = balanced_indices(test_set, 1 + 2 * INTERPOLATION_PAIRS, seed)
    x0 = load_images(loaded, "test", rows[:1], dataset=test_set)
    path = out_dir / f"{name}-traversal.png"
    keep(path, lambda: (traversal(loaded, x0, steps, batch_size=batch_size), len(TRAVERSAL_VALUES)))
    names = (loaded.metadata or {}).get("dimensionNames") or [None] * loaded.architecture["latentDim"]
    labels = ", ".join(f"{k} ({n})" if n else str(k) for k, n in enumerate(names))
    pictures.append(Picture(
        f"traversal of held-out image {rows[0]} ({test_set.describe(rows[0])}): row k sets z_k to "
        f"{TRAVERSAL_VALUES[0]}, ..., {TRAVERSAL_VALUES[-1]}; rows (dimension, name): {labels}", path,
        [f"python -m infodiff.sample traversal {common} --split test --index {rows[0]} --out {shown(path)}"]))

    pairs = list(zip(rows[1::2], rows[2::2]))

    def strips():
        return torch.cat([interpolation(loaded, pair[:1], pair[1:], steps, INTERPOLATION_FRAMES, batch_size)
                          for pair in (load_images(loaded, "test", [a, b], dataset=test_set) for a, b in pairs)])

    commands = []
    for a, b in pairs:
        commands.append(f"python -m infodiff.sample interpolate {common} --split test --index {a} --index-b {b} "
                        f"--frames {INTERPOLATION_FRAMES} --out {name}-interpolation-{a}-{b}.png")
    path = out_dir / f"{name}-interpolation.png"
    keep(path, lambda: (strips(), INTERPOLATION_FRAMES))
    described = "; ".join(f"{test_set.describe(a)} to {test_set.describe(b)}" for a, b in zip(rows[1::2], rows[2::2]))
    pictures.append(Picture(f"interpolations between held-out images (z on a quarter circle, x_T slerped), one "
                            f"row per pair: {described}", path, commands))
    return pictures


"""Which input decides each shapes factor: the code z or the starting noise x_T?

The official schedule (linear beta 1e-5..1e-2) leaves sqrt(alpha_bar_T) = 0.081 of the image in x_T, and a wall
or floor covers hundreds of pixels, so the mean of x_T over such a region still says a lot about its colour. The
denoiser can read it from there, and then the code need not carry it. The swap test measures this. Take scenes
A, and scenes B that equal A except that one factor moves by half its range. Decode twice from the same x_T,
once with z = Enc(A) and once with z = Enc(B). Then ask how much of the pixel change from A to B the swap of
codes produces:

    share = sum over pixels <D(x_T, Enc B) - D(x_T, Enc A), B - A> / sum over pixels |B - A|^2

1 means z alone decides the factor's pixels; 0 means z has no say in them. x_T is either the DDIM inversion of A
(the explorer's case for an uploaded image: its sliders move z over that fixed x_T) or fresh N(0, I) noise (a
prior draw, or a code pasted onto another scene's noise).
"""
from __future__ import annotations

from typing import Any, Dict

import numpy as np
import torch

from . import shapes
from .sample import ReadyModel, decode, encode, invert


def _model_space(images_u8: np.ndarray, device: torch.device) -> torch.Tensor:
    """uint8 [N, H, W, 3] -> float [N, 3, H, W] in [-1, 1]."""
    return torch.from_numpy(images_u8.astype(np.float32) / 127.5 - 1.0).permute(0, 3, 1, 2).to(device)


def swap_share(from_a: torch.Tensor, from_b: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> float:
    """The fraction of the pixel change a -> b that the decodings' change from_a -> from_b carries: the sum of
    their per-pixel dot products over the sum of |b - a|^2 (pixels the factor does not touch weigh nothing)."""
    change = (b - a).double()
    return float(((from_b - from_a).double() * change).sum() / change.pow(2).sum().clamp_min(1e-12))


@torch.no_grad()
def factor_swap(loaded: ReadyModel, factors: np.ndarray, steps: int, seed: int = 0,
                batch_size: int = 64) -> Dict[str, Any]:
    """The swap test for every shapes factor on scenes ``factors`` (int [N, 6]), with ``steps`` DDIM steps.

    Returns {"factors": {name: {"invertedNoise", "freshNoise"}}, "scenes": N, "ddimSteps": steps}.
    """
    if loaded.dataset != 'shapes':
        raise ValueError(f'the factor swap needs the shapes data set, not {loaded.dataset!r}')
    size, device = loaded.architecture['imageSize'], loaded.device
    scenes_a = np.asarray(factors, dtype=np.int64)
    a = _model_space(shapes.render_batch(scenes_a, size), device)
    z_a = encode(loaded, a, batch_size)
    inverted = invert(loaded, a, z_a, steps, batch_size)
    generator = torch.Generator().manual_seed(seed)
    fresh = torch.randn(a.shape, generator=generator).to(device)
    noises = {'invertedNoise': inverted, 'freshNoise': fresh}

    def shown(x_t: torch.Tensor, z: torch.Tensor) -> torch.Tensor:  # as the picture shows it: clipped to [-1, 1]
        return decode(loaded, x_t, z, steps, batch_size=batch_size).clamp(-1, 1)

    from_a = {kind: shown(x_t, z_a) for kind, x_t in noises.items()}
    result: Dict[str, Dict[str, float]] = {}
    for k, (name, values) in enumerate(zip(shapes.FACTOR_NAMES, shapes.FACTOR_SIZES)):
        scenes_b = scenes_a.copy()
        scenes_b[:, k] = (scenes_b[:, k] + values // 2) % values  # half the range away: the most different value
        b = _model_space(shapes.render_batch(scenes_b, size), device)
        z_b = encode(loaded, b, batch_size)
        result[name] = {kind: swap_share(from_a[kind], shown(x_t, z_b), a, b) for kind, x_t in noises.items()}
    return {'factors': result, 'scenes': len(scenes_a), 'ddimSteps': steps}

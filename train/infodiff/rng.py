"""Seeded random draws that work whatever device the generator and the result live on.

torch refuses a generator whose device differs from the device it is asked to draw on (a CPU generator feeding
CUDA tensors raises "Expected a 'cuda' device type for generator"). Every seeded draw in the pipeline goes through
these three functions instead: the numbers are drawn on the generator's own device and then moved to the
requested one. So a caller may hand any generator to any sampler, and a CPU generator gives the same numbers on
every device. Without a generator the global RNG draws directly on the requested device.

When generator and result share a device (the training loop's case) the draw is exactly ``torch.randn(...,
generator=g, device=d)``: no copy, the same stream, so resumed runs stay bit-identical.
"""
from __future__ import annotations

from typing import Optional, Sequence, Union

import torch

Device = Union[torch.device, str, None]


def _source(generator: Optional[torch.Generator], device: Device) -> Device:
    return generator.device if generator is not None else device


def normal(shape: Sequence[int], generator: Optional[torch.Generator] = None, device: Device = None,
           dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """N(0, 1) samples of ``shape`` on ``device`` (default: the generator's device, else the CPU)."""
    drawn = torch.randn(tuple(shape), generator=generator, device=_source(generator, device), dtype=dtype)
    return drawn if device is None else drawn.to(device)


def uniform(shape: Sequence[int], generator: Optional[torch.Generator] = None, device: Device = None,
            dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """U[0, 1) samples of ``shape`` on ``device`` (default: the generator's device, else the CPU)."""
    drawn = torch.rand(tuple(shape), generator=generator, device=_source(generator, device), dtype=dtype)
    return drawn if device is None else drawn.to(device)


def integers(high: int, shape: Sequence[int], generator: Optional[torch.Generator] = None,
             device: Device = None) -> torch.Tensor:
    """int64 samples uniform on {0, ..., high - 1} of ``shape`` on ``device``."""
    drawn = torch.randint(0, high, tuple(shape), generator=generator, device=_source(generator, device))
    return drawn if device is None else drawn.to(device)

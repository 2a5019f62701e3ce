"""A discriminator term for the student's prior draws: regression alone pulls them to a blurred mean.

Regressing a stochastic target (the teacher's eta-1 draw, whose step noise the student cannot see) teaches its
conditional mean, which is smoother than any one draw: the Fréchet distance of the student's prior draws stays
above the settled sampler's (train/README.md, "What did not close the Fréchet gap"). Adversarial diffusion
distillation (Sauer et al. 2023, "Adversarial Diffusion Distillation", arXiv:2311.17042, §3) adds a
discriminator beside the distillation loss for that reason. Here:

- the discriminator tells the teacher's settled prior draws (the pool's prior targets) from the student's, given
  the draw's z (a projection discriminator: Miyato & Koyama 2018, "cGANs with Projection Discriminator", ICLR),
  with spectrally normalised layers (Miyato et al. 2018, ICLR) and the hinge loss;
- the student's adversarial loss is weighted adaptively against its regression loss by the ratio of their
  gradient norms at the student's last layer (Esser et al. 2021, "Taming Transformers for High-Resolution Image
  Synthesis", CVPR, eq. 7), so ``adversarial_weight`` is a relative strength, not a scale to tune per model.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn
from torch.nn.utils import spectral_norm


class PriorDiscriminator(nn.Module):
    """D(x, z) -> [B] realness of images x [B, C, H, W] in [-1, 1] drawn for latents z [B, D]."""

    def __init__(self, image_channels: int, latent_dim: int, width: int = 32):
        super().__init__()

        def down(cin: int, cout: int) -> nn.Module:
            return nn.Sequential(spectral_norm(nn.Conv2d(cin, cout, 4, stride=2, padding=1)), nn.LeakyReLU(0.2))

        self.features = nn.Sequential(
            spectral_norm(nn.Conv2d(image_channels, width, 3, padding=1)), nn.LeakyReLU(0.2),
            down(width, 2 * width), down(2 * width, 4 * width), down(4 * width, 4 * width))
        self.realness = spectral_norm(nn.Linear(4 * width, 1))
        self.projection = spectral_norm(nn.Linear(latent_dim, 4 * width, bias=False))

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        h = self.features(x).sum(dim=(2, 3))  # global sum pooling, as the projection discriminator's
        return self.realness(h)[:, 0] + (self.projection(z) * h).sum(dim=1)


def discriminator_loss(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """Hinge loss of D's scores on real and fake images."""
    return torch.relu(1 - real).mean() + torch.relu(1 + fake).mean()


def generator_loss(fake: torch.Tensor) -> torch.Tensor:
    """The student's side of the hinge game: raise D's score of its images."""
    return -fake.mean()


def adaptive_weight(regression_grads: Sequence[torch.Tensor], adversarial_grads: Sequence[torch.Tensor],
                    strength: float, ceiling: float = 1e4) -> float:
    """strength * |grad regression| / |grad adversarial| at the same parameters (Esser et al. 2021, eq. 7)."""
    regression = torch.sqrt(sum((g.double() ** 2).sum() for g in regression_grads))
    adversarial = torch.sqrt(sum((g.double() ** 2).sum() for g in adversarial_grads))
    return float(strength * torch.clamp(regression / (adversarial + 1e-4), 0.0, ceiling))

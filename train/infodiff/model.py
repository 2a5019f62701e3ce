"""InfoDiffusion networks with the official `main`-branch module structure and state_dict names.

Two U-Nets of identical layout (the official `models.py` `Encoder` and `AuxiliaryUNet`; docs/sources.md §1.3-1.4):

* ``encoder`` (``Encoder``): x [B,C,H,W] -> U-Net without time input -> 1-channel map -> flatten ->
  ``fc_a`` -> a [B,D] (deterministic z); ``fc_mu``/``fc_var`` give (mu, log_var) for the KL variants.
* ``backbone`` (``AuxiliaryUNet``): eps_theta(x_t, t, z). The integer time index t looks up a frozen
  interleaved sinusoid table, then Linear-SiLU-Linear; z goes through ``fc_a`` (no activation). Each residual
  block modulates one GroupNorm twice, h = GN(h)(1 + s_t) + b_t, then h(1 + s_z) + b_z ("AdaGN").

Parameter names are the official keys character for character (``backbone.downblocks.0.block1.2.weight``,
``backbone.time_embedding.timembedding.0.weight``, ``encoder.fc_a.weight``, ...), minus the ``crossattn``
modules the official code builds but never calls. Layout is NCHW as in PyTorch; the NHWC convention applies only
to the .npy files exchanged with the web runtime. The noise schedule is not part of the model (infodiff.diffusion).
"""
from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass
from typing import Dict, List, Mapping, NamedTuple, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn import init

from .config import resolve_architecture

TIME_TABLE_KEY = "backbone.time_embedding.timembedding.0.weight"


# ---------------------------------------------------------------------------------------------------------------
# Layout: which blocks exist, with which channels. Used to build the modules and to list the expected parameters.

@dataclass(frozen=True)
class BlockSpec:
    """One entry of a U-Net's down/middle/up lists: a residual block ('res') or a resampling conv."""

    kind: str  # 'res', 'down' (stride-2 conv) or 'up' (nearest x2 then conv)
    in_channels: int
    out_channels: int
    attention: bool  # residual block ends in single-head self-attention


@dataclass(frozen=True)
class UNetPlan:
    down: Tuple[BlockSpec, ...]
    middle: Tuple[BlockSpec, ...]
    up: Tuple[BlockSpec, ...]
    out_channels: int  # channels entering the tail


def unet_plan(arch: Dict) -> UNetPlan:
    """Block list of the official U-Net for a resolved architecture (identical for encoder and backbone).

    Down path: numResBlocks residual blocks per level, a stride-2 DownSample between levels; every down module's
    output is kept as a skip. Middle: two blocks, the first with attention (always, as in the official code).
    Up path: numResBlocks + 1 blocks per level, each taking one skip concatenated after h; UpSample between levels.
    """
    ch = arch["baseChannels"]
    mults = arch["channelMultipliers"]
    attention_levels = set(arch["attentionLevels"])
    down: List[BlockSpec] = []
    skip_channels = [ch]
    now = ch
    for level, mult in enumerate(mults):
        out = ch * mult
        for _ in range(arch["numResBlocks"]):
            down.append(BlockSpec("res", now, out, level in attention_levels))
            now = out
            skip_channels.append(now)
        if level != len(mults) - 1:
            down.append(BlockSpec("down", now, now, False))
            skip_channels.append(now)
    middle = (BlockSpec("res", now, now, True), BlockSpec("res", now, now, False))
    up: List[BlockSpec] = []
    for level in reversed(range(len(mults))):
        out = ch * mults[level]
        for _ in range(arch["numResBlocks"] + 1):
            up.append(BlockSpec("res", skip_channels.pop() + now, out, level in attention_levels))
            now = out
        if level != 0:
            up.append(BlockSpec("up", now, now, False))
    assert not skip_channels, "every skip is consumed exactly once"
    return UNetPlan(tuple(down), middle, tuple(up), now)


def expected_parameters(architecture: Dict, timesteps: int) -> "OrderedDict[str, Tuple[int, ...]]":
    """Every state_dict key of ``InfoDiff(architecture, timesteps)`` -> its PyTorch shape, in state_dict order.

    Written out from the naming scheme (not from a built model) so the test that compares it with a real
    state_dict checks the module structure; the web runtime's ``expectedParameters`` must produce the same list.
    """
    arch = resolve_architecture(architecture)
    plan = unet_plan(arch)
    ch, cin, dim = arch["baseChannels"], arch["imageChannels"], arch["latentDim"]
    tdim = 4 * ch
    pixels = arch["imageSize"] ** 2
    params: "OrderedDict[str, Tuple[int, ...]]" = OrderedDict()

    def linear(name: str, n_in: int, n_out: int) -> None:
        params[f"{name}.weight"] = (n_out, n_in)
        params[f"{name}.bias"] = (n_out,)

    def conv(name: str, n_in: int, n_out: int, k: int) -> None:
        params[f"{name}.weight"] = (n_out, n_in, k, k)
        params[f"{name}.bias"] = (n_out,)

    def norm(name: str, channels: int) -> None:
        params[f"{name}.weight"] = (channels,)
        params[f"{name}.bias"] = (channels,)

    def block(prefix: str, spec: BlockSpec, conditioned: bool) -> None:
        if spec.kind != "res":
            conv(f"{prefix}.main", spec.in_channels, spec.out_channels, 3)
            return
        n_in, n_out = spec.in_channels, spec.out_channels
        norm(f"{prefix}.block1.0", n_in)
        conv(f"{prefix}.block1.2", n_in, n_out, 3)
        if conditioned:
            linear(f"{prefix}.temb_proj.1", tdim, 2 * n_out)
            linear(f"{prefix}.aemb_proj.1", tdim, 2 * n_out)
        norm(f"{prefix}.block2.0", n_out)
        conv(f"{prefix}.block2.3", n_out, n_out, 3)
        if conditioned:
            norm(f"{prefix}.block3.0", n_out)
            conv(f"{prefix}.block3.3", n_out, n_out, 3)
        if n_in != n_out:
            conv(f"{prefix}.shortcut", n_in, n_out, 1)
        if spec.attention:
            norm(f"{prefix}.attn.group_norm", n_out)
            for proj in ("proj_q", "proj_k", "proj_v", "proj"):
                conv(f"{prefix}.attn.{proj}", n_out, n_out, 1)

    def unet(prefix: str, conditioned: bool, tail_channels: int) -> None:
        conv(f"{prefix}.head", cin, ch, 3)
        for group, specs in (("downblocks", plan.down), ("middleblocks", plan.middle), ("upblocks", plan.up)):
            for i, spec in enumerate(specs):
                block(f"{prefix}.{group}.{i}", spec, conditioned)
        norm(f"{prefix}.tail.0", plan.out_channels)
        conv(f"{prefix}.tail.2", plan.out_channels, tail_channels, 3)

    params[TIME_TABLE_KEY] = (timesteps, ch)
    linear("backbone.time_embedding.timembedding.1", ch, tdim)
    linear("backbone.time_embedding.timembedding.3", tdim, tdim)
    linear("backbone.fc_a", dim, tdim)
    unet("backbone", True, cin)
    unet("encoder", False, 1)
    linear("encoder.fc_a", pixels, dim)
    linear("encoder.fc_mu", dim, dim)
    linear("encoder.fc_var", dim, dim)
    return params


# ---------------------------------------------------------------------------------------------------------------
# Modules (official class roles and attribute names)

def parameter_mismatches(shapes: "Mapping[str, Sequence[int]]", architecture: Dict, timesteps: int,
                         noun: str = "weights") -> List[str]:
    """Every way a name -> shape map differs from ``expected_parameters``, one phrase per kind ("wrong shapes: ...",
    "missing <noun>: ...", "unexpected <noun>: ..."); empty when it matches, so callers can list all at once."""
    expected = expected_parameters(architecture, timesteps)
    wrong = [f"{n} {list(shapes[n])} (expected {list(expected[n])})"
             for n in expected if n in shapes and tuple(shapes[n]) != expected[n]]
    missing = [n for n in expected if n not in shapes]
    unexpected = [n for n in shapes if n not in expected]
    problems = []
    for label, names in (("wrong shapes", wrong), (f"missing {noun}", missing), (f"unexpected {noun}", unexpected)):
        if names:
            problems.append(f"{label}: {', '.join(names)}")
    return problems


def sinusoid_table(timesteps: int, channels: int) -> torch.Tensor:
    """[T, channels] float32, rows interleaved [sin(t f_0), cos(t f_0), sin(t f_1), ...], f_i = 10000^(-2i/channels).

    The official TimeEmbedding table; DiffAE's [cos | sin] layout differs and must not be substituted.
    """
    if channels % 2 != 0:
        raise ValueError(f"the sinusoid table needs an even channel count, got {channels}")
    freqs = torch.exp(-torch.arange(0, channels, 2, dtype=torch.float64) / channels * math.log(10000.0))
    angles = torch.arange(timesteps, dtype=torch.float64)[:, None] * freqs[None, :]
    return torch.stack([torch.sin(angles), torch.cos(angles)], dim=-1).reshape(timesteps, channels).float()


class TimeEmbedding(nn.Module):
    """t (int64 [B], 0..T-1) -> temb [B, 4 ch] via the frozen table, Linear, SiLU, Linear."""

    def __init__(self, timesteps: int, channels: int, tdim: int):
        super().__init__()
        self.timembedding = nn.Sequential(
            nn.Embedding.from_pretrained(sinusoid_table(timesteps, channels), freeze=True),
            nn.Linear(channels, tdim),
            nn.SiLU(),
            nn.Linear(tdim, tdim),
        )

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        return self.timembedding(t)


class DownSample(nn.Module):
    """Stride-2 3x3 conv with symmetric padding 1: [B,C,H,W] -> [B,C,H/2,W/2]."""

    def __init__(self, channels: int):
        super().__init__()
        self.main = nn.Conv2d(channels, channels, 3, stride=2, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.main(x)


class UpSample(nn.Module):
    """Nearest-neighbour x2 then a 3x3 conv: [B,C,H,W] -> [B,C,2H,2W]."""

    def __init__(self, channels: int):
        super().__init__()
        self.main = nn.Conv2d(channels, channels, 3, stride=1, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.main(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class AttnBlock(nn.Module):
    """Single-head self-attention over the H*W positions, residual: x + proj(softmax(q^T k / sqrt(C)) v)."""

    def __init__(self, channels: int, groups: int):
        super().__init__()
        self.group_norm = nn.GroupNorm(groups, channels)
        self.proj_q = nn.Conv2d(channels, channels, 1)
        self.proj_k = nn.Conv2d(channels, channels, 1)
        self.proj_v = nn.Conv2d(channels, channels, 1)
        self.proj = nn.Conv2d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        normed = self.group_norm(x)
        q = self.proj_q(normed).reshape(b, c, h * w).transpose(1, 2)  # [B, HW, C]
        k = self.proj_k(normed).reshape(b, c, h * w)  # [B, C, HW]
        v = self.proj_v(normed).reshape(b, c, h * w).transpose(1, 2)  # [B, HW, C]
        weights = torch.softmax(torch.bmm(q, k) * (c ** -0.5), dim=-1)
        attended = torch.bmm(weights, v).transpose(1, 2).reshape(b, c, h, w)
        return x + self.proj(attended)


def _norm_act_conv(n_in: int, n_out: int, groups: int, dropout: Optional[float]) -> nn.Sequential:
    # Indices matter: the official keys are block1.{0,2} (GN, SiLU, conv) and block2/3.{0,3} (GN, SiLU, Dropout, conv).
    layers: List[nn.Module] = [nn.GroupNorm(groups, n_in), nn.SiLU()]
    if dropout is not None:
        layers.append(nn.Dropout(dropout))
    layers.append(nn.Conv2d(n_in, n_out, 3, stride=1, padding=1))
    return nn.Sequential(*layers)


class AuxResBlock(nn.Module):
    """Backbone residual block: three 3x3 convs, time and z injected as stacked scale/shift on one GroupNorm."""

    def __init__(self, spec: BlockSpec, tdim: int, groups: int, dropout: float):
        super().__init__()
        n_in, n_out = spec.in_channels, spec.out_channels
        self.block1 = _norm_act_conv(n_in, n_out, groups, None)
        self.temb_proj = nn.Sequential(nn.SiLU(), nn.Linear(tdim, 2 * n_out))
        self.aemb_proj = nn.Sequential(nn.SiLU(), nn.Linear(tdim, 2 * n_out))
        self.block2 = _norm_act_conv(n_out, n_out, groups, dropout)
        self.block3 = _norm_act_conv(n_out, n_out, groups, dropout)
        self.shortcut = nn.Conv2d(n_in, n_out, 1) if n_in != n_out else nn.Identity()
        self.attn = AttnBlock(n_out, groups) if spec.attention else nn.Identity()

    def forward(self, x: torch.Tensor, temb: torch.Tensor, aemb: torch.Tensor) -> torch.Tensor:
        h = self.block1(x)
        # First half of each projection is the scale, second half the shift (official chunk order).
        time_scale, time_shift = torch.chunk(self.temb_proj(temb)[:, :, None, None], 2, dim=1)
        latent_scale, latent_shift = torch.chunk(self.aemb_proj(aemb)[:, :, None, None], 2, dim=1)
        h = self.block2[0](h) * (1 + time_scale) + time_shift
        h = h * (1 + latent_scale) + latent_shift
        for layer in self.block2[1:]:
            h = layer(h)
        h = self.block3(h)
        return self.attn(h + self.shortcut(x))


class EncoderResBlock(nn.Module):
    """Encoder residual block (official ResBlock_encoder): two 3x3 convs, no conditioning."""

    def __init__(self, spec: BlockSpec, groups: int, dropout: float):
        super().__init__()
        n_in, n_out = spec.in_channels, spec.out_channels
        self.block1 = _norm_act_conv(n_in, n_out, groups, None)
        self.block2 = _norm_act_conv(n_out, n_out, groups, dropout)
        self.shortcut = nn.Conv2d(n_in, n_out, 1) if n_in != n_out else nn.Identity()
        self.attn = AttnBlock(n_out, groups) if spec.attention else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.attn(self.block2(self.block1(x)) + self.shortcut(x))


def _resample(spec: BlockSpec) -> nn.Module:
    return DownSample(spec.in_channels) if spec.kind == "down" else UpSample(spec.in_channels)


class AuxiliaryUNet(nn.Module):
    """The conditional denoiser eps_theta(x_t, t, z) (official ``AuxiliaryUNet``, main branch)."""

    def __init__(self, arch: Dict, timesteps: int):
        super().__init__()
        plan = unet_plan(arch)
        ch, groups, dropout = arch["baseChannels"], arch["groupNormGroups"], arch["dropout"]
        tdim = 4 * ch
        self.time_embedding = TimeEmbedding(timesteps, ch, tdim)
        self.fc_a = nn.Linear(arch["latentDim"], tdim)
        self.head = nn.Conv2d(arch["imageChannels"], ch, 3, stride=1, padding=1)

        def build(spec: BlockSpec) -> nn.Module:
            return AuxResBlock(spec, tdim, groups, dropout) if spec.kind == "res" else _resample(spec)

        self.downblocks = nn.ModuleList(build(s) for s in plan.down)
        self.middleblocks = nn.ModuleList(build(s) for s in plan.middle)
        self.upblocks = nn.ModuleList(build(s) for s in plan.up)
        self.tail = nn.Sequential(
            nn.GroupNorm(groups, plan.out_channels), nn.SiLU(),
            nn.Conv2d(plan.out_channels, arch["imageChannels"], 3, stride=1, padding=1))

    def forward(self, xt: torch.Tensor, t: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """xt [B,C,H,W] noisy image at level alphaBar[t]; t int64 [B] in 0..T-1; z [B,D] -> eps [B,C,H,W]."""
        temb = self.time_embedding(t)
        aemb = self.fc_a(z)
        h = self.head(xt)
        skips = [h]
        for layer in self.downblocks:
            h = layer(h, temb, aemb) if isinstance(layer, AuxResBlock) else layer(h)
            skips.append(h)
        for layer in self.middleblocks:
            h = layer(h, temb, aemb)
        for layer in self.upblocks:
            if isinstance(layer, AuxResBlock):
                h = layer(torch.cat([h, skips.pop()], dim=1), temb, aemb)
            else:
                h = layer(h)
        return self.tail(h)


class EncoderOutput(NamedTuple):
    a: torch.Tensor  # [B, D] deterministic latent (z of InfoDiffusion and DiffAE)
    mu: torch.Tensor  # [B, D] fc_mu(a), mean of q(z|x) for the KL variants
    log_var: torch.Tensor  # [B, D] fc_var(a), log-variance of q(z|x)


class Encoder(nn.Module):
    """x [B,C,H,W] in [-1, 1] -> (a, mu, log_var): a U-Net, a 1-channel map, a linear map of its pixels to a."""

    def __init__(self, arch: Dict):
        super().__init__()
        plan = unet_plan(arch)
        ch, groups, dropout, dim = arch["baseChannels"], arch["groupNormGroups"], arch["dropout"], arch["latentDim"]
        self.head = nn.Conv2d(arch["imageChannels"], ch, 3, stride=1, padding=1)

        def build(spec: BlockSpec) -> nn.Module:
            return EncoderResBlock(spec, groups, dropout) if spec.kind == "res" else _resample(spec)

        self.downblocks = nn.ModuleList(build(s) for s in plan.down)
        self.middleblocks = nn.ModuleList(build(s) for s in plan.middle)
        self.upblocks = nn.ModuleList(build(s) for s in plan.up)
        self.tail = nn.Sequential(
            nn.GroupNorm(groups, plan.out_channels), nn.SiLU(),
            nn.Conv2d(plan.out_channels, 1, 3, stride=1, padding=1))
        self.fc_a = nn.Linear(arch["imageSize"] ** 2, dim)
        self.fc_mu = nn.Linear(dim, dim)
        self.fc_var = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> EncoderOutput:
        h = self.head(x)
        skips = [h]
        for layer in self.downblocks:
            h = layer(h)
            skips.append(h)
        for layer in self.middleblocks:
            h = layer(h)
        for layer in self.upblocks:
            h = layer(torch.cat([h, skips.pop()], dim=1)) if isinstance(layer, EncoderResBlock) else layer(h)
        a = self.fc_a(torch.flatten(self.tail(h), start_dim=1))
        return EncoderOutput(a, self.fc_mu(a), self.fc_var(a))


class TrainingForward(NamedTuple):
    eps_pred: torch.Tensor  # [B,C,H,W] eps_theta(x_t, t, z)
    z: torch.Tensor  # [B,D] the latent the denoiser was conditioned on
    encoded: EncoderOutput  # a, mu, log_var of the clean images


class InfoDiff(nn.Module):
    """Encoder plus conditional denoiser under the official top-level names ``backbone`` and ``encoder``.

    ``forward`` is the training pass (one call, so DistributedDataParallel sees every parameter use);
    ``encode`` and ``predict_eps`` are the inference entry points the samplers and exporters use.
    """

    def __init__(self, architecture: Dict, timesteps: int):
        super().__init__()
        self.architecture = resolve_architecture(architecture)
        self.timesteps = int(timesteps)
        # Registration order gives the official state_dict order: backbone first, then encoder.
        self.backbone = AuxiliaryUNet(self.architecture, self.timesteps)
        self.encoder = Encoder(self.architecture)

    def forward(self, x0: torch.Tensor, xt: torch.Tensor, t: torch.Tensor,
                latent_noise: Optional[torch.Tensor] = None) -> TrainingForward:
        """x0 clean [B,C,H,W]; xt noised [B,C,H,W]; t int64 [B]; latent_noise [B,D] or None.

        z = a (deterministic, InfoDiffusion/DiffAE) when latent_noise is None, else the reparameterised
        sample a_q = mu + latent_noise * exp(log_var / 2) (KL variants).
        """
        encoded = self.encoder(x0)
        if latent_noise is None:
            z = encoded.a
            # mu and log_var take no part in this loss; detached, DDP's unused-parameter search sees that
            # fc_mu/fc_var get no gradient this step instead of waiting for one.
            encoded = EncoderOutput(encoded.a, encoded.mu.detach(), encoded.log_var.detach())
        else:
            z = encoded.mu + latent_noise * torch.exp(0.5 * encoded.log_var)
        return TrainingForward(self.backbone(xt, t, z), z, encoded)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """x [B,C,H,W] in [-1, 1] -> z [B,D]: a, or mu when architecture.latentHead is 'mu'."""
        encoded = self.encoder(x)
        return encoded.mu if self.architecture["latentHead"] == "mu" else encoded.a

    def predict_eps(self, xt: torch.Tensor, t: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """xt [B,C,H,W]; t int64 [B] (0..T-1); z [B,D] -> eps_theta [B,C,H,W]."""
        return self.backbone(xt, t, z)


# ---------------------------------------------------------------------------------------------------------------
# Initialisation

def initialize_official(model: InfoDiff) -> None:
    """The official init: Xavier-uniform weights and zero biases for every conv and linear; gain 1e-5 on both
    tails and on each attention output projection, so each block starts close to the identity; GroupNorm at
    (1, 0). Uses the global torch RNG (seed it first).

    Note: in the official code each residual block's ``initialize()`` re-runs Xavier (gain 1) over its attention
    convs after AttnBlock set gain 1e-5 on ``proj``, so the official effective gain there is 1. We keep the
    documented intent (1e-5), which only changes the starting point.
    """
    for module in model.modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            init.xavier_uniform_(module.weight)
            init.zeros_(module.bias)
        elif isinstance(module, nn.GroupNorm):
            init.ones_(module.weight)
            init.zeros_(module.bias)
    small = [model.backbone.tail[-1], model.encoder.tail[-1]]
    small += [m.proj for m in model.modules() if isinstance(m, AttnBlock)]
    for conv in small:
        init.xavier_uniform_(conv.weight, gain=1e-5)


def build_model(architecture: Dict, timesteps: int, seed: Optional[int] = None) -> InfoDiff:
    """A freshly initialised InfoDiff (official init); seeds the global torch RNG first when seed is given."""
    if seed is not None:
        torch.manual_seed(seed)
    model = InfoDiff(architecture, timesteps)
    initialize_official(model)
    return model


def freeze_time_tables(module: nn.Module) -> nn.Module:
    """Leaves the sinusoid tables of ``module``'s time embeddings out of training, as they are built: for a copy of
    a network that was made trainable as a whole (a distilled student)."""
    for sub in module.modules():
        if isinstance(sub, TimeEmbedding):
            sub.timembedding[0].weight.requires_grad_(False)
    return module


def count_parameters(model: nn.Module) -> Dict[str, int]:
    """Element counts: all state_dict elements, trainable ones, and the frozen time table."""
    total = sum(v.numel() for v in model.state_dict().values())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return {"total": total, "trainable": trainable, "frozen": total - trainable}

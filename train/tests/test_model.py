"""The networks: official state_dict layout, the block arithmetic, the time table, init and dropout."""
import math

import pytest
import torch
import torch.nn.functional as F

from infodiff.config import load_preset, validate_train_config
from infodiff.model import (TIME_TABLE_KEY, AuxResBlock, BlockSpec, InfoDiff, build_model, count_parameters,
                            expected_parameters, sinusoid_table)

OFFICIAL_FMNIST = {"imageSize": 32, "baseChannels": 32, "channelMultipliers": [1, 2, 2, 2], "latentDim": 32}
FIXTURE = validate_train_config(load_preset("configs/fixture.json")).architecture


@pytest.mark.parametrize("arch", [
    OFFICIAL_FMNIST,
    FIXTURE,
    {"imageSize": 32, "baseChannels": 16, "channelMultipliers": [1, 2, 2], "groupNormGroups": 16, "numResBlocks": 1,
     "attentionLevels": [0, 2], "latentDim": 5, "imageChannels": 3, "latentHead": "mu"},
])
def test_expected_parameters_equal_the_state_dict(arch):
    model = InfoDiff(arch, 50)
    state = model.state_dict()
    expected = expected_parameters(arch, 50)
    assert list(state) == list(expected)  # names and order
    assert {name: tuple(t.shape) for name, t in state.items()} == dict(expected)


def test_official_fmnist_matches_the_research_numbers():
    """docs/sources.md §1.4 (the official InfoDiff, counted): 969 tensors of which 220 dead crossattn -> 749 live;
    5,844,610 elements minus 306,496 crossattn = 5,538,114, of which 32,000 the frozen table."""
    model = InfoDiff(OFFICIAL_FMNIST, 1000)
    counts = count_parameters(model)
    assert len(model.state_dict()) == 749
    assert counts == {"total": 5_538_114, "trainable": 5_506_114, "frozen": 32_000}
    backbone = sum(t.numel() for n, t in model.state_dict().items() if n.startswith("backbone."))
    encoder = counts["total"] - backbone
    assert encoder == 2_097_793  # the official encoder has no crossattn, so its count is unchanged
    assert not any("crossattn" in name for name in model.state_dict())


def test_official_key_spellings():
    names = set(InfoDiff(OFFICIAL_FMNIST, 1000).state_dict())
    for key in ["backbone.downblocks.0.block1.2.weight", TIME_TABLE_KEY, "backbone.downblocks.0.temb_proj.1.weight",
                "backbone.downblocks.0.aemb_proj.1.bias", "backbone.downblocks.0.block2.3.weight",
                "backbone.downblocks.0.block3.3.weight", "backbone.downblocks.3.shortcut.weight",
                "backbone.downblocks.6.attn.group_norm.weight", "backbone.downblocks.6.attn.proj_q.weight",
                "backbone.downblocks.6.attn.proj.bias", "backbone.downblocks.2.main.weight",
                "backbone.upblocks.3.main.weight", "backbone.middleblocks.0.attn.proj_v.weight",
                "backbone.tail.2.weight", "backbone.fc_a.weight", "encoder.fc_a.weight", "encoder.fc_mu.bias",
                "encoder.fc_var.weight", "encoder.tail.2.weight", "encoder.downblocks.0.block2.3.weight"]:
        assert key in names, key
    assert "encoder.downblocks.0.block3.3.weight" not in names  # encoder blocks have two convs
    assert "backbone.middleblocks.1.attn.proj.weight" not in names  # only the first middle block attends


def test_time_table_is_interleaved_and_frozen():
    table = sinusoid_table(1000, 8)
    t, i = 123, 2
    frequency = math.exp(-(2 * i / 8) * math.log(10000))
    assert table[t, 2 * i].item() == pytest.approx(math.sin(t * frequency), abs=1e-6)
    assert table[t, 2 * i + 1].item() == pytest.approx(math.cos(t * frequency), abs=1e-6)
    model = InfoDiff(FIXTURE, 1000)
    frozen = model.backbone.time_embedding.timembedding[0].weight
    assert not frozen.requires_grad
    assert torch.equal(frozen, sinusoid_table(1000, FIXTURE["baseChannels"]))


def test_residual_block_arithmetic_matches_the_official_order():
    """block1 -> GN(h)(1 + s_t) + b_t -> h(1 + s_z) + b_z -> SiLU, Dropout, conv -> block3 -> + shortcut -> attention."""
    torch.manual_seed(0)
    block = AuxResBlock(BlockSpec("res", 4, 8, True), tdim=6, groups=2, dropout=0.0).eval()
    for p in block.parameters():
        torch.nn.init.normal_(p, std=0.3)
    x, temb, aemb = torch.randn(2, 4, 4, 4), torch.randn(2, 6), torch.randn(2, 6)

    def conv(h, layer):
        return F.conv2d(h, layer.weight, layer.bias, padding=layer.padding)

    def norm(h, layer):
        return F.group_norm(h, 2, layer.weight, layer.bias, eps=1e-5)

    h = conv(F.silu(norm(x, block.block1[0])), block.block1[2])
    time = F.linear(F.silu(temb), block.temb_proj[1].weight, block.temb_proj[1].bias)[:, :, None, None]
    latent = F.linear(F.silu(aemb), block.aemb_proj[1].weight, block.aemb_proj[1].bias)[:, :, None, None]
    h = norm(h, block.block2[0]) * (1 + time[:, :8]) + time[:, 8:]
    h = h * (1 + latent[:, :8]) + latent[:, 8:]
    h = conv(F.silu(h), block.block2[3])
    h = conv(F.silu(norm(h, block.block3[0])), block.block3[3])
    h = h + conv(x, block.shortcut)
    attn = block.attn
    normed = F.group_norm(h, 2, attn.group_norm.weight, attn.group_norm.bias)
    q, k, v = (conv(normed, p).flatten(2) for p in (attn.proj_q, attn.proj_k, attn.proj_v))  # [B, C, HW]
    weights = torch.softmax(torch.einsum("bci,bcj->bij", q, k) / math.sqrt(8), dim=-1)
    expected = h + conv(torch.einsum("bij,bcj->bci", weights, v).reshape(h.shape), attn.proj)
    assert torch.allclose(block(x, temb, aemb), expected, atol=1e-5)


def test_shapes_and_latent_heads():
    model = build_model(FIXTURE, 1000, seed=0).eval()
    x = torch.rand(3, 1, 16, 16) * 2 - 1
    z = model.encode(x)
    assert z.shape == (3, FIXTURE["latentDim"])
    eps = model.predict_eps(x, torch.tensor([0, 500, 999]), z)
    assert eps.shape == x.shape
    mu_model = build_model({**FIXTURE, "latentHead": "mu"}, 1000, seed=0).eval()
    encoded = mu_model.encoder(x)
    assert torch.equal(mu_model.encode(x), encoded.mu)
    assert torch.equal(model.encode(x), model.encoder(x).a)


def test_training_forward_uses_a_or_the_reparameterised_sample():
    model = build_model(FIXTURE, 1000, seed=0).eval()
    x = torch.rand(2, 1, 16, 16)
    t = torch.tensor([3, 4])
    deterministic = model(x, x, t)
    assert torch.equal(deterministic.z, deterministic.encoded.a)
    noise = torch.randn(2, FIXTURE["latentDim"])
    sampled = model(x, x, t, noise)
    expected = sampled.encoded.mu + noise * torch.exp(0.5 * sampled.encoded.log_var)
    assert torch.allclose(sampled.z, expected)


def test_official_init():
    model = build_model(OFFICIAL_FMNIST, 1000, seed=0)
    for tail in (model.backbone.tail[2], model.encoder.tail[2]):
        assert tail.weight.abs().max() < 1e-4 and torch.all(tail.bias == 0)
    proj = model.backbone.downblocks[6].attn.proj
    assert proj.weight.abs().max() < 1e-4
    head = model.backbone.head.weight
    bound = math.sqrt(6 / (1 * 9 + 32 * 9))  # Xavier-uniform bound for a 3x3 conv 1 -> 32
    assert head.abs().max() <= bound and head.abs().max() > 0.5 * bound
    assert torch.all(model.backbone.downblocks[0].block1[0].weight == 1)
    assert all(torch.all(m.bias == 0) for m in model.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)))


def test_dropout_only_in_training():
    model = build_model({**FIXTURE, "dropout": 0.5}, 1000, seed=0)
    for p in model.parameters():  # the official init's tiny tails would hide dropout's effect
        torch.nn.init.normal_(p, std=0.2) if p.requires_grad else None
    x, t, z = torch.rand(2, 1, 16, 16), torch.tensor([10, 20]), torch.randn(2, FIXTURE["latentDim"])
    model.eval()
    assert torch.equal(model.predict_eps(x, t, z), model.predict_eps(x, t, z))
    model.train()
    assert not torch.equal(model.predict_eps(x, t, z), model.predict_eps(x, t, z))


def test_seeded_build_is_reproducible():
    a, b = build_model(FIXTURE, 1000, seed=7), build_model(FIXTURE, 1000, seed=7)
    assert all(torch.equal(a.state_dict()[k], b.state_dict()[k]) for k in a.state_dict())

"""Seeded draws on any device: the generator's device draws, the caller's device receives.

This machine has no GPU, so CUDA's refusal ("Expected a 'cuda' device type for generator") is emulated: torch's
draw functions are wrapped to refuse a generator whose device differs from the one asked for, exactly as a CUDA
tensor with a CPU generator is refused, and the result is asked for on the 'meta' device.
"""
import pytest
import torch

from infodiff import rng
from infodiff.diffusion import ddim_plan, ddim_sample, make_schedule
from infodiff.model import EncoderOutput, TrainingForward
from infodiff.objective import InfoDiffusionObjective, ObjectiveConfig, sample_prior


@pytest.fixture()
def strict_generators(monkeypatch):
    """torch.randn/rand/randint that refuse a generator on another device than the draw, as CUDA does."""
    def strict(draw):
        def checked(*args, generator=None, device=None, **kwargs):
            wanted = torch.device(device) if device is not None else torch.device("cpu")
            if generator is not None and generator.device.type != wanted.type:
                raise RuntimeError(f"Expected a '{wanted.type}' device type for generator but found "
                                   f"'{generator.device.type}'")
            return draw(*args, generator=generator, device=device, **kwargs)
        return checked

    for name in ("randn", "rand", "randint"):
        monkeypatch.setattr(torch, name, strict(getattr(torch, name)))


def test_draws_on_the_generators_device_and_delivers_on_the_requested_one(strict_generators):
    values = rng.normal((2, 3), torch.Generator().manual_seed(5), "meta", torch.float64)
    assert values.device.type == "meta" and values.shape == (2, 3) and values.dtype == torch.float64
    assert rng.uniform((4,), torch.Generator().manual_seed(5), "meta").device.type == "meta"
    assert rng.integers(10, (4,), torch.Generator().manual_seed(5), "meta").dtype == torch.int64


def test_same_device_draws_are_the_plain_torch_stream():
    """Where generator and result share a device nothing changes: resumed training stays bit-identical."""
    a, b = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    assert torch.equal(rng.normal((5,), a, "cpu"), torch.randn((5,), generator=b, device="cpu"))
    assert torch.equal(rng.uniform((5,), a, "cpu"), torch.rand((5,), generator=b, device="cpu"))
    assert torch.equal(rng.integers(7, (5,), a, "cpu"), torch.randint(0, 7, (5,), generator=b, device="cpu"))
    torch.manual_seed(11)
    first = rng.normal((3,), None, "cpu")
    torch.manual_seed(11)
    assert torch.equal(first, torch.randn(3))


def test_ddim_eta_noise_from_a_cpu_generator_reaches_a_tensor_on_another_device(strict_generators):
    schedule = make_schedule({"timesteps": 20})
    x_noise = torch.zeros(2, 1, 2, 2, device="meta")
    out = ddim_sample(lambda x, t, z: torch.zeros_like(x), schedule, ddim_plan(20, 3), x_noise,
                      torch.zeros(2, 4, device="meta"), eta=1.0, generator=torch.Generator().manual_seed(0))
    assert out.device.type == "meta" and out.shape == x_noise.shape


def test_ddim_eta_noise_is_the_generators_stream():
    """eta = 1 with a zero denoiser: the noise added at each step is exactly the generator's normal draws."""
    schedule = make_schedule({"timesteps": 20})
    plan = ddim_plan(20, 2)
    x_noise = torch.zeros(1, 1, 2, 2, dtype=torch.float64)
    out = ddim_sample(lambda x, t, z: torch.zeros_like(x), schedule, plan, x_noise, torch.zeros(1, 1),
                      eta=1.0, generator=torch.Generator().manual_seed(4))
    ab = schedule.alpha_bar
    sigma = (1 - ab[plan[1]]) ** 0.5 * (1 - ab[plan[0]] / ab[plan[1]]) ** 0.5 / (1 - ab[plan[0]]) ** 0.5
    first = sigma * torch.randn((1, 1, 2, 2), generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    # The last step goes to alpha = 1, where sigma is 0: x0 = first step's x / sqrt(alpha_bar[plan[1]]).
    torch.testing.assert_close(out, first / ab[plan[1]] ** 0.5)


def test_objective_and_priors_accept_a_generator_on_another_device(strict_generators):
    assert sample_prior("10mix", 3, 4, torch.Generator().manual_seed(0), "meta").device.type == "meta"
    assert sample_prior("regular", 3, 4, torch.Generator().manual_seed(0), "meta").device.type == "meta"

    class ZeroModel(torch.nn.Module):
        architecture = {"latentDim": 2}

        def forward(self, x0, xt, t, latent_noise):
            a = torch.zeros(x0.shape[0], 2, device=x0.device)
            return TrainingForward(eps_pred=torch.zeros_like(xt), z=a, encoded=EncoderOutput(a, a, a))

    objective = InfoDiffusionObjective(make_schedule({"timesteps": 10}), ObjectiveConfig())
    terms = objective(ZeroModel(), torch.zeros(4, 1, 2, 2, device="meta"), torch.Generator().manual_seed(0))
    assert terms.total.device.type == "meta"

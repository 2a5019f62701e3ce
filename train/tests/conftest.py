"""Fixtures shared by several test modules."""
import pytest

from infodiff.config import apply_overrides, load_preset, validate_train_config


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """A finished 3-step run of configs/fmnist_tiny.json on 512 images: the run directory (checkpoint.pt,
    config.json, log.jsonl). Session-scoped: training is the slow part, and the tests only read it."""
    from infodiff.train import train

    out = tmp_path_factory.mktemp("tiny-run")
    cfg = apply_overrides(load_preset("configs/fmnist_tiny.json"),
                          ["--threads=1", "--dataset_size=512", "--eval_images=16", "--steps=3", "--warmup_steps=1",
                           f"--out_dir={out}"])
    train(validate_train_config(cfg))
    return out


@pytest.fixture
def untrained_fashion_judge(tmp_path):
    """A seeded, untrained FashionMNIST classifier checkpoint: what --classifier needs when the numbers don't matter."""
    import torch

    from infodiff import classifier

    spec = classifier.judge_spec("fashion-mnist")
    torch.manual_seed(0)
    path = tmp_path / "judge.pt"
    classifier.save_classifier(classifier.Classifier(spec.channels, spec.head_sizes).eval(), spec, path, {})
    return path

"""The training loop: it learns, it refuses non-finite steps, it runs the KL variant and under DDP."""
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from infodiff import train as train_module
from infodiff.config import apply_overrides, load_preset, validate_train_config
from infodiff.objective import LossTerms
from infodiff.train import NonFiniteLossError, main, read_checkpoint, train

TRAIN_DIR = Path(__file__).resolve().parents[1]


def tiny_config(out_dir, *overrides):
    cfg = apply_overrides(load_preset("configs/fmnist_tiny.json"),
                          ["--threads=1", "--dataset_size=512", "--eval_images=16", f"--out_dir={out_dir}", *overrides])
    return validate_train_config(cfg)


def read_log(path):
    return [json.loads(line) for line in (path / "log.jsonl").read_text().splitlines()]


def test_tiny_config_learns(tmp_path):
    result = train(tiny_config(tmp_path / "run", "--steps=40", "--log_every=10", "--eval_every=20"))
    assert result["step"] == 40
    records = [r for r in read_log(tmp_path / "run") if "total" in r]
    evals = [r["eval"]["total"] for r in read_log(tmp_path / "run") if "eval" in r]
    assert records[-1]["total"] < 0.9 * records[0]["total"], records
    assert evals[-1] < evals[0]
    assert all(r["imagesPerSecond"] > 0 for r in records)
    checkpoint = read_checkpoint(tmp_path / "run" / "checkpoint.pt")
    assert not any(k.startswith("module.") for k in checkpoint["model"])
    assert checkpoint["best_eval_loss"] == pytest.approx(min(evals))
    assert json.loads((tmp_path / "run" / "config.json").read_text())["steps"] == 40


def test_non_finite_loss_stops_before_touching_the_weights(tmp_path, monkeypatch):
    real_objective = train_module.InfoDiffusionObjective

    class PoisonedAfterFiveSteps(real_objective):
        calls = 0

        def __call__(self, model, x0, generator=None, progress=0.0):
            terms = super().__call__(model, x0, generator, progress)
            if model.training:
                PoisonedAfterFiveSteps.calls += 1
                if PoisonedAfterFiveSteps.calls == 6:
                    return LossTerms(terms.total * float("nan"), *terms[1:])
            return terms

    monkeypatch.setattr(train_module, "InfoDiffusionObjective", PoisonedAfterFiveSteps)
    cfg = tiny_config(tmp_path / "run", "--steps=20", "--checkpoint_every=4", "--eval_every=0")
    with pytest.raises(NonFiniteLossError) as err:
        train(cfg)
    message = str(err.value)
    assert "step 5" in message and "last good checkpoint" in message and "(step 4)" in message
    checkpoint = read_checkpoint(tmp_path / "run" / "checkpoint.pt")
    assert checkpoint["step"] == 4
    assert all(torch.isfinite(v).all() for v in checkpoint["model"].values())


def test_cli_reports_config_errors(capsys):
    assert main(["--config=configs/fmnist_tiny.json", "--stepz=3"]) == 1
    assert "unknown config key 'stepz'" in capsys.readouterr().err


def test_cli_reports_missing_data(tmp_path, capsys):
    assert main(["--config=configs/fmnist_tiny.json", f"--data_dir={tmp_path}", f"--out_dir={tmp_path}/run"]) == 1
    assert "apt-get install dataset-fashion-mnist" in capsys.readouterr().err


def test_kl_variant_with_capacity_trains(tmp_path):
    cfg = tiny_config(tmp_path / "run", "--steps=4", "--warmup_steps=1", "--kld_weight=1", "--mmd_weight=0.1",
                      "--use_capacity", "--architecture.latentHead=mu", "--prior=10mix")
    train(cfg)
    record = [r for r in read_log(tmp_path / "run") if "kld" in r][-1]
    assert record["kld"] > 0 and record["mmd"] > 0


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_or_kill(processes, timeout):
    """Each process's output once all have ended; any still running at the deadline is killed (so a hung rank
    never outlives the test) and its output so far is kept for the failure message."""
    deadline = time.monotonic() + timeout
    outputs = []
    for process in processes:
        try:
            outputs.append(process.communicate(timeout=max(1.0, deadline - time.monotonic()))[0])
        except subprocess.TimeoutExpired:
            process.kill()
            outputs.append("(killed at the deadline)\n" + process.communicate()[0])
    return outputs


def test_two_rank_ddp_on_cpu(tmp_path):
    """Two gloo ranks started the way torchrun starts them (env vars); only rank 0 writes."""
    port = free_port()
    args = [sys.executable, "-m", "infodiff.train", "--config=configs/fmnist_tiny.json", f"--out_dir={tmp_path}/run",
            "--steps=4", "--warmup_steps=1", "--threads=1", "--dataset_size=256", "--eval_images=16",
            "--checkpoint_every=2", "--eval_every=4", "--log_every=2"]
    processes = []
    for rank in (1, 0):
        env = {**os.environ, "RANK": str(rank), "LOCAL_RANK": str(rank), "WORLD_SIZE": "2",
               "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)}
        processes.append(subprocess.Popen(args, cwd=TRAIN_DIR, env=env, stdout=subprocess.PIPE,
                                          stderr=subprocess.STDOUT, text=True))
    outputs = _wait_or_kill(processes, timeout=180)
    assert [p.returncode for p in processes] == [0, 0], outputs
    assert "done: step 4/4" in outputs[1] and "done" not in outputs[0]  # rank 1 stays quiet
    checkpoint = read_checkpoint(tmp_path / "run" / "checkpoint.pt")
    assert checkpoint["step"] == 4 and len(checkpoint["rng"]) == 2
    assert not any(k.startswith("module.") for k in checkpoint["model"])


# ------------------------------------------------------------------ the other data sources

def write_image_folder(root, count=24):
    from PIL import Image
    import numpy as np

    rng = np.random.default_rng(0)
    for i in range(count):
        folder = root / ("dots" if i % 2 else "bars")
        folder.mkdir(parents=True, exist_ok=True)
        pixels = np.full((30, 40, 3), 230, dtype=np.uint8)  # dark drawings on a light, non-square canvas
        pixels[10:20, 15 + i % 5:25] = rng.integers(0, 60, size=3)
        Image.fromarray(pixels).save(folder / f"{i}.{'png' if i % 3 else 'jpg'}")


def test_image_folder_loader(tmp_path):
    from infodiff.data import load_image_folder

    write_image_folder(tmp_path / "pictures")
    gray = load_image_folder(str(tmp_path / "pictures"), 16, 1)
    assert gray.images.shape == (24, 1, 16, 16) and gray.label_names == ["bars", "dots"]
    assert list(gray.labels[:2]) == [0, 0] and not gray.light_on_dark
    rgb = load_image_folder(str(tmp_path / "pictures"), 8, 3, limit=5)
    assert rgb.images.shape == (5, 3, 8, 8)
    x = rgb.batch(torch.tensor([0, 1]))
    assert x.min() >= -1 and x.max() <= 1


def test_training_on_an_image_folder(tmp_path):
    write_image_folder(tmp_path / "pictures", 40)
    cfg = tiny_config(tmp_path / "run", "--dataset=folder", f"--data_dir={tmp_path / 'pictures'}", "--dataset_size=0",
                      "--architecture.imageChannels=3", "--steps=2", "--warmup_steps=1", "--batch_size=8")
    assert train(cfg)["step"] == 2


def test_shapes_dataset_path():
    pytest.importorskip("infodiff.shapes")
    from infodiff.data import load_dataset

    shapes = load_dataset("shapes", "", 16, 3, "train", size=12, seed=0)
    held_out = load_dataset("shapes", "", 16, 3, "test", size=12, seed=0)
    assert shapes.images.shape == (12, 3, 16, 16) and shapes.factors.shape == (12, 6)
    assert shapes.factor_names[4] == "shape" and not torch.equal(shapes.images, held_out.images)

"""--init_from_package: training continues from a web package's weights when the full checkpoint is gone."""
import pytest
import torch

from infodiff.config import ConfigError, apply_overrides, load_preset, validate_train_config
from infodiff.export import export_checkpoint
from infodiff.train import describe_config_changes, read_checkpoint, read_package_start, train


def tiny_config(out_dir, *overrides):
    """The tiny preset as conftest's tiny_run trains it (512 images), so a package from that run fits it."""
    cfg = apply_overrides(load_preset("configs/fmnist_tiny.json"),
                          ["--threads=1", "--dataset_size=512", "--eval_images=16", "--warmup_steps=1",
                           f"--out_dir={out_dir}", *overrides])
    return validate_train_config(cfg)


@pytest.fixture(scope="module")
def package(tiny_run, tmp_path_factory):
    """tiny_run (3 steps) exported in float32, then its checkpoint treated as lost: only the package is used."""
    out = tmp_path_factory.mktemp("packages") / "tiny"
    export_checkpoint(tiny_run / "checkpoint.pt", out, float16=False, update_index=False, max_images=64)
    return out


def test_the_package_start_holds_its_ema_weights_step_and_architecture(tiny_run, package):
    start = read_package_start(package)
    saved = read_checkpoint(tiny_run / "checkpoint.pt")
    assert start["step"] == saved["step"] == 3
    assert start["architecture"] == saved["config"]["architecture"]
    assert start["weights"].keys() == saved["ema"].keys()
    for name, tensor in saved["ema"].items():
        assert torch.equal(start["weights"][name], tensor), name


def test_training_continues_from_the_package_with_a_fresh_optimiser_recorded(package, tmp_path, capsys):
    # The preset's architecture is overridden here; the package's wins, as a checkpoint's does on resume.
    cfg = tiny_config(tmp_path / "run", f"--init_from_package={package}", "--steps=5",
                      "--architecture.baseChannels=16")
    summary = train(cfg)
    assert summary["step"] == 5  # steps 4 and 5: the step count (and so lr and data order) goes on from 3
    out = capsys.readouterr().out
    assert f"init: model and EMA from {package} at step 3, with a fresh optimiser" in out
    assert "init: taking architecture=" in out

    state = read_checkpoint(tmp_path / "run" / "checkpoint.pt")
    assert state["config"]["architecture"] == read_package_start(package)["architecture"]
    # Fresh AdamW: its moments saw only this run's 2 steps, not the package's 3.
    assert {int(s["step"]) for s in state["optimizer"]["state"].values()} == {2}
    assert state["config_changes"] == [{"step": 3, "changes": {"init_from_package": ["", str(package)],
                                                               "optimizer": ["continued", "fresh"]}}]
    assert describe_config_changes(state["config_changes"]) == (
        f'Changed on resume: at step 3, init_from_package "" -> "{package}", optimizer "continued" -> "fresh".')

    # Resuming that run continues its checkpoint: the flag is ignored, and only the longer schedule is recorded.
    resumed = tiny_config(tmp_path / "run", f"--init_from_package={package}", "--steps=6", "--resume")
    assert train(resumed)["step"] == 6
    assert read_checkpoint(tmp_path / "run" / "checkpoint.pt")["config_changes"] == [
        *state["config_changes"], {"step": 5, "changes": {"steps": [5, 6]}}]


def test_a_package_that_is_missing_or_already_past_the_steps_is_refused(package, tmp_path):
    with pytest.raises(ConfigError, match="--init_from_package: cannot read .*no-such-package"):
        train(tiny_config(tmp_path / "a", f"--init_from_package={tmp_path / 'no-such-package'}", "--steps=5"))
    with pytest.raises(ConfigError, match="was trained for 3 steps; --steps must be larger to train on from it, got 3"):
        train(tiny_config(tmp_path / "b", f"--init_from_package={package}", "--steps=3"))

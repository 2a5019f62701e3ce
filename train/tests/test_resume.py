"""A killed-and-resumed run must end exactly where an uninterrupted run ends."""
import torch

from infodiff.config import apply_overrides, load_preset, validate_train_config
from infodiff.train import read_checkpoint, train


def tiny_config(out_dir, *overrides):
    cfg = apply_overrides(load_preset("configs/fmnist_tiny.json"),
                          ["--steps=12", "--warmup_steps=3", "--checkpoint_every=4", "--eval_every=6",
                           "--log_every=4", "--threads=1", "--dataset_size=256", "--eval_images=16",
                           f"--out_dir={out_dir}", *overrides])
    return validate_train_config(cfg)


def test_resumed_run_equals_uninterrupted_run(tmp_path):
    straight = tiny_config(tmp_path / "straight")
    train(straight)

    interrupted = tiny_config(tmp_path / "interrupted", "--stop_after_steps=4")
    assert train(interrupted)["step"] == 4
    # A budget milestone is absolute: resuming towards step 6 runs 2 steps, and once there it is a no-op.
    milestone = tiny_config(tmp_path / "interrupted", "--resume", "--stop_at_step=6")
    assert train(milestone)["step"] == 6
    assert train(milestone)["step"] == 6
    # The restart names a different batch of command-line values; the forced keys come from the checkpoint.
    resumed = tiny_config(tmp_path / "interrupted", "--resume", "--seed=999")
    assert train(resumed)["step"] == 12

    a = read_checkpoint(tmp_path / "straight" / "checkpoint.pt")
    b = read_checkpoint(tmp_path / "interrupted" / "checkpoint.pt")
    assert a["step"] == b["step"] == 12
    assert b["config"]["seed"] == a["config"]["seed"]
    for section in ("model", "ema"):
        assert a[section].keys() == b[section].keys()
        for name in a[section]:
            assert torch.equal(a[section][name], b[section][name]), f"{section} {name} differs after resume"
    state_a, state_b = a["optimizer"]["state"], b["optimizer"]["state"]
    for index in state_a:
        assert torch.equal(state_a[index]["exp_avg_sq"], state_b[index]["exp_avg_sq"])
    assert torch.equal(a["rng"][0]["noise"], b["rng"][0]["noise"])


def test_existing_checkpoint_needs_resume(tmp_path):
    cfg = tiny_config(tmp_path / "run", "--steps=2", "--warmup_steps=1")
    train(cfg)
    try:
        train(cfg)
    except ValueError as err:
        assert "--resume" in str(err)
    else:
        raise AssertionError("a second run into the same out_dir without --resume must be refused")


def test_a_resume_that_changes_what_is_learned_is_recorded(tmp_path):
    import json

    from infodiff.train import describe_config_changes

    run = tmp_path / "run"
    train(tiny_config(run, "--steps=6", "--warmup_steps=1", "--stop_at_step=2"))
    # Bookkeeping (threads, milestones, notes) changes freely; hflip changes the data the model sees.
    train(tiny_config(run, "--steps=6", "--warmup_steps=1", "--resume", "--stop_at_step=4", "--notes=again"))
    assert read_checkpoint(run / "checkpoint.pt")["config_changes"] == []
    train(tiny_config(run, "--steps=6", "--warmup_steps=1", "--resume", "--hflip=false", "--lr=0.0005"))

    changes = read_checkpoint(run / "checkpoint.pt")["config_changes"]
    assert changes == [{"step": 4, "changes": {"hflip": [True, False], "lr": [0.001, 0.0005]}}]
    records = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert {"step": 4, "configChanges": {"hflip": [True, False], "lr": [0.001, 0.0005]}} in records
    assert describe_config_changes(changes) == "Changed on resume: at step 4, hflip true -> false, lr 0.001 -> 0.0005."
    assert describe_config_changes([]) == ""


def test_a_resume_keeps_the_runs_notes_unless_new_ones_are_given(tmp_path):
    from infodiff.train import main

    run = tmp_path / "run"
    argv = ["--config=configs/fmnist_tiny.json", "--steps=6", "--warmup_steps=1", "--threads=1", "--dataset_size=256",
            "--eval_images=16", "--eval_every=6", f"--out_dir={run}"]
    assert main([*argv, "--stop_at_step=2", "--notes=the baseline"]) == 0
    # Resumed without --notes: the preset's notes do not replace the run's, in the checkpoint or config.json.
    assert main([*argv, "--resume", "--stop_at_step=4"]) == 0
    assert read_checkpoint(run / "checkpoint.pt")["config"]["notes"] == "the baseline"
    assert '"notes": "the baseline"' in (run / "config.json").read_text()
    assert main([*argv, "--resume", "--notes", "renamed"]) == 0
    assert read_checkpoint(run / "checkpoint.pt")["config"]["notes"] == "renamed"


def test_a_run_killed_while_writing_a_checkpoint_resumes_from_the_previous_one(tmp_path, monkeypatch):
    """The checkpoint is written to a temporary file and renamed: a kill in the middle of the write (here, torch.save
    dying halfway through the second checkpoint) leaves the previous checkpoint whole, and resuming from it ends
    exactly where an uninterrupted run ends."""
    straight = tiny_config(tmp_path / "straight")
    train(straight)

    real_save = torch.save
    calls = {"n": 0}

    def dying_save(payload, path):
        calls["n"] += 1
        if calls["n"] == 2:  # the checkpoint at step 8
            real_save(payload, path)
            data = open(path, "rb").read()
            open(path, "wb").write(data[: len(data) // 2])  # half the bytes on disk, then the process dies
            raise KeyboardInterrupt("killed while writing the checkpoint")
        real_save(payload, path)

    monkeypatch.setattr(torch, "save", dying_save)
    killed = tiny_config(tmp_path / "killed")
    try:
        train(killed)
    except KeyboardInterrupt:
        pass
    else:
        raise AssertionError("the run should have died in its second checkpoint write")
    monkeypatch.setattr(torch, "save", real_save)
    assert read_checkpoint(tmp_path / "killed" / "checkpoint.pt")["step"] == 4  # the previous one, whole

    assert train(tiny_config(tmp_path / "killed", "--resume"))["step"] == 12
    a = read_checkpoint(tmp_path / "straight" / "checkpoint.pt")
    b = read_checkpoint(tmp_path / "killed" / "checkpoint.pt")
    for section in ("model", "ema"):
        for name in a[section]:
            assert torch.equal(a[section][name], b[section][name]), f"{section} {name} differs after the killed write"

"""Distillation (infodiff.distill), the student in a package (infodiff.student, webpackage) and its sampler."""
import json
import math
import re
import shutil

import numpy as np
import pytest
import torch

from infodiff import distill, student as student_tool
from infodiff.diffusion import ddim_sample, eps_from_prediction, make_schedule
from infodiff.sample import load_model
from infodiff.webpackage import WebPackageError, read_web_package, write_web_package

@pytest.fixture(scope="module")
def teacher_run(tmp_path_factory):
    """A 150-step run of configs/fmnist_tiny.json (about 20 s): trained enough that its sampler's images are a
    smooth function of (x_T, z) a student can learn, unlike the 3-step run of conftest's tiny_run."""
    from infodiff.config import apply_overrides, load_preset, validate_train_config
    from infodiff.train import train

    out = tmp_path_factory.mktemp("teacher-run")
    train(validate_train_config(apply_overrides(load_preset("configs/fmnist_tiny.json"), [
        "--threads=1", "--dataset_size=512", "--eval_images=16", "--steps=150", "--warmup_steps=10",
        f"--out_dir={out}"])))
    return out


SMALL = ["--inverted_images=48", "--prior_draws=16", "--monitor_images=8", "--chunk=16", "--batch_size=16",
         "--warmup_steps=2", "--lr=1e-3", "--min_lr=1e-4", "--checkpoint_every=5", "--eval_every=1000",
         "--log_every=5", "--threads=1", "--teacher_steps=4"]


def _config(tiny_run, out_dir, *extra):
    args = distill.parser().parse_args([f"--teacher={tiny_run / 'checkpoint.pt'}", f"--out_dir={out_dir}", *SMALL,
                                        *extra])
    return distill.validate(distill.DistillConfig(**vars(args)))


def _pool_loss(run_dir, cfg):
    """The distillation loss of a run's EMA-free student over its whole pool."""
    teacher = load_model(cfg.teacher)
    checkpoint = torch.load(run_dir / distill.CHECKPOINT_NAME)
    net = distill.load_student(run_dir / distill.CHECKPOINT_NAME, teacher, use_ema=False)[0]
    pool = torch.load(run_dir / distill.POOL_NAME)
    rows = {k: torch.cat([c[k] for c in pool["done"]["train"]]) for k in ("x_noise", "z", "target")}
    plan = distill.parse_plan(cfg.plan, teacher.schedule.timesteps)
    with torch.no_grad():
        outputs = distill.student_decode(net, teacher, plan, cfg.parameterisation, rows["x_noise"], rows["z"])
        return float(distill.distillation_loss(outputs, rows["target"], cfg.early_call_weight)), checkpoint


def test_eps_from_prediction_inverts_each_parameterisation():
    x0, eps, alpha = torch.randn(3, 1, 4, 4), torch.randn(3, 1, 4, 4), 0.3
    x = math.sqrt(alpha) * x0 + math.sqrt(1 - alpha) * eps
    v = math.sqrt(alpha) * eps - math.sqrt(1 - alpha) * x0
    for parameterisation, prediction in (("eps", eps), ("x0", x0), ("v", v)):
        assert torch.allclose(eps_from_prediction(prediction, x, alpha, parameterisation), eps, atol=1e-5)
    with pytest.raises(ValueError, match="parameterisation must be one of"):
        eps_from_prediction(v, x, alpha, "score")


def test_a_perfect_v_student_decodes_in_one_call():
    """A network that outputs the exact v of a known x0 gives that x0 after one call from any x_T."""
    schedule = make_schedule({"kind": "linear", "timesteps": 1000, "betaStart": 1e-5, "betaEnd": 0.01})
    target = torch.rand(2, 1, 4, 4) * 2 - 1
    x_noise = torch.randn(2, 1, 4, 4)

    def oracle(xt, t, z):
        a = float(schedule.alpha_bar[int(t[0])])
        eps = (xt - math.sqrt(a) * target) / math.sqrt(1 - a)
        return math.sqrt(a) * eps - math.sqrt(1 - a) * target

    out = ddim_sample(oracle, schedule, [999], x_noise, torch.zeros(2, 3), parameterisation="v")
    assert torch.allclose(out, target, atol=1e-4)


def test_plans_are_checked():
    assert distill.parse_plan("999,500", 1000) == [999, 500]
    for bad in ("500,999", "998,500", "999,999", "999,-1", "a,b", ""):
        with pytest.raises(distill.DistillError):
            distill.parse_plan(bad, 1000)


def test_distillation_lowers_the_error_and_resumes_exactly(teacher_run, tmp_path):
    cfg = _config(teacher_run, tmp_path / "a", "--steps=30")
    distill.distill(cfg)
    trained, checkpoint = _pool_loss(tmp_path / "a", cfg)
    assert checkpoint["step"] == 30

    # The same run cut in two (a killed job resumed) ends bit-identical, reusing the pool it built.
    cut = _config(teacher_run, tmp_path / "b", "--steps=30", "--stop_after_steps=12")
    distill.distill(cut)
    assert torch.load(tmp_path / "b" / distill.CHECKPOINT_NAME)["step"] == 12
    distill.distill(_config(teacher_run, tmp_path / "b", "--steps=30", "--resume"))
    resumed = torch.load(tmp_path / "b" / distill.CHECKPOINT_NAME)
    for name, value in checkpoint["student"].items():
        assert torch.equal(value, resumed["student"][name]), name
    for name, value in checkpoint["ema"].items():
        assert torch.equal(value, resumed["ema"][name]), name

    # The teacher's weights as a student (step 0) do worse on the pool than the trained student.
    zero = _config(teacher_run, tmp_path / "c", "--steps=1", "--lr=1e-12", "--min_lr=1e-12")
    distill.distill(zero)
    untrained, _ = _pool_loss(tmp_path / "c", zero)
    assert trained < 0.8 * untrained, (trained, untrained)


def test_a_checkpoint_is_not_overwritten_without_resume(tiny_run, tmp_path):
    cfg = _config(tiny_run, tmp_path / "a", "--steps=2")
    distill.distill(cfg)
    with pytest.raises(distill.DistillError, match="pass --resume"):
        distill.distill(cfg)


def test_prior_rows_train_with_the_draws_sampler_between_the_calls(tiny_run):
    """Prior rows take eta between the student's calls, as the app decodes a prior draw; inverted rows keep eta 0,
    and the rows come back in their order."""
    teacher = load_model(tiny_run / "checkpoint.pt")
    arch, generator = teacher.architecture, torch.Generator().manual_seed(3)
    x_noise = torch.randn(6, arch["imageChannels"], arch["imageSize"], arch["imageSize"], generator=generator)
    z = torch.randn(6, arch["latentDim"], generator=generator)
    regime = torch.tensor([1, 0, 1, 0, 0, 1], dtype=torch.uint8)
    rows, plan, net = {"x_noise": x_noise, "z": z, "regime": regime}, [999, 500], teacher.model.backbone
    with torch.no_grad():
        mixed = distill.student_decode_rows(net, teacher, plan, "eps", rows, 1.0, torch.Generator().manual_seed(0))
        plain = distill.student_decode(net, teacher, plan, "eps", x_noise, z)
        prior = distill.student_decode(net, teacher, plan, "eps", x_noise[regime == 1], z[regime == 1], 1.0,
                                       torch.Generator().manual_seed(0))
        eta_zero = distill.student_decode_rows(net, teacher, plan, "eps", rows, 0.0, None)
    assert torch.allclose(mixed[0][regime == 0], plain[0][regime == 0], atol=1e-5)  # the first call sees x_T alone
    assert torch.allclose(mixed[-1][regime == 0], plain[-1][regime == 0], atol=1e-5)
    assert torch.allclose(mixed[-1][regime == 1], prior[-1], atol=1e-5)
    assert not torch.allclose(mixed[-1][regime == 1], plain[-1][regime == 1], atol=1e-3)
    assert all(torch.equal(a, b) for a, b in zip(eta_zero, plain))


def test_a_run_can_start_from_another_students_weights(tiny_run, tmp_path):
    first = _config(tiny_run, tmp_path / "a", "--steps=4")
    distill.distill(first)
    source = tmp_path / "a" / distill.CHECKPOINT_NAME
    # A student from another run's EMA weights, trained for zero effective steps, holds exactly those weights.
    distill.distill(_config(tiny_run, tmp_path / "b", "--steps=1", "--lr=1e-30", "--min_lr=1e-30",
                            f"--init_from={source}"))
    started = torch.load(tmp_path / "b" / distill.CHECKPOINT_NAME)
    for name, value in torch.load(source)["ema"].items():
        assert torch.allclose(value, started["student"][name], atol=1e-12), name
    assert started["config"]["init_from"] == str(source)
    with pytest.raises(distill.DistillError, match="plan"):
        distill.distill(_config(tiny_run, tmp_path / "c", "--plan=999", f"--init_from={source}"))


def test_training_can_keep_to_one_regime(tiny_run):
    rows = {"regime": torch.tensor([0, 1, 0, 1, 0], dtype=torch.uint8), "z": torch.arange(5)}
    kept = distill.trained_rows(rows, _config(tiny_run, "unused", "--regimes=inverted", "--batch_size=2"))
    assert kept["z"].tolist() == [0, 2, 4]
    assert distill.trained_rows(rows, _config(tiny_run, "unused", "--batch_size=2")) is rows
    with pytest.raises(distill.DistillError, match="fewer than one batch"):
        distill.trained_rows(rows, _config(tiny_run, "unused", "--regimes=prior", "--batch_size=3"))
    with pytest.raises(distill.DistillError, match="regimes must be"):
        _config(tiny_run, "unused", "--regimes=inverted,noise")


def test_a_checkpoint_from_before_the_eta_field_resumes_with_its_deterministic_calls(tiny_run, tmp_path):
    # Trained as runs were then: the time table too (its optimiser state has the table's moments).
    distill.distill(_config(tiny_run, tmp_path / "a", "--steps=2", "--prior_student_eta=1", "--train_time_table"))
    path = tmp_path / "a" / distill.CHECKPOINT_NAME
    old = torch.load(path)
    for key in distill.BEFORE_FIELD_EXISTED:
        del old["config"][key]
    torch.save(old, path)
    distill.distill(_config(tiny_run, tmp_path / "a", "--steps=3", "--resume", "--prior_student_eta=1"))
    resumed = torch.load(path)["config"]
    assert resumed["prior_student_eta"] == 0.0 and resumed["train_time_table"] is True


TIME_TABLE = "time_embedding.timembedding.0.weight"


def test_the_student_keeps_the_teachers_time_table(tiny_run, tmp_path):
    teacher_table = load_model(tiny_run / "checkpoint.pt").model.backbone.state_dict()
    table = next(name for name in teacher_table if name.endswith(TIME_TABLE))
    distill.distill(_config(tiny_run, tmp_path / "a", "--steps=3"))
    checkpoint = torch.load(tmp_path / "a" / distill.CHECKPOINT_NAME)
    assert torch.equal(checkpoint["student"][table], teacher_table[table])
    assert torch.equal(checkpoint["ema"][table], teacher_table[table])
    trained = table.replace(".0.weight", ".1.weight")  # the Linear after the table does train
    assert not torch.equal(checkpoint["student"][trained], teacher_table[trained])
    # What runs before the field did, kept for resuming them exactly.
    distill.distill(_config(tiny_run, tmp_path / "b", "--steps=3", "--train_time_table"))
    assert not torch.equal(torch.load(tmp_path / "b" / distill.CHECKPOINT_NAME)["student"][table], teacher_table[table])


@pytest.fixture(scope="module")
def student_package(teacher_run, tmp_path_factory):
    """The 150-step teacher exported as a package, and a 20-step student of it: (package dir, run dir)."""
    from infodiff.export import export_checkpoint

    root = tmp_path_factory.mktemp("student-package")
    package = root / "tiny"
    export_checkpoint(teacher_run / "checkpoint.pt", package, update_index=False, max_images=256)
    run = root / "run"
    args = distill.parser().parse_args([f"--teacher={package}", f"--out_dir={run}", *SMALL, "--steps=20"])
    distill.distill(distill.validate(distill.DistillConfig(**vars(args))))
    return package, run


def test_the_student_is_measured_and_round_trips_through_the_package(student_package, tmp_path):
    package, run = student_package
    teacher = load_model(package)
    net, plan, parameterisation, _ = distill.load_student(run / distill.CHECKPOINT_NAME, teacher)
    measured = student_tool.evaluate_student(teacher, student_tool.Student(net, plan, parameterisation), images=16,
                                             teacher_steps=4)
    result = measured["result"]
    assert set(result["fidelity"]["student"]) == {"calls1", "calls2"}
    assert set(result["fidelity"]["plainDdim"]) == {"calls1", "calls2", "calls3"}
    assert all(np.isfinite(v) for v in result["fidelity"]["student"].values())
    heads = result["prior"]["settled"]["recognisability"]["heads"]
    assert sum(heads["class"]["histogram"].values()) == 16
    assert student_tool.save_picture(measured["pictures"], tmp_path / "student.png").is_file()

    student_tool.attach_student(package, run / distill.CHECKPOINT_NAME, result)
    loaded = load_model(package)
    meta = loaded.metadata["student"]
    assert meta["plan"] == [999, 500] and meta["parameterisation"] == "v" and meta["teacherSteps"] == 4
    assert meta["fidelity"]["inverted"] == result["fidelity"]["student"]
    assert set(meta["fidelity"]["priorFrechet"]) == {"calls1", "calls2"}
    assert meta["fidelity"]["settledFrechet"] == round(result["prior"]["settled"]["frechetDistance"], 3) > 0
    assert result["prior"]["testImagesHighFrequency"] > 0
    assert meta["training"]["steps"] == 20
    manifest = json.loads((package / "model.json").read_text())
    assert [g["paths"] for g in manifest["weightsManifest"]] == [["group1-shard1of1.bin"], ["group2-shard1of1.bin"]]
    # The package's student is the checkpoint's EMA student, up to float16 storage.
    x_noise, z = torch.randn(2, 1, 16, 16), torch.randn(2, loaded.architecture["latentDim"])
    from infodiff.sample import decode_student
    ours = decode_student(loaded, loaded.student, x_noise, z)
    theirs = decode_student(teacher, student_tool.Student(net, plan, parameterisation), x_noise, z)
    assert torch.allclose(ours, theirs, atol=0.05), float((ours - theirs).abs().max())
    # Attaching again replaces the student rather than adding a second one.
    student_tool.attach_student(package, run / distill.CHECKPOINT_NAME)
    assert len(json.loads((package / "model.json").read_text())["weightsManifest"]) == 2


def test_prior_samplers_are_compared_on_the_same_draws(student_package):
    package, run = student_package
    teacher = load_model(package)
    net, plan, parameterisation, _ = distill.load_student(run / distill.CHECKPOINT_NAME, teacher)
    rows, pictures = student_tool.compare_prior_samplers(
        teacher, {"s": student_tool.Student(net, plan, parameterisation)}, etas=[0.0, 1.0],
        teacher_samplers=[(4, 1.0)], images=16)
    assert [(r["decoder"], r["eta"]) for r in rows] == [("teacher, 4 steps", 1.0), ("student s, 2 calls", 0.0),
                                                        ("student s, 2 calls", 1.0)]
    assert all(np.isfinite(r["frechetDistance"]) and 0 < r["meanConfidence"] <= 1 for r in rows)
    assert all(r["highFrequency"] > 0 for r in rows)
    assert rows[1]["frechetDistance"] != rows[2]["frechetDistance"]  # eta 1 draws fresh noise between the calls
    # One picture row per sampler, of the same draws in the same columns.
    assert [p.shape[0] for p in pictures] == [student_tool.PICTURE_COLUMNS] * 3
    assert not torch.equal(pictures[1], pictures[2])


def test_a_prior_row_names_each_head_of_a_classifier_with_several():
    judged = {"frechetDistance": 3.0, "highFrequency": 0.01, "recognisability": {"meanConfidence": 0.7, "heads": {
        "shape": {"meanConfidence": 0.8}, "scale": {"meanConfidence": 0.6}}}}
    assert student_tool._judged_row(judged)["heads"] == {"shape": 0.8, "scale": 0.6}
    one = {"frechetDistance": 3.0, "highFrequency": 0.01, "recognisability": {"meanConfidence": 0.7, "heads": {"class": {"meanConfidence": 0.7}}}}
    assert "heads" not in student_tool._judged_row(one)


def test_the_student_takes_the_prior_draws_sampler_between_its_calls(student_package):
    package, _ = student_package
    from infodiff.sample import decode_student
    loaded = load_model(package)
    x_noise, z = torch.randn(3, 1, 16, 16), torch.randn(3, loaded.architecture["latentDim"])

    def decoded(calls, eta, seed=5):
        return decode_student(loaded, loaded.student, x_noise, z, calls, eta=eta,
                              generator=torch.Generator().manual_seed(seed))

    # eta 1 draws fresh noise before the second call: another image, the same one for the same seed...
    assert not torch.allclose(decoded(2, 1.0), decoded(2, 0.0), atol=1e-3)
    assert torch.equal(decoded(2, 1.0), decoded(2, 1.0))
    # ...while one call ends at x_0, where DDIM draws no noise.
    assert torch.allclose(decoded(1, 1.0), decoded(1, 0.0), atol=1e-6)


def test_the_package_readers_refuse_a_student_that_does_not_fit(student_package, tmp_path):
    package, _ = student_package
    weights, meta = read_web_package(package)
    if "student" not in meta:
        pytest.skip("needs the attached student of the previous test")
    own = {n: a for n, a in weights.items() if not n.startswith("student.")}
    students = {n: a for n, a in weights.items() if n.startswith("student.")}
    cases = [
        ({**own}, meta, "missing student weights: student.backbone."),
        (weights, {k: v for k, v in meta.items() if k != "student"}, "student.* weights but no metadata.student"),
        ({**own, **{n: a for n, a in students.items() if not n.endswith("head.weight")}}, meta,
         "missing student weights: student.backbone.head.weight"),
        (weights, {**meta, "student": {**meta["student"], "parameterisation": "score"}},
         'metadata.student.parameterisation must be one of "eps", "x0", "v"'),
        (weights, {**meta, "student": {**meta["student"], "plan": [500, 999]}},
         "metadata.student.plan[0] must be T - 1 = 999 (where x_T sits), got 500"),
        (weights, {**meta, "student": {**meta["student"], "plan": []}},
         "metadata.student.plan must have 1 to 8 entries, got 0"),
        (weights, {**meta, "student": {k: v for k, v in meta["student"].items() if k != "teacherSteps"}},
         "metadata.student is missing field(s) teacherSteps"),
    ]
    for k, (case_weights, case_meta, message) in enumerate(cases):
        out = tmp_path / f"case{k}"
        shutil.copytree(package / "gallery", out / "gallery")
        with pytest.raises(WebPackageError, match=re.escape(message)):
            write_web_package(out, case_weights, case_meta)


def _fake_result(psnr2, confidence, coverage_classes, fd, settled_fd, steps=100, wall=3600.0, pool=1800.0):
    histogram = {f"c{k}": (5 if k < coverage_classes else 0) for k in range(10)}
    judged = {"recognisability": {"meanConfidence": confidence,
                                  "heads": {"class": {"meanConfidence": confidence, "histogram": histogram,
                                                      "coverage": coverage_classes / 10}}},
              "frechetDistance": fd}
    settled = {"recognisability": {"meanConfidence": 0.82, "heads": {"class": {
        "meanConfidence": 0.82, "histogram": {f"c{k}": 5 for k in range(10)}, "coverage": 1.0}}},
        "frechetDistance": settled_fd}
    return {"plan": [999, 500], "parameterisation": "v", "command": "python -m infodiff.student evaluate ...",
            "fidelity": {"images": 1000, "student": {"calls1": psnr2 - 3, "calls2": psnr2},
                         "plainDdim": {"calls1": 16.4, "calls2": 16.4, "calls3": 23.0}},
            "prior": {"settled": settled, "student": {"calls1": judged, "calls2": judged}},
            "training": {"steps": steps, "plannedSteps": 100, "wallTimeSeconds": wall, "poolWallTimeSeconds": pool,
                         "hardware": "CPU, 1 thread(s)"}}


def test_the_report_judges_each_student_target_from_its_numbers(tmp_path):
    from infodiff import report_students as rs

    teacher_seconds = 20 * 3600.0
    met = {t: s for t, s, _ in rs.targets(_fake_result(29.0, 0.85, 10, 5.0, 4.0), teacher_seconds)}
    assert list(met.values()) == ["met"] * 4
    missed = rs.targets(_fake_result(27.0, 0.85, 9, 7.0, 4.0, steps=50, wall=9 * 3600.0, pool=2 * 3600.0),
                        teacher_seconds)
    assert [s for _, s, _ in missed] == ["missed", "missed", "missed", "missed"]
    assert "1.00 dB short" in missed[0][2] and "(1.75x)" in missed[2][2] and "at step 50 of 100" in missed[3][2]

    path = tmp_path / "fidelity.json"
    path.write_text(json.dumps(_fake_result(29.0, 0.85, 10, 5.0, 4.0)))
    entries = rs.read_students({"students": [{"name": "s", "teacher": "t", "fidelity": str(path),
                                              "picture": "s.png"}]}, ["t"], "manifest")
    lines = rs.students_section(entries, {"t": teacher_seconds}, "results")
    row = next(line for line in lines if line.startswith("| s |"))
    assert "26.0 dB / 29.0 dB" in row and "16.4 dB / 16.4 dB / 23.0 dB" in row and "20h00m" in row
    assert "![s: teacher, student and plain DDIM](results/s.png)" in lines
    assert not any(line.startswith("Grain") for line in lines)  # an evaluation from before the grain figure
    graded = _fake_result(29.0, 0.85, 10, 5.0, 4.0)
    for block in [graded["prior"]["settled"], *graded["prior"]["student"].values()]:
        block["highFrequency"] = 0.0006 if block is graded["prior"]["settled"] else 0.0013
    graded["prior"]["testImagesHighFrequency"] = 0.00095
    path.write_text(json.dumps(graded))
    lines = rs.students_section(entries, {"t": teacher_seconds}, "results")
    assert "; FD 5.00; grain 0.00130 |" in next(line for line in lines if line.startswith("| s |"))
    assert ("Grain of the prior draws (mean squared discrete Laplacian, train/infodiff/metrics.py): student 0.00130 "
            "/ 0.00130 at 1 / 2 calls, settled sampler 0.00060, held-out test images 0.00095.") in lines
    with pytest.raises(ValueError, match="teacher 'x' is not an entry of models"):
        rs.read_students({"students": [{"name": "s", "teacher": "x", "fidelity": "f"}]}, ["t"], "manifest")


def test_an_adversarial_run_trains_its_critic_and_resumes_exactly(tiny_run, tmp_path):
    """With --adversarial_weight the student's prior draws also answer a discriminator; the discriminator and its
    optimiser are checkpointed, so a cut and resumed run ends bit-identical."""
    adversarial = ("--adversarial_weight=0.5", "--prior_student_eta=1")
    distill.distill(_config(tiny_run, tmp_path / "a", "--steps=6", *adversarial))
    whole = torch.load(tmp_path / "a" / distill.CHECKPOINT_NAME)
    logged = [json.loads(line) for line in open(tmp_path / "a" / "log.jsonl")]
    assert any(record.get("weight", 0) > 0 and math.isfinite(record["critic"]) for record in logged)

    distill.distill(_config(tiny_run, tmp_path / "b", "--steps=6", "--stop_after_steps=3", *adversarial))
    distill.distill(_config(tiny_run, tmp_path / "b", "--steps=6", "--resume"))
    resumed = torch.load(tmp_path / "b" / distill.CHECKPOINT_NAME)
    for part in ("student", "ema"):
        for name, value in whole[part].items():
            assert torch.equal(value, resumed[part][name]), (part, name)
    for name, value in whole["critic"]["net"].items():
        assert torch.equal(value, resumed["critic"]["net"][name]), name
    assert resumed["config"]["adversarial_weight"] == 0.5


def test_the_adaptive_weight_balances_the_gradient_norms():
    from infodiff.adversarial import adaptive_weight
    assert adaptive_weight([torch.full((4,), 3.0)], [torch.full((4,), 1.5)], 0.5) == pytest.approx(1.0, rel=1e-4)
    assert adaptive_weight([torch.ones(2)], [torch.zeros(2)], 1.0) == pytest.approx(1e4)


def test_an_adversarial_run_needs_prior_rows(tiny_run):
    with pytest.raises(distill.DistillError, match="add prior"):
        _config(tiny_run, "unused", "--adversarial_weight=1", "--regimes=inverted")

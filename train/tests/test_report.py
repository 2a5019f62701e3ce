"""The results page, job by job: the derived commands parse back to the run's config; the targets of
train/targets.json judged from hand-made metrics (statuses and the numbers read); the comparison with the baseline;
the table cells' numbers; and the whole command on a tiny run, its package and its metrics."""
import json
import shlex

import pytest
from PIL import Image

from infodiff import evaluate, report, report_facts, report_page, report_targets
from infodiff.config import (apply_overrides, config_from_args, config_from_dict, config_to_dict, load_preset,
                             validate_train_config)
from infodiff.export import export_checkpoint
from infodiff.report_commands import INVOCATION_KEYS, train_command
from infodiff.report_facts import (Entry, Facts, ReportError, is_stale, manifest_note, parameter_counts,
                                   read_manifest, unfinished)
from infodiff.report_targets import MET, MISSED, NOT_MEASURED, all_targets, decodable_threshold, judge, paper_claim
from infodiff.train import read_checkpoint


def config(preset, *overrides):
    return validate_train_config(apply_overrides(load_preset(preset), list(overrides)))


def launch_free(cfg):
    return {k: v for k, v in config_to_dict(cfg).items() if k not in INVOCATION_KEYS}


# ------------------------------------------------------------------ the derived training command

def test_train_command_names_the_nearest_preset_and_only_the_differences():
    cfg = config("configs/fmnist_cpu.json", "--mmd_weight=0", "--out_dir=runs/fmnist-diffae", "--threads=1", "--resume")
    assert train_command(cfg) == ("python -m infodiff.train --config configs/fmnist_cpu.json "
                                  "--mmd_weight=0.0 --out_dir=runs/fmnist-diffae")
    assert train_command(config("configs/shapes_cpu.json")) == "python -m infodiff.train --config configs/shapes_cpu.json"


def test_train_command_parses_back_to_the_same_configuration():
    cfg = config("configs/fmnist_tiny.json", "--architecture.channelMultipliers=[1,3]", "--schedule.kind=cosine",
                 "--notes=two words; \"quoted\"", "--lr=3e-04", "--min_lr=1e-06", "--prior=10mix", "--kld_weight=0.5",
                 "--use_capacity", "--architecture.latentHead=mu", "--data_dir=/data/my images")
    words = shlex.split(train_command(cfg))
    assert words[:3] == ["python", "-m", "infodiff.train"]
    assert launch_free(config_from_args(words[3:])) == launch_free(cfg)


# ------------------------------------------------------------------ targets, from hand-made metrics

def facts_for(name, dataset, metrics, baseline_of=None, steps=1000, batch_size=64):
    metadata = {"provenance": {"dataset": dataset, "steps": steps, "batchSize": batch_size,
                               "objective": {"mmdWeight": 0.0 if baseline_of else 0.1, "kldWeight": 0.0,
                                             "prior": "regular"}}}
    return Facts(Entry(name, baseline_of=baseline_of), metadata=metadata, metrics=metrics)


def fashion_metrics(probe, confidence, samples, histogram, psnr100=None):
    metrics = {"linearProbe": {"attributes": {"class": {"mean": probe, "std": 0.01}}, "meanAccuracy": probe},
               "recognisability": {"samples": {"meanConfidence": confidence,
                                               "heads": {"class": {"meanConfidence": confidence,
                                                                   "histogram": histogram}}},
                                   "sampleCount": samples}}
    if psnr100 is not None:
        metrics["reconstruction"] = {"inversion100": {"psnr": psnr100, "ddimSteps": 100}}
    return metrics


def shapes_metrics(probes, dci):
    return {"linearProbe": {"attributes": {k: {"mean": v, "std": 0.0} for k, v in probes.items()},
                            "meanAccuracy": sum(probes.values()) / len(probes)},
            "dci": {"disentanglement": dci}}


def judged(facts, baseline=None):
    """{target key: Judgement} of one model."""
    return {j.key: j for j in judge(facts, baseline)}


EVERY_CLASS = {f"class {k}": 100 for k in range(10)}


def test_the_targets_are_read_from_the_data_file():
    assert report_targets.TARGET_KEYS == ("probe", "confidence", "classes", "psnr", "factors", "dci")
    assert report_targets.spec_of("fashion-mnist", "probe")["threshold"] == 0.85
    assert report_targets.spec_of("fashion-mnist", "psnr")["ddimSteps"] == 100
    from infodiff import report_students
    assert report_students.FIDELITY_TARGET_DB == report_targets.STUDENT_TARGETS["fidelity"]["threshold"] == 28.0


def test_fashion_targets_met_and_missed_by_how_much():
    met = judged(facts_for("good", "fashion-mnist", fashion_metrics(0.912, 0.85, 1000, EVERY_CLASS, 31.2)))
    assert list(met) == ["probe", "confidence", "classes", "psnr"]
    assert {k: j.status for k, j in met.items()} == dict.fromkeys(met, MET)
    assert met["probe"].values == {"threshold": 0.85, "value": 0.912}
    assert met["psnr"].values == {"threshold": 30.0, "ddimSteps": 100, "value": 31.2}
    assert (met["classes"].values["absent"], met["classes"].values["rarest"]) == ([], 100)
    rare = judged(facts_for("rare", "fashion-mnist", fashion_metrics(0.9, 0.85, 901, {**EVERY_CLASS, "class 3": 1})))
    assert rare["classes"].values["rarest"] == 1
    assert (rare["confidence"].status, rare["confidence"].values["samples"]) == (NOT_MEASURED, 901)

    missed = judged(facts_for("weak", "fashion-mnist",
                              fashion_metrics(0.83, 0.70, 1000, {**EVERY_CLASS, "class 3": 0}, 27.5)))
    assert {k: j.status for k, j in missed.items()} == dict.fromkeys(missed, MISSED)
    assert missed["probe"].values["value"] == 0.83 and missed["confidence"].values["value"] == 0.70
    assert missed["classes"].values["absent"] == ["class 3"]
    assert missed["psnr"].values["value"] == 27.5


def test_a_narrow_miss_is_printed_precisely_enough_to_tell_it_from_the_target():
    close = judged(facts_for("close", "fashion-mnist", fashion_metrics(0.8497, 0.7996, 1000, {}, 31.0)))
    assert close["probe"].status == MISSED and close["confidence"].status == MISSED
    assert close["classes"].status == NOT_MEASURED and close["classes"].values["classes"] == 0
    # Two decimals, where one would print 85.0% against 85.0%.
    assert report_page._shortfall(0.8497, 0.85) == ("84.97%", "85.00%", "0.03 points short")
    assert report_page._shortfall(0.83, 0.85) == ("83.0%", "85.0%", "2.0 points short")


def test_fashion_targets_measured_too_small_or_not_at_all():
    small = judged(facts_for("small", "fashion-mnist", fashion_metrics(0.9, 0.95, 12, {f"c{k}": 1 for k in range(10)})))
    assert small["confidence"].status == NOT_MEASURED and small["confidence"].values["samples"] == 12
    assert small["psnr"].status == NOT_MEASURED and small["psnr"].values["value"] is None
    nothing = judge(facts_for("none", "fashion-mnist", None), None)
    assert [j.status for j in nothing] == [NOT_MEASURED] * 4


def test_an_unfinished_run_and_the_notes_are_the_reasons():
    facts = facts_for("early", "fashion-mnist", fashion_metrics(0.5, 0.5, 1000, {f"c{k}": 1 for k in range(10)}))
    facts.config = config("configs/fmnist_cpu.json")
    facts.run_step = 200
    assert unfinished(facts) == (200, 40000)
    facts.entry.notes = "the CPU run shares two cores"
    assert manifest_note(facts, "probe") == "the CPU run shares two cores"
    assert manifest_note(facts, "probe", keyed_only=True) == ""  # a general note explains misses only
    facts.entry.notes = {"confidence": "the denoiser is small"}
    assert manifest_note(facts, "confidence") == "the denoiser is small" and manifest_note(facts, "probe") == ""
    assert manifest_note(facts, "confidence", keyed_only=True) == "the denoiser is small"


def test_shapes_targets_and_the_paper_claim():
    decodable = {"floor_hue": 0.99, "wall_hue": 0.98, "object_hue": 0.9, "scale": 0.6, "shape": 0.95,
                 "orientation": 0.7}
    model = facts_for("shapes", "shapes", shapes_metrics(decodable, 0.62))
    baseline = facts_for("shapes-diffae", "shapes", shapes_metrics({**decodable, "scale": 0.4}, 0.41),
                         baseline_of="shapes", steps=500)
    results = all_targets([model, baseline])
    assert [(j.model, j.key, j.status) for j in results] == [("shapes", "factors", MET), ("shapes", "dci", MET)]
    assert results[1].values == {"value": 0.62, "baseline": 0.41}

    weak = judged(facts_for("shapes", "shapes", shapes_metrics({**decodable, "scale": 0.5}, 0.3)), baseline)
    scale = next(f for f in weak["factors"].values["factors"] if f["factor"] == "scale")
    # 8 scale values: chance 12.5%, decodable from 56.25%.
    assert weak["factors"].status == MISSED and scale == {"factor": "scale", "values": 8, "accuracy": 0.5,
                                                          "needed": pytest.approx(0.5625)}
    assert weak["dci"].status == MISSED and weak["dci"].values == {"value": 0.3, "baseline": 0.41}

    (claim,) = paper_claim([model, baseline])
    compared = {c.key: c for c in claim.comparisons}
    assert (compared["probe"].ours, compared["probe"].theirs, compared["probe"].verdict) == (
        pytest.approx(0.8533, abs=1e-4), pytest.approx(0.82), "better")
    assert (compared["dci"].ours, compared["dci"].theirs, compared["dci"].verdict) == (0.62, 0.41, "better")
    assert compared["fd"].verdict is None  # not measured for both
    assert claim.budgets == ((1000, 64), (500, 64))
    equal = facts_for("shapes-diffae", "shapes", shapes_metrics(decodable, 0.7), baseline_of="shapes")
    (claim,) = paper_claim([model, equal])
    assert {c.key: c.verdict for c in claim.comparisons}["dci"] == "worse" and claim.budgets == ((1000, 64),) * 2


def test_a_missed_factor_brings_what_the_mlp_probe_and_the_factor_swap_measured():
    probes = {"floor_hue": 0.9, "wall_hue": 0.52, "object_hue": 0.9, "scale": 0.9, "shape": 1.0, "orientation": 0.9}
    swap = lambda share: {"factors": {"wall_hue": {"invertedNoise": share, "freshNoise": 0.1}}}
    model = facts_for("shapes", "shapes", {**shapes_metrics(probes, 0.2), "factorSwap": swap(0.47),
                                           "mlpProbe": {"attributes": {"wall_hue": {"mean": 0.872}}}})
    baseline = facts_for("shapes-diffae", "shapes", {**shapes_metrics(probes, 0.2), "factorSwap": swap(0.43)},
                         baseline_of="shapes")
    factors = judged(model, baseline)["factors"]
    assert factors.status == MISSED
    wall = next(f for f in factors.values["factors"] if f["factor"] == "wall_hue")
    assert wall["accuracy"] == 0.52 and wall["needed"] == pytest.approx(0.55)
    # The page brings the MLP probe and both factor swaps beside the miss, and nothing where nothing was measured.
    assert report_page._held_otherwise("wall_hue", model, baseline) == (
        ", MLP probe 87.2%, z decides 0.47 of it (factor swap, inverted x_T) against the baseline's 0.43")
    assert report_page._held_otherwise("wall_hue", facts_for("bare", "shapes", shapes_metrics(probes, 0.2)), None) == ""


def test_an_entry_with_nothing_on_disk_is_not_measured():
    empty = Facts(Entry("later", run=None), missing=["run checkpoint runs/later/checkpoint.pt"])
    (result,) = all_targets([empty])
    assert (result.key, result.status, result.values) == (
        report_targets.NOTHING_ON_DISK, NOT_MEASURED, {"missing": ["run checkpoint runs/later/checkpoint.pt"]})


def test_decodable_threshold_is_halfway_from_chance():
    assert decodable_threshold(4) == pytest.approx(0.625)
    assert decodable_threshold(10) == pytest.approx(0.55)


def test_budgets_compare_the_steps_the_metrics_were_measured_at():
    """A run that went on after its evaluation keeps its old metrics' step in the comparison, and its metrics are
    out of date."""
    model = facts_for("shapes", "shapes", {**shapes_metrics({"shape": 0.9}, 0.5), "model": {"trainingSteps": 2000}},
                      steps=2600)
    baseline = facts_for("shapes-diffae", "shapes", {**shapes_metrics({"shape": 0.8}, 0.4),
                                                     "model": {"trainingSteps": 2000}},
                         baseline_of="shapes", steps=2000)
    (claim,) = paper_claim([model, baseline])
    assert claim.budgets == ((2000, 64), (2000, 64))
    assert [is_stale(f) for f in (model, baseline)] == [True, False]


def test_the_claim_weighs_samples_and_the_probes_spread():
    def with_fd(metrics, fd, std):
        for attribute in metrics["linearProbe"]["attributes"].values():
            attribute["std"] = std
        return {**metrics, "frechetDistance": {"frechetDistance": fd, "sampleCount": 1000}}

    def compared(model, baseline):
        (claim,) = paper_claim([model, baseline])
        return {c.key: c for c in claim.comparisons}

    model = facts_for("shapes", "shapes", with_fd(shapes_metrics({"shape": 0.80}, 0.5), 12.0, 0.01))
    close = facts_for("shapes-diffae", "shapes", with_fd(shapes_metrics({"shape": 0.79}, 0.4), 15.0, 0.01),
                      baseline_of="shapes")
    near = compared(model, close)
    assert near["probe"].verdict == "better" and near["probe"].spread == pytest.approx(0.01414, abs=1e-5)
    assert (near["fd"].ours, near["fd"].theirs, near["fd"].verdict) == (12.0, 15.0, "better")  # lower is better
    far = facts_for("shapes-diffae", "shapes", with_fd(shapes_metrics({"shape": 0.70}, 0.4), 9.0, 0.01),
                    baseline_of="shapes")
    apart = compared(model, far)
    assert apart["probe"].verdict == "better" and apart["probe"].spread is None
    assert apart["fd"].verdict == "worse"
    assert "fdEta1" not in apart  # no sampler comparison measured

    def with_samplers(facts, fd_eta1):
        facts.metrics["samplers"] = [{"eta": 0.0, "frechetDistance": 1.0}, {"eta": 1.0, "frechetDistance": fd_eta1}]
        return facts
    stochastic = compared(with_samplers(model, 7.0), with_samplers(far, 8.0))
    assert (stochastic["fdEta1"].ours, stochastic["fdEta1"].theirs, stochastic["fdEta1"].verdict) == (7.0, 8.0, "better")
    assert "fdFitted" not in stochastic

    for facts, fd in ((model, 5.0), (far, 4.0)):
        facts.metrics["samplers"].append({"eta": 1.0, "prior": "fitted", "frechetDistance": fd})
    fitted = compared(model, far)
    assert (fitted["fdEta1"].ours, fitted["fdEta1"].theirs) == (7.0, 8.0)  # still the N(0, I) rows
    assert (fitted["fdFitted"].ours, fitted["fdFitted"].theirs, fitted["fdFitted"].verdict) == (5.0, 4.0, "worse")


# ------------------------------------------------------------------ table cells

def test_the_factor_table_gives_what_z_decides_and_why_x_t_can():
    metrics = {**shapes_metrics({"wall_hue": 0.52, "shape": 1.0}, 0.2),
               "mlpProbe": {"attributes": {"wall_hue": {"mean": 0.779}}},
               "factorSwap": {"factors": {"wall_hue": {"invertedNoise": 0.384, "freshNoise": 0.11}}}}
    model = facts_for("shapes", "shapes", metrics)
    model.metadata["schedule"] = {"kind": "linear", "timesteps": 1000, "betaStart": 1e-5, "betaEnd": 0.01}
    rows = {row.split(" | ")[0].strip("| "): row.strip("|").split(" | ") for row in report_page._factor_table(model)}
    assert [cell.strip() for cell in rows["wall_hue"]] == ["wall_hue", "10", "10.0%", "55.0%", "52.0%", "77.9%", "–",
                                                           "–", "38%", "11%"]
    assert [cell.strip() for cell in rows["shape"]][-2:] == ["–", "–"]  # not measured: empty cells, not zeros
    assert "0.081" in report_page._terminal_signal_sentence([model])  # √ᾱ_T of that schedule
    assert report_page._terminal_signal_sentence([facts_for("old", "shapes", metrics)]) == ""


def test_configuration_says_how_the_run_changed_on_resume():
    facts = Facts(Entry("shapes"), config=validate_train_config(load_preset("configs/shapes_cpu.json")),
                  config_changes=[{"step": 2000, "changes": {"hflip": [True, False]}}])
    assert report_page._configuration(facts).endswith("at step 2,000, hflip true -> false")


def test_metrics_in_the_format_before_per_head_judges_still_read():
    old = {"recognisability": {"samples": {"meanConfidence": 0.7, "classHistogram": {f"c{k}": 1 for k in range(10)}},
                               "sampleCount": 1000}}
    facts = facts_for("old", "fashion-mnist", old)
    assert report_page._recognisable(facts) == "70.0%, 10/10 classes (1,000 samples)"
    results = judged(facts)
    assert (results["confidence"].status, results["classes"].status) == (MISSED, MET)


def test_the_probe_cell_says_how_many_images_it_used():
    metrics = fashion_metrics(0.838, 0.7, 1000, {})
    assert report_page._probe(facts_for("a", "fashion-mnist", metrics)) == "83.8% ± 1.0"
    metrics["linearProbe"]["samples"] = 60000
    assert report_page._probe(facts_for("a", "fashion-mnist", metrics)) == "83.8% ± 1.0 (60,000 images)"
    shapes = {"linearProbe": {"attributes": {"hue": {"mean": 0.6, "std": 0.0}, "size": {"mean": 0.8, "std": 0.0}},
                              "meanAccuracy": 0.7, "samples": 5000}}
    assert report_page._probe(facts_for("b", "shapes", shapes)) == "70.0% (mean of 2, 5,000 images)"


# ------------------------------------------------------------------ manifest refusals

@pytest.mark.parametrize("models, message", [
    ([], "needs a non-empty list 'models'"),
    ([{"name": "a", "run": "r", "extra": 1}], "models[0] has unknown field(s) extra"),
    ([{"name": "Bad Name", "run": "r"}], "models[0].name must match [a-z0-9-]+"),
    ([{"name": "a"}], "models[0] (a) needs a 'run' directory or a 'package' folder"),
    ([{"name": "a", "run": "r"}, {"name": "a", "run": "s"}], "model names must be unique; repeated: a"),
    ([{"name": "a", "run": "r", "baselineOf": "b"}], "a is a baseline of 'b', which is not listed"),
    ([{"name": "a", "run": "r", "notes": {"fid": "x"}}], "models[0].notes has unknown target(s) fid"),
    ([{"name": "a", "run": "r", "notes": ["x"]}], "models[0].notes must be a string or an object of strings"),
])
def test_manifest_refusals(tmp_path, models, message):
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps({"models": models}))
    with pytest.raises(ReportError) as err:
        read_manifest(path)
    assert message in str(err.value)


# ------------------------------------------------------------------ the whole command on tiny inputs

def png_size(path):
    with Image.open(path) as image:
        return image.size


# ------------------------------------------------------------------ the whole command on tiny inputs

def png_size(path):
    with Image.open(path) as image:
        return image.size


def test_report_on_a_tiny_run_package_and_metrics(tiny_run, tmp_path, capsys, untrained_fashion_judge):
    package = tmp_path / "models" / "tiny"
    export_checkpoint(tiny_run / "checkpoint.pt", package, update_index=False)
    judge_path = untrained_fashion_judge
    metrics = tmp_path / "metrics.json"
    assert evaluate.main(["--model", str(package), "--out", str(metrics), "--probe-images", "60", "--fd-samples", "12",
                          "--sample-steps", "2", "--classifier", str(judge_path), "--nll-images", "2", "--nll-samples",
                          "8", "--recon-images", "3", "--recon-steps", "2,3", "--device", "cpu"]) == 0
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({"models": [
        {"name": "tiny", "run": str(tiny_run), "package": str(package), "metrics": str(metrics)},
        {"name": "tiny-diffae", "baselineOf": "tiny", "run": str(tmp_path / "not-trained-yet")},
    ]}))
    markdown, images = tmp_path / "docs" / "results.md", tmp_path / "docs" / "results"
    argv = ["--manifest", str(manifest), "--markdown", str(markdown), "--images", str(images), "--steps", "2",
            "--device", "cpu"]
    assert report.main(argv) == 0
    page = markdown.read_text()
    # --keep-images writes the same page from the pictures already drawn (only the command line differs).
    assert report.main(argv + ["--keep-images"]) == 0
    assert markdown.read_text().split("## Reproduce")[0].split("\n", 3)[3] == page.split("## Reproduce")[0].split("\n", 3)[3]
    assert report.main(argv + ["--keep-images", "--images", str(tmp_path / "none")]) == 1
    assert report.main(argv) == 0

    # The key sections, in order.
    headings = [line for line in page.splitlines() if line.startswith("## ") or line.startswith("### ")]
    assert headings == ["## Models", "## Metrics", "### Where the codes lie", "### Samplers", "## Targets",
                        "## The paper's claim: InfoDiffusion against the DiffAE baseline", "## Images", "### tiny",
                        "## Reproduce"]

    # What the page was made from: the facts, the judged targets and the claim.
    facts = [report_facts.gather(entry) for entry in read_manifest(manifest)]
    assert facts[1].missing == [f"run checkpoint {tmp_path / 'not-trained-yet' / 'checkpoint.pt'}"]
    statuses = {j.key: (j.status, j.values.get("samples")) for j in all_targets(facts)}
    assert statuses["confidence"] == (NOT_MEASURED, 12) and statuses["psnr"][0] == NOT_MEASURED
    (claim,) = paper_claim(facts)
    assert [(c.key, c.verdict) for c in claim.comparisons] == [  # the baseline is not trained yet
        ("probe", None), ("fd", None), ("fdEta1", None), ("fdFitted", None)]

    # Table cells.
    counts = parameter_counts(validate_train_config(load_preset("configs/fmnist_tiny.json")).architecture, 1000)
    assert f"| {counts['trainable']:,} |" in page
    size = sum(p.stat().st_size for p in package.rglob("*") if p.is_file())
    assert f"{size / 1e6:.2f} MB (float16)" in page
    assert "| tiny-diffae | baseline of tiny | – |" in page  # its run is missing: no objective to name
    report_metrics = json.loads(metrics.read_text())
    assert f"{report_metrics['reconstruction']['noInversion']['psnr']:.2f}" in page
    assert "| tiny | N(0, I) | 0 | 2 |" in page and "| tiny | fitted mixture | 1 | 2 |" in page
    assert "| tiny | Enc(x) of held-out images | 0 | 2 |" in page
    codes = report_metrics["latentCodes"]
    assert codes["images"] == 60
    assert f"| tiny | 60 | {codes['meanNorm']:.2f} | {codes['priorMeanNorm']:.2f} |" in page
    targets = [line for line in page.splitlines() if line.startswith("- **")]
    assert [line.split("**")[1] for line in targets] == [status for status, _ in statuses.values()]

    # Reproduce: the training command parses back to the run's configuration; the evaluate command is verbatim.
    train_line = next(line for line in page.splitlines() if line.startswith("python -m infodiff.train"))
    derived = config_from_args(shlex.split(train_line.split("   #")[0])[3:])
    assert launch_free(derived) == launch_free(config_from_dict(read_checkpoint(tiny_run / "checkpoint.pt")["config"]))
    assert report_metrics["command"] in page
    assert "python -m infodiff.report " + shlex.join(argv) in page

    # A package that embeds its metrics: exported, measured, then exported again with --metrics, in that order.
    export_checkpoint(tiny_run / "checkpoint.pt", package, metrics_path=metrics, update_index=False)
    assert report.main(argv + ["--skip-images"]) == 0
    lines = markdown.read_text().splitlines()
    exports = [k for k, line in enumerate(lines) if line.startswith("python -m infodiff.export")]
    measure = lines.index(report_metrics["command"])
    assert len(exports) == 2 and exports[0] < measure < exports[1]
    assert "--metrics" not in lines[exports[0]] and "--metrics" in lines[exports[1]]

    # Images: 64 samples on 8 columns, one traversal row per latent dimension, three interpolation rows.
    cell = 16 + 2
    assert png_size(images / "tiny-samples.png") == (8 * cell + 2, 8 * cell + 2)
    assert png_size(images / "tiny-samples-eta1.png") == (8 * cell + 2, 8 * cell + 2)
    # The sampler comparison: eta 0 (the FD column) and eta 1 on the same samples, with z from N(0, I) and from
    # the package's fitted mixture, one row each; and the app's prior draws as a picture.
    assert [(s["prior"], s["eta"]) for s in report_metrics["samplers"]] == [
        ("model", 0.0), ("model", 1.0), ("fitted", 0.0), ("fitted", 1.0), ("encoded", 0.0), ("encoded", 1.0)]
    assert report_metrics["samplers"][0]["frechetDistance"] == report_metrics["frechetDistance"]["frechetDistance"]
    assert png_size(images / "tiny-samples-fitted.png") == (8 * cell + 2, 8 * cell + 2)
    assert "--prior fitted --eta 1" in page
    assert png_size(images / "tiny-traversal.png") == (11 * cell + 2, 8 * cell + 2)
    assert png_size(images / "tiny-interpolation.png") == (10 * cell + 2, 3 * cell + 2)
    assert "](results/tiny-samples.png)" in page and "](results/tiny-interpolation.png)" in page
    assert not (images / "tiny-diffae-samples.png").exists()

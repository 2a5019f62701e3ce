"""The results page: derived commands that parse back to the run's config, targets computed from hand-made
metrics, and the whole command on a tiny run, its package and its metrics."""
import json
import shlex

import pytest
from PIL import Image

from infodiff import evaluate, report
from infodiff.config import (apply_overrides, config_from_args, config_from_dict, config_to_dict, load_preset,
                             validate_train_config)
from infodiff.export import export_checkpoint
from infodiff.train import read_checkpoint


def config(preset, *overrides):
    return validate_train_config(apply_overrides(load_preset(preset), list(overrides)))


def launch_free(cfg):
    return {k: v for k, v in config_to_dict(cfg).items() if k not in report.INVOCATION_KEYS}


# ------------------------------------------------------------------ the derived training command

def test_train_command_names_the_nearest_preset_and_only_the_differences():
    cfg = config("configs/fmnist_cpu.json", "--mmd_weight=0", "--out_dir=runs/fmnist-diffae", "--threads=1", "--resume")
    assert report.train_command(cfg) == ("python -m infodiff.train --config configs/fmnist_cpu.json "
                                         "--mmd_weight=0.0 --out_dir=runs/fmnist-diffae")
    assert report.train_command(config("configs/shapes_cpu.json")) == \
        "python -m infodiff.train --config configs/shapes_cpu.json"


def test_train_command_parses_back_to_the_same_configuration():
    cfg = config("configs/fmnist_tiny.json", "--architecture.channelMultipliers=[1,3]", "--schedule.kind=cosine",
                 "--notes=two words; \"quoted\"", "--lr=3e-04", "--min_lr=1e-06", "--prior=10mix", "--kld_weight=0.5",
                 "--use_capacity", "--architecture.latentHead=mu", "--data_dir=/data/my images")
    command = report.train_command(cfg)
    words = shlex.split(command)
    assert words[:3] == ["python", "-m", "infodiff.train"]
    assert launch_free(config_from_args(words[3:])) == launch_free(cfg)


# ------------------------------------------------------------------ targets, from hand-made metrics

def facts_for(name, dataset, metrics, baseline_of=None, steps=1000, batch_size=64):
    metadata = {"provenance": {"dataset": dataset, "steps": steps, "batchSize": batch_size,
                               "objective": {"mmdWeight": 0.0 if baseline_of else 0.1, "kldWeight": 0.0,
                                             "prior": "regular"}}}
    return report.Facts(report.Entry(name, baseline_of=baseline_of), metadata=metadata, metrics=metrics)


def fashion_metrics(probe, confidence, samples, histogram, psnr100=None):
    metrics = {"linearProbe": {"attributes": {"class": {"mean": probe, "std": 0.01}}, "meanAccuracy": probe},
               "recognisability": {"samples": {"meanConfidence": confidence,
                                               "heads": {"class": {"meanConfidence": confidence,
                                                                   "histogram": histogram}}},
                                   "sampleCount": samples}}
    if psnr100 is not None:
        metrics["reconstruction"] = {"inversion100": {"psnr": psnr100, "ddimSteps": 100}}
    return metrics


def by_target(results):
    return {r.target.split(" ")[0] + ("-classes" if "every class" in r.target else ""): r for r in results}


def test_fashion_targets_met_and_missed_by_how_much():
    every_class = {f"class {k}": 100 for k in range(10)}
    met = by_target(report.fashion_targets(facts_for("good", "fashion-mnist",
                                                     fashion_metrics(0.912, 0.85, 1000, every_class, 31.2))))
    assert [r.status for r in met.values()] == ["met"] * 4
    assert met["linear-probe"].detail == "91.2%." and met["reconstruction"].detail == "31.20 dB."
    assert "the rarest 100 times." in met["every-classes"].detail
    rare_once = {**every_class, "class 3": 1}
    once = by_target(report.fashion_targets(facts_for("rare", "fashion-mnist",
                                                      fashion_metrics(0.9, 0.85, 901, rare_once, 31.2))))
    assert "the rarest once." in once["every-classes"].detail

    one_missing = {**every_class, "class 3": 0}
    missed = by_target(report.fashion_targets(facts_for("weak", "fashion-mnist",
                                                        fashion_metrics(0.83, 0.70, 1000, one_missing, 27.5))))
    assert missed["linear-probe"].status == "missed" and "2.0 points short" in missed["linear-probe"].detail
    assert missed["the"].status == "missed" and "10.0 points short" in missed["the"].detail
    assert missed["every-classes"].status == "missed" and "class 3" in missed["every-classes"].detail
    assert missed["reconstruction"].status == "missed" and "2.50 dB short" in missed["reconstruction"].detail


def test_a_narrow_miss_is_printed_precisely_enough_to_tell_it_from_the_target():
    just_short = by_target(report.fashion_targets(facts_for("close", "fashion-mnist",
                                                           fashion_metrics(0.8497, 0.7996, 1000, {}, 31.0))))
    assert just_short["linear-probe"].status == "missed"
    assert "84.97%, 0.03 points short" in just_short["linear-probe"].detail
    assert "79.96% mean confidence, 0.04 points short" in just_short["the"].detail


def test_sample_confidence_carries_its_standard_error_where_the_metrics_have_one():
    metrics = fashion_metrics(0.9, 0.70, 1000, {f"class {k}": 100 for k in range(10)}, 31.0)
    metrics["recognisability"]["samples"]["confidenceStdErr"] = 0.008
    metrics["samplers"] = [{"eta": 1.0, "prior": "fitted", "ddimSteps": 20, "frechetDistance": 8.0,
                            "sampleCount": 1000,
                            "recognisability": {"meanConfidence": 0.796, "confidenceStdErr": 0.0081}}]
    metrics["recognisability"]["testImages"] = {"meanConfidence": 0.894, "confidenceStdErr": 0.005}
    missed = by_target(report.fashion_targets(facts_for("noisy", "fashion-mnist", metrics)))["the"]
    assert "70.0% ± 0.8 mean confidence, 10.0 points short (12.5 standard errors)." in missed.detail
    assert "The app's prior draws (z from the fitted latent mixture, η = 1): 79.6% ± 0.8 over 1,000" in missed.detail
    assert "The same classifier on real test images: 89.4% ± 0.5." in missed.detail


def test_sample_confidence_is_read_beside_the_judges_confidence_on_real_images():
    every_class = {f"class {k}": 100 for k in range(10)}
    metrics = fashion_metrics(0.9, 0.70, 1000, every_class, 31.0)
    missed = by_target(report.fashion_targets(facts_for("weak", "fashion-mnist", metrics)))["the"]
    assert "real test images" not in missed.detail  # older metrics without the reference: nothing invented
    metrics["recognisability"]["testImages"] = {"meanConfidence": 0.894,
                                                "heads": {"class": {"meanConfidence": 0.894,
                                                                    "histogram": every_class}}}
    metrics["frechetDistance"] = {"frechetDistance": 40.0, "samplesB": 1000}
    facts = facts_for("weak", "fashion-mnist", metrics)
    missed = by_target(report.fashion_targets(facts))["the"]
    assert "The same classifier on real test images: 89.4%." in missed.detail
    baseline = facts_for("weak-diffae", "fashion-mnist", metrics, baseline_of="weak")
    sentence = report._test_image_sentence([facts, baseline])
    assert sentence.endswith("fashion-mnist: 89.4%, 10/10 classes (1,000 test images).")  # once per data set


def test_fashion_targets_measured_too_small_or_not_at_all():
    results = by_target(report.fashion_targets(facts_for("small", "fashion-mnist",
                                                         fashion_metrics(0.9, 0.95, 12, {f"c{k}": 1 for k in range(10)}))))
    assert results["the"].status == "not measured" and "12 samples" in results["the"].detail
    assert results["reconstruction"].status == "not measured"
    nothing = report.fashion_targets(facts_for("none", "fashion-mnist", None))
    assert [r.status for r in nothing] == ["not measured"] * 4


def test_an_unfinished_run_is_named_as_the_reason():
    facts = facts_for("early", "fashion-mnist", fashion_metrics(0.5, 0.5, 1000, {f"c{k}": 1 for k in range(10)}))
    facts.config = config("configs/fmnist_cpu.json")
    facts.run_step = 200
    facts.entry.notes = "the CPU run shares two cores"
    probe = by_target(report.fashion_targets(facts))["linear-probe"]
    assert probe.detail.endswith("Why: measured at step 200 of the planned 40,000; the CPU run shares two cores.")


def test_notes_keyed_by_target_follow_only_their_target():
    facts = facts_for("keyed", "fashion-mnist", fashion_metrics(0.5, 0.5, 1000, {f"c{k}": 1 for k in range(10)}))
    facts.entry.notes = {"confidence": "the denoiser is small"}
    results = by_target(report.fashion_targets(facts))
    assert results["the"].status == "missed" and results["the"].detail.endswith("Why: the denoiser is small.")
    assert results["linear-probe"].status == "missed" and "Why" not in results["linear-probe"].detail


def test_budgets_compare_the_steps_the_metrics_were_measured_at():
    """A run that went on after its evaluation keeps its old metrics' step in the comparison, and the page says
    the metrics are out of date."""
    model = facts_for("shapes", "shapes", {**shapes_metrics({"shape": 0.9}, 0.5), "model": {"trainingSteps": 2000}},
                      steps=2600)
    baseline = facts_for("shapes-diffae", "shapes", {**shapes_metrics({"shape": 0.8}, 0.4),
                                                     "model": {"trainingSteps": 2000}},
                         baseline_of="shapes", steps=2000)
    (claim,) = report.paper_claim([model, baseline])
    assert "equal budget (2,000 steps of batch 64)" in claim
    assert report.stale_metrics([model, baseline]) == [
        "shapes's metrics were measured at step 2,000, its weights are now at step 2,600"]


def shapes_metrics(probes, dci):
    return {"linearProbe": {"attributes": {k: {"mean": v, "std": 0.0} for k, v in probes.items()},
                            "meanAccuracy": sum(probes.values()) / len(probes)},
            "dci": {"disentanglement": dci}}


def test_shapes_targets_and_the_paper_claim():
    decodable = {"floor_hue": 0.99, "wall_hue": 0.98, "object_hue": 0.9, "scale": 0.6, "shape": 0.95,
                 "orientation": 0.7}
    model = facts_for("shapes", "shapes", shapes_metrics(decodable, 0.62))
    baseline = facts_for("shapes-diffae", "shapes", shapes_metrics({**decodable, "scale": 0.4}, 0.41),
                         baseline_of="shapes", steps=500)
    results = report.all_targets([model, baseline])
    assert [(r.model, r.status) for r in results] == [("shapes", "met"), ("shapes", "met")]
    assert results[1].detail == "0.620 against 0.410 (+0.210)."

    weak = facts_for("shapes", "shapes", shapes_metrics({**decodable, "scale": 0.5}, 0.3))
    results = report.shapes_targets(weak, baseline)
    # 8 scale values: chance 12.5%, decodable from 56.2%.
    assert results[0].status == "missed" and "scale 50.0% < 56.2% (6.2 points short)" in results[0].detail
    assert results[1].status == "missed" and "0.110 below" in results[1].detail

    (claim,) = report.paper_claim([model, baseline])
    assert "latent quality (mean linear-probe accuracy): 0.853 against 0.820, better (+0.033)" in claim
    assert "disentanglement (DCI): 0.620 against 0.410, better (+0.210)" in claim
    assert "unequal budget (1,000 steps of batch 64 against 500 of batch 64)" in claim
    equal = facts_for("shapes-diffae", "shapes", shapes_metrics(decodable, 0.7), baseline_of="shapes")
    (claim,) = report.paper_claim([model, equal])
    assert "0.620 against 0.700, worse (-0.080)" in claim and "equal budget (1,000 steps of batch 64)" in claim


def test_a_keyed_note_follows_its_target_when_met_and_a_general_note_only_misses():
    metrics = shapes_metrics({"floor_hue": 0.99, "wall_hue": 0.98, "object_hue": 0.9, "scale": 0.6, "shape": 0.95,
                              "orientation": 0.7}, 0.221)
    baseline = facts_for("shapes-diffae", "shapes", shapes_metrics({"scale": 0.4}, 0.219), baseline_of="shapes")
    model = facts_for("shapes", "shapes", metrics)
    model.entry.notes = {"dci": "level with the baseline within the estimate's noise"}
    factors, dci = report.shapes_targets(model, baseline)
    assert dci.status == "met" and dci.detail.endswith("(+0.002). Note: level with the baseline within the estimate's noise.")
    assert "Note" not in factors.detail
    model.entry.notes = "the CPU run shares two cores"
    assert "Note" not in report.shapes_targets(model, baseline)[1].detail


def test_the_factor_table_gives_what_z_decides_and_why_x_t_can():
    metrics = {**shapes_metrics({"wall_hue": 0.52, "shape": 1.0}, 0.2),
               "mlpProbe": {"attributes": {"wall_hue": {"mean": 0.779}}},
               "factorSwap": {"factors": {"wall_hue": {"invertedNoise": 0.384, "freshNoise": 0.11}}}}
    model = facts_for("shapes", "shapes", metrics)
    model.metadata["schedule"] = {"kind": "linear", "timesteps": 1000, "betaStart": 1e-5, "betaEnd": 0.01}
    rows = {row.split(" | ")[0].strip("| "): row for row in report._factor_table(model)}
    assert rows["wall_hue"] == "| wall_hue | 10 | 10.0% | 55.0% | 52.0% | 77.9% | – | – | 38% | 11% |"
    assert rows["shape"].endswith("| – | – |")  # not measured for this factor: empty cells, not zeros
    assert "√ᾱ_T = 0.081" in report._terminal_signal_sentence([model])
    assert report._terminal_signal_sentence([facts_for("old", "shapes", metrics)]) == ""


def test_a_missed_factor_line_says_what_the_mlp_probe_and_the_factor_swap_measured():
    probes = {"floor_hue": 0.9, "wall_hue": 0.52, "object_hue": 0.9, "scale": 0.9, "shape": 1.0, "orientation": 0.9}
    swap = lambda share: {"factors": {"wall_hue": {"invertedNoise": share, "freshNoise": 0.1}}}
    model = facts_for("shapes", "shapes", {**shapes_metrics(probes, 0.2), "factorSwap": swap(0.47),
                                           "mlpProbe": {"attributes": {"wall_hue": {"mean": 0.872}}}})
    baseline = facts_for("shapes-diffae", "shapes", {**shapes_metrics(probes, 0.2), "factorSwap": swap(0.43)},
                         baseline_of="shapes")
    factors = report.shapes_targets(model, baseline)[0]
    assert factors.status == "missed"
    assert ("wall_hue 52.0% < 55.0% (3.0 points short), MLP probe 87.2%, z decides 0.47 of it (factor swap, "
            "inverted x_T) against the baseline's 0.43.") in factors.detail
    bare = report.shapes_targets(facts_for("shapes", "shapes", shapes_metrics(probes, 0.2)), None)[0]
    assert "wall_hue 52.0% < 55.0% (3.0 points short)." in bare.detail  # nothing measured: nothing added


def test_an_entry_with_nothing_on_disk_is_not_measured():
    empty = report.Facts(report.Entry("later", run=None), missing=["run checkpoint runs/later/checkpoint.pt"])
    (result,) = report.all_targets([empty])
    assert (result.status, result.detail) == ("not measured", "nothing on disk yet (run checkpoint runs/later/checkpoint.pt).")


def test_decodable_threshold_is_halfway_from_chance():
    assert report.decodable_threshold(4) == pytest.approx(0.625)
    assert report.decodable_threshold(10) == pytest.approx(0.55)


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
    with pytest.raises(report.ReportError) as err:
        report.read_manifest(path)
    assert message in str(err.value)


# ------------------------------------------------------------------ the whole command on tiny inputs

def png_size(path):
    with Image.open(path) as image:
        return image.size


def test_report_on_a_tiny_run_package_and_metrics(tiny_run, tmp_path, capsys, untrained_fashion_judge):
    package = tmp_path / "models" / "tiny"
    export_checkpoint(tiny_run / "checkpoint.pt", package, update_index=False)
    judge = untrained_fashion_judge
    metrics = tmp_path / "metrics.json"
    assert evaluate.main(["--model", str(package), "--out", str(metrics), "--probe-images", "60", "--fd-samples", "12",
                          "--sample-steps", "2", "--classifier", str(judge), "--nll-images", "2", "--nll-samples",
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

    counts = report.parameter_counts(validate_train_config(load_preset("configs/fmnist_tiny.json")).architecture, 1000)
    assert f"| {counts['trainable']:,} |" in page
    size = sum(p.stat().st_size for p in package.rglob("*") if p.is_file())
    assert f"{size / 1e6:.2f} MB (float16)" in page
    assert "| tiny-diffae | baseline of tiny | – |" in page  # its run is missing: no objective to name
    assert f"tiny-diffae: run checkpoint {tmp_path / 'not-trained-yet' / 'checkpoint.pt'}" in page
    report_metrics = json.loads(metrics.read_text())
    psnr = f"{report_metrics['reconstruction']['noInversion']['psnr']:.2f}"
    assert psnr in page
    assert "**not measured**: tiny: the classifier is on average >= 80.0% confident over 1,000 samples" in page
    assert "Measured on 12 samples" in page
    assert "**not measured**: tiny: reconstruction PSNR >= 30 dB with inversion at 100 DDIM steps" in page
    assert "tiny against tiny-diffae: latent quality (mean linear-probe accuracy): not measured for both" in page

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
    assert "| tiny | N(0, I) | 0 | 2 |" in page and "| tiny | fitted mixture | 1 | 2 |" in page
    assert "The app's prior draws (z from the fitted latent mixture, η = 1):" in page
    assert "| tiny | Enc(x) of held-out images | 0 | 2 |" in page
    assert "With z = Enc(x) of held-out test images, where the codes really lie" in page
    assert png_size(images / "tiny-samples-fitted.png") == (8 * cell + 2, 8 * cell + 2)
    assert "--prior fitted --eta 1" in page
    codes = report_metrics["latentCodes"]
    assert codes["images"] == 60
    assert f"| tiny | 60 | {codes['meanNorm']:.2f} | {codes['priorMeanNorm']:.2f} |" in page
    assert png_size(images / "tiny-traversal.png") == (11 * cell + 2, 8 * cell + 2)
    assert png_size(images / "tiny-interpolation.png") == (10 * cell + 2, 3 * cell + 2)
    assert "](results/tiny-samples.png)" in page and "](results/tiny-interpolation.png)" in page
    assert not (images / "tiny-diffae-samples.png").exists()


def test_the_claim_weighs_samples_and_the_probes_spread():
    def with_fd(metrics, fd, std):
        for attribute in metrics["linearProbe"]["attributes"].values():
            attribute["std"] = std
        return {**metrics, "frechetDistance": {"frechetDistance": fd, "sampleCount": 1000}}

    model = facts_for("shapes", "shapes", with_fd(shapes_metrics({"shape": 0.80}, 0.5), 12.0, 0.01))
    close = facts_for("shapes-diffae", "shapes", with_fd(shapes_metrics({"shape": 0.79}, 0.4), 15.0, 0.01),
                      baseline_of="shapes")
    (claim,) = report.paper_claim([model, close])
    assert "0.800 against 0.790, better (+0.010), within the folds' spread (±0.014)" in claim
    assert "sample quality (FD, lower is better): 12.000 against 15.000, better (-3.000)" in claim
    far = facts_for("shapes-diffae", "shapes", with_fd(shapes_metrics({"shape": 0.70}, 0.4), 9.0, 0.01),
                    baseline_of="shapes")
    (claim,) = report.paper_claim([model, far])
    assert "better (+0.100);" in claim and "spread" not in claim
    assert "12.000 against 9.000, worse (+3.000)" in claim
    assert "stochastic" not in claim  # no sampler comparison measured

    def with_samplers(facts, fd_eta1):
        facts.metrics["samplers"] = [{"eta": 0.0, "frechetDistance": 1.0}, {"eta": 1.0, "frechetDistance": fd_eta1}]
        return facts
    (claim,) = report.paper_claim([with_samplers(model, 7.0), with_samplers(far, 8.0)])
    assert "with stochastic DDIM (FD at η = 1): 7.000 against 8.000, better (-1.000)" in claim
    assert "fitted" not in claim

    for facts, fd in ((model, 5.0), (far, 4.0)):
        facts.metrics["samplers"].append({"eta": 1.0, "prior": "fitted", "frechetDistance": fd})
    (claim,) = report.paper_claim([model, far])
    assert "with stochastic DDIM (FD at η = 1): 7.000 against 8.000" in claim  # still the N(0, I) rows
    assert "with z from the fitted latent mixture (FD at η = 1): 5.000 against 4.000, worse (+1.000)" in claim


def test_configuration_says_how_the_run_changed_on_resume():
    config = validate_train_config(load_preset("configs/shapes_cpu.json"))
    facts = report.Facts(report.Entry("shapes"), config=config,
                         config_changes=[{"step": 2000, "changes": {"hflip": [True, False]}}])
    text = report._configuration(facts)
    assert text.endswith(", no flips; changed on resume: at step 2,000, hflip true -> false")


def test_metrics_in_the_format_before_per_head_judges_still_read():
    old = {"recognisability": {"samples": {"meanConfidence": 0.7, "classHistogram": {f"c{k}": 1 for k in range(10)}},
                               "sampleCount": 1000}}
    facts = facts_for("old", "fashion-mnist", old)
    assert report._recognisable(facts) == "70.0%, 10/10 classes (1,000 samples)"
    assert [r.status for r in report.fashion_targets(facts)][1:3] == ["missed", "met"]


def test_the_probe_cell_says_how_many_images_it_used():
    metrics = fashion_metrics(0.838, 0.7, 1000, {})
    assert report._probe(facts_for("a", "fashion-mnist", metrics)) == "83.8% ± 1.0"
    metrics["linearProbe"]["samples"] = 60000
    assert report._probe(facts_for("a", "fashion-mnist", metrics)) == "83.8% ± 1.0 (60,000 images)"
    shapes = {"linearProbe": {"attributes": {"hue": {"mean": 0.6, "std": 0.0}, "size": {"mean": 0.8, "std": 0.0}},
                              "meanAccuracy": 0.7, "samples": 5000}}
    assert report._probe(facts_for("b", "shapes", shapes)) == "70.0% (mean of 2, 5,000 images)"

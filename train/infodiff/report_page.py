"""The results page (docs/results.md) in words: every sentence, heading and table cell of the page is written here,
from the facts (infodiff.report_facts), the judged targets and claims (infodiff.report_targets), the pictures
(infodiff.report_pictures) and the derived commands (infodiff.report_commands). Nothing here reads a file or
decides a status; what it decides is only how a number is printed.
"""
from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from .diffusion import make_schedule
from .report_commands import export_command, train_command
from .report_facts import (Facts, baseline_of, class_histogram, is_stale, judge_on_test_images, manifest_note,
                           parameter_counts, sampler_row, unfinished)
from .report_pictures import Picture
from .report_targets import (MET, MISSED, NOTHING_ON_DISK, Claim, Judgement, all_targets, decodable_threshold,
                             paper_claim)
from .train import config_change_clauses, describe_config_changes


# --------------------------------------------------------------------------------------------- numbers


def _percent(value: float, decimals: int = 1) -> str:
    return f"{100 * value:.{decimals}f}%"


def _std_err_suffix(block: Dict[str, Any]) -> str:
    """' ± 0.8' from a recognisability block's standard error in points, or '' where the metrics carry none
    (older metrics files)."""
    std_err = block.get("confidenceStdErr")
    return "" if std_err is None else f" ± {100 * std_err:.1f}"


def _confidence(block: Dict[str, Any]) -> str:
    """A recognisability block's mean confidence with its standard error where known ('79.6% ± 0.8')."""
    return _percent(block["meanConfidence"]) + _std_err_suffix(block)


def _shortfall(value: float, target: float) -> Tuple[str, str, str]:
    """A missed value, its target and the gap ('84.97%', '85.00%', '0.03 points short'), with one decimal or
    more (up to three) where one would print the value as the target itself ('85.0%, 0.0 points short')."""
    decimals = 1
    while decimals < 3 and round(100 * value, decimals) >= round(100 * target, decimals):
        decimals += 1
    return (_percent(value, decimals), _percent(target, decimals),
            f"{100 * (target - value):.{decimals}f} points short")


def _times(count: int) -> str:
    """'once', 'twice', '3 times'."""
    return {1: "once", 2: "twice"}.get(count, f"{count:,} times")


# --------------------------------------------------------------------------------------------- cells


def _cell(value: Optional[str]) -> str:
    return value if value else "–"


def _duration(seconds: Optional[float]) -> Optional[str]:
    if seconds is None:
        return None
    minutes = int(round(seconds / 60))
    return f"{minutes // 60}h{minutes % 60:02d}m" if minutes >= 60 else f"{seconds / 60:.1f} min"


def _role(facts: Facts) -> str:
    objective = facts.objective
    if objective is None:
        return f"baseline of {facts.entry.baseline_of}" if facts.entry.baseline_of else "–"
    if objective["kldWeight"] > 0:
        kind = f"KL β={objective['kldWeight']:g}"
    elif objective["mmdWeight"] > 0:
        kind = f"InfoDiffusion (MMD λ={objective['mmdWeight']:g})"
    else:
        kind = "DiffAE (λ=0)"
    return kind + (f", baseline of {facts.entry.baseline_of}" if facts.entry.baseline_of else "")


def _configuration(facts: Facts) -> Optional[str]:
    arch = facts.architecture
    if arch is None:
        return None
    prior = facts.objective["prior"] if facts.objective else "regular"
    blocks = arch["numResBlocks"]
    text = (f"{arch['imageSize']}×{arch['imageSize']}×{arch['imageChannels']}, ch {arch['baseChannels']} × "
            f"{arch['channelMultipliers']}, {blocks} res block{'s' if blocks != 1 else ''} per level, attention at "
            f"levels {arch['attentionLevels']}, z {arch['latentDim']} ({'N(0, I)' if prior == 'regular' else prior} "
            "prior)")
    if facts.batch_size is not None:
        text += f", batch {facts.batch_size}"
    if facts.config is not None:
        text += f", lr {facts.config.lr:g}" + ("" if facts.config.hflip else ", no flips")
    if facts.config_changes:
        text += "; changed on resume: " + config_change_clauses(facts.config_changes)
    return text


def _steps(facts: Facts) -> Optional[str]:
    if facts.steps is None:
        return None
    if facts.config is not None and facts.run_step is not None and facts.run_step < facts.config.steps:
        return f"{facts.run_step:,} of {facts.config.steps:,}"
    return f"{facts.steps:,}"


def _parameters(facts: Facts) -> Optional[str]:
    if facts.architecture is None or facts.timesteps is None:
        return None
    counts = parameter_counts(facts.architecture, facts.timesteps)
    return f"{counts['trainable']:,}"


def _package(facts: Facts) -> Optional[str]:
    if facts.package_bytes is None:
        return None
    return f"{facts.package_bytes / 1e6:.2f} MB ({'float16' if facts.package_float16 else 'float32'})"


def _probe(facts: Facts) -> Optional[str]:
    if facts.metric("linearProbe") is None:
        return None
    attributes = facts.metric("linearProbe", "attributes")
    images = facts.metric("linearProbe", "samples")
    count = [f"{images:,} images"] if images else []
    if len(attributes) == 1:
        (only,) = attributes.values()
        cell = f"{_percent(only['mean'])} ± {100 * only['std']:.1f}"
        return f"{cell} ({count[0]})" if count else cell
    return f"{_percent(facts.metric('linearProbe', 'meanAccuracy'))} ({', '.join([f'mean of {len(attributes)}'] + count)})"


def _number(facts: Facts, path: Sequence[str], digits: int) -> Optional[str]:
    value = facts.metric(*path)
    return None if value is None else f"{value:.{digits}f}"


def _frechet(facts: Facts) -> Optional[str]:
    block = facts.metric("frechetDistance")
    return None if block is None else f"{block['frechetDistance']:.3g} ({block['sampleCount']:,} samples)"


def _recognisable(facts: Facts) -> Optional[str]:
    samples = facts.metric("recognisability", "samples")
    if samples is None:
        return None
    return _recognisable_samples(samples, facts.metric("recognisability", "sampleCount"))


def _recognisable_samples(samples: Dict[str, Any], count: int, judged: str = "samples") -> str:
    heads = samples.get("heads")
    counted = f"{count:,} {judged}"
    if heads is None or list(heads) == ["class"]:
        histogram = class_histogram(samples)
        present = sum(1 for n in histogram.values() if n > 0)
        return f"{_confidence(samples)}, {present}/{len(histogram)} classes ({counted})"
    # Shapes: one head per factor; the mean confidence over the factors, and how many see every value.
    covered = sum(1 for head in heads.values() if head["coverage"] == 1.0)
    return (f"{_confidence(samples)} (mean of {len(heads)} factors), {covered}/{len(heads)} "
            f"factors with every value ({counted})")


def _test_image_sentence(facts: Sequence[Facts]) -> Optional[str]:
    """One clause per data set: the judge's confidence on its real test images (the same for every model of a data
    set evaluated with the same seed and count; the first model's is shown)."""
    seen: Dict[str, str] = {}
    for f in facts:
        real = judge_on_test_images(f)
        count = f.metric("frechetDistance", "samplesB")
        if real is not None and count and f.dataset and f.dataset not in seen:
            seen[f.dataset] = f"{f.dataset}: {_recognisable_samples(real, count, 'test images')}"
    if not seen:
        return None
    return ("The same classifier on real test images (the FD's reference images), the level real data reaches: "
            + "; ".join(seen.values()) + ".")


def _code_rows(facts: Sequence[Facts]) -> List[List[Optional[str]]]:
    """One row per model whose metrics hold evaluate's latentCodes summary."""
    rows = []
    for f in facts:
        codes = f.metric("latentCodes")
        if codes:
            rows.append([f.label, f"{codes['images']:,}", f"{codes['meanNorm']:.2f}",
                         f"{codes['priorMeanNorm']:.2f}", "{:.2f} to {:.2f}".format(*codes["meanRange"]),
                         "{:.2f} to {:.2f}".format(*codes["stdRange"])])
    return rows


def _prior_cell(sampler: Dict[str, Any]) -> str:
    """'N(0, I)' for the model's prior, 'fitted mixture' for the latent mixture, 'Enc(x) of held-out images' for
    the encoder's own codes, from the row's kind and description."""
    kind = sampler.get("prior", "model")
    if kind == "fitted":
        return "fitted mixture"
    if kind == "encoded":
        return "Enc(x) of held-out images"
    return sampler.get("priorDescription", "z ~ N(0, I)").removeprefix("z ~ ")


def _sampler_rows(facts: Sequence[Facts]) -> List[List[Optional[str]]]:
    """One row per model, prior and DDIM eta of the metrics' sampler comparison (evaluate --compare-eta)."""
    rows = []
    for f in facts:
        for sampler in f.metric("samplers") or []:
            rows.append([f.label, _prior_cell(sampler), f"{sampler['eta']:g}",
                         str(sampler["ddimSteps"]),
                         f"{sampler['frechetDistance']:.3g}",
                         _recognisable_samples(sampler["recognisability"], sampler["sampleCount"])])
    return rows


def _nll(facts: Facts) -> Optional[str]:
    nll = facts.metric("nll")
    if nll is None:
        return None
    return f"{nll['bitsPerDim8bit']:.3f} ± {nll['stdErr']:.3f}"


def _psnr(facts: Facts, key: str) -> Optional[str]:
    block = facts.metric("reconstruction", key)
    return None if block is None else f"{block['psnr']:.2f}"


def _table(header: Sequence[str], rows: Sequence[Sequence[Optional[str]]]) -> List[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(c).replace("|", "\\|") for c in row) + " |" for row in rows]
    return lines


def _terminal_signal_sentence(facts: Sequence[Facts]) -> str:
    """Why x_T can decide a factor: how much of the image the schedule leaves in it (first model with a schedule)."""
    for f in facts:
        if f.schedule is not None:
            signal = math.sqrt(float(make_schedule(f.schedule).alpha_bar[-1]))
            return (f" The schedule leaves √ᾱ_T = {signal:.3f} of the image in x_T, so x_T can carry what a large "
                    "flat region, a wall or the floor, looks like.")
    return ""


def _factor_table(facts: Facts) -> List[str]:
    from .shapes import FACTOR_NAMES, FACTOR_SIZES

    names = facts.metric("dci", "dimensionNames") or (facts.metadata or {}).get("dimensionNames") or []
    rows = []
    for factor, size in zip(FACTOR_NAMES, FACTOR_SIZES):
        probe = facts.metric("linearProbe", "attributes", factor, "mean")
        mlp = facts.metric("mlpProbe", "attributes", factor, "mean")
        dci_accuracy = facts.metric("dci", "perFactor", factor, "testAccuracy")
        owners = [str(k) for k, n in enumerate(names) if n == factor]
        swapped = [facts.metric("factorSwap", "factors", factor, kind) for kind in ("invertedNoise", "freshNoise")]
        rows.append([factor, str(size), _percent(1 / size), _percent(decodable_threshold(size)),
                     None if probe is None else _percent(probe), None if mlp is None else _percent(mlp),
                     None if dci_accuracy is None else _percent(dci_accuracy), ", ".join(owners) or None,
                     *(None if share is None else _percent(share, 0) for share in swapped)])
    return _table(["factor", "values", "chance", "decodable at", "linear probe", "MLP probe", "DCI trees (test)",
                   "dimensions named after it", "z decides: inverted x_T", "z decides: fresh x_T"], rows)

# --------------------------------------------------------------------------------------------- targets in words


def _why(facts: Facts, key: str) -> str:
    """' Why: ...' after a missed target, as far as the files tell: an unfinished run, and the manifest's note."""
    reasons = []
    early = unfinished(facts)
    if early is not None:
        reasons.append(f"measured at step {early[0]:,} of the planned {early[1]:,}")
    note = manifest_note(facts, key)
    if note:
        reasons.append(note)
    return f" Why: {'; '.join(reasons)}." if reasons else ""


def _note(facts: Facts, key: str) -> str:
    """' Note: ...' after a met target, from a note keyed to it."""
    note = manifest_note(facts, key, keyed_only=True)
    return f" Note: {note}." if note else ""


def _after(judged: Judgement, facts: Facts) -> str:
    """The note that follows a judged target: why it was missed, or what its keyed note says when it was met."""
    if judged.status == MISSED:
        return _why(facts, judged.key)
    return _note(facts, judged.key) if judged.status == MET else ""


def _size_note(values: Dict[str, Any]) -> str:
    count, required = values["samples"], values["requiredSamples"]
    return "" if count >= required else f" Measured on {count:,} samples, fewer than the {required:,} the target asks for."


def _confidence_context(facts: Facts) -> str:
    """What the confidence target is read against: the app's own prior draws, the codes of held-out images (the
    best a latent prior can do) and the real test images."""
    said = ""
    app = sampler_row(facts, 1.0, "fitted")
    if app is not None:
        said += (f" The app's prior draws (z from the fitted latent mixture, η = 1): "
                 f"{_confidence(app['recognisability'])} over {app['sampleCount']:,} samples.")
    ceiling = max((s for s in facts.metric("samplers") or [] if s.get("prior") == "encoded"),
                  key=lambda s: s["recognisability"]["meanConfidence"], default=None)
    if ceiling is not None:
        said += (f" With z = Enc(x) of held-out test images, where the codes really lie (the best any latent "
                 f"prior can do with this denoiser): {_confidence(ceiling['recognisability'])} "
                 f"(η = {ceiling['eta']:g}).")
    real = judge_on_test_images(facts)
    if real is not None:
        said += f" The same classifier on real test images: {_confidence(real)}."
    return said


def _held_otherwise(factor: str, facts: Facts, baseline: Optional[Facts]) -> str:
    """What else the metrics say of a factor the linear probe misses: the MLP probe (is it held non-linearly?) and
    the factor swap against the baseline's (does the decoder follow z on it?)."""
    said = []
    mlp = facts.metric("mlpProbe", "attributes", factor, "mean")
    if mlp is not None:
        said.append(f"MLP probe {_percent(mlp)}")
    ours = facts.metric("factorSwap", "factors", factor, "invertedNoise")
    if ours is not None:
        theirs = baseline.metric("factorSwap", "factors", factor, "invertedNoise") if baseline is not None else None
        against = f" against the baseline's {theirs:.2f}" if theirs is not None else ""
        said.append(f"z decides {ours:.2f} of it (factor swap, inverted x_T){against}")
    return f", {', '.join(said)}" if said else ""


def target_name(judged: Judgement) -> str:
    """What the target asks, from its threshold."""
    v = judged.values
    names = {
        "probe": lambda: f"linear-probe accuracy of z >= {_percent(v['threshold'])}",
        "confidence": lambda: (f"the classifier is on average >= {_percent(v['threshold'])} confident over "
                               f"{v['requiredSamples']:,} samples"),
        "classes": lambda: "every class appears among the samples",
        "psnr": lambda: (f"reconstruction PSNR >= {v['threshold']:g} dB with inversion at {v['ddimSteps']} DDIM "
                         "steps"),
        "factors": lambda: (f"every factor decodable from z (linear probe at least {v['fraction']:.0%} of the way "
                            "from chance to 100%)"),
        "dci": lambda: "DCI disentanglement above the DiffAE baseline's",
        NOTHING_ON_DISK: lambda: "the issue's targets",
    }
    return names[judged.key]()


def _probe_detail(v: Dict[str, Any]) -> str:
    if v["value"] is None:
        return "no linear-probe result in the metrics."
    if v["value"] >= v["threshold"]:
        return f"{_percent(v['value'])}."
    shown, _, gap = _shortfall(v["value"], v["threshold"])
    return f"{shown}, {gap}."


def _confidence_detail(v: Dict[str, Any], facts: Facts) -> str:
    if v["value"] is None:
        return "no recognisability result in the metrics."
    block = {"meanConfidence": v["value"], "confidenceStdErr": v["stdErr"]}
    if v["samples"] < v["requiredSamples"]:
        return f"{_confidence(block)} mean confidence.{_size_note(v)}{_confidence_context(facts)}"
    if v["value"] >= v["threshold"]:
        return f"{_confidence(block)} mean confidence.{_confidence_context(facts)}"
    shown, _, gap = _shortfall(v["value"], v["threshold"])
    if v["stdErr"]:  # None in older metrics; 0 only when every sample is equally sure, no unit to count in
        gap += f" ({(v['threshold'] - v['value']) / v['stdErr']:.1f} standard errors)"
    return f"{shown}{_std_err_suffix(block)} mean confidence, {gap}.{_confidence_context(facts)}"


def _classes_detail(v: Dict[str, Any]) -> str:
    if v["classes"] is None:
        return "no recognisability result."
    if v["classes"] != v["required"]:
        return f"the histogram has {v['classes']} classes, not {v['required']}."
    if v["absent"]:
        return (f"{len(v['absent'])} of {v['required']} classes never predicted: {', '.join(v['absent'])}."
                f"{_size_note(v)}")
    return f"all {v['required']} classes, the rarest {_times(v['rarest'])}.{_size_note(v)}"


def _psnr_detail(v: Dict[str, Any]) -> str:
    if v["value"] is None:
        return f"no inversion{v['ddimSteps']} reconstruction in the metrics."
    if v["value"] >= v["threshold"]:
        return f"{v['value']:.2f} dB."
    return f"{v['value']:.2f} dB, {v['threshold'] - v['value']:.2f} dB short."


def _factors_detail(judged: Judgement, facts: Facts, baseline: Optional[Facts]) -> str:
    factors = judged.values["factors"]
    if not factors:
        return "no linear-probe result in the metrics."
    if judged.status == MET:
        return ", ".join(f"{f['factor']} {_percent(f['accuracy'])}" for f in factors) + "."
    failed = []
    for f in factors:
        if f["accuracy"] is None:
            failed.append(f"{f['factor']} not measured")
        elif f["accuracy"] < f["needed"]:
            shown, needed_shown, gap = _shortfall(f["accuracy"], f["needed"])
            failed.append(f"{f['factor']} {shown} < {needed_shown} ({gap})"
                          f"{_held_otherwise(f['factor'], facts, baseline)}")
    return "; ".join(failed) + "."


def _dci_detail(v: Dict[str, Any]) -> str:
    ours, theirs = v["value"], v["baseline"]
    if ours is None or theirs is None:
        lacking = "this model's DCI" if ours is None else "a baseline with DCI in the manifest"
        return f"no {lacking}."
    if ours > theirs:
        return f"{ours:.3f} against {theirs:.3f} (+{ours - theirs:.3f})."
    return f"{ours:.3f} against {theirs:.3f}, {theirs - ours:.3f} below."


def target_detail(judged: Judgement, facts: Sequence[Facts]) -> str:
    """The numbers behind a judged target, with its notes; ``facts`` are the page's, for the model's own and its
    baseline's."""
    model = next(f for f in facts if f.entry.name == judged.model)
    v = judged.values
    details = {
        "probe": lambda: _probe_detail(v),
        "confidence": lambda: _confidence_detail(v, model),
        "classes": lambda: _classes_detail(v),
        "psnr": lambda: _psnr_detail(v),
        "factors": lambda: _factors_detail(judged, model, baseline_of(model, facts)),
        "dci": lambda: _dci_detail(v),
        NOTHING_ON_DISK: lambda: f"nothing on disk yet ({', '.join(v['missing'])}).",
    }
    return details[judged.key]() + _after(judged, model)


def _target_line(judged: Judgement, facts: Sequence[Facts]) -> str:
    return f"- **{judged.status}**: {judged.model}: {target_name(judged)}. {target_detail(judged, facts)}"


# --------------------------------------------------------------------------------------------- the claim in words

_COMPARED = {
    "probe": "latent quality (mean linear-probe accuracy)",
    "dci": "disentanglement (DCI)",
    "fd": "sample quality (FD, lower is better)",
    "fdEta1": "with stochastic DDIM (FD at η = 1)",
    "fdFitted": "with z from the fitted latent mixture (FD at η = 1)",
}


def claim_sentence(claim: Claim) -> str:
    """One sentence per model and baseline: each comparison, then whether the budget was equal."""
    verdicts = []
    for c in claim.comparisons:
        label = _COMPARED[c.key]
        if c.verdict is None:
            verdicts.append(f"{label}: not measured for both")
            continue
        verdict = f"{label}: {c.ours:.3f} against {c.theirs:.3f}, {c.verdict} ({c.ours - c.theirs:+.3f})"
        if c.spread is not None:
            verdict += f", within the folds' spread (±{c.spread:.3f})"
        verdicts.append(verdict)
    ours, theirs = claim.budgets
    if None in ours or None in theirs:
        budget = "budget unknown for one of them"
    elif ours == theirs:
        budget = f"equal budget ({ours[0]:,} steps of batch {ours[1]})"
    else:
        budget = (f"unequal budget ({ours[0]:,} steps of batch {ours[1]} against {theirs[0]:,} of batch "
                  f"{theirs[1]}), so not the equal-budget comparison")
    return f"{claim.model} against {claim.baseline}: " + "; ".join(verdicts) + f"; {budget}."


def _stale_phrase(facts: Facts) -> str:
    return (f"{facts.entry.name}'s metrics were measured at step {facts.measured_steps:,}, its weights are now at "
            f"step {facts.steps:,}")


# --------------------------------------------------------------------------------------------- the page


def render_markdown(facts: Sequence[Facts], pictures: Dict[str, List[Picture]], command: str,
                    markdown_path: Path, created_at: str, sections: Sequence[str] = ()) -> str:
    """The results page (docs/results.md) from the gathered facts and the drawn pictures; ``sections`` (Markdown
    lines, e.g. report_students.students_section) go before Reproduce."""
    lines = [
        "# Results",
        "",
        f"Generated by `infodiff.report` at {created_at} from the runs, packages and metrics files listed under "
        "[Reproduce](#reproduce); every number below is read from those files. Rerun the command there instead "
        "of editing this page.",
        "",
        "## Models",
        "",
    ]
    lines += _table(
        ["model", "kind", "data", "configuration", "trainable parameters", "steps", "wall time", "hardware", "package"],
        [[f.label, _role(f), f.dataset, _configuration(f), _parameters(f), _steps(f),
          _duration(f.wall_time_seconds), f.hardware, _package(f)] for f in facts])
    missing = [f"{f.entry.name}: {', '.join(f.missing)}" for f in facts if f.missing]
    if missing:
        lines += ["", "Not on disk yet (so their cells are empty): " + "; ".join(missing) + "."]
    lines += [
        "",
        "## Metrics",
        "",
        "Linear probe: 5-fold logistic regression on z (mean ± std over folds; shapes: mean over the six factors). "
        "DCI: disentanglement with gradient-boosted trees (shapes). FD: Fréchet distance in the feature space of "
        "the pipeline's classifier of the data set (FashionMNIST: the 10 classes; shapes: one head per factor, "
        "runs/classifier/), prior samples (z ~ N(0, I)) against test images (a DiffAE baseline has no prior "
        "on z and is sampled from N(0, I) all the same: a prior to sample from is what the MMD term should buy; "
        "the Samplers table adds z from a Gaussian mixture fitted to the encoded training set, a small stand-in "
        "for the latent DDIM that the official code's FID path fits). Recognisable: the classifier's mean confidence on those samples and the classes "
        "it sees (shapes: mean over the factors, and the factors whose every value it sees). NLL: −log p(x | z = Enc(x)) in bits/dim of 8-bit "
        "data by I-MMSE, ± standard error. PSNR (dB) of reconstructions with DDIM inversion at 20 and 100 steps, and "
        "decoded from fresh noise with the same z (no inversion).",
        "",
    ]
    lines += _table(
        ["model", "linear probe", "DCI", "FD", "recognisable", "NLL (bits/dim)", "PSNR inv. 20", "PSNR inv. 100",
         "PSNR no inv."],
        [[f.label, _probe(f), _number(f, ("dci", "disentanglement"), 3),
          _frechet(f), _recognisable(f), _nll(f),
          _psnr(f, "inversion20"), _psnr(f, "inversion100"), _psnr(f, "noInversion")] for f in facts])
    code_rows = _code_rows(facts)
    if code_rows:
        lines += ["", "### Where the codes lie", "",
                  "z = Enc(x) of the probe's training images beside N(0, I), the prior the MMD term pulls them "
                  "towards (and the prior samples of the FD column are drawn from): their mean norm, and the "
                  "range over dimensions of each dimension's mean and standard deviation (N(0, I): 0 and 1).",
                  ""]
        lines += _table(["model", "codes", "mean ‖z‖", "N(0, I)'s", "per-dimension mean", "per-dimension std"],
                        code_rows)
    sampler_rows = _sampler_rows(facts)
    if sampler_rows:
        lines += ["", "### Samplers", "",
                  "The same prior samples (the same z and x_T) drawn with deterministic DDIM (η = 0, the sampler "
                  "of the FD column above, and the app's for encoded images) and with stochastic DDIM (η = 1: "
                  "fresh noise at every step, the strided form of the official code's default ancestral sampler, "
                  "and the app's for prior draws). z comes from N(0, I), the prior the MMD term regularises "
                  "towards, or from the fitted mixture: 10 full-covariance Gaussians fitted to z = Enc(x) of the "
                  "training set (infodiff.latent_prior; the package's own for a shipped model, fitted to the "
                  "probe's codes for a baseline checkpoint), which the app draws from, or is the encoder's own "
                  "code of held-out test images (other than the FD's reference images), decoded from fresh noise: "
                  "z exactly where the codes lie, what a latent prior matching them would give, so what these "
                  "samples miss is the denoiser's.",
                  ""]
        lines += _table(["model", "z from", "η", "DDIM steps", "FD", "recognisable"], sampler_rows)
        test_images = _test_image_sentence(facts)
        if test_images:
            lines += ["", test_images]
    stale = [_stale_phrase(f) for f in facts if is_stale(f)]
    if stale:
        lines += ["", "Out of date: " + "; ".join(stale) + ". Rerun the evaluate command under Reproduce."]
    shapes_facts = [f for f in facts if f.dataset == "shapes" and f.metrics is not None]
    if shapes_facts:
        lines += ["", "### Shapes factors", "",
                  "Per factor: the linear probe on z (what the decodable target reads), the same probe with "
                  "a one-hidden-layer MLP (64 ReLU units, on the first --mlp-probe-images of the linear probe's "
                  "images, 5,000 by default), which shows a factor z holds only non-linearly, the DCI trees, and the dimensions DCI names after it. "
                  "\"z decides\" is the factor swap (infodiff.factor_swap): scenes B equal held-out scenes A but "
                  "for this factor, moved half its range; both are decoded from the same x_T with z = Enc(A) and "
                  "with z = Enc(B), and the column gives the share of the pixel change from A to B that swapping "
                  "the code alone produces (100%: z decides the factor; 0%: x_T does). x_T is A's DDIM inversion "
                  "(what the explorer's sliders move z over for an uploaded image) or fresh N(0, I) noise (a prior "
                  "draw)." + _terminal_signal_sentence(shapes_facts)]
    for f in shapes_facts:
        lines += ["", f"#### {f.label}", ""] + _factor_table(f)

    targets = all_targets(facts)
    lines += ["", "## Targets", ""]
    if targets:
        lines += [_target_line(t, facts) for t in targets]
    else:
        lines.append("No FashionMNIST or shapes model (other than baselines) in the manifest.")
    claims = paper_claim(facts)
    lines += ["", "## The paper's claim: InfoDiffusion against the DiffAE baseline", ""]
    lines += [f"- {claim_sentence(claim)}" for claim in claims] or ["No model has a baseline in the manifest yet."]

    drawn = [(f, pictures[f.entry.name]) for f in facts if pictures.get(f.entry.name)]
    if drawn:
        lines += ["", "## Images"]
        for f, entry_pictures in drawn:
            lines += ["", f"### {f.label}"]
            for picture in entry_pictures:
                link = os.path.relpath(picture.path.resolve(), markdown_path.resolve().parent)
                alt = f"{f.entry.name}: {picture.path.stem.rsplit('-', 1)[-1]}"
                caption = picture.caption[0].upper() + picture.caption[1:] + "."
                lines += ["", f"![{alt}]({Path(link).as_posix()})", "", caption]

    lines += list(sections)
    lines += ["", "## Reproduce", "", "Every command runs from `train/` with Debian's `/usr/bin/python3`.", "", "```sh",
              "cd train"]
    for f in facts:
        lines.append(f"# {f.entry.name}" + ("" if f.config or f.metrics else ": not trained yet"))
        if f.config is not None:
            lines.append(train_command(f.config) + "   # add --resume to continue after an interruption")
            if f.config_changes:
                lines.append(f"#   the run itself: {describe_config_changes(f.config_changes)} The command trains the "
                             "configuration it ended with from step 0.")
        # The package is measured, so a package that embeds its metrics is exported twice: before and after.
        export, first_export = export_command(f), export_command(f, with_metrics=False)
        if first_export:
            lines.append(first_export)
        if f.metrics is not None and f.metrics.get("command"):
            lines.append(str(f.metrics["command"]))
        if export and export != first_export:
            lines.append(export + "   # again, to embed the metrics in the package")
        for picture in pictures.get(f.entry.name, []):
            lines += picture.commands
    lines += ["# this page", command, "```", ""]
    return "\n".join(lines)


"""The targets of the results page, judged from the numbers: each judge returns a status and the numbers it read,
never a sentence (infodiff.report_page words them).

The targets themselves are data, in train/targets.json: per data set, each target's key (what a manifest's
per-target notes are keyed by), the metrics path it reads and its threshold; and the distilled students' targets
(read by infodiff.report_students).
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence, Tuple

if TYPE_CHECKING:  # only for annotations: report_facts imports this module for TARGET_KEYS
    from .report_facts import Facts

TARGETS_PATH = Path(__file__).resolve().parents[1] / "targets.json"
TARGETS: Dict[str, Any] = json.loads(TARGETS_PATH.read_text(encoding="utf-8"))
# {data set: [target spec]}; a spec has at least "key" and "metric".
MODEL_TARGETS: Dict[str, List[Dict[str, Any]]] = TARGETS["models"]
STUDENT_TARGETS: Dict[str, Dict[str, Any]] = TARGETS["students"]
TARGET_KEYS: Tuple[str, ...] = tuple(spec["key"] for specs in MODEL_TARGETS.values() for spec in specs)

MET, MISSED, NOT_MEASURED = "met", "missed", "not measured"
# The key of the one judgement of an entry with nothing on disk (not even its data set is known).
NOTHING_ON_DISK = "nothing"


@dataclass
class Judgement:
    """One target of one model: its status and the numbers it was judged on."""

    model: str
    key: str  # a target key of targets.json, or NOTHING_ON_DISK
    status: str  # MET, MISSED or NOT_MEASURED
    values: Dict[str, Any] = field(default_factory=dict)  # the threshold and what was read; None where not measured


def spec_of(dataset: str, key: str) -> Dict[str, Any]:
    """The target ``key`` of ``dataset`` as targets.json gives it."""
    return next(spec for spec in MODEL_TARGETS[dataset] if spec["key"] == key)


def _at_least(value: Optional[float], threshold: float) -> str:
    if value is None:
        return NOT_MEASURED
    return MET if value >= threshold else MISSED


def judge_threshold(facts: Facts, spec: Dict[str, Any]) -> Judgement:
    """A metric that must reach the spec's threshold (the linear probe, the PSNR); the values carry the spec's
    other fields (the PSNR's ddimSteps)."""
    value = facts.metric(*spec["metric"])
    values = {name: given for name, given in spec.items() if name not in ("key", "metric")}
    return Judgement(facts.entry.name, spec["key"], _at_least(value, spec["threshold"]), {**values, "value": value})


def judge_confidence(facts: Facts, spec: Dict[str, Any]) -> Judgement:
    """The classifier's mean confidence on prior samples: not measured on fewer samples than the spec asks for."""
    block = facts.metric(*spec["metric"][:-1])
    count = facts.metric(spec["metric"][0], "sampleCount")
    values = {"value": None, "stdErr": None, "samples": count, "requiredSamples": spec["samples"],
              "threshold": spec["threshold"]}
    if block is None:
        return Judgement(facts.entry.name, spec["key"], NOT_MEASURED, values)
    values.update(value=block[spec["metric"][-1]], stdErr=block.get("confidenceStdErr"))
    status = NOT_MEASURED if count < spec["samples"] else _at_least(values["value"], spec["threshold"])
    return Judgement(facts.entry.name, spec["key"], status, values)


def judge_classes(facts: Facts, spec: Dict[str, Any]) -> Judgement:
    """Every class among the prior samples: the classes never predicted, and how often the rarest one was."""
    from .report_facts import class_histogram

    block = facts.metric(*spec["metric"])
    values: Dict[str, Any] = {"required": spec["classes"], "classes": None, "absent": None, "rarest": None,
                              "samples": facts.metric(spec["metric"][0], "sampleCount"),
                              "requiredSamples": spec["samples"]}
    if block is None:
        return Judgement(facts.entry.name, spec["key"], NOT_MEASURED, values)
    histogram = class_histogram(block)
    values.update(classes=len(histogram), absent=[cls for cls, n in histogram.items() if n == 0],
                  rarest=min(histogram.values(), default=None))
    if len(histogram) != spec["classes"]:
        return Judgement(facts.entry.name, spec["key"], NOT_MEASURED, values)
    return Judgement(facts.entry.name, spec["key"], MISSED if values["absent"] else MET, values)


def decodable_threshold(values: int, fraction: Optional[float] = None) -> float:
    """Linear-probe accuracy a factor with ``values`` equally likely values needs to count as decodable: at least
    ``fraction`` (targets.json's decodableFraction) of the way from chance to 100%."""
    if fraction is None:
        fraction = spec_of("shapes", "factors")["decodableFraction"]
    chance = 1.0 / values
    return chance + fraction * (1.0 - chance)


def judge_factors(facts: Facts, spec: Dict[str, Any]) -> Judgement:
    """Every shapes factor decodable from z by the linear probe; per factor its accuracy and what it needs."""
    from .shapes import FACTOR_NAMES, FACTOR_SIZES

    attributes = facts.metric(*spec["metric"])
    values: Dict[str, Any] = {"fraction": spec["decodableFraction"], "factors": []}
    if attributes is None:
        return Judgement(facts.entry.name, spec["key"], NOT_MEASURED, values)
    for factor, size in zip(FACTOR_NAMES, FACTOR_SIZES):
        accuracy = attributes[factor]["mean"] if factor in attributes else None
        values["factors"].append({"factor": factor, "values": size, "accuracy": accuracy,
                                  "needed": decodable_threshold(size, spec["decodableFraction"])})
    failed = any(f["accuracy"] is None or f["accuracy"] < f["needed"] for f in values["factors"])
    return Judgement(facts.entry.name, spec["key"], MISSED if failed else MET, values)


def judge_above_baseline(facts: Facts, spec: Dict[str, Any], baseline: Optional[Facts]) -> Judgement:
    """A metric that must exceed the baseline's (DCI disentanglement)."""
    ours = facts.metric(*spec["metric"])
    theirs = baseline.metric(*spec["metric"]) if baseline is not None else None
    status = NOT_MEASURED if ours is None or theirs is None else MET if ours > theirs else MISSED
    return Judgement(facts.entry.name, spec["key"], status, {"value": ours, "baseline": theirs})


def judge(facts: Facts, baseline: Optional[Facts]) -> List[Judgement]:
    """Every target of the entry's data set, in targets.json's order."""
    judges = {"probe": judge_threshold, "psnr": judge_threshold, "confidence": judge_confidence,
              "classes": judge_classes, "factors": judge_factors,
              "dci": lambda f, spec: judge_above_baseline(f, spec, baseline)}
    return [judges[spec["key"]](facts, spec) for spec in MODEL_TARGETS[facts.dataset]]


def all_targets(facts: Sequence[Facts]) -> List[Judgement]:
    """Targets of every non-baseline entry of a data set with targets; an entry with nothing on disk yet gets one
    NOTHING_ON_DISK judgement, since not even its data set is known."""
    from .report_facts import baseline_of

    results = []
    for f in facts:
        if f.entry.baseline_of is not None:
            continue
        if f.dataset in MODEL_TARGETS:
            results.extend(judge(f, baseline_of(f, facts)))
        elif f.dataset is None:
            results.append(Judgement(f.entry.name, NOTHING_ON_DISK, NOT_MEASURED, {"missing": list(f.missing)}))
    return results


# --------------------------------------------------------------------------------------------- the paper's claim


@dataclass
class Comparison:
    """One quantity of a model against its baseline."""

    key: str  # 'probe', 'dci', 'fd', 'fdEta1', 'fdFitted'
    ours: Optional[float]
    theirs: Optional[float]
    verdict: Optional[str]  # 'better', 'worse', 'equal'; None where one of them is not measured
    spread: Optional[float] = None  # the probe: the folds' combined spread, when the gap is within it


@dataclass
class Claim:
    """InfoDiffusion against its DiffAE baseline: the comparisons and each one's training budget."""

    model: str
    baseline: str
    comparisons: List[Comparison]
    budgets: Tuple[Tuple[Optional[int], Optional[int]], Tuple[Optional[int], Optional[int]]]  # (steps, batch)


def paper_claim(facts: Sequence[Facts]) -> List[Claim]:
    """Per model with a baseline: latent quality (probe, with the folds' spread when the gap is within it),
    disentanglement (DCI, shapes), samples (FD; also at η = 1 and from the fitted mixture where measured), and the
    budget of each."""
    from .report_facts import baseline_of, probe_spread, sampler_fd, sampler_row

    claims = []
    for model in facts:
        baseline = baseline_of(model, facts)
        if model.entry.baseline_of is not None or baseline is None:
            continue
        # (key, how to read it from a model's facts, higher is better)
        compared = [("probe", lambda f: f.metric("linearProbe", "meanAccuracy"), True)]
        if model.dataset == "shapes":  # DCI needs generative factors
            compared.append(("dci", lambda f: f.metric("dci", "disentanglement"), True))
        compared.append(("fd", lambda f: f.metric("frechetDistance", "frechetDistance"), False))
        if model.metric("samplers") or baseline.metric("samplers"):
            compared.append(("fdEta1", lambda f: sampler_fd(f, 1.0), False))
        if sampler_row(model, 1.0, "fitted") or sampler_row(baseline, 1.0, "fitted"):
            compared.append(("fdFitted", lambda f: sampler_fd(f, 1.0, "fitted"), False))
        comparisons = []
        for key, read, higher_is_better in compared:
            ours, theirs = read(model), read(baseline)
            if ours is None or theirs is None:
                comparisons.append(Comparison(key, ours, theirs, None))
                continue
            gain = (ours - theirs) * (1 if higher_is_better else -1)
            verdict = "better" if gain > 0 else "worse" if gain < 0 else "equal"
            spread = None
            if key == "probe":
                combined = math.hypot(probe_spread(model), probe_spread(baseline))
                spread = combined if abs(ours - theirs) <= combined else None
            comparisons.append(Comparison(key, ours, theirs, verdict, spread))
        budgets = tuple((f.measured_steps, f.batch_size) for f in (model, baseline))
        claims.append(Claim(model.entry.name, baseline.entry.name, comparisons, budgets))
    return claims

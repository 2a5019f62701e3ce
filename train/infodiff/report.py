"""Results page: trained runs, their packages and their metrics JSON -> docs/results.md and the PNGs in docs/results/.

    cd train
    /usr/bin/python3 -m infodiff.report --manifest configs/results.json \\
        --markdown ../docs/results.md --images ../docs/results

The manifest (JSON) lists what to report; paths are relative to the directory the command runs in (train/), as
for every other command:

    {"models": [
      {"name": "fashion-mnist", "run": "runs/fmnist-infodiff", "package": "../public/models/fashion-mnist",
       "metrics": "runs/fmnist-infodiff/metrics.json"},
      {"name": "fashion-mnist-diffae", "baselineOf": "fashion-mnist", "run": "runs/fmnist-diffae",
       "metrics": "runs/fmnist-diffae/metrics.json", "notes": "free text shown next to its results"}
    ]}

``notes`` is free text that follows every missed target of the entry, or an object that gives each target its own
(keys in TARGET_KEYS: "probe", "confidence", "classes", "psnr" for FashionMNIST; "factors", "dci" for shapes),
so that a reason shows only where it applies; a keyed note also follows its target when it is met (a margin
inside the measurement's noise, say).

``run`` is a training directory (its checkpoint.pt gives the configuration, step, wall time and hardware),
``package`` a web package folder (what the app ships: its size, precision and provenance), ``metrics`` the JSON of
infodiff.evaluate. Any of them may be missing on disk: the page then says what is missing instead of a number.
Nothing here measures anything: every number is read from those files, and the page lists the commands that
produced them (training command derived from the run's configuration, export, evaluate) plus its own.

What the page holds:
* a training table (configuration, parameters, steps, wall time, hardware, package size) and a metrics table
  (linear-probe accuracy, DCI, Fréchet distance, recognisability, NLL, PSNR with inversion at 20 and 100 DDIM
  steps and without inversion); a per-factor table for shapes models;
* the targets of the "Ship trained models" issue, each computed from the numbers: met, or missed by how much,
  with the computable reasons (an unfinished run, a measurement smaller than the target asks for) and the
  manifest's notes;
* the paper's claim checked on our numbers: InfoDiffusion against its DiffAE baseline at equal budget;
* sample grids, traversal grids and interpolation strips, drawn here from each model (``--skip-images`` to
  leave them out), with the infodiff.sample commands that draw each one alone.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import re
import shlex
import sys
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

import torch

from .config import (CONFIGS_DIR, ConfigError, TrainConfig, config_from_dict, config_to_dict, load_preset,
                     validate_train_config)
from .data import DataError, balanced_indices
from .diffusion import make_schedule
from .latent_prior import describe as describe_mixture
from .model import TIME_TABLE_KEY, expected_parameters
from .report_students import read_students, students_section
from .sample import (TRAVERSAL_VALUES, LoadedModel, interpolation, load_images, load_model, open_dataset,
                     package_mixture, sample_images, save_grid, traversal)
from .train import CHECKPOINT_NAME, config_change_clauses, describe_config_changes, read_checkpoint
from .webpackage import MANIFEST_NAME, WebPackageError, validate_metadata

TRAIN_DIR = Path(__file__).resolve().parents[1]
NAME_PATTERN = re.compile(r"^[a-z0-9-]+$")
ENTRY_KEYS = ("name", "title", "run", "package", "metrics", "baselineOf", "notes")
# How a run was launched rather than what it trains: left out of the derived training command.
INVOCATION_KEYS = ("resume", "stop_after_steps", "threads", "device")

# Targets of the "Ship trained models" issue.
PROBE_TARGET = 0.85  # FashionMNIST linear-probe accuracy of z
CONFIDENCE_TARGET = 0.80  # mean max-softmax of the classifier on prior samples
CONFIDENCE_SAMPLES = 1000  # ... over this many samples
FASHION_CLASSES = 10  # every class must appear among those samples
# What a manifest's per-target notes are keyed by, one key per target line of the page.
TARGET_KEYS = ("probe", "confidence", "classes", "psnr", "factors", "dci")
PSNR_TARGET = 30.0  # dB, reconstruction with inversion ...
PSNR_TARGET_STEPS = 100  # ... at this many DDIM steps
# A shapes factor counts as decodable from z when its linear-probe accuracy is at least halfway from chance
# (1 / number of values) to perfect.
DECODABLE_FRACTION = 0.5

SAMPLE_COUNT = 64
INTERPOLATION_PAIRS = 3
INTERPOLATION_FRAMES = 10
# A regenerated picture within one level of the committed one, pixel by pixel, is the same picture drawn with
# other CPU thread counts (float sums reorder); it is not rewritten, so unchanged models leave git unchanged.
ROUNDING_LEVELS = 1


class ReportError(ValueError):
    """A manifest the report cannot work from; says which entry and field."""


@dataclass
class Entry:
    """One model or baseline of the manifest."""

    name: str
    title: str = ""
    run: Optional[Path] = None
    package: Optional[Path] = None
    metrics: Optional[Path] = None
    baseline_of: Optional[str] = None
    notes: Union[str, Dict[str, str]] = ""  # for every target, or per TARGET_KEYS key


@dataclass
class Facts:
    """Everything the page says about one entry, read from its files (None where a file is missing)."""

    entry: Entry
    config: Optional[TrainConfig] = None  # the run's configuration (from its checkpoint)
    run_step: Optional[int] = None  # optimiser steps in the run's checkpoint
    metadata: Optional[Dict[str, Any]] = None  # the package's metadata
    metrics: Optional[Dict[str, Any]] = None
    package_bytes: Optional[int] = None  # every file of the package folder
    package_float16: Optional[bool] = None
    wall_time_seconds: Optional[float] = None
    hardware: Optional[str] = None
    config_changes: List[Dict[str, Any]] = field(default_factory=list)  # the run's changing resumes (infodiff.train)
    missing: List[str] = field(default_factory=list)  # what the manifest names but the disk lacks

    @property
    def dataset(self) -> Optional[str]:
        if self.config is not None:
            return self.config.dataset
        return self.metadata["provenance"]["dataset"] if self.metadata is not None else None

    @property
    def architecture(self) -> Optional[Dict[str, Any]]:
        if self.metadata is not None:
            return self.metadata["architecture"]
        return self.config.architecture if self.config is not None else None

    @property
    def schedule(self) -> Optional[Dict[str, Any]]:
        if self.metadata is not None:
            return self.metadata.get("schedule")
        return self.config.schedule if self.config is not None else None

    @property
    def timesteps(self) -> Optional[int]:
        return None if self.schedule is None else self.schedule["timesteps"]

    @property
    def objective(self) -> Optional[Dict[str, Any]]:
        """mmdWeight, kldWeight, prior (TrainConfig names), from the run or the package's provenance."""
        if self.config is not None:
            return {"mmdWeight": self.config.mmd_weight, "kldWeight": self.config.kld_weight,
                    "prior": self.config.prior}
        return self.metadata["provenance"]["objective"] if self.metadata is not None else None

    @property
    def steps(self) -> Optional[int]:
        if self.run_step is not None:
            return self.run_step
        return self.metadata["provenance"]["steps"] if self.metadata is not None else None

    @property
    def batch_size(self) -> Optional[int]:
        if self.config is not None:
            return self.config.batch_size
        return self.metadata["provenance"]["batchSize"] if self.metadata is not None else None

    @property
    def measured_steps(self) -> Optional[int]:
        """Training steps of the weights the metrics were measured on (metrics files older than this field: the
        run's or package's steps)."""
        measured = self.metric("model", "trainingSteps")
        return measured if measured is not None else self.steps

    def metric(self, *path: str) -> Any:
        """metrics[path[0]][path[1]]..., or None when any level is missing."""
        value: Any = self.metrics
        for key in path:
            if not isinstance(value, dict) or key not in value:
                return None
            value = value[key]
        return value


# --------------------------------------------------------------------------------------------- reading


def _read_notes(notes: Any, where: str) -> Union[str, Dict[str, str]]:
    """A manifest entry's notes: one text for every target, or {target key: text}."""
    if isinstance(notes, str):
        return notes
    if not isinstance(notes, dict) or not all(isinstance(v, str) for v in notes.values()):
        raise ReportError(f"{where}.notes must be a string or an object of strings keyed by target")
    unknown = sorted(key for key in notes if key not in TARGET_KEYS)
    if unknown:
        raise ReportError(f"{where}.notes has unknown target(s) {', '.join(unknown)}; targets: {', '.join(TARGET_KEYS)}")
    return dict(notes)


def read_manifest(path: str | Path) -> List[Entry]:
    """The manifest's entries, checked: unique names, known fields, baselines that name an entry."""
    path = Path(path)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise ReportError(f"cannot read the manifest {path}: {err}") from None
    models = document.get("models") if isinstance(document, dict) else None
    if not isinstance(models, list) or not models:
        raise ReportError(f"{path}: needs a non-empty list 'models'")
    entries = []
    for k, item in enumerate(models):
        where = f"{path}: models[{k}]"
        if not isinstance(item, dict):
            raise ReportError(f"{where} must be an object")
        unknown = [key for key in item if key not in ENTRY_KEYS]
        if unknown:
            raise ReportError(f"{where} has unknown field(s) {', '.join(unknown)}; fields: {', '.join(ENTRY_KEYS)}")
        name = item.get("name")
        if not isinstance(name, str) or not NAME_PATTERN.match(name):
            raise ReportError(f"{where}.name must match [a-z0-9-]+ (it names the image files), got {name!r}")
        if not any(item.get(key) for key in ("run", "package")):
            raise ReportError(f"{where} ({name}) needs a 'run' directory or a 'package' folder")
        entries.append(Entry(
            name=name, title=str(item.get("title", "")),
            run=Path(item["run"]) if item.get("run") else None,
            package=Path(item["package"]) if item.get("package") else None,
            metrics=Path(item["metrics"]) if item.get("metrics") else None,
            baseline_of=item.get("baselineOf") or None, notes=_read_notes(item.get("notes", ""), where)))
    names = [e.name for e in entries]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ReportError(f"{path}: model names must be unique; repeated: {', '.join(repeated)}")
    for entry in entries:
        if entry.baseline_of is not None and entry.baseline_of not in names:
            raise ReportError(f"{path}: {entry.name} is a baseline of {entry.baseline_of!r}, which is not listed")
    return entries


def gather(entry: Entry) -> Facts:
    """Reads an entry's checkpoint, package and metrics; notes each one the manifest names but the disk lacks."""
    facts = Facts(entry)
    if entry.run is not None:
        checkpoint_path = entry.run / CHECKPOINT_NAME
        if checkpoint_path.is_file():
            state = read_checkpoint(checkpoint_path)
            facts.config = config_from_dict(state["config"])
            facts.run_step = int(state["step"])
            facts.wall_time_seconds = float(state["wall_time_seconds"])
            facts.hardware = state.get("hardware")
            facts.config_changes = list(state.get("config_changes", []))
        else:
            facts.missing.append(f"run checkpoint {_shown(checkpoint_path)}")
    if entry.package is not None:
        manifest_path = entry.package / MANIFEST_NAME
        if manifest_path.is_file():
            document = json.loads(manifest_path.read_text(encoding="utf-8"))
            try:
                facts.metadata = validate_metadata(document.get("metadata"), entry.package)
            except WebPackageError as err:
                raise ReportError(f"{entry.name}: {manifest_path}: {err}") from None
            facts.package_bytes = sum(p.stat().st_size for p in entry.package.rglob("*") if p.is_file())
            specs = [w for group in document["weightsManifest"] for w in group["weights"]]
            facts.package_float16 = any("quantization" in w for w in specs)
            provenance = facts.metadata["provenance"]
            if facts.wall_time_seconds is None:
                facts.wall_time_seconds = float(provenance["wallTimeSeconds"])
                facts.hardware = provenance["hardware"]
        else:
            facts.missing.append(f"package {_shown(entry.package)}")
    if entry.metrics is not None:
        if entry.metrics.is_file():
            facts.metrics = json.loads(entry.metrics.read_text(encoding="utf-8"))
        else:
            facts.missing.append(f"metrics {_shown(entry.metrics)}")
    return facts


def parameter_counts(architecture: Dict[str, Any], timesteps: int) -> Dict[str, int]:
    """{'trainable', 'frozen'} element counts of the architecture (the frozen part is the sinusoid table)."""
    shapes = expected_parameters(architecture, timesteps)
    total = sum(math.prod(shape) for shape in shapes.values())
    frozen = math.prod(shapes[TIME_TABLE_KEY])
    return {"trainable": total - frozen, "frozen": frozen}


# --------------------------------------------------------------------------------------------- commands


def _shown(path: Path | str) -> str:
    """A path as it is typed in train/: relative to train/ when inside the repository, else absolute."""
    resolved = Path(path).resolve()
    repository = TRAIN_DIR.parent
    if resolved == repository or repository in resolved.parents:
        return os.path.relpath(resolved, TRAIN_DIR)
    return str(resolved)


def _override(key: str, value: Any, nested: bool = False) -> str:
    """``--key=value`` as config.apply_overrides parses it back to the same value, shell-quoted."""
    if nested:
        text = json.dumps(value, separators=(",", ":"))
    elif isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, float):
        text = repr(value)
    else:
        text = str(value)
    return shlex.quote(f"--{key}={text}")


def _overrides(base: Dict[str, Any], target: Dict[str, Any]) -> List[str]:
    """The overrides that turn config dict ``base`` into ``target`` (nested sections field by field)."""
    args = []
    for key, value in target.items():
        if key in INVOCATION_KEYS or base[key] == value:
            continue
        if isinstance(value, dict):
            args.extend(_override(f"{key}.{sub}", v, nested=True)
                        for sub, v in value.items() if base[key].get(sub) != v)
        else:
            args.append(_override(key, value))
    return args


def train_command(cfg: TrainConfig) -> str:
    """The shortest ``python -m infodiff.train`` command whose configuration is ``cfg``: the preset in configs/
    that needs the fewest overrides, then those overrides (launch-only keys such as --resume left out)."""
    target = config_to_dict(cfg)
    candidates: List[Tuple[int, str, List[str]]] = []
    defaults = config_to_dict(validate_train_config(TrainConfig()))
    candidates.append((len(_overrides(defaults, target)), "", _overrides(defaults, target)))
    for preset in sorted(CONFIGS_DIR.glob("*.json")):
        try:
            base = config_to_dict(validate_train_config(load_preset(preset)))
        except ConfigError:
            continue
        overrides = _overrides(base, target)
        candidates.append((len(overrides), f"--config configs/{preset.name}", overrides))
    _, preset_arg, overrides = min(candidates, key=lambda c: c[0])
    return " ".join(part for part in ["python -m infodiff.train", preset_arg, *overrides] if part)


def export_command(facts: Facts, with_metrics: bool = True) -> Optional[str]:
    """The infodiff.export call that writes the entry's package from its run (None without both); with the
    metrics it embeds, unless ``with_metrics`` is False (the first export, before they are measured)."""
    entry = facts.entry
    if entry.run is None or entry.package is None or facts.metadata is None:
        return None
    provenance = facts.metadata["provenance"]
    parts = ["python -m infodiff.export", "--checkpoint", shlex.quote(_shown(entry.run / CHECKPOINT_NAME)),
             "--out", shlex.quote(_shown(entry.package))]
    if not facts.package_float16:
        parts.append("--float32")
    if not provenance["ema"]:
        parts.append("--raw")
    if with_metrics and provenance["metrics"] and entry.metrics is not None:
        parts += ["--metrics", shlex.quote(_shown(entry.metrics))]
    return " ".join(parts)


# --------------------------------------------------------------------------------------------- targets


@dataclass
class TargetResult:
    model: str
    target: str
    status: str  # 'met', 'missed' or 'not measured'
    detail: str


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


def _reasons(facts: Facts, target_key: str) -> str:
    """Why a target may be missed, as far as the files tell: an unfinished run, and the manifest's notes for
    this target (``target_key``, one of TARGET_KEYS) or for all of them."""
    reasons = []
    measured = facts.measured_steps
    if facts.config is not None and measured is not None and measured < facts.config.steps:
        reasons.append(f"measured at step {measured:,} of the planned {facts.config.steps:,}")
    note = _manifest_note(facts, target_key)
    if note:
        reasons.append(note)
    return f" Why: {'; '.join(reasons)}." if reasons else ""


def _manifest_note(facts: Facts, target_key: str) -> str:
    """The manifest's note for this target, or its note for all of them ('' when there is none)."""
    notes = facts.entry.notes
    return notes.get(target_key, "") if isinstance(notes, dict) else notes


def _met_note(facts: Facts, target_key: str) -> str:
    """' Note: ...' from a note keyed to this target, so that a target met by a hair can say so; a note for all
    targets explains misses and is left off here."""
    note = _manifest_note(facts, target_key) if isinstance(facts.entry.notes, dict) else ""
    return f" Note: {note}." if note else ""


def _times(count: int) -> str:
    """'once', 'twice', '3 times'."""
    return {1: "once", 2: "twice"}.get(count, f"{count:,} times")


def fashion_targets(facts: Facts) -> List[TargetResult]:
    """The FashionMNIST targets: probe >= 85%, samples recognisable (>= 80% confidence over 1,000 samples, every
    class present), PSNR >= 30 dB with inversion at 100 steps."""
    name = facts.entry.name
    results = []

    probe = facts.metric("linearProbe", "attributes", "class", "mean")
    target = f"linear-probe accuracy of z >= {_percent(PROBE_TARGET)}"
    if probe is None:
        results.append(TargetResult(name, target, "not measured", "no linear-probe result in the metrics."))
    elif probe >= PROBE_TARGET:
        results.append(TargetResult(name, target, "met", f"{_percent(probe)}.{_met_note(facts, 'probe')}"))
    else:
        shown, _, gap = _shortfall(probe, PROBE_TARGET)
        results.append(TargetResult(name, target, "missed", f"{shown}, {gap}.{_reasons(facts, 'probe')}"))

    samples = facts.metric("recognisability", "samples")
    count = facts.metric("recognisability", "sampleCount")
    target = (f"the classifier is on average >= {_percent(CONFIDENCE_TARGET)} confident over "
              f"{CONFIDENCE_SAMPLES:,} samples")
    classes_target = "every class appears among the samples"
    if samples is None:
        results.append(TargetResult(name, target, "not measured", "no recognisability result in the metrics."))
        results.append(TargetResult(name, classes_target, "not measured", "no recognisability result."))
    else:
        confidence = samples["meanConfidence"]
        size_note = "" if count >= CONFIDENCE_SAMPLES else (
            f" Measured on {count:,} samples, fewer than the {CONFIDENCE_SAMPLES:,} the target asks for.")
        app = _sampler(facts, 1.0, "fitted")
        app_note = "" if app is None else (
            f" The app's prior draws (z from the fitted latent mixture, η = 1): "
            f"{_confidence(app['recognisability'])} over {app['sampleCount']:,} samples.")
        ceiling = max((s for s in facts.metric("samplers") or [] if s.get("prior") == "encoded"),
                      key=lambda s: s["recognisability"]["meanConfidence"], default=None)
        if ceiling is not None:
            app_note += (f" With z = Enc(x) of held-out test images, where the codes really lie (the best any latent "
                         f"prior can do with this denoiser): {_confidence(ceiling['recognisability'])} "
                         f"(η = {ceiling['eta']:g}).")
        real = _judge_on_test_images(facts)
        if real is not None:
            app_note += f" The same classifier on real test images: {_confidence(real)}."
        if count < CONFIDENCE_SAMPLES:
            results.append(TargetResult(name, target, "not measured",
                                        f"{_confidence(samples)} mean confidence.{size_note}{app_note}"))
        elif confidence >= CONFIDENCE_TARGET:
            results.append(TargetResult(name, target, "met", f"{_confidence(samples)} mean confidence.{app_note}"
                                        f"{_met_note(facts, 'confidence')}"))
        else:
            shown, _, gap = _shortfall(confidence, CONFIDENCE_TARGET)
            std_err = samples.get("confidenceStdErr")
            if std_err:  # None in older metrics; 0 only when every sample is equally sure, no unit to count in
                gap += f" ({(CONFIDENCE_TARGET - confidence) / std_err:.1f} standard errors)"
            results.append(TargetResult(name, target, "missed", f"{shown}{_std_err_suffix(samples)} mean confidence, "
                                        f"{gap}.{app_note}{_reasons(facts, 'confidence')}"))
        histogram = _class_histogram(samples)
        absent = [cls for cls, n in histogram.items() if n == 0]
        if len(histogram) != FASHION_CLASSES:
            results.append(TargetResult(name, classes_target, "not measured",
                                        f"the histogram has {len(histogram)} classes, not {FASHION_CLASSES}."))
        elif absent:
            results.append(TargetResult(name, classes_target, "missed",
                                        f"{len(absent)} of {FASHION_CLASSES} classes never predicted: "
                                        f"{', '.join(absent)}.{size_note}{_reasons(facts, 'classes')}"))
        else:
            results.append(TargetResult(name, classes_target, "met",
                                        f"all {FASHION_CLASSES} classes, the rarest "
                                        f"{_times(min(histogram.values()))}.{size_note}{_met_note(facts, 'classes')}"))

    psnr = facts.metric("reconstruction", f"inversion{PSNR_TARGET_STEPS}", "psnr")
    target = f"reconstruction PSNR >= {PSNR_TARGET:g} dB with inversion at {PSNR_TARGET_STEPS} DDIM steps"
    if psnr is None:
        results.append(TargetResult(name, target, "not measured",
                                    f"no inversion{PSNR_TARGET_STEPS} reconstruction in the metrics."))
    elif psnr >= PSNR_TARGET:
        results.append(TargetResult(name, target, "met", f"{psnr:.2f} dB.{_met_note(facts, 'psnr')}"))
    else:
        results.append(TargetResult(name, target, "missed", f"{psnr:.2f} dB, {PSNR_TARGET - psnr:.2f} dB short.{_reasons(facts, 'psnr')}"))
    return results


def decodable_threshold(values: int) -> float:
    """Linear-probe accuracy a factor with ``values`` equally likely values needs to count as decodable."""
    chance = 1.0 / values
    return chance + DECODABLE_FRACTION * (1.0 - chance)


def _held_otherwise(factor: str, facts: Facts, baseline: Optional[Facts]) -> str:
    """What else the metrics say of a factor the linear probe misses: the MLP probe (is it held non-linearly?) and
    the factor swap against the baseline's (does the decoder follow z on it?), so the page states them at every
    step instead of a hand-written note restating them."""
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


def shapes_targets(facts: Facts, baseline: Optional[Facts]) -> List[TargetResult]:
    """The shapes targets: every factor decodable from z; DCI disentanglement above the baseline's."""
    from .shapes import FACTOR_NAMES, FACTOR_SIZES

    name = facts.entry.name
    results = []
    target = (f"every factor decodable from z (linear probe at least {DECODABLE_FRACTION:.0%} of the way from "
              "chance to 100%)")
    attributes = facts.metric("linearProbe", "attributes")
    if attributes is None:
        results.append(TargetResult(name, target, "not measured", "no linear-probe result in the metrics."))
    else:
        parts, failed = [], []
        for factor, size in zip(FACTOR_NAMES, FACTOR_SIZES):
            if factor not in attributes:
                failed.append(f"{factor} not measured")
                continue
            accuracy, needed = attributes[factor]["mean"], decodable_threshold(size)
            parts.append(f"{factor} {_percent(accuracy)}")
            if accuracy < needed:
                shown, needed_shown, gap = _shortfall(accuracy, needed)
                failed.append(f"{factor} {shown} < {needed_shown} ({gap}){_held_otherwise(factor, facts, baseline)}")
        if failed:
            results.append(TargetResult(name, target, "missed", f"{'; '.join(failed)}.{_reasons(facts, 'factors')}"))
        else:
            results.append(TargetResult(name, target, "met", f"{', '.join(parts)}.{_met_note(facts, 'factors')}"))

    target = "DCI disentanglement above the DiffAE baseline's"
    ours = facts.metric("dci", "disentanglement")
    theirs = baseline.metric("dci", "disentanglement") if baseline is not None else None
    if ours is None or theirs is None:
        lacking = "this model's DCI" if ours is None else "a baseline with DCI in the manifest"
        results.append(TargetResult(name, target, "not measured", f"no {lacking}."))
    elif ours > theirs:
        results.append(TargetResult(name, target, "met", f"{ours:.3f} against {theirs:.3f} "
                                    f"(+{ours - theirs:.3f}).{_met_note(facts, 'dci')}"))
    else:
        results.append(TargetResult(name, target, "missed",
                                    f"{ours:.3f} against {theirs:.3f}, {theirs - ours:.3f} below.{_reasons(facts, 'dci')}"))
    return results


def all_targets(facts: Sequence[Facts]) -> List[TargetResult]:
    """Targets of every non-baseline FashionMNIST and shapes entry; an entry with nothing on disk yet gets one
    'not measured' line, since not even its data set is known."""
    results = []
    for f in facts:
        if f.entry.baseline_of is not None:
            continue
        if f.dataset == "fashion-mnist":
            results.extend(fashion_targets(f))
        elif f.dataset == "shapes":
            results.extend(shapes_targets(f, _baseline_of(f, facts)))
        elif f.dataset is None:
            results.append(TargetResult(f.entry.name, "the issue's targets", "not measured",
                                        f"nothing on disk yet ({', '.join(f.missing)})."))
    return results


def _baseline_of(model: Facts, facts: Sequence[Facts]) -> Optional[Facts]:
    return next((f for f in facts if f.entry.baseline_of == model.entry.name), None)


def stale_metrics(facts: Sequence[Facts]) -> List[str]:
    """One phrase per entry whose metrics were measured on weights older than its run or package now holds."""
    return [f"{f.entry.name}'s metrics were measured at step {f.measured_steps:,}, its weights are now at step "
            f"{f.steps:,}" for f in facts
            if f.metrics is not None and None not in (f.measured_steps, f.steps) and f.measured_steps != f.steps]


def _probe_spread(facts: Facts) -> float:
    """The linear probe's fold-to-fold standard deviation, averaged over its attributes (0 when not recorded)."""
    attributes = facts.metric("linearProbe", "attributes") or {}
    spreads = [a["std"] for a in attributes.values() if isinstance(a, dict) and "std" in a]
    return sum(spreads) / len(spreads) if spreads else 0.0


def _sampler(facts: Facts, eta: float, prior: str = "model") -> Optional[Dict[str, Any]]:
    """The row of the metrics' sampler comparison at ``eta`` with z from ``prior`` ('model': the model's own
    prior; 'fitted': the fitted latent mixture; 'encoded': codes of held-out images), or None. Rows written before the fitted prior are the model's."""
    return next((s for s in facts.metric("samplers") or []
                 if s["eta"] == eta and s.get("prior", "model") == prior), None)


def _sampler_fd(facts: Facts, eta: float, prior: str = "model") -> Optional[float]:
    """The FD of that sampler row, or None."""
    row = _sampler(facts, eta, prior)
    return row["frechetDistance"] if row else None


def paper_claim(facts: Sequence[Facts]) -> List[str]:
    """Per model with a baseline: does InfoDiffusion beat it on latent quality (probe, flagged when the gap is
    within the folds' spread), disentanglement (DCI) and samples (FD; also at η = 1 where measured), and was the
    budget equal? One sentence each, computed from the numbers."""
    lines = []
    for model in facts:
        baseline = _baseline_of(model, facts)
        if model.entry.baseline_of is not None or baseline is None:
            continue
        def metric(*path: str) -> Callable[[Facts], Optional[float]]:
            return lambda f: f.metric(*path)

        # (label, how to read it from a model's facts, higher is better, is the probe)
        compared = [("latent quality (mean linear-probe accuracy)", metric("linearProbe", "meanAccuracy"), True, True)]
        if model.dataset == "shapes":  # DCI needs generative factors
            compared.append(("disentanglement (DCI)", metric("dci", "disentanglement"), True, False))
        compared.append(("sample quality (FD, lower is better)", metric("frechetDistance", "frechetDistance"), False,
                         False))
        if model.metric("samplers") or baseline.metric("samplers"):
            compared.append(("with stochastic DDIM (FD at η = 1)", lambda f: _sampler_fd(f, 1.0), False, False))
        if _sampler(model, 1.0, "fitted") or _sampler(baseline, 1.0, "fitted"):
            compared.append(("with z from the fitted latent mixture (FD at η = 1)",
                             lambda f: _sampler_fd(f, 1.0, "fitted"), False, False))
        verdicts = []
        for label, read, higher_is_better, is_probe in compared:
            ours, theirs = read(model), read(baseline)
            if ours is None or theirs is None:
                verdicts.append(f"{label}: not measured for both")
                continue
            gain = (ours - theirs) * (1 if higher_is_better else -1)
            word = "better" if gain > 0 else "worse" if gain < 0 else "equal"
            verdict = f"{label}: {ours:.3f} against {theirs:.3f}, {word} ({ours - theirs:+.3f})"
            if is_probe:
                spread = math.hypot(_probe_spread(model), _probe_spread(baseline))
                if abs(ours - theirs) <= spread:
                    verdict += f", within the folds' spread (±{spread:.3f})"
            verdicts.append(verdict)
        budget = [(f.measured_steps, f.batch_size) for f in (model, baseline)]
        if None in budget[0] or None in budget[1]:
            budget_note = "budget unknown for one of them"
        elif budget[0] == budget[1]:
            budget_note = f"equal budget ({budget[0][0]:,} steps of batch {budget[0][1]})"
        else:
            budget_note = (f"unequal budget ({budget[0][0]:,} steps of batch {budget[0][1]} against "
                           f"{budget[1][0]:,} of batch {budget[1][1]}), so not the equal-budget comparison")
        lines.append(f"{model.entry.name} against {baseline.entry.name}: " + "; ".join(verdicts) + f"; {budget_note}.")
    return lines


# --------------------------------------------------------------------------------------------- images


@dataclass
class Picture:
    caption: str
    path: Path
    commands: List[str]


def draw_pictures(loaded: LoadedModel, name: str, model_arg: str, out_dir: Path, steps: int, seed: int,
                  batch_size: int = 64) -> List[Picture]:
    """Writes {name}-samples.png (64 prior samples), {name}-samples-eta1.png (the same with eta 1),
    {name}-traversal.png (one row per latent dimension, values
    -1.5..1.5, of one held-out image) and {name}-interpolation.png (three pairs of held-out images of different
    classes, 10 frames each) into ``out_dir``; returns them with the infodiff.sample commands drawing each."""
    common = f"--model {shlex.quote(model_arg)} --steps {steps} --seed {seed}"
    pictures = []
    # The same z and x_T with deterministic DDIM, then with fresh noise at every step (eta 1).
    for eta, suffix, caption in ((0.0, "", f"{SAMPLE_COUNT} samples: z from the prior, x_T ~ N(0, I), {steps} DDIM "
                                           "steps"),
                                 (1.0, "-eta1", f"the same {SAMPLE_COUNT} samples (the same z and x_T) with "
                                                f"stochastic DDIM, eta 1, {steps} steps")):
        path = out_dir / f"{name}-samples{suffix}.png"
        save_grid(sample_images(loaded, SAMPLE_COUNT, steps, eta, seed, batch_size), int(math.isqrt(SAMPLE_COUNT)),
                  path, keep_within=ROUNDING_LEVELS)
        eta_arg = f" --eta {eta:g}" if eta else ""
        pictures.append(Picture(caption, path, [f"python -m infodiff.sample samples {common}{eta_arg} --n "
                                                f"{SAMPLE_COUNT} --out {_shown(path)}"]))
    mixture = package_mixture(loaded)
    if mixture is not None:
        # What the app's prior draws look like: z from the package's fitted mixture, eta 1.
        path = out_dir / f"{name}-samples-fitted.png"
        save_grid(sample_images(loaded, SAMPLE_COUNT, steps, 1.0, seed, batch_size, mixture),
                  int(math.isqrt(SAMPLE_COUNT)), path, keep_within=ROUNDING_LEVELS)
        pictures.append(Picture(f"{SAMPLE_COUNT} samples as the app draws them: z from the fitted latent mixture "
                                f"({describe_mixture(mixture)}), x_T ~ N(0, I), stochastic DDIM, eta 1, {steps} "
                                "steps", path,
                                [f"python -m infodiff.sample samples {common} --prior fitted --eta 1 --n "
                                 f"{SAMPLE_COUNT} --out {_shown(path)}"]))

    test_set = open_dataset(loaded, "test", shapes_count=max(64, 1 + 2 * INTERPOLATION_PAIRS))
    rows = balanced_indices(test_set, 1 + 2 * INTERPOLATION_PAIRS, seed)
    x0 = load_images(loaded, "test", rows[:1], dataset=test_set)
    path = out_dir / f"{name}-traversal.png"
    save_grid(traversal(loaded, x0, steps, batch_size=batch_size), len(TRAVERSAL_VALUES), path,
              keep_within=ROUNDING_LEVELS)
    names = (loaded.metadata or {}).get("dimensionNames") or [None] * loaded.architecture["latentDim"]
    labels = ", ".join(f"{k} ({n})" if n else str(k) for k, n in enumerate(names))
    pictures.append(Picture(
        f"traversal of held-out image {rows[0]} ({test_set.describe(rows[0])}): row k sets z_k to "
        f"{TRAVERSAL_VALUES[0]}, ..., {TRAVERSAL_VALUES[-1]}; rows (dimension, name): {labels}", path,
        [f"python -m infodiff.sample traversal {common} --split test --index {rows[0]} --out {_shown(path)}"]))

    strips, commands = [], []
    for a, b in zip(rows[1::2], rows[2::2]):
        pair = load_images(loaded, "test", [a, b], dataset=test_set)
        strips.append(interpolation(loaded, pair[:1], pair[1:], steps, INTERPOLATION_FRAMES, batch_size))
        commands.append(f"python -m infodiff.sample interpolate {common} --split test --index {a} --index-b {b} "
                        f"--frames {INTERPOLATION_FRAMES} --out {name}-interpolation-{a}-{b}.png")
    path = out_dir / f"{name}-interpolation.png"
    save_grid(torch.cat(strips), INTERPOLATION_FRAMES, path, keep_within=ROUNDING_LEVELS)
    described = "; ".join(f"{test_set.describe(a)} to {test_set.describe(b)}" for a, b in zip(rows[1::2], rows[2::2]))
    pictures.append(Picture(f"interpolations between held-out images (z on a quarter circle, x_T slerped), one "
                            f"row per pair: {described}", path, commands))
    return pictures


# --------------------------------------------------------------------------------------------- the page


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


def _class_histogram(samples: Dict[str, Any]) -> Dict[str, int]:
    """The FashionMNIST class histogram of a recognisability block (metrics written before the per-head format
    kept it at the top level)."""
    return samples["heads"]["class"]["histogram"] if "heads" in samples else samples["classHistogram"]


def _recognisable(facts: Facts) -> Optional[str]:
    samples = facts.metric("recognisability", "samples")
    if samples is None:
        return None
    return _recognisable_samples(samples, facts.metric("recognisability", "sampleCount"))


def _recognisable_samples(samples: Dict[str, Any], count: int, judged: str = "samples") -> str:
    heads = samples.get("heads")
    counted = f"{count:,} {judged}"
    if heads is None or list(heads) == ["class"]:
        histogram = _class_histogram(samples)
        present = sum(1 for n in histogram.values() if n > 0)
        return f"{_confidence(samples)}, {present}/{len(histogram)} classes ({counted})"
    # Shapes: one head per factor; the mean confidence over the factors, and how many see every value.
    covered = sum(1 for head in heads.values() if head["coverage"] == 1.0)
    return (f"{_confidence(samples)} (mean of {len(heads)} factors), {covered}/{len(heads)} "
            f"factors with every value ({counted})")


def _judge_on_test_images(facts: Facts) -> Optional[Dict[str, Any]]:
    """The recognisability block of the real test images the FD compares with: how confident the judge is on the
    data itself, the scale a sample's confidence is read on."""
    return facts.metric("recognisability", "testImages")


def _test_image_sentence(facts: Sequence[Facts]) -> Optional[str]:
    """One clause per data set: the judge's confidence on its real test images (the same for every model of a data
    set evaluated with the same seed and count; the first model's is shown)."""
    seen: Dict[str, str] = {}
    for f in facts:
        real = _judge_on_test_images(f)
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
            rows.append([f.entry.title or f.entry.name, f"{codes['images']:,}", f"{codes['meanNorm']:.2f}",
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
            rows.append([f.entry.title or f.entry.name, _prior_cell(sampler), f"{sampler['eta']:g}",
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
        [[f.entry.title or f.entry.name, _role(f), f.dataset, _configuration(f), _parameters(f), _steps(f),
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
        [[f.entry.title or f.entry.name, _probe(f), _number(f, ("dci", "disentanglement"), 3),
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
    stale = stale_metrics(facts)
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
        lines += ["", f"#### {f.entry.title or f.entry.name}", ""] + _factor_table(f)

    targets = all_targets(facts)
    lines += ["", "## Targets", ""]
    if targets:
        lines += [f"- **{t.status}**: {t.model}: {t.target}. {t.detail}" for t in targets]
    else:
        lines.append("No FashionMNIST or shapes model (other than baselines) in the manifest.")
    claims = paper_claim(facts)
    lines += ["", "## The paper's claim: InfoDiffusion against the DiffAE baseline", ""]
    lines += [f"- {claim}" for claim in claims] or ["No model has a baseline in the manifest yet."]

    drawn = [(f, pictures[f.entry.name]) for f in facts if pictures.get(f.entry.name)]
    if drawn:
        lines += ["", "## Images"]
        for f, entry_pictures in drawn:
            lines += ["", f"### {f.entry.title or f.entry.name}"]
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


def make_report(manifest: str | Path, markdown: str | Path, images: str | Path, steps: int = 50, seed: int = 0,
                skip_images: bool = False, command: str = "", device: str = "cpu", batch_size: int = 64) -> Path:
    """Reads the manifest's files, draws the pictures (unless ``skip_images``) and writes the page; returns it."""
    entries = read_manifest(manifest)
    facts = [gather(entry) for entry in entries]
    markdown, images = Path(markdown), Path(images)
    pictures: Dict[str, List[Picture]] = {}
    if not skip_images:
        images.mkdir(parents=True, exist_ok=True)
        for f in facts:
            source = f.entry.package if f.metadata is not None else (
                f.entry.run / CHECKPOINT_NAME if f.config is not None else None)
            if source is None:
                continue
            print(f"report: drawing {f.entry.name} from {source}", flush=True)
            pictures[f.entry.name] = draw_pictures(load_model(source, device), f.entry.name, _shown(source),
                                                   images, steps, seed, batch_size)
    created_at = datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    students = read_students(json.loads(Path(manifest).read_text(encoding="utf-8")), [e.name for e in entries],
                             str(manifest))
    image_link = Path(os.path.relpath(images.resolve(), markdown.resolve().parent)).as_posix()
    sections = students_section(students, {f.entry.name: f.wall_time_seconds for f in facts}, image_link)
    text = render_markdown(facts, pictures, command or "python -m infodiff.report", markdown, created_at, sections)
    markdown.parent.mkdir(parents=True, exist_ok=True)
    tmp = markdown.with_name(markdown.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(markdown)
    print(f"report: wrote {markdown}", flush=True)
    return markdown


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(description="Write docs/results.md and its images from runs, packages and "
                                                 "metrics JSON listed in a manifest.")
    parser.add_argument("--manifest", required=True, help="JSON listing the models (see the module doc)")
    parser.add_argument("--markdown", default="../docs/results.md", help="the page to write")
    parser.add_argument("--images", default="../docs/results", help="folder for the PNGs")
    parser.add_argument("--steps", type=int, default=50, help="DDIM steps for every image (inversion included)")
    parser.add_argument("--seed", type=int, default=0, help="seeds the samples and the choice of test images")
    parser.add_argument("--skip-images", action="store_true", help="tables, targets and commands only")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = torch default)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = "cuda" if args.device == "auto" and torch.cuda.is_available() else \
        "cpu" if args.device == "auto" else args.device
    try:
        make_report(args.manifest, args.markdown, args.images, args.steps, args.seed, args.skip_images,
                    "python -m infodiff.report " + shlex.join(argv), device, args.batch_size)
    except (ValueError, OSError, DataError) as err:  # user-facing problems: say what, without a traceback
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

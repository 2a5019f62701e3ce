"""The facts of the results page: the manifest's entries and what their files say (a run's checkpoint, a web
package, the metrics JSON of infodiff.evaluate). Nothing here judges or words anything: infodiff.report_targets
judges the targets, infodiff.report_page writes the page.

The manifest (JSON) lists what to report; paths are relative to the directory the command runs in (train/), as
for every other command:

    {"models": [
      {"name": "fashion-mnist", "run": "runs/fmnist-infodiff", "package": "../public/models/fashion-mnist",
       "metrics": "runs/fmnist-infodiff/metrics.json"},
      {"name": "fashion-mnist-diffae", "baselineOf": "fashion-mnist", "run": "runs/fmnist-diffae",
       "metrics": "runs/fmnist-diffae/metrics.json", "notes": "free text shown next to its results"}
    ]}

``notes`` is free text that follows every missed target of the entry, or an object that gives each target its own
(keys: the target keys of train/targets.json, "probe", "confidence", "classes", "psnr" for FashionMNIST; "factors",
"dci" for shapes), so that a reason shows only where it applies; a keyed note also follows its target when it is
met (a margin inside the measurement's noise, say).

``run`` is a training directory (its checkpoint.pt gives the configuration, step, wall time and hardware),
``package`` a web package folder (what the app ships: its size, precision and provenance), ``metrics`` the JSON of
infodiff.evaluate. Any of them may be missing on disk: the page then says what is missing instead of a number.
"""
from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

from .config import TrainConfig, config_from_dict
from .model import TIME_TABLE_KEY, expected_parameters
from .report_targets import TARGET_KEYS
from .train import CHECKPOINT_NAME, read_checkpoint
from .webpackage import MANIFEST_NAME, WebPackageError, validate_metadata

TRAIN_DIR = Path(__file__).resolve().parents[1]
NAME_PATTERN = re.compile(r"^[a-z0-9-]+$")
ENTRY_KEYS = ("name", "title", "run", "package", "metrics", "baselineOf", "notes")

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
    notes: Union[str, Dict[str, str]] = ""  # for every target, or per target key


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

    @property
    def label(self) -> str:
        """The entry's title, or its name."""
        return self.entry.title or self.entry.name


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
            facts.missing.append(f"run checkpoint {shown(checkpoint_path)}")
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
            facts.missing.append(f"package {shown(entry.package)}")
    if entry.metrics is not None:
        if entry.metrics.is_file():
            facts.metrics = json.loads(entry.metrics.read_text(encoding="utf-8"))
        else:
            facts.missing.append(f"metrics {shown(entry.metrics)}")
    return facts


def parameter_counts(architecture: Dict[str, Any], timesteps: int) -> Dict[str, int]:
    """{'trainable', 'frozen'} element counts of the architecture (the frozen part is the sinusoid table)."""
    shapes = expected_parameters(architecture, timesteps)
    total = sum(math.prod(shape) for shape in shapes.values())
    frozen = math.prod(shapes[TIME_TABLE_KEY])
    return {"trainable": total - frozen, "frozen": frozen}


def shown(path: Path | str) -> str:
    """A path as it is typed in train/: relative to train/ when inside the repository, else absolute."""
    resolved = Path(path).resolve()
    repository = TRAIN_DIR.parent
    if resolved == repository or repository in resolved.parents:
        return os.path.relpath(resolved, TRAIN_DIR)
    return str(resolved)


def baseline_of(model: Facts, facts: Sequence[Facts]) -> Optional[Facts]:
    """The entry that names ``model`` as the one it is a baseline of, or None."""
    return next((f for f in facts if f.entry.baseline_of == model.entry.name), None)


def class_histogram(samples: Dict[str, Any]) -> Dict[str, int]:
    """The FashionMNIST class histogram of a recognisability block (metrics written before the per-head format
    kept it at the top level)."""
    return samples["heads"]["class"]["histogram"] if "heads" in samples else samples["classHistogram"]


def probe_spread(facts: Facts) -> float:
    """The linear probe's fold-to-fold standard deviation, averaged over its attributes (0 when not recorded)."""
    attributes = facts.metric("linearProbe", "attributes") or {}
    spreads = [a["std"] for a in attributes.values() if isinstance(a, dict) and "std" in a]
    return sum(spreads) / len(spreads) if spreads else 0.0


def sampler_row(facts: Facts, eta: float, prior: str = "model") -> Optional[Dict[str, Any]]:
    """The row of the metrics' sampler comparison at ``eta`` with z from ``prior`` ('model': the model's own
    prior; 'fitted': the fitted latent mixture; 'encoded': codes of held-out images), or None. Rows written before
    the fitted prior are the model's."""
    return next((s for s in facts.metric("samplers") or []
                 if s["eta"] == eta and s.get("prior", "model") == prior), None)


def sampler_fd(facts: Facts, eta: float, prior: str = "model") -> Optional[float]:
    """The FD of that sampler row, or None."""
    row = sampler_row(facts, eta, prior)
    return row["frechetDistance"] if row else None


def judge_on_test_images(facts: Facts) -> Optional[Dict[str, Any]]:
    """The recognisability block of the real test images the FD compares with: how confident the judge is on the
    data itself, the scale a sample's confidence is read on."""
    return facts.metric("recognisability", "testImages")


def is_stale(facts: Facts) -> bool:
    """Were the entry's metrics measured on weights older than its run or package now holds?"""
    return (facts.metrics is not None and None not in (facts.measured_steps, facts.steps)
            and facts.measured_steps != facts.steps)


def unfinished(facts: Facts) -> Optional[Tuple[int, int]]:
    """(step the metrics were measured at, the run's planned steps) when that is before the planned end, else None."""
    measured = facts.measured_steps
    if facts.config is not None and measured is not None and measured < facts.config.steps:
        return measured, facts.config.steps
    return None


def manifest_note(facts: Facts, key: str, keyed_only: bool = False) -> str:
    """The manifest's note for target ``key``, or its note for all targets unless ``keyed_only`` (a note for all
    targets explains misses; one keyed to a target also follows it when met); '' when there is none."""
    notes = facts.entry.notes
    if isinstance(notes, dict):
        return notes.get(key, "")
    return "" if keyed_only else notes

"""Configuration: the network/schedule schema shared with the web runtime, and the training config.

The architecture and schedule fields, their defaults and their rules live in ``src/model/schema.json``, the
single source of truth that ``src/model/config.ts`` reads too. This module validates with the same rules and the
same messages, so a config refused in the browser is refused here.

``TrainConfig`` is the training run's configuration: one dataclass with a comment per field, presets as JSON in
``train/configs/``, and ``--key=value`` overrides that must name an existing field and keep its type (parsed,
never executed).
"""
from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, FrozenSet, Iterator, List, Optional, Sequence, Tuple

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "src" / "model" / "schema.json"
CONFIGS_DIR = Path(__file__).resolve().parents[1] / "configs"


class ConfigError(ValueError):
    """Any configuration that does not satisfy schema.json or TrainConfig's rules; the message names the field."""


def load_schema() -> Dict[str, Dict[str, Dict[str, Any]]]:
    """Reads schema.json: {'architecture': {field: spec}, 'schedule': {field: spec}} (the '$comment' dropped)."""
    if not SCHEMA_PATH.is_file():
        raise ConfigError(f"config schema not found at {SCHEMA_PATH}; train/ must sit beside src/ in the repository")
    with open(SCHEMA_PATH, encoding="utf-8") as f:
        raw = json.load(f)
    return {section: fields for section, fields in raw.items() if not section.startswith("$")}


SCHEMA = load_schema()


def _is_number(value: Any) -> bool:
    # bool is an int subclass in Python but not a number in JSON Schema or TypeScript.
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_scalar(path: str, spec: Dict[str, Any], value: Any, integer: bool) -> Any:
    # JSON does not tell 32 from 32.0; like Number.isInteger in config.ts, an integral float is an integer.
    if not _is_number(value) or not math.isfinite(value) or (integer and float(value) != int(value)):
        kind = "an integer" if integer else "a finite number"
        raise ConfigError(f"{path} must be {kind}, got {json.dumps(value)}")
    if "minimum" in spec and value < spec["minimum"]:
        raise ConfigError(f"{path} must be >= {spec['minimum']}, got {value}")
    if "maximum" in spec and value > spec["maximum"]:
        raise ConfigError(f"{path} must be <= {spec['maximum']}, got {value}")
    return int(value) if integer else float(value)


def _check_field(path: str, spec: Dict[str, Any], value: Any) -> Any:
    kind = spec["type"]
    if kind == "integer[]":
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{path} must be an array of integers, got {json.dumps(value)}")
        if "minItems" in spec and len(value) < spec["minItems"]:
            raise ConfigError(f"{path} needs at least {spec['minItems']} entries")
        checked: Any = [_check_scalar(f"{path}[{i}]", spec, v, True) for i, v in enumerate(value)]
    elif kind == "string":
        if not isinstance(value, str):
            raise ConfigError(f"{path} must be a string, got {json.dumps(value)}")
        checked = value
    elif kind in ("integer", "number"):
        checked = _check_scalar(path, spec, value, kind == "integer")
    else:
        raise ConfigError(f"schema.json declares an unknown type {kind!r} for {path}")
    if "enum" in spec and checked not in spec["enum"]:
        allowed = ", ".join(json.dumps(e) for e in spec["enum"])
        raise ConfigError(f"{path} must be one of {allowed}, got {json.dumps(value)}")
    return checked


def _resolve_section(section: str, given: Any) -> Dict[str, Any]:
    fields = SCHEMA[section]
    if not isinstance(given, dict):
        raise ConfigError(f"{section} must be an object")
    unknown = [k for k in given if k not in fields]
    if unknown:
        raise ConfigError(f"{section} has unknown field(s) {', '.join(unknown)}; allowed: {', '.join(fields)}")
    out: Dict[str, Any] = {}
    for key, spec in fields.items():
        value = given[key] if key in given else json.loads(json.dumps(spec["default"]))
        out[key] = _check_field(f"{section}.{key}", spec, value)
    return out


def resolve_architecture(given: Any) -> Dict[str, Any]:
    """Validates a (possibly partial) architecture dict and returns a new one with every schema field filled."""
    arch = _resolve_section("architecture", given)
    levels = len(arch["channelMultipliers"])
    if arch["imageSize"] % 2 ** (levels - 1) != 0:
        raise ConfigError(
            f"architecture.imageSize {arch['imageSize']} must be divisible by 2^(levels-1) = {2 ** (levels - 1)}")
    for level in arch["attentionLevels"]:
        if level >= levels:
            raise ConfigError(f"architecture.attentionLevels contains {level}, but there are only {levels} levels")
    channel_counts = [arch["baseChannels"]] + [m * arch["baseChannels"] for m in arch["channelMultipliers"]]
    for count in dict.fromkeys(channel_counts):
        if count % arch["groupNormGroups"] != 0:
            raise ConfigError(
                f"architecture.groupNormGroups {arch['groupNormGroups']} does not divide the channel count {count}")
    return arch


def resolve_schedule(given: Any) -> Dict[str, Any]:
    """Validates a (possibly partial) schedule dict and returns a new one with every schema field filled."""
    schedule = _resolve_section("schedule", given)
    if schedule["kind"] == "linear" and not (
            0 < schedule["betaStart"] <= schedule["betaEnd"] < 1):
        raise ConfigError(
            f"schedule needs 0 < betaStart <= betaEnd < 1, got {schedule['betaStart']}, {schedule['betaEnd']}")
    return schedule


# ---------------------------------------------------------------------------------------------------------------
# Training configuration

DATASETS = ("fashion-mnist", "shapes", "folder")
PRIORS = ("regular", "10mix")
DEVICES = ("auto", "cpu", "cuda")


@dataclass
class TrainConfig:
    # --- data
    dataset: str = "fashion-mnist"  # 'fashion-mnist' (IDX .gz files), 'shapes' (procedural, infodiff.shapes) or 'folder'
    data_dir: str = ""  # where the data lives; '' = the dataset's default (/usr/share/datasets/fashion-mnist)
    image_size: int = 32  # pixels per side fed to the networks; must equal architecture.imageSize when that is given
    dataset_size: int = 0  # shapes: scenes to render (0 = 48,000); fashion-mnist/folder: keep the first N (0 = all)
    hflip: bool = True  # random horizontal flips, as every official loader does; off where a mirrored image is not
    # a sample of the data (shapes: the light and the cube's yaw are one-sided, so a flip adds a hidden factor)
    # --- model
    architecture: Dict[str, Any] = field(default_factory=dict)  # partial schema.json architecture; defaults filled
    schedule: Dict[str, Any] = field(default_factory=dict)  # partial schema.json schedule; {} = official linear 1e-5..1e-2, T=1000
    # --- objective (infodiff.objective)
    mmd_weight: float = 0.1  # lambda on MMD(prior samples, z); 0.1 in every official script, 0 = DiffAE baseline
    kld_weight: float = 0.0  # beta on KL(q(z|x) || N(0, I)) (batch mean); > 0 selects the VAE-style baselines
    use_capacity: bool = False  # replace beta*KL by beta*|KL - C| with C annealed linearly to capacity_max
    capacity_max: float = 25.0  # C_max of the capacity annealing (official default 25)
    prior: str = "regular"  # MMD target: 'regular' = N(0, I), '10mix' = 2-D ten-Gaussian mixture per pair of dims
    # --- optimisation
    batch_size: int = 64  # global batch (split across DDP ranks); official default 64
    steps: int = 20000  # total optimiser steps; the cosine schedule ends here
    lr: float = 1e-4  # peak AdamW learning rate (official 1e-4)
    min_lr: float = 1e-6  # learning rate at the end of the cosine decay
    weight_decay: float = 1e-5  # AdamW weight decay (official 1e-5)
    warmup_steps: int = 500  # linear warm-up from 0 to lr
    grad_clip: float = 1.0  # max global gradient norm (official 1.0); 0 disables clipping
    ema_decay: float = 0.9999  # EMA of the weights, exported by default; 0 disables EMA (the official code has none)
    seed: int = 64  # seeds init, data order and noise; 64 as in the official scripts
    # --- bookkeeping
    out_dir: str = "runs/default"  # checkpoint.pt, config.json and log files go here (relative to the cwd)
    checkpoint_every: int = 1000  # write out_dir/checkpoint.pt every this many steps (and at the end)
    eval_every: int = 1000  # held-out loss of the EMA weights every this many steps; 0 disables
    eval_images: int = 256  # images in the fixed held-out batch used by evaluate()
    log_every: int = 50  # a log line every this many steps
    resume: bool = False  # continue from out_dir/checkpoint.pt when it exists (architecture forced from it)
    stop_after_steps: int = 0  # end this invocation after this many steps (0 = run to `steps`); for time-sliced jobs
    stop_at_step: int = 0  # end this invocation once the run reaches this step (0 = run to `steps`); budget milestones
    device: str = "auto"  # 'auto' (CUDA if present), 'cpu' or 'cuda'
    threads: int = 0  # CPU threads for torch; 0 = all cores
    notes: str = ""  # free text copied into the exported package's provenance.notes (why this preset exists)
    # A web package (e.g. ../public/models/fashion-mnist) whose weights start a run that has no checkpoint: model and
    # EMA from the package (its EMA weights, float16-rounded when it ships float16), a fresh optimiser, the step count
    # and the package's architecture and schedule taken from it. For when the full checkpoint is gone.
    init_from_package: str = ""


def _field_types() -> Dict[str, type]:
    return {f.name: type(f.default) if f.default is not dataclasses.MISSING else dict
            for f in dataclasses.fields(TrainConfig)}


def validate_train_config(cfg: TrainConfig) -> TrainConfig:
    """Checks every field and returns a copy whose architecture and schedule are fully resolved.

    Refuses (never clamps) anything invalid, naming the field.
    """
    types = _field_types()
    for name, expected in types.items():
        value = getattr(cfg, name)
        if expected is float:
            ok = _is_number(value) and math.isfinite(value)
        elif expected is int:
            ok = isinstance(value, int) and not isinstance(value, bool)
        else:
            ok = isinstance(value, expected)
        if not ok:
            raise ConfigError(f"{name} must be of type {expected.__name__}, got {value!r}")

    def choice(name: str, allowed: Sequence[str]) -> None:
        if getattr(cfg, name) not in allowed:
            raise ConfigError(f"{name} must be one of {', '.join(allowed)}, got {getattr(cfg, name)!r}")

    choice("dataset", DATASETS)
    choice("prior", PRIORS)
    choice("device", DEVICES)
    for name in ("image_size", "batch_size", "steps", "checkpoint_every", "eval_images", "log_every"):
        if getattr(cfg, name) < 1:
            raise ConfigError(f"{name} must be >= 1, got {getattr(cfg, name)}")
    for name in ("dataset_size", "warmup_steps", "eval_every", "stop_after_steps", "stop_at_step", "threads"):
        if getattr(cfg, name) < 0:
            raise ConfigError(f"{name} must be >= 0, got {getattr(cfg, name)}")
    for name in ("mmd_weight", "kld_weight", "capacity_max", "lr", "min_lr", "weight_decay", "grad_clip"):
        if getattr(cfg, name) < 0:
            raise ConfigError(f"{name} must be >= 0, got {getattr(cfg, name)}")
    if not 0 <= cfg.ema_decay < 1:
        raise ConfigError(f"ema_decay must be in [0, 1), got {cfg.ema_decay}")
    if cfg.min_lr > cfg.lr:
        raise ConfigError(f"min_lr {cfg.min_lr} must not exceed lr {cfg.lr}")
    if cfg.warmup_steps > cfg.steps:
        raise ConfigError(f"warmup_steps {cfg.warmup_steps} must not exceed steps {cfg.steps}")

    given_arch = dict(cfg.architecture)
    if "imageSize" in given_arch and given_arch["imageSize"] != cfg.image_size:
        raise ConfigError(
            f"architecture.imageSize {given_arch['imageSize']} differs from image_size {cfg.image_size}; set one")
    given_arch["imageSize"] = cfg.image_size
    architecture = resolve_architecture(given_arch)
    schedule = resolve_schedule(dict(cfg.schedule))

    # The latent the decoder sees must be the one exported as z: 'a' for MMD-only and DiffAE, mu for KL models.
    wants_head = "mu" if cfg.kld_weight > 0 else "a"
    if architecture["latentHead"] != wants_head:
        raise ConfigError(
            f"architecture.latentHead must be {wants_head!r} when kld_weight is {cfg.kld_weight} "
            f"(KL models decode from mu + noise and export mu; MMD/DiffAE models use a)")
    if cfg.prior == "10mix" and architecture["latentDim"] % 2 != 0:
        raise ConfigError(f"prior '10mix' draws pairs of dimensions; latentDim {architecture['latentDim']} is odd")
    if cfg.use_capacity and cfg.kld_weight == 0:
        raise ConfigError("use_capacity anneals the KL term, which needs kld_weight > 0")
    if cfg.dataset == "fashion-mnist" and architecture["imageChannels"] != 1:
        raise ConfigError("fashion-mnist is grayscale: architecture.imageChannels must be 1")
    return dataclasses.replace(cfg, architecture=architecture, schedule=schedule)


def _parse_value(name: str, raw: str, expected: type) -> Any:
    if expected is bool:
        if raw.lower() in ("true", "1", "yes"):
            return True
        if raw.lower() in ("false", "0", "no"):
            return False
        raise ConfigError(f"--{name} expects true or false, got {raw!r}")
    if expected is int:
        try:
            return int(raw)
        except ValueError:
            raise ConfigError(f"--{name} expects an integer, got {raw!r}") from None
    if expected is float:
        try:
            return float(raw)
        except ValueError:
            raise ConfigError(f"--{name} expects a number, got {raw!r}") from None
    if expected is str:
        return raw
    raise ConfigError(f"--{name} cannot be set from the command line")


def _parse_json_value(path: str, raw: str) -> Any:
    # Architecture/schedule values are JSON literals (numbers, strings, arrays); bare words are strings.
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        if raw and raw[0] not in "[{\"":
            return raw
        raise ConfigError(f"--{path} expects a JSON value, got {raw!r}") from None


def _join_separated_values(args: Sequence[str], types: Dict[str, type]) -> List[str]:
    """Rewrites ``--key value`` as ``--key=value`` (booleans take a following true/false only)."""
    joined: List[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        following = args[i + 1] if i + 1 < len(args) else None
        key = arg[2:]
        if arg.startswith("--") and "=" not in arg and following is not None and not following.startswith("--"):
            is_bool = types.get(key) is bool
            if not is_bool or following.lower() in ("true", "false", "1", "0", "yes", "no"):
                joined.append(f"{arg}={following}")
                i += 2
                continue
        joined.append(arg)
        i += 1
    return joined


def _split_overrides(args: Sequence[str]) -> Iterator[Tuple[str, str, str]]:
    """Each override as (key, '=' or '', raw value): ``--key=value``, ``--key value`` or a bare ``--flag``."""
    for arg in _join_separated_values(args, _field_types()):
        if not arg.startswith("--"):
            raise ConfigError(f"expected --key=value, got {arg!r}")
        yield arg[2:].partition("=")


def apply_overrides(cfg: TrainConfig, args: Sequence[str]) -> TrainConfig:
    """Applies ``--key=value`` or ``--key value`` (bare ``--flag`` for booleans) to a config; unknown keys and
    values of the wrong type are refused.

    Nested architecture and schedule fields use a dot: ``--architecture.latentDim=16``.
    """
    types = _field_types()
    values = dataclasses.asdict(cfg)
    for key, has_value, raw in _split_overrides(args):
        if "." in key:
            section, _, sub = key.partition(".")
            if section not in SCHEMA:
                raise ConfigError(f"unknown config key {key!r}; only architecture.* and schedule.* nest")
            if sub not in SCHEMA[section]:
                raise ConfigError(f"unknown config key {key!r}; {section} fields: {', '.join(SCHEMA[section])}")
            if not has_value:
                raise ConfigError(f"--{key} needs a value")
            values[section] = {**values[section], sub: _parse_json_value(key, raw)}
            continue
        if key not in types:
            raise ConfigError(f"unknown config key {key!r}; known keys: {', '.join(types)}")
        expected = types[key]
        if expected is dict:
            raise ConfigError(f"--{key} is a section; set its fields as --{key}.<field>=<value>")
        if not has_value:
            if expected is not bool:
                raise ConfigError(f"--{key} needs a value")
            values[key] = True
            continue
        values[key] = _parse_value(key, raw, expected)
    return TrainConfig(**values)


def load_preset(path: str | Path) -> TrainConfig:
    """Reads a JSON preset; every key must be a TrainConfig field (a '$comment' key is allowed and ignored)."""
    path = Path(path)
    if not path.is_file() and not path.is_absolute() and (CONFIGS_DIR / path.name).is_file() and path.parent == Path("."):
        path = CONFIGS_DIR / path.name
    if not path.is_file():
        raise ConfigError(f"config file {path} not found")
    with open(path, encoding="utf-8") as f:
        text = f.read()
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        # One line a person can act on (main() prints ConfigError without a traceback): the file, then where and
        # what json found, e.g. "line 3, column 5: Expecting ',' delimiter".
        raise ConfigError(f"{path} is not valid JSON: line {err.lineno}, column {err.colno}: {err.msg}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a JSON object")
    data = {k: v for k, v in data.items() if k != "$comment"}
    types = _field_types()
    unknown = [k for k in data if k not in types]
    if unknown:
        raise ConfigError(f"{path}: unknown key(s) {', '.join(unknown)}")
    # JSON gives 1 for 1.0; widen ints where the field is a float so the type check does not refuse them.
    for key, value in data.items():
        if types[key] is float and isinstance(value, int) and not isinstance(value, bool):
            data[key] = float(value)
    return TrainConfig(**data)


def _split_preset(argv: Sequence[str]) -> Tuple[Optional[str], List[str]]:
    """``[--config=preset.json] [--key=value ...]`` -> (the preset's path or None, the overrides)."""
    argv = list(argv)
    preset: Optional[str] = None
    rest: List[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--config":
            if i + 1 >= len(argv):
                raise ConfigError("--config needs a path")
            preset = argv[i + 1]
            i += 2
            continue
        if arg.startswith("--config="):
            preset = arg.split("=", 1)[1]
        else:
            rest.append(arg)
        i += 1
    return preset, rest


def config_from_args(argv: Sequence[str]) -> TrainConfig:
    """``[--config=preset.json] [--key=value ...]`` -> validated TrainConfig (the preset first, then overrides)."""
    preset, overrides = _split_preset(argv)
    cfg = load_preset(preset) if preset else TrainConfig()
    return validate_train_config(apply_overrides(cfg, overrides))


def keys_set_by(argv: Sequence[str]) -> FrozenSet[str]:
    """The top-level config keys that ``argv`` sets itself (not through its preset): ``--architecture.x=1``
    counts as ``architecture``. Parsed exactly as config_from_args parses, so both spellings count."""
    _, overrides = _split_preset(argv)
    return frozenset(key.partition(".")[0] for key, _, _ in _split_overrides(overrides))


def config_to_dict(cfg: TrainConfig) -> Dict[str, Any]:
    """Plain-JSON form of a config (what checkpoints and config.json hold)."""
    return dataclasses.asdict(cfg)


def config_from_dict(data: Dict[str, Any]) -> TrainConfig:
    """Inverse of config_to_dict; refuses unknown keys (a checkpoint from a newer version)."""
    types = _field_types()
    unknown = [k for k in data if k not in types]
    if unknown:
        raise ConfigError(f"config has unknown key(s) {', '.join(unknown)}")
    return validate_train_config(TrainConfig(**data))

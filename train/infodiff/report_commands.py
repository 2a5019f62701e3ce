"""The commands the results page lists under Reproduce, derived from the facts: the shortest training command
whose configuration is the run's, and the export of the package from its run."""
from __future__ import annotations

import json
import shlex
from typing import Any, Dict, List, Optional, Tuple

from .config import (CONFIGS_DIR, ConfigError, TrainConfig, config_to_dict, load_preset,
                     validate_train_config)
from .report_facts import Facts, shown
from .train import CHECKPOINT_NAME

# How a run was launched rather than what it trains: left out of the derived training command.
INVOCATION_KEYS = ("resume", "stop_after_steps", "threads", "device")


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
    parts = ["python -m infodiff.export", "--checkpoint", shlex.quote(shown(entry.run / CHECKPOINT_NAME)),
             "--out", shlex.quote(shown(entry.package))]
    if not facts.package_float16:
        parts.append("--float32")
    if not provenance["ema"]:
        parts.append("--raw")
    if with_metrics and provenance["metrics"] and entry.metrics is not None:
        parts += ["--metrics", shlex.quote(shown(entry.metrics))]
    return " ".join(parts)


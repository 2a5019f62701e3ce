"""The "Information-Theoretic Diffusion" section of docs/results.md, from the JSON infodiff.evaluate_itd writes.

The manifest lists the results under "itd": [{"name": <data set>, "result": <path of the JSON>}]; this module reads
them (it measures nothing) and writes, per data set, each model's exact-discrete -log P(x) (bits per 8-bit pixel),
its continuous density (bits/dim in [-1, 1]) and the dequantised bound (that + log2 127.5), every figure with its
standard error, the ensemble's, which member the ensemble used where, and the command that made the numbers.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

ITD_KEYS = ("name", "result", "notes")


@dataclass(frozen=True)
class ItdEntry:
    name: str
    result: Path
    notes: str = ""


def read_itd(document: Dict[str, Any], where: str) -> List[ItdEntry]:
    """The manifest's "itd" (may be absent), checked: known fields, a name and a result path each."""
    entries = []
    for k, item in enumerate(document.get("itd", [])):
        spot = f"{where}: itd[{k}]"
        if not isinstance(item, dict) or not {"name", "result"} <= set(item):
            raise ValueError(f"{spot} needs name and result")
        unknown = sorted(set(item) - set(ITD_KEYS))
        if unknown:
            raise ValueError(f"{spot} has unknown field(s) {', '.join(unknown)}; fields: {', '.join(ITD_KEYS)}")
        entries.append(ItdEntry(item["name"], Path(item["result"]), item.get("notes", "")))
    return entries


def _figure(block: Optional[Dict[str, float]], digits: int = 3) -> str:
    if not block:
        return "–"
    return f"{block['bitsPerDim']:.{digits}f} ± {block['stdErr']:.{digits}f}"


def itd_rows(result: Dict[str, Any]) -> List[Dict[str, Any]]:
    """One row per model and one for the ensemble: name, role, the three figures (numbers, for tests and table)."""
    rows = []
    for model in result["models"]:
        role = f"baseline of {model['baselineOf']}" if model.get("baselineOf") else "InfoDiffusion"
        rows.append({"name": model["id"], "role": role, "discrete": model["discrete"],
                     "continuous": model["continuous"], "dequantisedBound": model["dequantisedBound"],
                     "seconds": model.get("seconds")})
    if "ensemble" in result:
        ensemble = result["ensemble"]
        rows.append({"name": "ensemble", "role": "min MMSE per log-SNR", "discrete": ensemble["discrete"],
                     "continuous": ensemble["continuous"], "dequantisedBound": ensemble["dequantisedBound"],
                     "seconds": None})
    return rows


def best_row(result: Dict[str, Any]) -> str:
    """The row with the lowest exact-discrete figure (the comparable one)."""
    return min(itd_rows(result), key=lambda row: row["discrete"]["bitsPerDim"])["name"]


def choice_summary(result: Dict[str, Any]) -> List[str]:
    """Per log-SNR band of the sampled range, which member the discrete ensemble used most (and how often); a band
    outside every member's trained range is a tie (all use the same stand-in denoisers there, and a tie counts for
    the first member)."""
    names = [m["id"] for m in result["models"]]
    ranges = [m.get("trainedLogSnrRange") for m in result["models"]]
    cells = []
    for band in result.get("ensemble", {}).get("discreteChoiceByBand", []):
        counts = band["samplesPerModel"]
        total = sum(counts)
        low, high = band["logSnr"]
        if total == 0:
            continue
        if all(r is not None and (high <= r[0] or low >= r[1]) for r in ranges):
            cells.append(f"{low:.1f}..{high:.1f}: tie (outside the trained range)")
            continue
        winner = max(range(len(counts)), key=lambda k: counts[k])
        cells.append(f"{low:.1f}..{high:.1f}: {names[winner]} ({100 * counts[winner] / total:.0f}%)")
    return cells


def itd_section(entries: Sequence[ItdEntry]) -> List[str]:
    """Markdown lines of the section (empty without entries)."""
    if not entries:
        return []
    lines = ["", "## Information-Theoretic Diffusion: discrete and continuous likelihood", "",
             "Negative log-likelihood by the I-MMSE relation (Kong, Brekelmans & Ver Steeg, \"Information-Theoretic "
             "Diffusion\", ICLR 2023): the integral over log-SNR of the denoiser's error. **Exact discrete** is "
             "-log₂ P(x) of the 8-bit image in bits per pixel (the paper's discrete-probability result: a denoiser whose estimate is "
             "soft-rounded to the 256 levels, no constant, no dequantisation); **continuous** is the density in "
             "[-1, 1] space in bits/dim (negative: a density above 1 on a small cube); **dequantised bound** is "
             "that plus log₂ 127.5, an upper bound on the 8-bit figure in expectation. The ensemble uses, at each "
             "log-SNR, the member with the lower error (the paper's ensembling argument), chosen from the mean over the images that "
             "share those log-SNRs. Every model is conditioned on its own z = Enc(x), so the figures are "
             "-log p(x | z). The network is not queried outside the schedule's trained log-SNR range (about -5 to "
             "11.5): the Gaussian reference's denoiser (and, for discrete data above the range, plain rounding) stands "
             "in there and in the closed-form tails, so each figure stays an upper bound in expectation "
             "(src/diffusion/itd.ts, train/infodiff/itd.py). ± is the standard error across images."]
    missing = []
    for entry in entries:
        if not entry.result.is_file():
            missing.append(f"{entry.name}: {entry.result}")
            continue
        result = json.loads(entry.result.read_text(encoding="utf-8"))
        lines += ["", f"### {entry.name}: {result['images']} test images, {result['samples']} log-SNR samples per "
                      f"image and pass", "",
                  "| Model | Role | Exact discrete (bits per 8-bit pixel) | Continuous (bits/dim, [-1, 1]) | "
                  "Dequantised bound (bits per 8-bit pixel) | Wall time |",
                  "|---|---|---|---|---|---|"]
        for row in itd_rows(result):
            seconds = "–" if row["seconds"] is None else f"{row['seconds'] / 60:.0f} min"
            lines.append(f"| {row['name']} | {row['role']} | {_figure(row['discrete'])} | "
                         f"{_figure(row['continuous'])} | {_figure(row['dequantisedBound'])} | {seconds} |")
        bands = choice_summary(result)
        lines += ["", f"Lowest exact-discrete figure: **{best_row(result)}**."]
        if bands:
            lines += [f"Which model the discrete ensemble used, per log-SNR band (share of the band's samples; where "
                      f"a band straddles the trained range, the ties there count for the first model): "
                      f"{'; '.join(bands)}."]
        if entry.notes:
            lines += ["", entry.notes]
        command = result["command"]
        if command.startswith("python "):
            command = "/usr/bin/python3 " + command[len("python "):]
        lines += ["", "Reproduce (from train/):", "", "```sh", f"nice -n 5 {command}", "```", "",
                  f"({result['hardware']}, {result['seconds'] / 60:.0f} min in all, {result['createdAt']}.)"]
    if missing:
        lines += ["", "Not measured yet: " + "; ".join(missing) + "."]
    return lines

"""The "Distilled students" section of docs/results.md: each student beside its teacher, read from the JSON that
``infodiff.student evaluate`` writes (it measures nothing itself).

The manifest (train/results.json) lists them under "students":
    {"name": "fashion-mnist-student", "teacher": "fashion-mnist", "fidelity": "runs/fmnist-student/fidelity.json",
     "picture": "fashion-mnist-student.png", "notes": "..."}
``teacher`` names an entry of "models" (its training wall time is the budget's yardstick); ``picture`` is the
file in the page's image folder that ``student evaluate --picture`` drew.

Targets (the "Instant previews" issue), judged here from the numbers:
- 2-call PSNR against the teacher's 20-step image >= FIDELITY_TARGET_DB on held-out inverted x_T;
- prior draws: FashionMNIST classifier confidence >= 80% with every class present, and a Fréchet distance at
  most FD_RATIO_TARGET times the settled sampler's on the same (z, x_T); shapes: every factor head at least as
  confident as on the settled images minus HEAD_SLACK;
- cost: the distillation, pool included, at most BUDGET_SHARE of the teacher's training time.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from .report_targets import STUDENT_TARGETS

# The thresholds are data, in train/targets.json ("students"), beside the models' targets.
FIDELITY_TARGET_DB = STUDENT_TARGETS["fidelity"]["threshold"]
CONFIDENCE_TARGET = STUDENT_TARGETS["confidence"]["threshold"]
FD_RATIO_TARGET = STUDENT_TARGETS["frechetRatio"]["threshold"]
HEAD_SLACK = STUDENT_TARGETS["headSlack"]["threshold"]
BUDGET_SHARE = STUDENT_TARGETS["budgetShare"]["threshold"]
STUDENT_KEYS = ("name", "teacher", "fidelity", "picture", "notes")


@dataclass
class StudentEntry:
    name: str
    teacher: str
    fidelity: Path
    picture: str = ""
    notes: str = ""


def read_students(document: Dict[str, Any], model_names: Sequence[str], where: str) -> List[StudentEntry]:
    """The manifest's "students" (may be absent), checked: known fields, a teacher among the models."""
    entries = []
    for k, item in enumerate(document.get("students", [])):
        spot = f"{where}: students[{k}]"
        if not isinstance(item, dict) or not {"name", "teacher", "fidelity"} <= set(item):
            raise ValueError(f"{spot} needs name, teacher and fidelity")
        unknown = sorted(set(item) - set(STUDENT_KEYS))
        if unknown:
            raise ValueError(f"{spot} has unknown field(s) {', '.join(unknown)}; fields: {', '.join(STUDENT_KEYS)}")
        if item["teacher"] not in model_names:
            raise ValueError(f"{spot}: teacher {item['teacher']!r} is not an entry of models")
        entries.append(StudentEntry(item["name"], item["teacher"], Path(item["fidelity"]), item.get("picture", ""),
                                    item.get("notes", "")))
    return entries


def _hours(seconds: Optional[float]) -> str:
    if seconds is None:
        return "–"
    minutes = int(round(seconds / 60))
    return f"{minutes // 60}h{minutes % 60:02d}m"


def _db(value: Optional[float]) -> str:
    return "–" if value is None else f"{value:.1f} dB"


def _prior_cells(prior: Dict[str, Any], key: str) -> tuple[str, str]:
    block = prior["settled"] if key == "settled" else prior["student"][key]
    recognisability = block["recognisability"]
    confidence = f"{100 * recognisability['meanConfidence']:.1f}%"
    classes = recognisability["heads"].get("class")
    if classes is not None:
        confidence += f", {sum(1 for n in classes['histogram'].values() if n)}/{len(classes['histogram'])} classes"
    fd = f"{block['frechetDistance']:.2f}"
    if "highFrequency" in block:  # evaluations since the grain figure existed
        fd += f"; grain {block['highFrequency']:.5f}"
    return confidence, fd


def grain_line(result: Dict[str, Any]) -> Optional[str]:
    """What the grain figures of an evaluation say, side by side, or None for one without them."""
    prior = result["prior"]
    if "testImagesHighFrequency" not in prior or "highFrequency" not in prior.get("settled", {}):
        return None
    student = " / ".join(f"{prior['student'][k]['highFrequency']:.5f}" for k in sorted(prior["student"]))
    return (f"Grain of the prior draws (mean squared discrete Laplacian, train/infodiff/metrics.py): student "
            f"{student} at {' / '.join(k[5:] for k in sorted(prior['student']))} calls, settled sampler "
            f"{prior['settled']['highFrequency']:.5f}, held-out test images {prior['testImagesHighFrequency']:.5f}.")


def targets(result: Dict[str, Any], teacher_seconds: Optional[float]) -> List[tuple[str, str, str]]:
    """[(target, status, detail)] for one student's evaluation."""
    out = []
    calls = sorted(result["fidelity"]["student"])
    last = calls[-1]
    psnr = result["fidelity"]["student"][last]
    status = "met" if psnr >= FIDELITY_TARGET_DB else "missed"
    out.append((f"PSNR against the teacher at {last[5:]} calls >= {FIDELITY_TARGET_DB:g} dB", status,
                f"{psnr:.2f} dB" + ("" if status == "met" else f", {FIDELITY_TARGET_DB - psnr:.2f} dB short")))
    prior = result["prior"]
    if "settled" in prior:
        student = prior["student"][last]
        settled = prior["settled"]
        heads = student["recognisability"]["heads"]
        if "class" in heads:
            confidence = student["recognisability"]["meanConfidence"]
            coverage = heads["class"]["coverage"]
            ok = confidence >= CONFIDENCE_TARGET and coverage == 1.0
            out.append((f"prior draws {100 * CONFIDENCE_TARGET:.0f}% confident with every class",
                        "met" if ok else "missed", f"{100 * confidence:.1f}%, {100 * coverage:.0f}% of classes"))
        else:
            short = [f"{name} {100 * h['meanConfidence']:.1f}% < {100 * (settled['recognisability']['heads'][name]['meanConfidence'] - HEAD_SLACK):.1f}%"
                     for name, h in heads.items()
                     if h["meanConfidence"] < settled["recognisability"]["heads"][name]["meanConfidence"] - HEAD_SLACK]
            out.append((f"every factor head within {100 * HEAD_SLACK:.0f} points of the settled images'",
                        "missed" if short else "met", "; ".join(short) or "all heads"))
        ratio = student["frechetDistance"] / max(settled["frechetDistance"], 1e-12)
        out.append((f"Fréchet distance <= {FD_RATIO_TARGET:g}x the settled sampler's",
                    "met" if ratio <= FD_RATIO_TARGET else "missed",
                    f"{student['frechetDistance']:.2f} against {settled['frechetDistance']:.2f} ({ratio:.2f}x)"))
    training = result.get("training", {})
    spent = (training.get("wallTimeSeconds") or 0) + (training.get("poolWallTimeSeconds") or 0)
    if teacher_seconds and spent:
        share = spent / teacher_seconds
        done = training.get("steps") == training.get("plannedSteps")
        out.append((f"cost <= {100 * BUDGET_SHARE:.0f}% of the teacher's training time",
                    "met" if share <= BUDGET_SHARE else "missed",
                    f"{_hours(spent)} of {_hours(teacher_seconds)} ({100 * share:.0f}%)"
                    + ("" if done else f", at step {training.get('steps'):,} of {training.get('plannedSteps'):,}")))
    return out


def students_section(entries: Sequence[StudentEntry], teacher_seconds: Dict[str, Optional[float]],
                     image_link: str) -> List[str]:
    """Markdown lines of the section (empty without students). ``image_link`` is the images folder as the page
    links it."""
    if not entries:
        return []
    lines = ["", "## Distilled students (instant previews)", "",
             "While a slider moves, the app shows a student's image: the teacher's denoiser fine-tuned to reproduce "
             "its 20-step sampler in one or two calls (train/README.md, \"Distilled students\"). Fidelity is the "
             "PSNR of the student's image against the teacher's 20-step image of the same held-out image (z = Enc(x), "
             "x_T its 20-step inversion), beside plain DDIM with as many calls; prior draws are made as the app makes "
             "them (z from the fitted mixture, x_T ~ N(0, I)) and judged by the data set's classifier against the "
             "settled sampler (20 steps, η = 1) on the same z and x_T."]
    rows = []
    missing = []
    results = {}
    for entry in entries:
        if not entry.fidelity.is_file():
            missing.append(f"{entry.name}: {entry.fidelity}")
            continue
        result = json.loads(entry.fidelity.read_text(encoding="utf-8"))
        results[entry.name] = result
        fidelity = result["fidelity"]
        training = result.get("training", {})
        student_cells = " / ".join(_db(fidelity["student"][k]) for k in sorted(fidelity["student"]))
        ddim_cells = " / ".join(_db(fidelity["plainDdim"][k]) for k in sorted(fidelity["plainDdim"]))
        prior = result["prior"]
        last = sorted(prior.get("student", {"calls1": None}))[-1]
        confidence, fd = _prior_cells(prior, last) if "settled" in prior else ("–", "–")
        settled_confidence, settled_fd = _prior_cells(prior, "settled") if "settled" in prior else ("–", "–")
        steps = training.get("steps")
        planned = training.get("plannedSteps")
        rows.append(f"| {entry.name} | {len(result['plan'])} calls at t = {result['plan']}, {result['parameterisation']} "
                    f"| {steps:,} of {planned:,} steps, {_hours(training.get('wallTimeSeconds'))} + pool "
                    f"{_hours(training.get('poolWallTimeSeconds'))} ({training.get('hardware', '–')}) "
                    f"| {_hours(teacher_seconds.get(entry.teacher))} "
                    f"| {student_cells} | {ddim_cells} | {confidence}; FD {fd} | {settled_confidence}; FD {settled_fd} |")
    if rows:
        lines += ["", "| student | plan | distillation cost | teacher's training | PSNR, 1 / 2 calls | plain DDIM, 1 / 2 / 3 steps "
                  "| prior draws (student) | prior draws (settled) |",
                  "|---|---|---|---|---|---|---|---|", *rows]
    if missing:
        lines += ["", "Not measured yet: " + "; ".join(missing) + "."]
    for entry in entries:
        if entry.name not in results:
            continue
        lines += ["", f"### {entry.name}", ""]
        lines += [f"- **{status}**: {target}: {detail}." for target, status, detail in
                  targets(results[entry.name], teacher_seconds.get(entry.teacher))]
        grain = grain_line(results[entry.name])
        if grain:
            lines += ["", grain]
        if entry.notes:
            lines += ["", entry.notes]
        if entry.picture:
            lines += ["", f"![{entry.name}: teacher, student and plain DDIM]({image_link}/{entry.picture})", "",
                      "Rows: the teacher's 20-step image of held-out test images; the student at 1 and 2 calls; plain "
                      "DDIM at 1 and 2 steps from the same x_T; then prior draws: the settled sampler's image and the "
                      "student's at 1 and 2 calls."]
        lines += ["", "```sh", f"# {entry.name}", results[entry.name].get("command", ""), "```"]
    return lines

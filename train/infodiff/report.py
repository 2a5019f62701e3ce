"""Results page: trained runs, their packages and their metrics JSON -> docs/results.md and the PNGs in docs/results/.

    cd train
    /usr/bin/python3 -m infodiff.report --manifest results.json \\
        --markdown ../docs/results.md --images ../docs/results

The manifest (train/results.json; its format in infodiff.report_facts) lists the models and their baselines, each
with its run directory, web package and metrics JSON, any of which may be missing on disk, and the distilled
students (infodiff.report_students). Nothing here measures anything: every number is read from those files, and
the page lists the commands that produced them plus its own.

This module is the command; the page is made by one module per job:
* infodiff.report_facts: the manifest, and what the runs' checkpoints, the packages and the metrics say;
* infodiff.report_targets: the targets of train/targets.json judged from those numbers (a status and numbers),
  and InfoDiffusion against its DiffAE baseline;
* infodiff.report_commands: the commands under Reproduce (training derived from the run's configuration, export);
* infodiff.report_pictures: sample grids, traversal grids and interpolation strips with their captions
  (``--skip-images`` to leave them out);
* infodiff.report_page: every word of the page, from the above.
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import torch

from .data import DataError
from .report_facts import gather, read_manifest, shown
from .report_page import render_markdown
from .report_pictures import Picture, draw_pictures
from .report_itd import itd_section, read_itd
from .report_students import read_students, students_section
from .sample import load_model
from .train import CHECKPOINT_NAME


def make_report(manifest: str | Path, markdown: str | Path, images: str | Path, steps: int = 50, seed: int = 0,
                skip_images: bool = False, command: str = "", device: str = "cpu", batch_size: int = 64,
                keep_images: bool = False) -> Path:
    """Reads the manifest's files, draws the pictures (unless ``skip_images``; ``keep_images`` describes the ones
    already drawn) and writes the page; returns it."""
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
            print(f"report: {'describing' if keep_images else 'drawing'} {f.entry.name} from {source}", flush=True)
            pictures[f.entry.name] = draw_pictures(load_model(source, device), f.entry.name, shown(source),
                                                   images, steps, seed, batch_size, redraw=not keep_images)
    created_at = datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    students = read_students(json.loads(Path(manifest).read_text(encoding="utf-8")), [e.name for e in entries],
                             str(manifest))
    image_link = Path(os.path.relpath(images.resolve(), markdown.resolve().parent)).as_posix()
    sections = students_section(students, {f.entry.name: f.wall_time_seconds for f in facts}, image_link)
    sections += itd_section(read_itd(json.loads(Path(manifest).read_text(encoding="utf-8")), str(manifest)))
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
    parser.add_argument("--keep-images", action="store_true",
                        help="link the pictures already in --images instead of drawing them again (minutes of CPU)")
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
                    "python -m infodiff.report " + shlex.join(argv), device, args.batch_size, args.keep_images)
    except (ValueError, OSError, DataError) as err:  # user-facing problems: say what, without a traceback
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""infodiff.judge_images: the classifier on PNG files, as the e2e test of own attributes uses it."""
import json
from pathlib import Path

from infodiff.judge_images import judge_files

GALLERY = Path(__file__).resolve().parents[2] / "public" / "models" / "fashion-mnist"


def test_the_shipped_gallery_is_judged_as_labelled():
    gallery = json.loads((GALLERY / "model.json").read_text())["metadata"]["gallery"]
    picks = [item for item in gallery if item["label"] in ("T-shirt/top", "Trouser")]
    results = judge_files([GALLERY / item["file"] for item in picks])
    for item, result in zip(picks, results):
        assert result["heads"]["class"]["top"] == item["label"], result

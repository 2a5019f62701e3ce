"""report_itd: the ITD section's rows and choices come from the evaluate_itd JSON (numbers, not wording)."""
import json

import pytest

from infodiff.report_itd import best_row, choice_summary, itd_rows, itd_section, read_itd


def _result():
    figure = lambda bits, se=0.01: {"bitsPerDim": bits, "stdErr": se}  # noqa: E731
    return {
        "images": 10, "samples": 8, "command": "python -m infodiff.evaluate_itd --models a b", "seconds": 120.0,
        "hardware": "cpu", "createdAt": "2026-01-01T00:00:00Z",
        "models": [
            {"id": "a", "baselineOf": None, "discrete": figure(3.2), "continuous": figure(-4.0),
             "dequantisedBound": figure(2.99), "seconds": 60.0, "trainedLogSnrRange": [-5, 11.5]},
            {"id": "a-diffae", "baselineOf": "a", "discrete": figure(3.1), "continuous": figure(-3.9),
             "dequantisedBound": figure(3.09), "seconds": 60.0, "trainedLogSnrRange": [-5, 11.5]}],
        "ensemble": {"discrete": figure(3.0), "continuous": figure(-4.1), "dequantisedBound": figure(2.89),
                     "discreteChoiceByBand": [{"logSnr": [-10, 0], "samplesPerModel": [3, 1]},
                                              {"logSnr": [0, 10], "samplesPerModel": [0, 4]},
                                              {"logSnr": [10, 20], "samplesPerModel": [0, 0]},
                                              {"logSnr": [12, 20], "samplesPerModel": [5, 0]}]},
    }


def test_rows_roles_and_the_best_model_come_from_the_numbers():
    rows = itd_rows(_result())
    assert [(r["name"], r["role"]) for r in rows] == [("a", "InfoDiffusion"), ("a-diffae", "baseline of a"),
                                                     ("ensemble", "min MMSE per log-SNR")]
    assert rows[2]["discrete"]["bitsPerDim"] == 3.0
    assert best_row(_result()) == "ensemble"
    assert choice_summary(_result()) == ["-10.0..0.0: a (75%)", "0.0..10.0: a-diffae (100%)",
                                         "12.0..20.0: tie (outside the trained range)"]


def test_section_lists_missing_results_and_renders_present_ones(tmp_path):
    present = tmp_path / "itd.json"
    present.write_text(json.dumps(_result()))
    entries = read_itd({"itd": [{"name": "fashion-mnist", "result": str(present)},
                                {"name": "shapes", "result": str(tmp_path / "absent.json")}]}, "manifest")
    text = "\n".join(itd_section(entries))
    assert "3.000 ± 0.010" in text and "/usr/bin/python3 -m infodiff.evaluate_itd --models a b" in text
    assert "absent.json" in text
    assert itd_section([]) == []
    with pytest.raises(ValueError, match="unknown field"):
        read_itd({"itd": [{"name": "x", "result": "y", "extra": 1}]}, "manifest")

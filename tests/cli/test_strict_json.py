"""Every JSON the project writes parses with a strict parser: an undefined number is null."""

import math
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import strict_json

from malaria_lab import MalariaLabError
from malaria_lab.atomic import read_json, to_json, write_json
from malaria_lab.evaluate import evaluate, summary
from malaria_lab.pipeline import Arrays


def test_non_finite_numbers_numpy_values_and_paths_become_plain_json(tmp_path):
    obj = {"nan": float("nan"), "inf": np.float32("inf"), "ninf": -math.inf, "n": np.int64(3),
           "arr": np.array([1.5, np.nan]), "path": Path("a/b"), "t": (1, 2), np.int32(7): "key", "ok": True}
    back = strict_json(write_json(tmp_path / "x.json", obj).read_text())
    assert back == {"nan": None, "inf": None, "ninf": None, "n": 3, "arr": [1.5, None], "path": "a/b",
                    "t": [1, 2], "7": "key", "ok": True}
    with pytest.raises(TypeError):
        to_json({"x": object()})


def test_a_damaged_json_file_is_a_clear_error(tmp_path):
    (tmp_path / "x.json").write_text('{"a": ')
    with pytest.raises(MalariaLabError, match="is not valid JSON"):
        read_json(tmp_path / "x.json")


def test_report_of_one_class_data_is_strict_json_with_reasons(tmp_path):
    arrays = Arrays(np.zeros((4, 8, 8, 3), np.uint8), np.zeros(4, np.int32), ["A", "A", "B", ""], list("abcd"), [])
    report = evaluate(None, arrays, tmp_path, threshold=0.5, probabilities=[0.1, 0.2, 0.7, 0.3])
    saved = strict_json((tmp_path / "report.json").read_text())
    assert saved["auc"] is None and saved["sensitivity"] is None and saved["specificity"] == 0.75
    assert set(saved["undefined"]) == {"auc", "sensitivity", "f1"}
    assert saved["test_patients"] is None and saved["cells_without_patient"] == 1
    assert [row["patient"] for row in saved["per_patient"]] == ["A", "B"]
    assert "AUC n/a" in summary(report) and "Undefined: AUC (only Uninfected cells" in summary(report)

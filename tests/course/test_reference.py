"""``malaria-lab reference``: the six source notebooks run for real, in order, with a report.

Here on the CPU, in grading mode on the embedded data (about a minute on 2 cores); the GPU run on
the full data set is .github/workflows/gpu-reference.yml.
"""

import json
import os
import sys

import nbformat
import pytest
from background import Started

from malaria_lab import cli
from malaria_lab.backend import installed
from malaria_lab.checks import STAGES
from malaria_lab.errors import MalariaLabError
from malaria_lab.instructor import reference

OTHER_BACKENDS = ("torch", "jax")


@pytest.fixture(scope="module")
def other_backends(tmp_path_factory):
    """The course under each other installed backend, in a process of its own, started before the
    TensorFlow run so that the three overlap (each leaves a core idle much of the time)."""
    runs = {}
    for backend in filter(installed, OTHER_BACKENDS):
        base = tmp_path_factory.mktemp(backend)
        env = dict(os.environ, KERAS_BACKEND=backend, MALARIA_LAB_CACHE=str(base / "cache"))
        env.pop("MALARIA_LAB_FAST", None)
        argv = [sys.executable, "-m", "malaria_lab", "reference", "--mode", "grading", "--embedded",
                "--out", str(base / "reference"), "--quiet"]
        runs[backend] = (Started(argv, base / "output.txt", env=env), base / "reference")
    yield runs
    for started, _ in runs.values():
        started.stop()


@pytest.fixture(scope="module")
def run(tmp_path_factory, other_backends):
    out = tmp_path_factory.mktemp("reference")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("MALARIA_LAB_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))
        env.delenv("MALARIA_LAB_FAST", raising=False)
        code = cli.main(["reference", "--mode", "grading", "--embedded", "--out", str(out), "--quiet"])
    return out, code


@pytest.mark.slow
def test_reference_run_passes_every_stage_with_full_marks(run):
    out, code = run
    assert code == 0
    report = json.loads((out / "report.json").read_text())
    assert [s["stage"] for s in report["stages"]] == list(STAGES)
    for stage in report["stages"]:
        assert stage["error"] is None, stage
        assert stage["seconds"] > 0
        assert stage["points"] == stage["max_points"] > 0, stage
        assert stage["fallbacks"] == [], "each stage uses the previous stage's results"
    assert report["total_seconds"] >= sum(s["seconds"] for s in report["stages"]) - 1
    assert report["mode"] == "grading" and report["data"]["kind"] == "embedded"
    assert report["data"]["images"] > 0


@pytest.mark.slow
def test_report_has_the_test_scores_and_the_device(run):
    out, _ = run
    report = json.loads((out / "report.json").read_text())
    test = report["test"]
    for key in ("accuracy", "auc", "sensitivity", "specificity"):
        assert 0.0 <= test[key] <= 1.0, key
    assert test["n_test"] > 0 and test["epochs"] >= 1
    device = report["device"]
    assert device["backend"] == os.environ.get("KERAS_BACKEND", "tensorflow")
    assert device["cpu"] and device["cpu_count"] >= 1 and isinstance(device["gpus"], list)
    assert device["used"] == (f"GPU: {device['gpus'][0]}" if device["gpus"] else f"CPU: {device['cpu']}")
    assert "keras" in device["versions"]
    text = (out / "report.md").read_text()
    assert all(f"| {stage} |" in text for stage in STAGES) and "| **total** |" in text
    assert "sensitivity" in text and device["cpu"] in text


@pytest.mark.slow
@pytest.mark.parametrize("backend", OTHER_BACKENDS)
def test_the_course_also_runs_on_the_other_backends(backend, other_backends):
    """The GPU machines this course is checked on have PyTorch (or JAX), not TensorFlow: every
    stage, augmentation and checks included, must run and grade the same under each."""
    if backend not in other_backends:
        pytest.skip(f"{backend} is not installed")
    started, out = other_backends[backend]
    code, output = started.finish(timeout=900)
    assert code == 0, output[-3000:]
    report = json.loads((out / "report.json").read_text())
    assert report["device"]["backend"] == backend
    assert f"* Backend: {backend};" in (out / "report.md").read_text()
    for stage in report["stages"]:
        assert stage["error"] is None and stage["points"] == stage["max_points"] > 0, stage
    assert 0.0 <= report["test"]["auc"] <= 1.0


@pytest.mark.slow
def test_executed_notebooks_are_kept(run):
    out, _ = run
    for stage in STAGES:
        nb = nbformat.read(str(out / "notebooks" / f"{stage}.ipynb"), as_version=4)
        assert any(c.get("outputs") for c in nb.cells if c.cell_type == "code")
    assert (out / "work" / "evaluate" / "report.json").is_file()


def test_an_earlier_run_is_replaced_but_a_foreign_folder_is_not(tmp_path):
    work = reference._fresh_work(tmp_path)
    (work / "train").mkdir()
    assert not (reference._fresh_work(tmp_path) / "train").exists()
    other = tmp_path / "other"
    (other / "work").mkdir(parents=True)
    (other / "work" / "notes.txt").write_text("mine")
    with pytest.raises(MalariaLabError, match="not made by"):
        reference._fresh_work(other)
    assert (other / "work" / "notes.txt").read_text() == "mine"


def test_a_zip_or_an_empty_folder_is_refused(tmp_path):
    archive = tmp_path / "cells.zip"
    archive.write_bytes(b"PK")
    with pytest.raises(MalariaLabError, match="unpacked"):
        reference._data(archive)
    with pytest.raises(MalariaLabError):
        reference._data(tmp_path / "empty")


def test_missing_course_is_a_clear_error(tmp_path, capsys):
    assert cli.main(["reference", "--course", str(tmp_path), "--out", str(tmp_path / "o")]) == 2
    assert "source notebooks" in capsys.readouterr().err


def test_report_of_a_failed_stage_says_so():
    report = {"started": "now", "mode": "grading", "total_seconds": 3.0,
              "data": {"kind": "embedded", "path": "/d", "images": 10},
              "device": {"used": "CPU: x", "cpu": "x", "cpu_count": 2, "gpus": [], "backend": "tensorflow",
                         "versions": {"keras": "3"}},
              "stages": [{"stage": "01_download", "seconds": 3.0, "points": 0, "max_points": 6,
                          "error": "NameError: name 'x' is not defined"}]}
    text = reference.format_report(report)
    assert "failed: NameError" in text and "Test patients" not in text

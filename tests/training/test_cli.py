"""The command line: the stable contract instructors' scripts and the held-out judge call."""

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from malaria_lab.backend import installed


def cli(*args, cwd=None, timeout=900, backend=None):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", **({"KERAS_BACKEND": backend} if backend else {}))
    return subprocess.run([sys.executable, "-m", "malaria_lab", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)


def test_console_script_is_installed():
    exe = Path(sys.executable).with_name("malaria-lab")
    path = str(exe) if exe.exists() else shutil.which("malaria-lab")
    assert path, "pip install -e . should install the malaria-lab command"
    done = subprocess.run([path, "--help"], capture_output=True, text=True)
    assert done.returncode == 0
    for command in ("download", "synth", "scan", "split", "train", "evaluate", "run"):
        assert command in done.stdout


@pytest.mark.parametrize("args, words", [
    (("scan", "no/such/folder"), "No data at"),
    (("split", "no/such/folder", "--out", "m.csv"), "No data at"),
    (("train", "--data", "no/such/folder", "--out", "o"), "No data at"),
    (("train", "--data", ".", "--out", "o", "--validation", "1"), "not between 0 and 1"),
    (("evaluate", "--model", "none.keras", "--data", ".", "--out", "o"), "No model at"),
    (("download", "--dest", "d", "--url", "http://127.0.0.1:9/x.zip", "--sha256", "zz"), "sha256"),
])
def test_errors_are_one_clear_line_and_exit_2(args, words, tmp_path):
    done = cli(*args, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and words in lines[0] and "Traceback" not in done.stderr
    assert lines[0].startswith(f"malaria-lab {args[0]}: error:")


def test_synth_scan_split_on_the_command_line(tmp_path):
    assert cli("synth", "--out", tmp_path / "d", "--per-class", 40, "--patients", 5, "-q").returncode == 0
    scanned = cli("scan", tmp_path / "d", "--json")
    assert scanned.returncode == 0, scanned.stderr
    report = json.loads(scanned.stdout)
    assert report["images"] == 80
    done = cli("split", tmp_path / "d", "--out", tmp_path / "manifest.csv", "--seed", 1)
    assert done.returncode == 0, done.stderr
    assert "No leakage" in done.stdout
    rows = list(csv.DictReader(open(tmp_path / "manifest.csv")))
    assert len(rows) == 80 and set(rows[0]) == {"path", "label", "patient", "split"}
    patients = {}
    for row in rows:
        patients.setdefault(row["patient"], set()).add(row["split"])
    assert all(len(s) == 1 for s in patients.values())
    leaky = cli("split", tmp_path / "d", "--out", tmp_path / "leaky.csv", "--by", "image")
    assert "appear in more than one part" in leaky.stdout


@pytest.mark.slow
def test_run_train_evaluate_end_to_end_on_embedded_data(tmp_path):
    backend = "tensorflow"
    done = cli("run", "--out", tmp_path / "run", "-q", cwd=tmp_path, backend=backend)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    for key in ("accuracy", "auc", "sensitivity", "specificity", "n_test", "test_patients"):
        assert key in report
    assert report["n_test"] > 50 and report["leakage_free"]
    assert report["auc"] > 0.7, report
    for plot in ("curves.png", "confusion.png", "roc.png", "mistakes.png"):
        assert (tmp_path / "run" / plot).stat().st_size > 2000
    assert "report.json" in done.stdout

    # The judge's contract: train on data folders, then evaluate the saved model elsewhere.
    data = tmp_path / "run" / "synthetic"
    trained = cli("train", "--data", data, "--out", tmp_path / "model", "--recipe", "fast", "-q", backend=backend)
    assert trained.returncode == 0, trained.stderr[-3000:]
    assert (tmp_path / "model" / "model.keras").is_file()
    training = json.loads((tmp_path / "model" / "training.json").read_text())
    assert training["backend"] == backend
    evaluated = cli("evaluate", "--model", tmp_path / "model" / "model.keras", "--data", data,
                    "--out", tmp_path / "eval", "-q", backend=backend)
    assert evaluated.returncode == 0, evaluated.stderr[-3000:]
    report = json.loads((tmp_path / "eval" / "report.json").read_text())
    assert report["n_test"] == 2000 and report["threshold"] == training["threshold"]


@pytest.mark.slow
def test_the_judge_s_train_then_evaluate_on_jax(tmp_path):
    """``train`` then ``evaluate`` elsewhere, as on TensorFlow above; training itself on each
    backend is tests/training/test_train.py's, and the course's is tests/course/test_reference.py's."""
    backend = "jax"
    if not installed(backend):
        pytest.skip(f"{backend} is not installed")
    data = tmp_path / "d"
    assert cli("synth", "--out", data, "--per-class", "60", "--patients", "6").returncode == 0
    trained = cli("train", "--data", data, "--out", tmp_path / "m", "--recipe", "fast", "-q", backend=backend)
    assert trained.returncode == 0, trained.stderr[-3000:]
    training = json.loads((tmp_path / "m" / "training.json").read_text())
    assert training["backend"] == backend
    evaluated = cli("evaluate", "--model", tmp_path / "m" / "model.keras", "--data", data,
                    "--out", tmp_path / "e", "-q", backend=backend)
    assert evaluated.returncode == 0, evaluated.stderr[-3000:]
    report = json.loads((tmp_path / "e" / "report.json").read_text())
    assert report["n_test"] == 120 and report["threshold"] == training["threshold"]


@pytest.mark.slow
def test_train_in_bfloat16_then_evaluate(tmp_path):
    data = tmp_path / "d"
    assert cli("synth", "--out", data, "--per-class", "60", "--patients", "6").returncode == 0
    trained = cli("train", "--data", data, "--out", tmp_path / "m", "--recipe", "fast",
                  "--precision", "mixed_bfloat16", "-q")
    assert trained.returncode == 0, trained.stderr[-3000:]
    training = json.loads((tmp_path / "m" / "training.json").read_text())
    assert training["precision"] == "mixed_bfloat16" == training["recipe"]["precision"]
    assert "mixed_bfloat16" in trained.stdout
    evaluated = cli("evaluate", "--model", tmp_path / "m" / "model.keras", "--data", data,
                    "--out", tmp_path / "e", "-q")
    assert evaluated.returncode == 0, evaluated.stderr[-3000:]
    assert json.loads((tmp_path / "e" / "report.json").read_text())["n_test"] == 120


@pytest.mark.slow
def test_train_on_every_patient_then_evaluate(tmp_path):
    data = tmp_path / "d"
    assert cli("synth", "--out", data, "--per-class", "60", "--patients", "6").returncode == 0
    trained = cli("train", "--data", data, "--out", tmp_path / "m", "--recipe", "fast", "--validation", "0", "-q")
    assert trained.returncode == 0, trained.stderr[-3000:]
    training = json.loads((tmp_path / "m" / "training.json").read_text())
    assert (training["n_train"], training["n_val"], training["train_patients"]) == (120, 0, 6)
    assert training["threshold"] == 0.5 and training["validation"] is None
    assert {line.split(",")[-1] for line in (tmp_path / "m" / "manifest.csv").read_text().splitlines()[1:]} == {"train"}
    evaluated = cli("evaluate", "--model", tmp_path / "m" / "model.keras", "--data", data,
                    "--out", tmp_path / "e", "-q")
    assert evaluated.returncode == 0, evaluated.stderr[-3000:]
    assert json.loads((tmp_path / "e" / "report.json").read_text())["threshold"] == 0.5

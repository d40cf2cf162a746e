"""The benchmarks: cross-validation's comparison of threshold rules on kept probabilities, and
the throughput script in the precision asked for."""

import importlib.util
from pathlib import Path

import numpy as np

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "cross_validate.py"


def _load():
    spec = importlib.util.spec_from_file_location("cross_validate", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _fold(path, seed):
    rng = np.random.default_rng(seed)
    parts = {}
    for part in ("val", "test"):
        y = rng.integers(0, 2, 400)
        parts[f"y_{part}"] = y
        parts[f"p_{part}"] = np.clip(0.3 + 0.4 * y + rng.normal(0, 0.2, 400), 0, 1)
    path.mkdir(parents=True)
    np.savez_compressed(path / "probabilities.npz", **parts)


def test_threshold_rules_compare_floors_fold_by_fold(tmp_path):
    cv = _load()
    for k in (1, 2, 3):
        _fold(tmp_path / f"reference-fold{k}", seed=k)
    rows = [line.split("|") for line in cv.threshold_rules(tmp_path, {"reference": {}}, floors=(0.99,))
            .splitlines()[2:]]
    assert [r[2].strip() for r in rows] == ["balanced (Youden)", "sensitivity >= 0.99"]
    assert all(r[3].strip() == "3" for r in rows)
    sensitivity = [float(r[5].split("±")[0]) for r in rows]
    specificity = [float(r[6].split("±")[0]) for r in rows]
    # A strict floor buys sensitivity with specificity.
    assert sensitivity[1] > sensitivity[0] and specificity[1] < specificity[0]
    assert cv.threshold_rules(tmp_path, {"tutorial": {}}).count("\n") == 1  # no folds kept: header only


def test_throughput_trains_in_the_precision_asked_for(tmp_path):
    import subprocess
    import sys

    from malaria_lab.data.synth import synthesize

    synthesize(tmp_path / "data", per_class=24, patients=4, seed=0)
    script = SCRIPT.with_name("throughput.py")
    done = subprocess.run([sys.executable, str(script), "--data", str(tmp_path / "data"), "--recipe", "fast",
                           "--batch-sizes", "16", "--epochs", "2", "--precision", "mixed_bfloat16"],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "48 images decoded" in done.stdout and "mixed_bfloat16" in done.stdout, done.stdout
    row = [line for line in done.stdout.splitlines() if line.startswith("| 16 |")]
    assert row and float(row[0].split("|")[2].replace(",", "")) > 0, done.stdout

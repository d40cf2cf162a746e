"""The benchmarks: cross-validation of a recipe or a variant of one, its comparison of threshold
rules on kept probabilities, the gallery of its mistakes, and the throughput script in the
precision asked for."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "cross_validate.py"


def _load(script=SCRIPT):
    spec = importlib.util.spec_from_file_location(script.stem, script)
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


@pytest.mark.parametrize("backend", ["tensorflow", "jax"])
def test_throughput_trains_in_the_precision_asked_for(backend, tmp_path):
    import os
    import subprocess
    import sys

    from malaria_lab.backend import installed
    from malaria_lab.data.synth import synthesize

    if not installed(backend):
        pytest.skip(f"{backend} is not installed")
    synthesize(tmp_path / "data", per_class=24, patients=4, seed=0)
    script = SCRIPT.with_name("throughput.py")
    done = subprocess.run([sys.executable, str(script), "--data", str(tmp_path / "data"), "--recipe", "fast",
                           "--batch-sizes", "16", "--epochs", "2", "--precision", "mixed_bfloat16"],
                          env=dict(os.environ, KERAS_BACKEND=backend), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "48 images decoded" in done.stdout and "mixed_bfloat16" in done.stdout, done.stdout
    assert f"backend {backend}," in done.stdout, done.stdout
    row = [line for line in done.stdout.splitlines() if line.startswith("| 16 |")]
    assert row and float(row[0].split("|")[2].replace(",", "")) > 0, done.stdout


def test_a_variant_is_a_recipe_with_fields_changed():
    cv = _load()
    from malaria_lab.train import get_recipe

    base = get_recipe("reference")
    variant = cv.with_changes(base, ["image_size=56", "epochs=13", 'model={"dropout": 0}', "precision=mixed_bfloat16"])
    assert (variant.image_size, variant.epochs, variant.model, variant.precision) == (56, 13, {"dropout": 0},
                                                                                       "mixed_bfloat16")
    assert variant.name == 'reference+image_size=56,epochs=13,model={"dropout": 0},precision=mixed_bfloat16'
    assert variant.learning_rate == base.learning_rate and base.image_size == 64  # the rest, and the base, stay
    assert cv.with_changes(base, ["epochs=3"], name="short").name == "short"
    assert cv.with_changes(base, []) is base
    for bad in ("epochs", "epoch=3", "name=x"):
        try:
            cv.with_changes(base, [bad])
        except SystemExit as err:
            assert bad in str(err) and "image_size" in str(err)
        else:
            raise AssertionError(f"--set {bad} was accepted")


def test_cross_validation_runs_a_variant_fold_by_fold(tmp_path):
    import json
    import subprocess
    import sys

    from malaria_lab.data.synth import synthesize

    synthesize(tmp_path / "data", per_class=24, patients=6, seed=0)

    def run(*extra):
        return subprocess.run([sys.executable, str(SCRIPT), "--data", str(tmp_path / "data"), "--out",
                               str(tmp_path / "cv"), "--folds", "2", "--recipes", "fast", *extra],
                              capture_output=True, text=True, timeout=600)

    done = run("--set", "epochs=1")
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads((tmp_path / "cv" / "cv.json").read_text())
    assert list(results) == ["fast+epochs=1"] and sorted(results["fast+epochs=1"]) == ["1", "2"]
    for report in results["fast+epochs=1"].values():
        assert report["epochs"] == 1 and 0 <= report["accuracy"] <= 1 and report["n_test"] > 0
    assert "| fast+epochs=1 | 2 |" in done.stdout, done.stdout
    spread = done.stdout.split("One held-out set of 48 patients")[1]
    assert "| fast+epochs=1 | 6 of 6 |" in spread, done.stdout  # only 6 patients to draw from
    assert "| fast+epochs=1 | 0.5 |" in spread.split("fixed thresholds")[1], done.stdout
    kept = np.load(tmp_path / "cv" / "fast+epochs=1-fold1" / "probabilities.npz")
    assert len(kept["paths_test"]) == len(kept["y_test"]) == results["fast+epochs=1"]["1"]["n_test"]
    assert all(("Parasitized" in str(path)) == bool(y) for path, y in zip(kept["paths_test"], kept["y_test"]))
    again = run("--set", "epochs=1")  # done folds are kept, not trained again
    assert again.returncode == 0 and "== fast" not in again.stdout, again.stderr[-3000:]
    clash = run("--set", "epochs=2", "--name", "fast+epochs=1")
    assert clash.returncode != 0 and "another recipe named 'fast+epochs=1'" in clash.stderr, clash.stderr

    # Holding no validation patients back: every other patient trains, at the fixed threshold.
    every = run("--set", "epochs=1", "validation=0", "--name", "all")
    assert every.returncode == 0, every.stderr[-3000:]
    results = json.loads((tmp_path / "cv" / "cv.json").read_text())
    for key, report in results["all"].items():
        assert report["threshold"] == 0.5 and report["n_train"] > results["fast+epochs=1"][key]["n_train"]
        assert report["n_test"] == results["fast+epochs=1"][key]["n_test"]


def _patient_fold(path, fold, sharp):
    """A fold's kept test probabilities for 10 patients of 40 cells; ``sharp`` separates the classes."""
    rng = np.random.default_rng(fold)
    y = np.tile([0, 1], 200)
    p = np.clip(0.5 + (y - 0.5) * sharp + rng.normal(0, 0.15, 400), 0, 1)
    path.mkdir(parents=True)
    np.savez_compressed(path / "probabilities.npz", y_test=y, p_test=p, y_val=y, p_val=p, threshold=0.5,
                        patients_test=np.repeat([f"F{fold}P{k}" for k in range(10)], 40))


def test_heldout_spread_draws_patients_from_every_fold(tmp_path):
    cv = _load()
    for k in (1, 2, 3):
        _patient_fold(tmp_path / f"good-fold{k}", k, sharp=1.0)
        _patient_fold(tmp_path / f"poor-fold{k}", k, sharp=0.1)
    _fold(tmp_path / "old-fold1", seed=1)  # kept before patients were: left out, not an error
    text = cv.heldout_spread(tmp_path, {"good": {}, "poor": {}, "old": {}}, n_patients=12, draws=200)
    rows = {r.split("|")[1].strip(): [c.strip() for c in r.split("|")[2:-1]] for r in text.splitlines()[2:]}
    assert sorted(rows) == ["good", "poor"]
    assert rows["good"][0] == "12 of 30" and rows["good"][-1] == "100%"
    assert rows["poor"][-1] == "0%"
    low, mid, high = (float(v) for v in rows["poor"][1].split(" / "))  # accuracy percentiles
    assert 0.5 < low <= mid <= high < 0.9


def test_folds_without_validation_train_on_every_other_patient():
    cv = _load()
    from malaria_lab.data.layout import ImageRef
    from malaria_lab.split import patient_folds

    images = [ImageRef(f"C{p}P{p}_IMG_1_cell_{k}.png", label) for p in range(10) for k in range(4)
              for label in ("Parasitized", "Uninfected")]
    folds = patient_folds(images, 5, seed=0)
    with_val, without = cv.fold_rows(images, folds, 0, 0), cv.fold_rows(images, folds, 0, 0, validation=0)
    assert {r.split for r in with_val} == {"train", "val", "test"} and {r.split for r in without} == {"train", "test"}
    assert [r.split == "test" for r in with_val] == [r.split == "test" for r in without]


def test_mean_sd_leaves_out_undefined_folds():
    cv = _load()
    assert cv.mean_sd([0.9, 0.95, 1.0]) == "0.950 ± 0.050"
    assert cv.mean_sd([0.9, float("nan"), 1.0]) == "0.950 ± 0.071"
    assert cv.mean_sd([float("nan")]) == "n/a" and cv.mean_sd([0.5]) == "0.500 ± 0.000"


def test_threshold_sweep_trades_sensitivity_for_specificity(tmp_path):
    cv = _load()
    for k in (1, 2, 3):
        _patient_fold(tmp_path / f"mid-fold{k}", k, sharp=0.5)
    text = cv.threshold_sweep(tmp_path, {"mid": {}, "absent": {}}, n_patients=12, thresholds=(0.3, 0.5, 0.7),
                              draws=200)
    rows = [[c.strip() for c in r.split("|")[1:-1]] for r in text.splitlines()[2:]]
    assert [(r[0], r[1]) for r in rows] == [("mid", "0.3"), ("mid", "0.5"), ("mid", "0.7")]
    sensitivity = [float(r[3].split("±")[0]) for r in rows]
    specificity = [float(r[4].split("±")[0]) for r in rows]
    assert sensitivity[0] > sensitivity[1] > sensitivity[2] and specificity[0] < specificity[1] < specificity[2]
    # At the folds' own threshold (0.5 here) the sweep's draws are the held-out spread's.
    spread = cv.heldout_spread(tmp_path, {"mid": {}}, n_patients=12, draws=200).splitlines()[2]
    assert spread.split("|")[-2].strip() == rows[1][-1]


def _gallery_run(tmp_path):
    """A made-up fold over real image files: 4 missed parasitized cells and 3 false alarms."""
    from malaria_lab.data.layout import find_images
    from malaria_lab.data.synth import synthesize

    refs = find_images(synthesize(tmp_path / "data", per_class=12, patients=3, seed=0))
    y = np.array([ref.label == "Parasitized" for ref in refs], dtype=int)
    p = np.where(y == 1, 0.9, 0.1)
    missed, alarms = np.flatnonzero(y == 1)[:4], np.flatnonzero(y == 0)[:3]
    p[missed], p[alarms] = 0.2, 0.7
    (tmp_path / "cv" / "reference-fold1").mkdir(parents=True)
    np.savez_compressed(tmp_path / "cv" / "reference-fold1" / "probabilities.npz", y_test=y, p_test=p,
                        threshold=0.5, paths_test=np.array([ref.path for ref in refs]),
                        patients_test=np.array([ref.patient for ref in refs]))
    return refs, set(missed), set(alarms)


def test_error_gallery_samples_each_kind_of_mistake(tmp_path):
    import csv

    from PIL import Image

    gallery = _load(SCRIPT.with_name("error_gallery.py"))
    refs, missed, alarms = _gallery_run(tmp_path)
    gallery.main(["--cv", str(tmp_path / "cv"), "--out", str(tmp_path / "g"), "--n", "3", "--correct", "2"])
    rows = list(csv.DictReader(open(tmp_path / "g" / "sample.csv")))
    by_sheet = {}
    for row in rows:
        by_sheet.setdefault(row["sheet"], []).append(row)
    assert {k: len(v) for k, v in by_sheet.items()} == {
        "missed_parasitized": 3, "false_alarms": 3, "correct_parasitized": 2, "correct_uninfected": 2}
    index = {ref.path: i for i, ref in enumerate(refs)}
    assert {index[r["path"]] for r in by_sheet["missed_parasitized"]} < missed  # 3 drawn of the 4
    assert {index[r["path"]] for r in by_sheet["false_alarms"]} == alarms
    assert all(r["label"] == "1" and float(r["probability"]) < 0.5 for r in by_sheet["missed_parasitized"])
    assert [r["number"] for r in by_sheet["false_alarms"]] == ["0", "1", "2"] and rows[0]["verdict"] == ""
    for sheet in by_sheet:
        with Image.open(tmp_path / "g" / f"{sheet}.png") as image:
            assert image.width > 600 and image.height > 100
    assert not list((tmp_path / "g").glob(".*"))  # no temporary files left behind


def test_error_gallery_says_what_to_do_without_kept_paths(tmp_path):
    import pytest

    gallery = _load(SCRIPT.with_name("error_gallery.py"))
    with pytest.raises(SystemExit, match="run cross_validate.py"):
        gallery.main(["--cv", str(tmp_path), "--out", str(tmp_path / "g")])
    _fold(tmp_path / "reference-fold1", seed=1)  # kept before paths were
    with pytest.raises(SystemExit, match="keeps no cell paths"):
        gallery.main(["--cv", str(tmp_path), "--out", str(tmp_path / "g")])

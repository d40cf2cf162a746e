"""Through the real command: a run folder resumes on its own inputs and starts over only with
--force; scan counts what training uses; undefined metrics are said and written as null; a patient
mapping is used end to end."""

import csv
import json
import shutil

import pytest
from cli_helpers import cli, copy, strict_json, tree
from imaging import png_bytes

from malaria_lab.data.synth import synthesize


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A small synthetic set with one broken and one 16-bit image, and a finished fast run on it."""
    root = tmp_path_factory.mktemp("trained")
    cells = synthesize(root / "d", per_class=12, patients=4, seed=2)
    (cells / "Uninfected" / "C1P1ThinF_IMG_20150101_000001_cell_1.png").write_bytes(png_bytes()[:40])
    (cells / "Parasitized" / "C1P1ThinF_IMG_20150101_000001_cell_2.png").write_bytes(
        png_bytes((40, 40), mode="I;16", color=30000))
    synthesize(root / "other", per_class=12, patients=4, seed=5)
    done = cli("train", "--data", "d", "--out", "r", "--recipe", "fast", "--validation", "0", cwd=root)
    assert done.returncode == 0, done.stderr[-3000:]
    return root, done


def test_scan_counts_are_the_counts_training_uses(trained):
    root, done = trained
    report = strict_json(cli("scan", "d", "--json", cwd=root).stdout)
    training = strict_json((root / "r" / "training.json").read_text())
    assert report["images"] == 26 and len(report["unreadable"]) == 1
    assert training["n_train"] + training["n_val"] == report["images"] - len(report["unreadable"]) == 25
    manifest = list(csv.DictReader(open(root / "r" / "manifest.csv")))
    assert len(manifest) == report["images"]


def test_a_skipped_image_is_one_warning_line_naming_it(trained):
    _, done = trained
    warned = [line for line in done.stderr.splitlines() if "Skipped unreadable image" in line]
    assert len(warned) == 1 and "C1P1ThinF_IMG_20150101_000001_cell_1.png" in warned[0]
    assert warned[0].startswith("malaria-lab train: warning: ")
    assert "warnings.warn" not in done.stderr and "0x" not in done.stderr and "Traceback" not in done.stderr


def test_the_same_inputs_resume_and_change_no_model(trained, tmp_path):
    root, _ = trained
    copy(root / "d", tmp_path / "d")
    copy(root / "r", tmp_path / "r")
    model = (tmp_path / "r" / "model.keras").read_bytes()
    done = cli("train", "--data", "d", "--out", "r", "--recipe", "fast", "--validation", "0", "-q", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp_path / "r" / "model.keras").read_bytes() == model  # a finished run trains no further


def test_force_starts_over_and_keeps_what_is_not_the_runs(trained, tmp_path):
    root, _ = trained
    copy(root / "other", tmp_path / "other")
    copy(root / "r", tmp_path / "r")
    (tmp_path / "r" / "notes.txt").write_text("mine")
    done = cli("train", "--data", "other", "--out", "r", "--recipe", "fast", "--validation", "0", "-q", cwd=tmp_path)
    assert done.returncode == 2 and "--force" in done.stderr
    done = cli("train", "--data", "other", "--out", "r", "--recipe", "fast", "--validation", "0", "--force", "-q",
               cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp_path / "r" / "notes.txt").read_text() == "mine"
    run = strict_json((tmp_path / "r" / "run.json").read_text())
    assert run["data"] == ["other"] and run["images"] == 24
    assert all("other/" in row["path"] for row in csv.DictReader(open(tmp_path / "r" / "manifest.csv")))
    assert strict_json((tmp_path / "r" / "training.json").read_text())["n_train"] == 24


def test_one_class_evaluation_says_what_is_undefined_and_writes_null(trained, tmp_path):
    root, _ = trained
    one = tmp_path / "one" / "cell_images"
    shutil.copytree(root / "d" / "cell_images" / "Parasitized", one / "Parasitized")
    (one / "Parasitized" / "C1P1ThinF_IMG_20150101_000001_cell_2.png").unlink()
    before = tree(tmp_path / "one")
    done = cli("evaluate", "--model", root / "r" / "model.keras", "--data", "one", "--out", "e", "-q", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert tree(tmp_path / "one") == before
    report = strict_json((tmp_path / "e" / "report.json").read_text())
    assert report["auc"] is None and report["specificity"] is None and report["sensitivity"] is not None
    assert "only Parasitized cells" in report["undefined"]["auc"]
    line = [x for x in done.stdout.splitlines() if x.startswith("Undefined:")]
    assert len(line) == 1 and "AUC (only Parasitized cells" in line[0] and "nan" not in done.stdout.lower()


def test_split_uses_a_patient_mapping_and_says_when_leakage_cannot_be_checked(trained, tmp_path):
    root, _ = trained
    names = sorted(p for p in (root / "d" / "cell_images").rglob("*.png"))
    for i, png in enumerate(names):
        dest = tmp_path / "u" / "cell_images" / png.parent.name / f"img_{i}.png"
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(png, dest)
    leaky = cli("split", "u", "--out", "leaky.csv", "--by", "image", "--no-hash", cwd=tmp_path)
    assert leaky.returncode == 0 and "No leakage" not in leaky.stdout and "cannot be checked" in leaky.stdout
    assert {row["patient"] for row in csv.DictReader(open(tmp_path / "leaky.csv"))} == {""}
    with open(tmp_path / "patients.csv", "w") as handle:
        handle.write("file,patient\n" + "".join(f"img_{i}.png,P{i % 5}\n" for i in range(len(names))))
    done = cli("split", "u", "--out", "m.csv", "--patients", "patients.csv", "--no-hash", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "No leakage" in done.stdout
    rows = list(csv.DictReader(open(tmp_path / "m.csv")))
    assert {r["patient"] for r in rows} == {f"P{k}" for k in range(5)}
    parts = {}
    for r in rows:
        parts.setdefault(r["patient"], set()).add(r["split"])
    assert all(len(s) == 1 for s in parts.values())
    scanned = json.loads(cli("scan", "u", "--json", "--patients", "patients.csv", cwd=tmp_path).stdout)
    assert scanned["patients"]["count"] == 5 and scanned["patients"]["without_id"] == 0

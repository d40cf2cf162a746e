"""Bad inputs a careful user can hand the command line: each exits 2 with one line saying what was
wrong and what to do, no traceback, and leaves every file it was given byte for byte as it was.

Each case builds its inputs in its own folder; the command runs there as the user's working folder,
and the whole folder is compared before and after (so a refusal writes nothing at all).
"""

import functools
import http.server
import io
import os
import shutil
import sys
import threading
import zipfile
from pathlib import Path

import pytest
from cli_helpers import assert_refused, cli, copy, strict_json, tree

from malaria_lab.data.synth import synthesize

LINUX = sys.platform.startswith("linux")


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """Two tiny synthetic data sets, and a finished fast run on the first (made once)."""
    root = tmp_path_factory.mktemp("made")
    synthesize(root / "d", per_class=12, patients=4, seed=0)
    synthesize(root / "d2", per_class=12, patients=4, seed=3)
    done = cli("train", "--data", "d", "--out", "r", "--recipe", "fast", "--validation", "0", "-q", cwd=root)
    assert done.returncode == 0, done.stderr[-3000:]
    return root


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """Keras models that are not malaria classifiers."""
    import keras

    root = tmp_path_factory.mktemp("models")
    inputs = keras.Input((16, 16, 3))
    x = keras.layers.GlobalAveragePooling2D()(inputs)
    keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(x)).save(root / "two_outputs.keras")
    inputs = keras.Input((None, None, 3))
    x = keras.layers.GlobalAveragePooling2D()(inputs)
    keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(x)).save(root / "any_size.keras")
    return root


class _Server:
    """Serves one folder over HTTP on 127.0.0.1."""

    def __init__(self, folder):
        handler = functools.partial(_Quiet, directory=str(folder))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def url(self, name):
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/{name}"


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """Zips that must not be extracted, served from a folder that the test checks stays as it was."""
    folder = tmp_path_factory.mktemp("served")
    cells = tmp_path_factory.mktemp("cells")
    synthesize(cells, per_class=4, patients=3, seed=0)
    with zipfile.ZipFile(folder / "one_class.zip", "w") as z:
        for png in sorted((cells / "cell_images" / "Uninfected").iterdir()):
            z.write(png, f"cell_images/Uninfected/{png.name}")
    zeros = bytes(70 << 20)
    with zipfile.ZipFile(folder / "big_member.zip", "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("cell_images/Parasitized/C1P1ThinF_IMG_1_cell_1.png", zeros)
        z.writestr("cell_images/Uninfected/C1P1ThinF_IMG_1_cell_2.png", b"x")
    with zipfile.ZipFile(folder / "bomb.zip", "w", zipfile.ZIP_DEFLATED) as z:
        for k in range(2):
            z.writestr(f"cell_images/Parasitized/C1P1ThinF_IMG_1_cell_{k}.png", zeros[: 40 << 20])
            z.writestr(f"cell_images/Uninfected/C2P2ThinF_IMG_1_cell_{k}.png", zeros[: 40 << 20])
    server = _Server(folder)
    yield folder, server
    server.httpd.shutdown()


def _unnamed(made, tmp):
    """The first data set with every image renamed img_<n>.png: no patient in any name."""
    for i, png in enumerate(sorted((made / "d" / "cell_images").rglob("*.png"))):
        dest = tmp / "u" / "cell_images" / png.parent.name / f"img_{i}.png"
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(png, dest)


def _one_class(made, tmp):
    copy(made / "d" / "cell_images" / "Uninfected", tmp / "one" / "cell_images" / "Uninfected")


def _run_copy(made, tmp, drop=()):
    copy(made / "d", tmp / "d")
    copy(made / "d2", tmp / "d2")
    copy(made / "r", tmp / "r")
    for name in drop:
        (tmp / "r" / name).unlink()


def _damaged_zip(made, tmp):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        for png in sorted((made / "d" / "cell_images").rglob("*.png"))[:4]:
            z.write(png, png.relative_to(made / "d").as_posix())
    data = bytearray(buffer.getvalue())
    start = data.rfind(b"PK\x01\x02")
    data[start:start + 4] = b"XXXX"  # break the central directory, keep the end record
    (tmp / "damaged.zip").write_bytes(bytes(data))


def _write(name, content):
    def setup(made, tmp):
        path = tmp / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return setup


def _both(*setups):
    def setup(made, tmp):
        for s in setups:
            s(made, tmp)
    return setup


def _data(made, tmp):
    copy(made / "d", tmp / "d")


def _model_copy(made, tmp):
    copy(made / "d", tmp / "d")
    copy(made / "r", tmp / "r")


def _names(made):
    return sorted(p.name for p in (made / "d" / "cell_images").rglob("*.png"))


def _mapping_missing_some(made, tmp):
    _data(made, tmp)
    names = _names(made)
    (tmp / "p.csv").write_text("file,patient\n" + "".join(f"{n},P{i % 3}\n" for i, n in enumerate(names[:-2])))


def _mapping_conflict(made, tmp):
    _data(made, tmp)
    name = _names(made)[0]
    (tmp / "p.csv").write_text(f"file,patient\n{name},P1\n{name},P2\n")


def _training_files_only(made, tmp):
    _data(made, tmp)
    (tmp / "r").mkdir()
    (tmp / "r" / "model.keras").write_bytes(b"someone's model")


CASES = {
    # scan: the data itself
    "scan-missing": (None, ["scan", "nowhere"], "No data at"),
    "scan-not-a-zip": (_write("cells.zip", "not a zip"), ["scan", "cells.zip"], "not a zip archive"),
    "scan-damaged-zip": (_damaged_zip, ["scan", "damaged.zip"], "damaged zip"),
    "scan-path-with-zip-separator": (_both(_write("a::b/x.txt", "x")), ["scan", "a::b"], "contains '::'"),
    "scan-patients-missing": (_data, ["scan", "d", "--patients", "none.csv"], "No patient mapping at"),
    "scan-patients-folder-without-mapping": (_both(_data, _write("maps/x.txt", "x")),
                                             ["scan", "d", "--patients", "maps"], "is a folder without"),
    # split: patients, mappings, --out, numbers
    "split-no-patient-ids": (_unnamed, ["split", "u", "--out", "m.csv"], "24 of 24 images have no patient id"),
    "split-patients-no-columns": (_both(_data, _write("p.csv", "a,b\n1,2\n")),
                                  ["split", "d", "--out", "m.csv", "--patients", "p.csv"],
                                  "no file and patient columns"),
    "split-patients-conflict": (_mapping_conflict, ["split", "d", "--out", "m.csv", "--patients", "p.csv"],
                                "is given to patient"),
    "split-patients-nih-garbled": (_both(_data, _write("patientid_cellmapping_parasitized.csv", "C1P1,[oops\n")),
                                   ["split", "d", "--out", "m.csv", "--patients",
                                    "patientid_cellmapping_parasitized.csv"], "expected a patient id"),
    "split-patients-binary": (_both(_data, _write("p.csv", b"\xff\xfe\x00\x81")),
                              ["split", "d", "--out", "m.csv", "--patients", "p.csv"], "not a text (UTF-8)"),
    "split-patients-incomplete": (_mapping_missing_some, ["split", "d", "--out", "m.csv", "--patients", "p.csv"],
                                  "are not in the patient mapping"),
    "split-out-is-folder": (_both(_data, _write("m/x.txt", "x")), ["split", "d", "--out", "m"], "is a folder"),
    "split-out-is-users-file": (_both(_data, _write("notes.csv", "my,own\n")),
                                ["split", "d", "--out", "notes.csv"], "not a file malaria-lab wrote"),
    "split-out-parent-is-file": (_both(_data, _write("f", "x")), ["split", "d", "--out", "f/m.csv"],
                                 "cannot be made"),
    "split-negative-seed": (_data, ["split", "d", "--out", "m.csv", "--seed", "-1"], "Seed -1"),
    "split-bad-fractions": (_data, ["split", "d", "--out", "m.csv", "--train", "0.9", "--val", "0.3"],
                            "summing to 1"),
    # train: --out, run folders tied to their inputs, data it cannot learn from
    "train-out-is-file": (_both(_data, _write("o", "x")), ["train", "--data", "d", "--out", "o"], "is a file"),
    "train-out-inside-data": (_data, ["train", "--data", "d", "--out", "d/run"], "inside the data set"),
    "train-finished-run-other-data": (_run_copy, ["train", "--data", "d2", "--out", "r", "--recipe", "fast",
                                                  "--validation", "0"], "other inputs: it was trained on 24 images"),
    "train-finished-run-other-recipe": (_run_copy, ["train", "--data", "d", "--out", "r", "--validation", "0"],
                                        "fast recipe, not reference"),
    "train-finished-run-other-seed": (_run_copy, ["train", "--data", "d", "--out", "r", "--recipe", "fast",
                                                  "--validation", "0", "--seed", "7"], "its seed was 0, not 7"),
    "train-older-interrupted-run-other-data": (
        functools.partial(_run_copy, drop=("run.json", "training.json")),
        ["train", "--data", "d2", "--out", "r", "--recipe", "fast", "--validation", "0"],
        "an interrupted run of other"),
    "train-folder-with-unknown-training-files": (_training_files_only, ["train", "--data", "d", "--out", "r"],
                                                 "no record of what they were trained on"),
    "train-damaged-run-record": (_both(_run_copy, _write("r/run.json", "{ half")),
                                 ["train", "--data", "d", "--out", "r", "--recipe", "fast", "--validation", "0"],
                                 "is not valid JSON"),
    "train-one-class": (_one_class, ["train", "--data", "one", "--out", "o"], "has no Parasitized images"),
    "train-validation-without-patients": (_unnamed, ["train", "--data", "u", "--out", "o", "--validation", "0.3"],
                                          "have no patient id"),
    "train-seed-too-large": (_data, ["train", "--data", "d", "--out", "o", "--seed", str(2**40)], "Seed"),
    # evaluate: the model, the threshold, --out (all before decoding)
    "evaluate-text-as-model": (_both(_data, _write("m.keras", "hello")),
                               ["evaluate", "--model", "m.keras", "--data", "d", "--out", "e"],
                               "cannot be loaded as a Keras model"),
    "evaluate-zip-as-model": (_both(_data, _write("z.keras", b"PK\x05\x06" + bytes(18))),
                              ["evaluate", "--model", "z.keras", "--data", "d", "--out", "e"],
                              "cannot be loaded as a Keras model"),
    "evaluate-two-output-model": ("two_outputs.keras", ["evaluate", "--model", "two_outputs.keras", "--data", "d",
                                                        "--out", "e"], "not a malaria classifier"),
    "evaluate-any-size-model": ("any_size.keras", ["evaluate", "--model", "any_size.keras", "--data", "d",
                                                   "--out", "e"], "not one fixed square size"),
    "evaluate-out-is-file": (_both(_model_copy, _write("e", "x")),
                             ["evaluate", "--model", "r/model.keras", "--data", "d", "--out", "e"], "is a file"),
    "evaluate-threshold-out-of-range": (_model_copy, ["evaluate", "--model", "r/model.keras", "--data", "d",
                                                      "--out", "e", "--threshold", "1.5"], "not a probability"),
    "evaluate-damaged-training-json": (_both(_model_copy, _write("r/training.json", "{")),
                                       ["evaluate", "--model", "r/model.keras", "--data", "d", "--out", "e"],
                                       "is not valid JSON"),
    "evaluate-empty-data": (_both(_model_copy, _write("empty/README", "x")),
                            ["evaluate", "--model", "r/model.keras", "--data", "empty", "--out", "e"],
                            "No cell images found"),
    # run
    "run-out-is-file": (_both(_data, _write("o", "x")), ["run", "--data", "d", "--out", "o"], "is a file"),
    "run-finished-run-other-data": (_run_copy, ["run", "--data", "d2", "--out", "r", "--recipe", "fast"],
                                    "other inputs"),
    # download and synth: destinations
    "download-dest-is-file": (_write("dest", "x"), ["download", "--dest", "dest", "--url",
                                                    "http://127.0.0.1:9/x.zip"], "is a file"),
    "synth-out-is-file": (_write("s", "x"), ["synth", "--out", "s"], "is a file"),
}
if LINUX:
    CASES.update({
        "download-dest-in-proc": (None, ["download", "--dest", "/proc/malaria", "--url", "http://127.0.0.1:9/x.zip"],
                                  "cannot be written"),
        "download-dest-in-sys": (None, ["download", "--dest", "/sys/malaria/d", "--url", "http://127.0.0.1:9/x.zip"],
                                 "cannot be written"),
        "split-out-in-proc": (_data, ["split", "d", "--out", "/proc/m.csv"], "cannot be written"),
        "train-out-in-proc": (_data, ["train", "--data", "d", "--out", "/proc/malaria-run"], "cannot be written"),
        "synth-out-in-proc": (None, ["synth", "--out", "/proc/malaria-synth"], "cannot be written"),
    })


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_input_is_refused_in_one_line_and_nothing_changes(name, made, models, tmp_path):
    setup, args, words = CASES[name]
    if isinstance(setup, str):
        _data(made, tmp_path)
        shutil.copyfile(models / setup, tmp_path / setup)
    elif setup is not None:
        setup(made, tmp_path)
    cache = Path(os.environ["MALARIA_LAB_CACHE"])
    cached = tree(cache) if cache.exists() else {}
    before = tree(tmp_path)
    done = cli(*args, "-q", cwd=tmp_path)
    assert_refused(done, args[0], words)
    assert tree(tmp_path) == before, "the refusal changed the user's files"
    if args[0] == "evaluate":
        assert (tree(cache) if cache.exists() else {}) == cached, "evaluate decoded images before refusing"


@pytest.mark.parametrize("name, where, words", [
    ("one_class.zip", "served", "holds no Parasitized images"),
    ("big_member.zip", "served", "far more than a cell image"),
    ("bomb.zip", "served", "a zip bomb"),
])
def test_download_refuses_archives_it_must_not_extract(name, where, words, served, tmp_path):
    folder, server = served
    before = tree(folder)
    done = cli("download", "--dest", tmp_path / "dest", "--url", server.url(name), "-q", cwd=tmp_path)
    assert_refused(done, "download", words)
    assert tree(folder) == before
    assert not (tmp_path / "dest" / "cell_images").exists()
    assert [p.name for p in (tmp_path / "dest").iterdir()] == ["downloads"]  # only the verified download


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root reads any folder")
def test_unreadable_class_folder_is_an_error_not_a_smaller_data_set(made, tmp_path):
    data = copy(made / "d", tmp_path / "d")
    locked = data / "cell_images" / "Parasitized"
    locked.chmod(0)
    try:
        for args in (["scan", "d"], ["split", "d", "--out", "m.csv"]):
            done = cli(*args, cwd=tmp_path)
            assert_refused(done, args[0], "Cannot read the folder")
    finally:
        locked.chmod(0o755)


DATA_INPUTS = {
    "missing": None,
    "not-a-zip": _write("data", "not a zip"),
    "damaged-zip": _damaged_zip,
    "no-patient-ids": _unnamed,
    "one-class": _one_class,
    "empty": _write("data/README", "x"),
    "odd-files": _write("data/cell_images/Uninfected/C1P1ThinF_IMG_1_cell_1.png", b"\x89PNG\r\n\x1a\n broken"),
}


@pytest.mark.parametrize("name", sorted(DATA_INPUTS))
def test_scan_json_is_strict_json_on_every_bad_data_set(name, made, tmp_path):
    setup = DATA_INPUTS[name]
    if setup is not None:
        setup(made, tmp_path)
    target = next((p for p in ("u", "one", "damaged.zip", "data") if (tmp_path / p).exists()), "nowhere")
    done = cli("scan", target, "--json", cwd=tmp_path)
    assert "Traceback" not in done.stderr
    report = strict_json(done.stdout)
    if done.returncode == 2:
        assert report["error"] and done.stderr.count("\n") == 1
    else:
        assert done.returncode == 0 and report["problems"], report


def test_reference_refuses_a_mode_that_is_not_one(tmp_path):
    before = tree(tmp_path)
    done = cli("reference", "--out", "ref", cwd=tmp_path, env={"MALARIA_LAB_MODE": "tiny"})
    assert_refused(done, "reference", "MALARIA_LAB_MODE='tiny' is not one of the modes")
    assert tree(tmp_path) == before, "nothing written"

"""The data set report finds each kind of trouble, in a folder and in a zip of it."""

import json
import os

import pytest
from imaging import cell_name, make_dataset, png_bytes, zip_folder

from malaria_lab.data.scan import format_report, scan

P, U = "cell_images/Parasitized", "cell_images/Uninfected"
DUP = png_bytes((30, 30), color=(10, 20, 30))
NAMES = {
    "rgb": f"{P}/{cell_name('C1P1', 1)}",
    "grey": f"{P}/{cell_name('C1P1', 2)}",
    "rgba": f"{P}/{cell_name('C2P2', 3)}",
    "palette": f"{U}/{cell_name('C2P2', 4)}",
    "tiny": f"{U}/{cell_name('C3P3', 5)}",
    "corrupt": f"{U}/{cell_name('C3P3', 6)}",
    "truncated": f"{P}/{cell_name('C1P1', 7)}",
    "dup_a": f"{U}/{cell_name('C4P4', 8)}",
    "dup_b": f"{U}/{cell_name('C5P5', 9)}",
}


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    whole = png_bytes((64, 64), noise=True, seed=7)
    make_dataset(root, {
        NAMES["rgb"]: {"size": (40, 50)},
        NAMES["grey"]: {"size": (40, 40), "mode": "L"},
        NAMES["rgba"]: {"size": (40, 40), "mode": "RGBA"},
        NAMES["palette"]: {"size": (44, 40), "mode": "P", "noise": True},
        NAMES["tiny"]: {"size": (8, 8)},
        NAMES["corrupt"]: os.urandom(300),
        NAMES["truncated"]: whole[: len(whole) * 3 // 5],
        NAMES["dup_a"]: DUP,
        NAMES["dup_b"]: DUP,
        f"{P}/Thumbs.db": b"\xd0\xcf\x11\xe0 thumbnails",
        f"{U}/Thumbs.db": b"\xd0\xcf\x11\xe0 thumbnails",
        "cell_images/notes.txt": b"stray",
    })
    return root


@pytest.fixture(scope="module")
def archive(folder, tmp_path_factory):
    """The same data zipped, plus the Kaggle nested second copy of two images."""
    nested = {f"cell_images/{NAMES[k]}": png_bytes() for k in ("rgb", "dup_a")}
    return zip_folder(folder, tmp_path_factory.mktemp("zip") / "cells.zip", extra=nested)


@pytest.fixture(scope="module", params=["folder", "zip"])
def report(request, folder, archive):
    return scan(folder if request.param == "folder" else archive)


def test_counts_and_patients(report):
    assert report["images"] == 9
    assert report["classes"] == {"Parasitized": 4, "Uninfected": 5}
    patients = report["patients"]
    assert patients["count"] == 5
    assert patients["images"]["C2P2"] == {"Parasitized": 1, "Uninfected": 1}
    assert patients["single_class"] == {"Parasitized": ["C1P1"], "Uninfected": ["C3P3", "C4P4", "C5P5"]}


def test_modes_sizes_and_tiny(report):
    assert report["modes"] == {"RGB": 4, "L": 1, "RGBA": 1, "P": 1}
    width = report["sizes"]["width"]
    assert (width["min"], width["max"]) == (8, 44) and set(width) >= {"p5", "p25", "median", "p95"}
    assert report["tiny"] == [{"path": NAMES["tiny"], "width": 8, "height": 8}]


def test_unreadable_and_non_images(report):
    assert sorted(u["path"] for u in report["unreadable"]) == sorted([NAMES["corrupt"], NAMES["truncated"]])
    truncated = next(u for u in report["unreadable"] if u["path"] == NAMES["truncated"])
    assert "truncated" in truncated["error"].lower() or "broken" in truncated["error"].lower()
    assert sorted(report["non_images"]) == sorted([f"{P}/Thumbs.db", f"{U}/Thumbs.db",
                                                   "cell_images/notes.txt"])


def test_duplicates_across_patients(report):
    (group,) = report["duplicates"]["groups"]
    assert sorted(group["files"]) == sorted([NAMES["dup_a"], NAMES["dup_b"]])
    assert group["across_patients"] and not group["across_classes"]
    assert group["patients"] == ["C4P4", "C5P5"]


def test_problems_say_what_to_do(report):
    text = " ".join(report["problems"])
    for fragment in ("cannot be decoded", NAMES["corrupt"], "smaller than 16 px", "different patients"):
        assert fragment in text
    assert any("Thumbs.db x2" in note for note in report["notes"])
    json.dumps(report)
    shown = format_report(report)
    assert "Problems:" in shown and "Colour modes: RGB 4, L 1, RGBA 1, P 1" in shown


def test_zip_notes_the_nested_copy(archive, folder):
    zipped, plain = scan(archive), scan(folder)
    assert zipped["nested_duplicate"] == {"folders": ["cell_images/cell_images"], "files": 2}
    assert any("cell_images/cell_images/" in note for note in zipped["notes"])
    assert plain["nested_duplicate"] is None
    assert zipped["classes"] == plain["classes"]


def test_no_hashes_and_empty(tmp_path, folder):
    assert scan(folder, hashes=False)["duplicates"] is None
    (tmp_path / "empty").mkdir()
    empty = scan(tmp_path / "empty")
    assert empty["images"] == 0 and "No cell images" in empty["problems"][0]
    format_report(empty)

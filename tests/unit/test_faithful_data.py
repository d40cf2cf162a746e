"""Every image decoded faithfully or skipped by name, the same way in scan and in training; data
folders read whole or refused; archives extracted within limits and readable by others."""

import io
import os
import stat
import sys
import warnings
import zipfile

import numpy as np
import pytest
from imaging import cells_spec, corrupt_member, make_dataset, png_bytes, zip_folder
from PIL import Image, ImageFile

from malaria_lab import MalariaLabError
from malaria_lab.atomic import umask
from malaria_lab.data import decoding, layout
from malaria_lab.data.extract import extract
from malaria_lab.data.layout import find_images, read_bytes
from malaria_lab.data.scan import scan
from malaria_lab.pipeline import decode, load_arrays
from malaria_lab.split import Row

P, U = "cell_images/Parasitized", "cell_images/Uninfected"


def _png(array):
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def test_16_bit_greys_are_scaled_not_clipped():
    grey = np.linspace(0, 65535, 64 * 64).reshape(64, 64).astype(np.uint16)
    out = decode(_png(grey), 64)
    assert out.dtype == np.uint8 and out[..., 0].min() == 0 and out[..., 0].max() == 255
    assert abs(int(out[32, 0, 0]) - round(int(grey[32, 0]) / 257)) <= 1
    assert len(np.unique(out[..., 0])) > 200  # a full grey ramp, not a white image


def _tiff(mode_array):
    buffer = io.BytesIO()
    Image.fromarray(mode_array).save(buffer, format="TIFF")
    return buffer.getvalue()


@pytest.fixture
def odd(tmp_path):
    """A data set with images that cannot be decoded faithfully, of several kinds."""
    whole = png_bytes((64, 64), noise=True, seed=3)
    spec = cells_spec({("Parasitized", "C1P1"): 3, ("Uninfected", "C2P2"): 3})
    spec.update({
        f"{P}/C1P1_IMG_1_cell_90.tif": _tiff(np.random.default_rng(0).random((8, 8)).astype(np.float32)),
        f"{P}/C1P1_IMG_1_cell_91.png": whole[: len(whole) // 2],
        f"{U}/C2P2_IMG_1_cell_92.png": b"no image at all",
        f"{U}/C2P2_IMG_1_cell_93.png": _png(np.zeros((5001, 5001), np.uint8)),
        f"{U}/._C2P2_IMG_1_cell_94.png": b"\x00\x05\x16\x07 resource fork",
    })
    return make_dataset(tmp_path / "d", spec)


def test_scan_and_training_agree_on_what_cannot_be_decoded(odd):
    report = scan(odd)
    bad = {u["path"].rsplit("/", 1)[-1]: u["error"] for u in report["unreadable"]}
    assert sorted(bad) == ["C1P1_IMG_1_cell_90.tif", "C1P1_IMG_1_cell_91.png", "C2P2_IMG_1_cell_92.png",
                           "C2P2_IMG_1_cell_93.png"]
    assert "floating-point" in bad["C1P1_IMG_1_cell_90.tif"] and "far larger" in bad["C2P2_IMG_1_cell_93.png"]
    assert not any("0x" in e or "<" in e for e in bad.values())
    assert report["images"] == 10 and "cell_images/Uninfected/._C2P2_IMG_1_cell_94.png" in report["non_images"]
    rows = [Row(r.path, r.label, r.patient, "train") for r in find_images(odd)]
    before = ImageFile.LOAD_TRUNCATED_IMAGES
    ImageFile.LOAD_TRUNCATED_IMAGES = True  # another module asked Pillow to accept truncated files
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            arrays = load_arrays(rows, 16, use_cache=False)
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = before
    assert len(arrays) == report["images"] - len(report["unreadable"]) == 6
    assert sorted(p.rsplit("/", 1)[-1] for p, _ in arrays.skipped) == sorted(bad)
    messages = [str(w.message) for w in caught if "Skipped unreadable image" in str(w.message)]
    assert len(messages) == 4 and all(any(name in m for m in messages) for name in bad)
    assert not any("0x" in m for m in messages)


def test_unidentified_image_reason_has_no_object_repr():
    with pytest.raises(decoding.Undecodable) as err:
        decoding.open_image(b"not an image")
    assert str(err.value) == "not an image Pillow can read"
    assert decoding.clean("cannot identify image file <_io.BytesIO object at 0x7f3c>") == "cannot identify image file"


def test_damaged_or_oversized_zip_members_are_skipped_not_a_crash(tmp_path, monkeypatch):
    make_dataset(tmp_path / "src", cells_spec({("Parasitized", "C1P1"): 2, ("Uninfected", "C2P2"): 2}))
    archive = zip_folder(tmp_path / "src", tmp_path / "cells.zip")
    victim = sorted(zipfile.ZipFile(archive).namelist())[0]
    corrupt_member(archive, victim)
    report = scan(archive)
    assert [u["path"] for u in report["unreadable"]] == [victim]
    assert "damaged zip member" in report["unreadable"][0]["error"]
    rows = [Row(r.path, r.label, r.patient, "train") for r in find_images(archive)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert len(load_arrays(rows, 16, use_cache=False)) == 3
    monkeypatch.setattr(layout, "MAX_IMAGE_BYTES", 100)
    with pytest.raises(layout.UnreadableImage, match="too large for a cell image"):
        read_bytes(rows[1].path)


def test_a_folder_that_cannot_be_listed_is_an_error_not_fewer_images(tmp_path, monkeypatch):
    data = make_dataset(tmp_path / "d", cells_spec({("Parasitized", "C1P1"): 2, ("Uninfected", "C2P2"): 2}))
    real = os.scandir
    locked = str(data / "cell_images" / "Uninfected")

    def scandir(path="."):
        if os.fspath(path) == locked:
            raise PermissionError(13, "Permission denied", locked)
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)
    with pytest.raises(MalariaLabError, match="Cannot read the folder .*Uninfected.*Permission denied"):
        find_images(data)


def test_linked_class_folders_are_followed_once_and_pipes_ignored(tmp_path):
    elsewhere = make_dataset(tmp_path / "store", cells_spec({("Uninfected", "C2P2"): 2}, prefix="u"))
    data = make_dataset(tmp_path / "d", cells_spec({("Parasitized", "C1P1"): 2}))
    (data / "cell_images" / "Uninfected").symlink_to(elsewhere / "u" / "Uninfected")
    (data / "cell_images" / "Parasitized" / "loop").symlink_to(data / "cell_images")
    if hasattr(os, "mkfifo"):
        os.mkfifo(data / "cell_images" / "Parasitized" / "C1P1_IMG_1_cell_77.png")
    refs = find_images(data)
    assert sorted(r.label for r in refs) == ["Parasitized", "Parasitized", "Uninfected", "Uninfected"]


def _zip(tmp_path, members, compression=zipfile.ZIP_STORED):
    archive = tmp_path / "in.zip"
    with zipfile.ZipFile(archive, "w", compression) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return archive


def test_extracted_folders_get_the_users_normal_permissions(tmp_path):
    src = make_dataset(tmp_path / "src", cells_spec({("Parasitized", "C1P1"): 2, ("Uninfected", "C2P2"): 2}))
    final = extract(zip_folder(src, tmp_path / "cells.zip"), tmp_path / "dest", log=lambda m: None)
    for folder in (final, final / "Parasitized"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o777 & ~umask()


@pytest.mark.parametrize("members, words", [
    ({f"{U}/C1_IMG_1_cell_1.png": png_bytes()}, "holds no Parasitized images"),
    ({f"{P}/C1_IMG_1_cell_1.png": png_bytes(), f"{P}/C1_IMG_1_cell_2.png": png_bytes(seed=1)},
     "holds no Uninfected images"),
    ({f"{P}/C1_IMG_1_cell_1.png": bytes(65 << 20), f"{U}/C1_IMG_1_cell_2.png": png_bytes()},
     "far more than a cell image"),
    ({**{f"{P}/C1_IMG_1_cell_{k}.png": bytes(30 << 20) for k in range(2)},
      f"{U}/C1_IMG_1_cell_9.png": bytes(1 << 20)}, "a zip bomb"),
])
def test_archives_beyond_the_limits_are_refused_before_writing(tmp_path, members, words):
    archive = _zip(tmp_path, members, zipfile.ZIP_DEFLATED)
    with pytest.raises(MalariaLabError, match=words):
        extract(archive, tmp_path / "dest", log=lambda m: None)
    assert not (tmp_path / "dest").exists() or not any((tmp_path / "dest").iterdir())


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses /proc")
def test_extract_into_an_unwritable_place_is_one_clear_error(tmp_path):
    archive = _zip(tmp_path, {f"{P}/a_cell_1.png": png_bytes(), f"{U}/a_cell_2.png": png_bytes(seed=1)})
    with pytest.raises(MalariaLabError, match="cannot be written"):
        extract(archive, "/proc/malaria-dest", log=lambda m: None)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses /proc")
def test_an_unwritable_cache_costs_only_the_speed_up(tmp_path):
    make_dataset(tmp_path / "d", cells_spec({("Parasitized", "C1P1"): 2}))
    paths = sorted((tmp_path / "d").rglob("*.png"))
    rows = [Row(str(p), "Parasitized", "C1P1", "train") for p in paths]
    with pytest.warns(UserWarning, match="Could not keep the decoded images in the cache /proc/"):
        arrays = load_arrays(rows, 16, cache_dir="/proc/malaria-cache")
    assert len(arrays) == 2

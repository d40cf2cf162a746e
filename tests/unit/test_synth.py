"""The synthetic data set: NIH layout and names, deterministic, safe to re-run, honestly hard."""

import re

import numpy as np
import pytest
from PIL import Image

from malaria_lab.data.layout import CLASSES, find_images, patient_id
from malaria_lab.data.synth import MANIFEST, synthesize
from malaria_lab.errors import MalariaLabError

NIH_NAME = re.compile(r"^C\d+P\d+ThinF_IMG_\d{8}_\d{6}_cell_\d+\.png$")
PER_CLASS, PATIENTS = 60, 8


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth")
    root = synthesize(out, per_class=PER_CLASS, patients=PATIENTS, seed=0)
    return out, root, find_images(root)


def dark_purple_pixels(path):
    rgb = np.asarray(Image.open(path)).astype(int)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    return int(((b > g + 45) & (r + g + b < 360)).sum())


def snapshot(folder):
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_layout_and_counts(data):
    out, root, refs = data
    assert root == out / "cell_images"
    assert sorted(p.name for p in out.iterdir()) == ["cell_images"]  # no temporary folder left
    for name in CLASSES:
        files = list((root / name).iterdir())
        assert len(files) == PER_CLASS and all(f.suffix == ".png" for f in files)
    assert len(refs) == 2 * PER_CLASS
    assert (root / MANIFEST).is_file()


def test_names_follow_nih_pattern_and_group_by_patient(data):
    _, _, refs = data
    assert all(NIH_NAME.match(r.name) for r in refs)
    assert len({r.name for r in refs}) == len(refs)
    labels = {}
    for r in refs:
        assert patient_id(r.name) == r.name.split("_IMG_")[0]
        labels.setdefault(patient_id(r.name), set()).add(r.label)
    assert len(labels) == PATIENTS
    clean = [p for p, seen in labels.items() if seen == {"Uninfected"}]
    assert 1 <= len(clean) <= PATIENTS // 2
    assert sum(seen == set(CLASSES) for seen in labels.values()) >= PATIENTS // 2


def test_images_are_rgb_cells_on_black_with_varied_sizes(data):
    _, _, refs = data
    sizes = set()
    for r in refs:
        img = Image.open(r.path)
        assert img.mode == "RGB"
        w, h = img.size
        assert 60 <= w <= 150 and 60 <= h <= 150 and 0.7 < w / h < 1.4
        sizes.add((w, h))
        rgb = np.asarray(img)
        corners = [rgb[:3, :3], rgb[:3, -3:], rgb[-3:, :3], rgb[-3:, -3:]]
        assert max(int(c.max()) for c in corners) == 0, r.name
        centre = rgb[h // 2 - 5 : h // 2 + 5, w // 2 - 5 : w // 2 + 5].reshape(-1, 3).mean(0)
        assert centre.sum() > 200 and centre[0] > centre[1], r.name  # a stained, reddish cell
    assert len(sizes) > len(refs) // 3
    assert any(w != h for w, h in sizes)


def test_purple_is_a_strong_but_imperfect_shortcut(data):
    _, _, refs = data
    par = np.array([dark_purple_pixels(r.path) for r in refs if r.label == "Parasitized"])
    uni = np.array([dark_purple_pixels(r.path) for r in refs if r.label == "Uninfected"])
    assert par.mean() > 5 * uni.mean()
    assert (uni > 0).any(), "some uninfected cells should carry platelets or stain artefacts"
    assert (par < 5).any(), "some parasites should be faint"


def test_same_seed_gives_identical_bytes_and_another_seed_differs(tmp_path):
    a = synthesize(tmp_path / "a", per_class=8, patients=3, seed=7)
    b = synthesize(tmp_path / "b", per_class=8, patients=3, seed=7)
    c = synthesize(tmp_path / "c", per_class=8, patients=3, seed=8)
    assert snapshot(a) == snapshot(b)
    assert snapshot(a) != snapshot(c)
    assert [r.name for r in find_images(a)] != [r.name for r in find_images(c)]


def test_rerun_with_same_arguments_is_a_no_op(tmp_path):
    root = synthesize(tmp_path, per_class=5, patients=3, seed=1)
    before = {p: p.stat().st_mtime_ns for p in root.rglob("*")}
    assert synthesize(tmp_path, per_class=5, patients=3, seed=1) == root
    assert {p: p.stat().st_mtime_ns for p in root.rglob("*")} == before


def test_an_empty_cell_images_folder_is_filled(tmp_path):
    (tmp_path / "cell_images").mkdir()
    root = synthesize(tmp_path, per_class=4, patients=3)
    assert len(find_images(root)) == 8


def test_refuses_to_touch_foreign_files(tmp_path):
    mine = tmp_path / "cell_images" / "Parasitized" / "my_cell.png"
    mine.parent.mkdir(parents=True)
    mine.write_bytes(b"precious")
    with pytest.raises(MalariaLabError, match="already exists") as err:
        synthesize(tmp_path, per_class=4, patients=3)
    assert err.value.fix and "another --out" in err.value.fix
    assert mine.read_bytes() == b"precious"
    left = sorted(p.name for p in tmp_path.rglob("*"))
    assert left == ["Parasitized", "cell_images", "my_cell.png"]


def test_refuses_synthetic_data_made_with_other_arguments(tmp_path):
    root = synthesize(tmp_path, per_class=4, patients=3, seed=0)
    before = snapshot(root)
    with pytest.raises(MalariaLabError, match="seed=0"):
        synthesize(tmp_path, per_class=4, patients=3, seed=1)
    assert snapshot(root) == before


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"patients": 2}, "patients must be at least 3"),
        ({"per_class": 0}, "per_class must be at least 1"),
        ({"per_class": 2.5}, "per_class must be a whole number"),
        ({"seed": -1}, "seed must be 0 or more"),
    ],
)
def test_bad_arguments_are_explained(tmp_path, kwargs, words):
    with pytest.raises(MalariaLabError, match=words):
        synthesize(tmp_path, **kwargs)
    assert not (tmp_path / "cell_images").exists()


def test_progress_bar_is_optional(tmp_path):
    root = synthesize(tmp_path, per_class=3, patients=3, progress=True)
    assert len(find_images(root)) == 6

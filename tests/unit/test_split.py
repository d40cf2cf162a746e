"""Patient-level splitting: no patient in two parts, balanced classes, nothing touched on disk."""

import hashlib
from collections import Counter

import pytest

from malaria_lab import MalariaLabError
from malaria_lab.data.layout import ImageRef, find_images
from malaria_lab.split import (
    Row,
    check_leakage,
    read_manifest,
    split_by_image,
    split_by_patient,
    split_dataset,
    write_manifest,
)


def _tree_digest(root):
    """Every file's path and bytes under root, so any move, copy or edit shows."""
    digest = hashlib.sha256()
    for f in sorted(p for p in root.rglob("*")):
        digest.update(str(f.relative_to(root)).encode())
        if f.is_file():
            digest.update(f.read_bytes())
    return digest.hexdigest()


def _refs(n_patients=20, cells=30, seed=0):
    import numpy as np

    rng = np.random.default_rng(seed)
    refs = []
    for p in range(n_patients):
        infected = p % 4 != 0
        for k in range(int(cells * rng.uniform(0.5, 1.5))):
            label = "Parasitized" if infected and rng.random() < 0.6 else "Uninfected"
            refs.append(ImageRef(f"/x/{label}/C{p}P{p}ThinF_IMG_1_cell_{k}.png", label))
    return refs


def test_every_patient_is_in_exactly_one_part():
    rows = split_by_patient(_refs(), seed=3)
    parts = {}
    for row in rows:
        parts.setdefault(row.patient, set()).add(row.split)
    assert all(len(s) == 1 for s in parts.values())
    assert {r.split for r in rows} == {"train", "val", "test"}
    assert check_leakage(rows, hashes=False).ok


def test_parts_are_near_their_shares_and_class_balanced():
    refs = _refs(n_patients=60)
    rows = split_by_patient(refs, seed=0)
    n = Counter(r.split for r in rows)
    assert abs(n["train"] / len(rows) - 0.7) < 0.06
    overall = sum(r.target for r in rows) / len(rows)
    for name in ("train", "val", "test"):
        part = [r for r in rows if r.split == name]
        assert abs(sum(r.target for r in part) / len(part) - overall) < 0.12


def test_same_seed_same_split_and_other_seed_other_split():
    refs = _refs()
    assert split_by_patient(refs, seed=5) == split_by_patient(refs, seed=5)
    assert split_by_patient(refs, seed=5) != split_by_patient(refs, seed=6)


def test_too_few_patients_or_bad_fractions_are_clear_errors():
    refs = [r for r in _refs() if r.patient in ("C1P1ThinF", "C2P2ThinF")]
    with pytest.raises(MalariaLabError, match="needs at least 3"):
        split_by_patient(refs)
    with pytest.raises(MalariaLabError, match="summing to 1"):
        split_by_patient(_refs(), fractions=(0.5, 0.2, 0.2))


def test_random_image_split_leaks_patients_and_the_check_finds_it():
    leak = check_leakage(split_by_image(_refs(), seed=0), hashes=False)
    assert not leak.ok and len(leak.shared_patients) >= 10
    assert "appear in more than one part" in leak.summary()


def test_duplicate_images_across_parts_are_found(tmp_path):
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    a.write_bytes(b"same")
    b.write_bytes(b"same")
    rows = [Row(str(a), "Parasitized", "P1", "train"), Row(str(b), "Parasitized", "P2", "test")]
    leak = check_leakage(rows)
    assert not leak.shared_patients and len(leak.duplicate_images) == 1


def test_split_leaves_the_data_byte_identical_and_manifest_round_trips(synth_data, tmp_path):
    before = _tree_digest(synth_data)
    rows = split_dataset(synth_data, seed=0)
    manifest = write_manifest(rows, tmp_path / "m" / "manifest.csv")
    assert _tree_digest(synth_data) == before
    assert manifest.read_text().splitlines()[0] == "path,label,patient,split"
    back = read_manifest(manifest)
    assert [(r.label, r.patient, r.split) for r in back] == [(r.label, r.patient, r.split) for r in rows]
    assert [open(r.path, "rb").read() for r in back[:5]] == [open(r.path, "rb").read() for r in rows[:5]]
    assert len(rows) == len(find_images(synth_data))


def test_manifest_beside_the_data_is_relative_so_the_folder_can_move(synth_data, tmp_path):
    import shutil

    copy = tmp_path / "course"
    shutil.copytree(synth_data, copy / "data")
    write_manifest(split_dataset(copy / "data"), copy / "manifest.csv")
    assert "/" not in open(copy / "manifest.csv").read().splitlines()[1].split(",")[0][:1]
    moved = tmp_path / "moved"
    copy.rename(moved)
    assert all(open(r.path, "rb") for r in read_manifest(moved / "manifest.csv")[:3])


def test_bad_manifest_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("file,class\nx.png,Parasitized\n")
    with pytest.raises(MalariaLabError, match="missing column"):
        read_manifest(bad)
    with pytest.raises(MalariaLabError, match="No manifest"):
        read_manifest(tmp_path / "none.csv")


def test_patient_folds_cover_every_patient_once_with_even_sizes():
    from malaria_lab.split import patient_folds

    refs = _refs(n_patients=50)
    folds = patient_folds(refs, k=5, seed=0)
    assert set(folds) == {r.patient for r in refs} and set(folds.values()) == set(range(5))
    sizes = Counter(folds[r.patient] for r in refs)
    assert max(sizes.values()) / min(sizes.values()) < 1.5
    assert patient_folds(refs, k=5, seed=1) != folds


def test_manifest_gets_ordinary_file_permissions(tmp_path):
    import os
    import stat

    path = write_manifest(split_by_patient(_refs()), tmp_path / "m.csv")
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask

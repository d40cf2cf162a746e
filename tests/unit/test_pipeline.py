"""Decoding, caching and batching: odd images are handled, bad ones skipped, none lost silently."""

import io
import warnings

import numpy as np
import pytest
from PIL import Image

from malaria_lab.pipeline import load_arrays, make_augmenter, make_dataset
from malaria_lab.split import Row


def _png(path, size=(40, 30), mode="RGB", color=(200, 80, 90)):
    path.parent.mkdir(parents=True, exist_ok=True)
    if mode == "L":
        color = 120
    elif mode == "RGBA":
        color = (*color, 255)
    img = Image.new(mode if mode != "P" else "RGB", size, color)
    if mode == "P":
        img = img.convert("P")
    img.save(path)
    return path


@pytest.fixture
def odd_images(tmp_path):
    cls = tmp_path / "cell_images" / "Parasitized"
    rgb = _png(cls / "C1P1ThinF_IMG_1_cell_1.png")
    grey = _png(cls / "C1P1ThinF_IMG_1_cell_2.png", mode="L")
    rgba = _png(cls / "C1P1ThinF_IMG_1_cell_3.png", mode="RGBA")
    pal = _png(cls / "C1P1ThinF_IMG_1_cell_4.png", mode="P")
    tiny = _png(cls / "C1P1ThinF_IMG_1_cell_5.png", size=(3, 4))
    corrupt = cls / "C1P1ThinF_IMG_1_cell_6.png"
    corrupt.write_bytes(b"not an image at all")
    truncated = cls / "C1P1ThinF_IMG_1_cell_7.png"
    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(buffer, "PNG")
    truncated.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    paths = [rgb, grey, rgba, pal, tiny, corrupt, truncated]
    return [Row(str(p), "Parasitized", "C1P1ThinF", "train") for p in paths]


def test_modes_and_sizes_are_normalised_and_bad_files_skipped(odd_images):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        arrays = load_arrays(odd_images, image_size=32, use_cache=False)
    assert arrays.x.shape == (5, 32, 32, 3) and arrays.x.dtype == np.uint8
    assert len(arrays.y) == 5 and set(arrays.y) == {1}
    skipped = {p.rsplit("_", 1)[-1] for p, _ in arrays.skipped}
    assert skipped == {"6.png", "7.png"}
    assert sum("Skipped unreadable image" in str(w.message) for w in caught) == 2
    assert arrays.x[1].std(axis=-1).max() == 0  # greyscale became grey RGB
    assert tuple(arrays.x[0, 16, 16]) == (200, 80, 90)


def test_cache_is_reused_and_invalidated_when_a_file_changes(odd_images, tmp_path):
    rows = odd_images[:3]
    first = load_arrays(rows, 24, cache_dir=tmp_path / "c")
    assert len(list((tmp_path / "c").glob("*.npy"))) == 1
    again = load_arrays(rows, 24, cache_dir=tmp_path / "c")
    assert isinstance(again.x, np.memmap) and np.array_equal(first.x, again.x)
    _png(tmp_path / "cell_images" / "Parasitized" / "C1P1ThinF_IMG_1_cell_1.png", color=(10, 200, 10))
    changed = load_arrays(rows, 24, cache_dir=tmp_path / "c")
    assert tuple(changed.x[0, 12, 12]) == (10, 200, 10)
    assert len(list((tmp_path / "c").glob("*.npy"))) == 2


def test_reads_straight_from_a_zip(synth_data, tmp_path):
    import shutil

    from malaria_lab.data.layout import find_images
    from malaria_lab.split import split_by_patient

    archive = shutil.make_archive(str(tmp_path / "cells"), "zip", synth_data)
    from_zip = load_arrays(split_by_patient(find_images(archive)), 32, use_cache=False)
    from_dir = load_arrays(split_by_patient(find_images(synth_data)), 32, use_cache=False)
    assert np.array_equal(from_zip.x, from_dir.x) and np.array_equal(from_zip.y, from_dir.y)


def test_batches_cover_every_image_once_per_epoch_and_reshuffle():
    x = np.arange(10, dtype=np.uint8).reshape(10, 1, 1, 1).repeat(3, -1)
    y = np.arange(10) % 2
    ds = make_dataset(x, y, batch_size=4, shuffle=True, seed=0)
    assert len(ds) == 3
    seen = np.concatenate([ds[i][0][:, 0, 0, 0] for i in range(len(ds))])
    labels = np.concatenate([ds[i][1] for i in range(len(ds))])
    assert sorted(seen) == list(range(10)) and np.array_equal(labels, seen % 2)
    first = [ds[i][0][:, 0, 0, 0].tolist() for i in range(3)]
    ds.on_epoch_end()
    assert [ds[i][0][:, 0, 0, 0].tolist() for i in range(3)] != first


def test_augmenter_changes_training_images_only():
    aug = make_augmenter(seed=1)
    x = np.random.default_rng(0).uniform(0, 255, (4, 32, 32, 3)).astype("float32")
    import keras

    trained = keras.ops.convert_to_numpy(aug(x, training=True))
    inferred = keras.ops.convert_to_numpy(aug(x, training=False))
    assert trained.shape == x.shape and not np.allclose(trained, x)
    assert np.allclose(inferred, x)
    only_flip = make_augmenter(rotate90=False, rotation=0, zoom=0, contrast=0, brightness=0)
    assert [type(layer).__name__ for layer in only_flip.layers] == ["RandomFlip"]


def test_quarter_turns_are_exact_rotations_and_all_four_occur():
    import keras

    from malaria_lab.layers import RandomRotate90

    x = np.random.default_rng(0).uniform(0, 255, (64, 8, 8, 3)).astype("float32")
    x[:] = x[:1]  # the same image 64 times
    out = keras.ops.convert_to_numpy(RandomRotate90(seed=3)(x, training=True))
    turns = [next(k for k in range(4) if np.array_equal(o, np.rot90(x[0], k))) for o in out]
    assert sorted(set(turns)) == [0, 1, 2, 3]
    assert np.array_equal(keras.ops.convert_to_numpy(RandomRotate90()(x, training=False)), x)


def test_parts_follow_the_manifest_and_leave_skipped_images_out(odd_images):
    rows = [Row(r.path, r.label, r.patient, "train" if i % 2 else "val") for i, r in enumerate(odd_images)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        arrays = load_arrays(rows, 16, use_cache=False)
    parts = arrays.parts(rows)
    assert sorted(parts) == ["train", "val"]
    assert parts["val"].paths == [r.path for r in rows[0:5:2]]
    assert parts["train"].paths == [r.path for r in rows[1:5:2]]
    assert np.array_equal(parts["val"].x, arrays.x[[0, 2, 4]])

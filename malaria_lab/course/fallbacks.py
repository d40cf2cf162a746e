"""What a stage uses when an earlier stage's result is missing: the course's synthetic data set,
a patient-level split of the data in use, and a model trained on that split.

Each is made once, on first use, and kept in :func:`malaria_lab.settings.fallbacks_dir`, shared by
all stages and all students graded on this machine.
"""

import hashlib
from pathlib import Path

import numpy as np

from ..data.layout import find_images
from ..data.synth import COURSE_SYNTHETIC, synthesize
from ..errors import MalariaLabError
from ..pipeline import load_arrays, make_augmenter
from ..quiet import silenced_stderr
from ..settings import FAST_EPOCHS, MODE_LIMITS, fallbacks_dir
from ..split import read_manifest, split_by_patient, write_manifest

# Bump to retrain the fallback model everywhere after a change to how it is trained.
VERSION = 1


def synthetic_data():
    """The course's synthetic data set (its ``cell_images`` folder), made on first use."""
    name = "synthetic-{per_class}x2-{patients}p-seed{seed}".format(**COURSE_SYNTHETIC)
    return synthesize(fallbacks_dir() / name, **COURSE_SYNTHETIC)


def split_rows(data):
    """The fallback patient-level split of ``data`` (made once, then read)."""
    key = hashlib.sha256(str(Path(data).resolve()).encode()).hexdigest()[:12]
    path = fallbacks_dir() / f"manifest-{key}.csv"
    if not path.is_file():
        write_manifest(split_by_patient(find_images(data), seed=0), path)
    return read_manifest(path)


def mode_arrays(rows, part, mode, image_size):
    """The decoded images of one part (``train``, ``val``, ``test``) of ``rows``, the subset the
    mode trains on (the same subset every time)."""
    rows = [r for r in rows if r.split == part]
    if not rows:
        raise MalariaLabError(f"The {part} part of the split is empty.",
                              "Redo stage 2 so that every part gets at least one patient.")
    limits = MODE_LIMITS[mode]
    if limits and len(rows) > limits[part]:
        keep = np.sort(np.random.default_rng(0).permutation(len(rows))[: limits[part]])
        rows = [rows[i] for i in keep]
    return load_arrays(rows, image_size)


def trained_dir(data, mode, image_size, log=print):
    """A folder with ``model.keras`` and ``history.json`` of a model trained on the fallback split
    of ``data`` in ``mode`` (made once, then reused)."""
    key = hashlib.sha256(f"{VERSION}|{Path(data).resolve()}|{mode}|{image_size}".encode()).hexdigest()[:12]
    out = fallbacks_dir() / f"trained-{key}"
    if not (out / "model.keras").is_file() or not (out / "history.json").is_file():
        from .. import train  # imports Keras: only when a fallback model must be trained
        from ..models import reference_cnn  # imports Keras, see above

        log("Training the reference model once (it is kept for next time)...")
        rows = split_rows(data)
        recipe = train.RECIPES["small" if mode == "small" else "fast"].but(image_size=image_size)
        epochs = FAST_EPOCHS + 2 if mode == "grading" else recipe.epochs
        model = reference_cnn(image_size, augmentation=make_augmenter(seed=0))
        with silenced_stderr():
            train.fit(model, mode_arrays(rows, "train", mode, image_size), mode_arrays(rows, "val", mode, image_size),
                      out, recipe, resume=False, verbose=0, epochs=epochs)
    return out

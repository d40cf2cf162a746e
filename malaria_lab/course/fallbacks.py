"""What a stage uses when an earlier stage's result is missing: the course's synthetic data set,
a patient-level split of the data in use, and a model trained on that split.

Each is made once, on first use, and kept in :func:`malaria_lab.settings.fallbacks_dir`, shared by
all stages and all students graded on this machine.
"""

import hashlib
from pathlib import Path

from ..data.layout import find_images
from ..data.synth import COURSE_SYNTHETIC, synthesize
from ..pipeline import make_augmenter
from ..quiet import silenced_stderr
from ..settings import FAST_EPOCHS, fallbacks_dir
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


def trained_dir(course):
    """A folder with ``model.keras`` and ``history.json`` of a model trained on the fallback split
    of ``course``'s data, in its mode (made once, then reused)."""
    data = course.data(quiet=True)
    key = hashlib.sha256(
        f"{VERSION}|{Path(data).resolve()}|{course.mode}|{course.image_size}".encode()
    ).hexdigest()[:12]
    out = fallbacks_dir() / f"trained-{key}"
    if not (out / "model.keras").is_file() or not (out / "history.json").is_file():
        from .. import train  # imports Keras: only when a fallback model must be trained
        from ..models import reference_cnn  # imports Keras, see above

        course.log("Training the reference model once (it is kept for next time)...")
        rows = split_rows(data)
        recipe = train.RECIPES["small" if course.small else "fast"].but(image_size=course.image_size)
        epochs = FAST_EPOCHS + 2 if course.fast else recipe.epochs
        model = reference_cnn(course.image_size, augmentation=make_augmenter(seed=0))
        with silenced_stderr():
            train.fit(model, course.arrays("train", rows), course.arrays("val", rows), out, recipe,
                      resume=False, verbose=0, epochs=epochs)
    return out

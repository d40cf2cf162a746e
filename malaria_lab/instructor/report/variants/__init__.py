"""Correct answers to each exercise, written independently of the published solution and of each
other, in the styles students write: what the similarity report measures an exercise on (how alike
honest answers to it are). Each is the code that replaces the exercise's solution region, as a
declared mistake is; the tests check that every one passes all of its exercise's checks.
"""

from . import stage01, stage02, stage03, stage04, stage05, stage06

_BY_STAGE = {"01_download": stage01.VARIANTS, "02_split": stage02.VARIANTS, "03_augment": stage03.VARIANTS,
             "04_build_cnn": stage04.VARIANTS, "05_train": stage05.VARIANTS, "06_evaluate": stage06.VARIANTS}


def of(stage, exercise) -> list:
    """The variants of one exercise ([] when none are written)."""
    return list(_BY_STAGE.get(stage, {}).get(exercise, ()))

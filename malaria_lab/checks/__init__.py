"""Exercise checks for the course notebooks, one module per stage, declared once each.

In a notebook::

    from malaria_lab.checks.stage02 import q1, q2
    q1.check()      # what, if anything, to fix
    q1.hint()       # a gentle hint; q1.hint(2) says more
    q1.solution()   # a solution, once you have tried

nbgrader's hidden test cells grade through :mod:`malaria_lab.checks.fresh`, a private copy of
this package loaded from its files, so a notebook cannot change its own grade.
"""

import importlib

from .engine import (
    MORE_AT_GRADING, NOT_ATTEMPTED, Check, Exercise, Grader, NotAttempted, Result, Stage, Wrong,
    call, expect, grade, grader, layers_of, quiet,
)

STAGES = ("01_download", "02_split", "03_augment", "04_build_cnn", "05_train", "06_evaluate")


def stage_module(stage):
    """The module name (``stage02``) of a stage given as ``"02_split"``, ``"02"``, ``2``..."""
    text = str(stage)
    if text.startswith("stage"):
        text = text[5:]
    number = int(text.split("_")[0])
    if not 1 <= number <= len(STAGES):
        raise ValueError(f"No stage {stage!r}; the stages are {', '.join(STAGES)}.")
    return f"stage{number:02d}"


def load_stage(stage):
    """The :class:`Stage` declaration of a stage."""
    return importlib.import_module(f"{__name__}.{stage_module(stage)}").STAGE


def all_stages():
    return [load_stage(s) for s in STAGES]


__all__ = [
    "STAGES", "Check", "Exercise", "NotAttempted", "Result", "Stage", "Wrong", "call", "expect",
    "grade", "grader", "Grader", "layers_of", "load_stage", "all_stages", "quiet", "MORE_AT_GRADING", "NOT_ATTEMPTED",
]

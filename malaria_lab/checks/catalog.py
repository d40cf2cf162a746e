"""The stages' declarations, found by name: ``load_stage("02_split")`` is stage02's ``STAGE``."""

import importlib

from ..settings import STAGES
from .engine import Grader


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
    """The :class:`~malaria_lab.checks.engine.Stage` declaration of a stage."""
    return importlib.import_module(f"{__package__}.{stage_module(stage)}").STAGE


def all_stages():
    return [load_stage(s) for s in STAGES]


def grade(stage, exercise, namespace):
    """All checks of one exercise, public and hidden, on the names in ``namespace``."""
    return load_stage(stage)[exercise].run(namespace=namespace, hidden=True)


def grader(stage, exercise):
    """What a graded test cell puts in place of ``qN``: its ``check()`` runs every check."""
    return Grader(load_stage(stage)[exercise])

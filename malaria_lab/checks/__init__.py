"""Exercise checks for the course notebooks, one module per stage, declared once each.

In a notebook::

    from malaria_lab.checks.stage02 import q1, q2
    q1.check()      # what, if anything, to fix
    q1.hint()       # a gentle hint; q1.hint(2) says more
    q1.solution()   # a solution, once you have tried

nbgrader's hidden test cells grade through :mod:`malaria_lab.checks.fresh`, a private copy of
this package loaded from its files, so a notebook cannot change its own grade.
"""

from ..layer_walk import leaf_layers
from ..settings import STAGES
from .catalog import all_stages, grade, grader, load_stage, stage_module
from .engine import Check, Exercise, Grader, Stage, call, expect
from .results import MORE_AT_GRADING, NOT_ATTEMPTED, NotAttempted, Result, Wrong

__all__ = [
    "STAGES", "Check", "Exercise", "NotAttempted", "Result", "Stage", "Wrong", "call", "expect",
    "grade", "grader", "Grader", "leaf_layers", "load_stage", "all_stages", "stage_module",
    "MORE_AT_GRADING", "NOT_ATTEMPTED",
]

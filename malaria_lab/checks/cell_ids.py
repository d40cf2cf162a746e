"""The ids of an exercise's two graded cells, ``<exercise>_answer`` and ``<exercise>_check``: the
notebooks' side of the grading protocol, built and read here only (authoring writes them,
nbgrader keeps them as grade ids, the class grader and the gradebook writer read them)."""

from enum import Enum


class Role(str, Enum):
    """What a graded cell is for; the value is the id's suffix."""

    ANSWER = "_answer"
    CHECK = "_check"


def cell_id(exercise: str, role: Role) -> str:
    """``q1`` and ANSWER -> ``q1_answer``."""
    return f"{exercise}{Role(role).value}"


def answer_id(exercise: str) -> str:
    """The id of the cell the student writes ``exercise``'s answer in."""
    return cell_id(exercise, Role.ANSWER)


def check_id(exercise: str) -> str:
    """The id of the cell that checks ``exercise``."""
    return cell_id(exercise, Role.CHECK)


def exercise_of(cell: str | None, role: Role) -> str | None:
    """The exercise a cell id names in that role (``q1_check``, CHECK -> ``q1``), else None."""
    suffix = Role(role).value
    if cell and cell.endswith(suffix) and len(cell) > len(suffix):
        return cell[: -len(suffix)]
    return None

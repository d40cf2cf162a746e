"""Submissions for dry runs and tests: a release notebook filled with the reference answers, a
declared typical mistake or code of one's own, put where nbgrader collects it."""


import nbformat

from ..atomic import write_text
from ..checks import load_stage
from . import coursedir


def answer_cells(nb):
    """{exercise id: cell} of a course notebook's answer cells (ids ``q1_answer``...)."""
    return {c.metadata.get("nbgrader", {}).get("grade_id", "").split("_")[0]: c
            for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution")}


def make_submission(release_path, stage, answers="solution"):
    """A release notebook with answers filled in; returns the notebook.

    ``answers``: ``"solution"`` (every exercise solved), ``"untouched"`` (as released), or a dict
    ``{exercise id: "solution" | "untouched" | ("mistake", k) | code}``; exercises not in the dict
    are solved.
    """
    nb = nbformat.read(str(release_path), as_version=4)
    decl = load_stage(stage)
    if answers == "untouched":
        return nb
    plan = {} if answers == "solution" else dict(answers)
    for ex_id, cell in answer_cells(nb).items():
        ex = decl[ex_id]
        choice = plan.get(ex_id, "solution")
        if choice == "untouched":
            continue
        if choice == "solution":
            cell.source = ex.solution_code.rstrip("\n")
        elif isinstance(choice, tuple) and choice[0] == "mistake":
            cell.source = ex.with_answer(ex.mistakes[choice[1]][0]).rstrip("\n")
        else:
            cell.source = str(choice)
    return nb


def write_submission(course_dir, student, stage, nb):
    """Put a notebook where nbgrader collects it: submitted/<student>/<stage>/<stage>.ipynb."""
    path = coursedir.notebook(course_dir, coursedir.Kind.SUBMITTED, stage, student)
    return write_text(path, nbformat.writes(nb))

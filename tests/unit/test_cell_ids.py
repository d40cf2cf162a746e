"""The graded cells' ids, built and read in one place (``checks/cell_ids.py``)."""

import pytest

from malaria_lab.checks.cell_ids import Role, answer_id, check_id, exercise_of
from malaria_lab.instructor.grader.merge import _label


@pytest.mark.parametrize("exercise", ["q1", "q12", "split_sizes"])
def test_ids_round_trip_even_with_underscores(exercise):
    assert exercise_of(answer_id(exercise), Role.ANSWER) == exercise
    assert exercise_of(check_id(exercise), Role.CHECK) == exercise
    assert exercise_of(answer_id(exercise), Role.CHECK) is None
    assert exercise_of(check_id(exercise), Role.ANSWER) is None


@pytest.mark.parametrize("cell", [None, "", "_answer", "_check", "setup", "q1_answers", "q1-check"])
def test_other_ids_name_no_exercise(cell):
    assert exercise_of(cell, Role.ANSWER) is None and exercise_of(cell, Role.CHECK) is None


def test_the_ids_are_the_ones_release_notebooks_already_carry():
    assert (answer_id("q1"), check_id("q1")) == ("q1_answer", "q1_check")


def test_the_merge_names_cells_by_exercise():
    def cell(gid):
        return {"metadata": {"nbgrader": {"grade_id": gid}}}
    assert _label(cell("q2_check")) == "the check cell of q2"
    assert _label(cell("q2_answer")) == "the answer cell of q2"
    assert _label(cell("intro")) == "cell intro"

"""What the grader runs for a submission (:mod:`malaria_lab.instructor.grader.merge`), on small
notebooks made here: the course's locked and graded cells as the course has them, the student's
answers as they wrote them, and every repair said in a note."""

import nbformat

from malaria_lab.instructor.grader.merge import grade_id, merge


def _cell(kind, source, gid=None, **roles):
    cell = nbformat.v4.new_code_cell(source) if kind == "code" else nbformat.v4.new_markdown_cell(source)
    if gid:
        cell.metadata["nbgrader"] = {"grade_id": gid, "schema_version": 3, "solution": False, "grade": False,
                                     "locked": False, "task": False, **roles}
    return cell


def template():
    nb = nbformat.v4.new_notebook()
    nb.cells = [_cell("markdown", "# Task", "md-1", locked=True),
                _cell("code", "setup()", "code-1", locked=True),
                _cell("code", "# YOUR CODE HERE\nraise NotImplementedError()", "q1_answer", solution=True),
                _cell("code", "q1.check()", "q1_check", grade=True, locked=True, points=2)]
    return nb


def submission(*cells):
    nb = nbformat.v4.new_notebook()
    nb.cells = list(cells)
    return nb


def ids(cells):
    return [grade_id(c) for c in cells]


def test_the_answer_is_the_student_s_and_everything_locked_is_the_course_s():
    sub = submission(_cell("markdown", "# Edited task", "md-1", locked=True),
                     _cell("code", "hack()", "code-1", locked=True),
                     _cell("code", "def f(): return 1", "q1_answer", solution=True),
                     _cell("code", "print('fake pass')", "q1_check", grade=True, locked=True))
    cells, notes = merge(sub, template())
    assert [c.source for c in cells] == ["# Task", "setup()", "def f(): return 1", "q1.check()"]
    assert notes == []


def test_deleted_graded_cells_come_back_in_place_and_say_so():
    sub = submission(_cell("code", "def f(): return 1", "q1_answer", solution=True))
    cells, notes = merge(sub, template())
    assert ids(cells) == ["md-1", "code-1", "q1_answer", "q1_check"]
    assert any("check cell of q1 was deleted" in n for n in notes)


def test_copies_of_a_graded_cell_are_graded_once_and_forged_marks_are_dropped():
    forged = _cell("code", "q1 = 'mine'", "q9_check", grade=True, locked=True, points=100)
    sub = submission(_cell("code", "def f(): return 1", "q1_answer", solution=True),
                     _cell("code", "q1.check()", "q1_check", grade=True, locked=True),
                     _cell("code", "q1.check()", "q1_check", grade=True, locked=True), forged)
    cells, notes = merge(sub, template())
    assert ids(cells).count("q1_check") == 1
    mine = cells[-1]
    assert mine.source == "q1 = 'mine'" and grade_id(mine) is None  # the student's own cell, no marks
    assert any("appeared 2 times" in n for n in notes)


def test_an_answer_that_changed_type_is_put_back_and_cell_ids_stay_unique():
    sub = submission(_cell("markdown", "my answer in prose", "q1_answer", solution=True),
                     _cell("code", "x = 1"), _cell("code", "y = 2"))
    sub.cells[1]["id"] = sub.cells[2]["id"] = "same"
    cells, notes = merge(sub, template())
    answer = next(c for c in cells if grade_id(c) == "q1_answer")
    assert answer.cell_type == "code" and "NotImplementedError" in answer.source
    assert any("changed type" in n for n in notes)
    assert len({c["id"] for c in cells}) == len(cells)


def test_malformed_metadata_makes_a_student_cell_not_a_crash():
    odd = nbformat.v4.new_code_cell("z = 3")
    odd.metadata["nbgrader"] = {"grade_id": ["not", "text"]}
    cells, _ = merge(submission(odd), template())
    assert any(c.source == "z = 3" and grade_id(c) is None for c in cells)

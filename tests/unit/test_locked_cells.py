"""The provided cells that must run as written are locked, and grading runs them as the course has them.

Training (stage 5) and the threshold and the test score (stage 6) are provided cells, not
exercises: were they the learner's, an edit that trains for 0 epochs or without validation
data, picks the threshold on the test patients or scores the training cells would keep full
marks. Locked, nbgrader (and the sandboxed grader's merge) put them back before grading.
"""

import copy
from pathlib import Path

import nbformat
import pytest

from malaria_lab.instructor import authoring
from malaria_lab.instructor.grader import merge

ROOT = Path(__file__).resolve().parents[2]
COURSE = ROOT / "course"

# (stage, cell id): a piece of the source that must run as written.
LOCKED = {
    ("05_train", "code-06"): 'val = course.arrays("train"), course.arrays("val")',
    ("05_train", "code-08"): "epochs = course.epochs(course.recipe.epochs)",
    ("05_train", "code-18"): "validation_data=course.batches(\"val\"",
    ("05_train", "code-20"): "model.save(course.best_model_path)",
    ("06_evaluate", "code-06"): 'val, test = course.arrays("val"), course.arrays("test")',
    ("06_evaluate", "code-21"): "pick_threshold(val.y, p_val",
    ("06_evaluate", "code-25"): "evaluate(model, test,",
}
# The mistakes the course teaches against, as edits a learner might make to those cells.
EDITS = {
    ("05_train", "code-08"): ("epochs = course.epochs(course.recipe.epochs)", "epochs = 0"),
    ("05_train", "code-18"): ('    validation_data=course.batches("val", batch_size=128, arrays=val),\n', ""),
    ("06_evaluate", "code-21"): ("pick_threshold(val.y, p_val", "pick_threshold(test.y, predict(model, test.x)"),
    ("06_evaluate", "code-25"): ("evaluate(model, test,", 'evaluate(model, course.arrays("train"),'),
}


def notebook(stage, kind):
    path = authoring.source_path(COURSE, stage) if kind == "source" else ROOT / authoring.release_path(stage)
    return nbformat.read(path, as_version=4)


def by_id(cells):
    return {merge.grade_id(c) or c.get("id"): c for c in cells}


@pytest.mark.parametrize("kind", ["source", "release"])
@pytest.mark.parametrize("stage,cell_id", sorted(LOCKED))
def test_provided_cell_is_locked(stage, cell_id, kind):
    cell = by_id(notebook(stage, kind).cells)[cell_id]
    meta = cell.metadata["nbgrader"]
    assert cell.cell_type == "code"
    assert meta["grade_id"] == cell_id and meta["locked"] is True
    assert not meta["solution"] and not meta["grade"]
    assert LOCKED[(stage, cell_id)] in cell.source


@pytest.mark.parametrize("stage,cell_id", sorted(EDITS))
def test_grading_runs_an_edited_locked_cell_as_the_course_has_it(stage, cell_id):
    template = notebook(stage, "release")
    submission = copy.deepcopy(template)
    cell = by_id(submission.cells)[cell_id]
    old, new = EDITS[(stage, cell_id)]
    assert old in cell.source
    cell.source = cell.source.replace(old, new)
    cell.metadata["nbgrader"]["locked"] = False  # a lock taken off in the file changes nothing
    cells, notes = merge.merge(submission, template)
    assert by_id(cells)[cell_id].source == by_id(template.cells)[cell_id].source
    assert old in by_id(cells)[cell_id].source
    assert [merge.grade_id(c) for c in cells] == [merge.grade_id(c) for c in template.cells]


@pytest.mark.parametrize("stage,cell_id", sorted(EDITS))
def test_grading_puts_back_a_deleted_locked_cell_in_its_place(stage, cell_id):
    template = notebook(stage, "release")
    submission = copy.deepcopy(template)
    submission.cells = [c for c in submission.cells if merge.grade_id(c) != cell_id]
    cells, notes = merge.merge(submission, template)
    assert [merge.grade_id(c) for c in cells] == [merge.grade_id(c) for c in template.cells]
    assert by_id(cells)[cell_id].source == by_id(template.cells)[cell_id].source

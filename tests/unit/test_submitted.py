"""How ``submitted/`` is read for grading, and how a notebook's stage is told from its content:
a renamed notebook is graded when it is the only one of its stage, and no notebook there is passed
over without a line saying so; links are never followed."""

import json
import os
import shutil

import pytest
from lms_downloads import colab, course_folder, foreign, notebook

from malaria_lab.instructor import submitted
from malaria_lab.instructor.nofollow import Refused
from malaria_lab.instructor.notebook_stage import Problem, Stages, parse
from malaria_lab.instructor.submitted import find_jobs, read


@pytest.fixture(scope="module")
def stages(tmp_path_factory):
    return Stages.of_course(course_folder(tmp_path_factory.mktemp("stages") / "course"))


def _nb(data):
    return json.loads(data)


def test_every_stage_is_told_by_its_cells_whatever_the_name(stages):
    for stage in ("01_download", "02_split", "03_augment", "04_build_cnn", "05_train", "06_evaluate"):
        assert stages.identify(_nb(notebook(stage))).stage == stage
    assert stages.identify(_nb(colab(notebook()))).stage == "02_split"


def test_a_course_with_source_notebooks_only_tells_the_stages_apart(tmp_path):
    course = course_folder(tmp_path / "course")
    shutil.rmtree(course / "release")  # before nbgrader made the student versions
    by_source = Stages.of_course(course)
    for stage in ("02_split", "04_build_cnn", "06_evaluate"):
        assert by_source.identify(_nb(notebook(stage))).stage == stage


def test_a_notebook_with_its_nbgrader_roles_stripped_is_still_told_by_its_text(stages):
    nb = _nb(notebook())
    for cell in nb["cells"]:
        cell["metadata"] = {}
        cell.pop("id", None)
    nb["metadata"] = {}
    assert stages.identify(nb).stage == "02_split"


def test_a_few_cells_and_the_course_metadata_name_the_stage_but_few_cells_alone_do_not(stages):
    nb = _nb(notebook())
    kept = [c for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("grade_id") in
            ("md-02", "setup-03", "setup-04", "setup-05", "q1_answer", "q2_answer", "q3_answer")]
    nb["cells"] = kept
    assert stages.identify(nb).stage == "02_split"
    nb["metadata"] = {}
    verdict = stages.identify(nb)
    assert verdict.stage is None and verdict.problem is Problem.NO_STAGE


def test_foreign_damaged_and_double_notebooks_have_no_stage(stages):
    assert stages.identify_bytes(foreign()).problem is Problem.NO_STAGE
    assert stages.identify_bytes(b'{"cells": [').problem is Problem.DAMAGED
    assert stages.identify_bytes(b"[1, 2]").problem is Problem.NOT_NOTEBOOK
    assert stages.identify_bytes(b"[" * 100_000 + b"]" * 100_000).problem in (Problem.DAMAGED, Problem.NOT_NOTEBOOK)
    both = _nb(notebook())
    both["cells"] += _nb(notebook("03_augment"))["cells"]
    verdict = stages.identify(both)
    assert verdict.problem is Problem.TWO_STAGES and "02_split and 03_augment" in verdict.detail
    with pytest.raises(ValueError, match="nbformat 3"):
        parse(json.dumps({"cells": [], "nbformat": 3}).encode())


@pytest.fixture
def course(tmp_path):
    course = course_folder(tmp_path / "course")

    def put(rel, data):
        path = course / "submitted" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return path

    put("alice/02_split/02_split.ipynb", notebook())
    put("bob/02_split/Copy of 02_split.ipynb", colab(notebook()))  # Colab's name
    put("carol/02_split/02_split (1).ipynb", notebook())  # a browser's
    put("carol/02_split/Untitled3.ipynb", foreign())  # her scratch file
    put("carol/02_split/.ipynb_checkpoints/02_split-checkpoint.ipynb", notebook())  # nbgrader ignores these
    put("dave/02_split/a.ipynb", notebook())
    put("dave/02_split/b.ipynb", notebook(answers="untouched"))
    put("erin/02_split/02_split.ipynb", notebook("03_augment"))  # the wrong stage's notebook
    put("fay/02_split/x.ipynb", b'{"cells": [')
    put("gus/02_split/02_split.ipynb", b"{ not a notebook")  # the grader fails it, with a record
    put("hal/03_augment/old/work.ipynb", notebook("03_augment"))
    put("hal/homework1/x.ipynb", notebook())
    put("ivy/02_split/timestamp.txt", b"2025-01-01 00:00:00 UTC")
    os.symlink("/etc/passwd", course / "submitted/ivy/02_split/02_split.ipynb")
    os.symlink(course / "submitted/alice", course / "submitted/jim")
    (course / "submitted/kim").mkdir()
    os.symlink(course / "submitted/alice/02_split", course / "submitted/kim/02_split")
    put("bad id/02_split/02_split.ipynb", notebook())
    return course


def test_every_notebook_under_submitted_is_graded_or_named(course):
    found = find_jobs(course)
    jobs = {(j.student, j.stage): j.path.name for j in found.jobs}
    assert jobs == {("alice", "02_split"): "02_split.ipynb", ("bob", "02_split"): "Copy of 02_split.ipynb",
                    ("carol", "02_split"): "02_split (1).ipynb", ("gus", "02_split"): "02_split.ipynb"}
    problems = "\n".join(found.problems)
    for words in ("submitted/carol/02_split/Untitled3.ipynb: a notebook of no stage of this course",
                  "submitted/dave/02_split: 2 notebooks of 02_split (a.ipynb, b.ipynb) and none named 02_split.ipynb",
                  "submitted/erin/02_split/02_split.ipynb: a notebook of 03_augment, not of 02_split: not graded",
                  "submitted/fay/02_split/x.ipynb: damaged JSON",
                  "submitted/hal/03_augment/old/work.ipynb: a notebook in a subfolder of the hand-in",
                  "submitted/hal/homework1: not a stage of this course",
                  "submitted/ivy/02_split/02_split.ipynb: a symbolic link: not followed, not graded",
                  "submitted/jim: a symbolic link, not a student's folder",
                  "submitted/kim/02_split: a symbolic link, not a folder",
                  "submitted/bad id: not a student id"):
        assert words in problems, (words, problems)
    assert "checkpoint" not in problems
    assert len(found.problems) == 10
    assert found.notes == [
        "submitted/bob/02_split/Copy of 02_split.ipynb: graded as bob's 02_split (the only notebook of 02_split "
        "there, though not named 02_split.ipynb)",
        "submitted/carol/02_split/02_split (1).ipynb: graded as carol's 02_split (the only notebook of 02_split "
        "there, though not named 02_split.ipynb)"]


def test_stages_and_students_narrow_it_and_a_missing_student_is_said(course):
    found = find_jobs(course, stages=["03_augment"], students=["hal", "zoe"])
    assert found.jobs == []
    assert found.problems == ["submitted/zoe: no such folder",
                              "submitted/hal/03_augment/old/work.ipynb: a notebook in a subfolder of the hand-in: "
                              "not graded", "submitted/hal/homework1: not a stage of this course: not graded"]


def test_a_notebook_swapped_for_a_link_after_it_was_found_is_not_read(course):
    job = next(j for j in find_jobs(course).jobs if j.student == "alice")
    assert read(course, job.path) == notebook()
    job.path.unlink()
    job.path.symlink_to("/etc/passwd")
    with pytest.raises(Refused, match="symbolic link"):
        read(course, job.path)


def test_a_huge_notebook_is_named_not_read(course, monkeypatch):
    monkeypatch.setattr(submitted, "MAX_BYTES", len(notebook()) - 1)
    path = course / "submitted/zed/02_split/Copy of 02_split.ipynb"
    path.parent.mkdir(parents=True)
    path.write_bytes(notebook())
    found = find_jobs(course, students=["zed"])
    assert found.jobs == [] and found.problems == [
        f"submitted/zed/02_split/Copy of 02_split.ipynb: larger than {len(notebook()) - 1} bytes: not graded"]

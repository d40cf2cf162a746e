"""The class report on a class graded for real: 20 students' notebooks (reference answers, each
declared mistake, untouched notebooks, partial attempts) graded by ``malaria-lab course grade``
in the sandbox, then ``malaria-lab course report``. Its figures are recomputed here from the
gradebook, through nbgrader's own API, not from the report's code."""

import csv
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from malaria_lab.checks import load_stage
from malaria_lab.instructor.release import _scratch_course, generate
from malaria_lab.instructor.submissions import make_submission, write_submission

ROOT = Path(__file__).resolve().parents[2]
STAGES = ("01_download", "02_split")
EASY = ("01_download", "q3")  # planted: every student gets it right
STUDENTS = 20  # 9 with a mistake: 13 declared mistakes planted (none in EASY, which all get right)

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not sys.platform.startswith("linux"), reason="bubblewrap is Linux's")]


def plan_for(i, stage):
    """Student i's answers to ``stage``: {exercise: "solution" | "untouched" | ("mistake", k)}."""
    decl = load_stage(stage)
    ids = sorted(decl.exercises)
    kind = i % 6
    if kind == 0:
        plan = {ex: "solution" for ex in ids}
    elif kind == 1:
        plan = {ex: "untouched" for ex in ids}
    elif kind == 2:  # partial: the first exercise only
        plan = {ex: ("solution" if ex == ids[0] else "untouched") for ex in ids}
    else:  # a declared mistake in one exercise: exercises in turn, then each one's next mistake
        m = i // 6 * 3 + kind - 3  # the how-manieth student with a mistake
        ex = decl[ids[m % len(ids)]]
        plan = {e: "solution" for e in ids}
        plan[ex.id] = ("mistake", (m // len(ids)) % len(ex.mistakes))
    if stage == EASY[0]:
        plan[EASY[1]] = "solution"
    return plan


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    course = _scratch_course(ROOT / "course", tmp_path_factory.mktemp("class"))
    generate(course, STAGES)
    plans = {}
    for i in range(STUDENTS):
        student = f"s{i:02d}"
        for stage in STAGES:
            if i == STUDENTS - 1 and stage == "02_split":
                continue  # one student never handed stage 2 in
            plans[(student, stage)] = plan_for(i, stage)
            release = course / "release" / stage / f"{stage}.ipynb"
            write_submission(course, student, stage, make_submission(release, stage, plans[(student, stage)]))
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", MALARIA_LAB_CACHE=str(tmp_path_factory.getbasetemp() / "cache"))
    done = subprocess.run([sys.executable, "-m", "malaria_lab", "course", "grade", str(course), "-q", "--workers", "2"],
                          capture_output=True, text=True, env=env, timeout=3600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = course / "report"
    done = subprocess.run([sys.executable, "-m", "malaria_lab", "course", "report", str(course), "--out", str(out)],
                          capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return course, out, plans


def scores_from_gradebook(course):
    """{(student, stage, exercise): points} as nbgrader's gradebook holds them."""
    from nbgrader.api import Gradebook

    out = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        for stage in STAGES:
            for sub in gb.find_assignment(stage).submissions:
                for nb in sub.notebooks:
                    for grade in nb.grades:
                        out[(sub.student.id, stage, grade.name.split("_")[0])] = grade.score
    return out


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_exercise_counts_are_the_gradebooks(graded):
    course, out, plans = graded
    book = scores_from_gradebook(course)
    rows = {(r["stage"], r["exercise"]): r for r in read_csv(out / "exercises.csv")}
    for stage in STAGES:
        students = sorted({s for s, st in plans if st == stage})
        for ex in load_stage(stage):
            pts = np.array([book[(s, stage, ex.id)] for s in students])
            row = rows[(stage, ex.id)]
            untouched = sum(plans[(s, stage)][ex.id] == "untouched" for s in students)
            assert int(row["students"]) == len(students)
            assert int(row["full"]) == int(np.sum(pts == ex.points))
            assert int(row["not_attempted"]) == untouched
            assert int(row["zero"]) + int(row["not_attempted"]) == int(np.sum(pts == 0))
            assert float(row["mean"]) == pytest.approx(pts.mean(), abs=1e-3)
            totals = np.array([sum(book[(s, stage, e.id)] for e in load_stage(stage)) for s in students])
            if pts.std() > 0:
                assert float(row["discrimination"]) == pytest.approx(np.corrcoef(pts, totals - pts)[0, 1], abs=1e-3)


def test_the_planted_easy_exercise_is_flagged(graded):
    _, out, _ = graded
    rows = {(r["stage"], r["exercise"]): r for r in read_csv(out / "exercises.csv")}
    assert "too easy" in rows[EASY]["flags"] and "does not discriminate" in rows[EASY]["flags"]
    assert rows[EASY]["share_full"] == "1"


def test_wrong_answer_groups_match_the_planted_mistakes(graded):
    _, out, plans = graded
    groups = {}
    for row in read_csv(out / "wrong_answers.csv"):
        groups.setdefault((row["stage"], row["exercise"]), []).append(set(row["student_ids"].split()))
    for stage in STAGES:
        for ex in load_stage(stage):
            planted = {}
            for (student, st), plan in plans.items():
                if st == stage and isinstance(plan[ex.id], tuple):
                    planted.setdefault(plan[ex.id][1], set()).add(student)
            found = groups.get((stage, ex.id), [])
            for k, students in planted.items():
                assert any(students <= group for group in found), (stage, ex.id, k)
            planted_all = set().union(*planted.values()) if planted else set()
            assert set().union(*found) == planted_all if found else not planted_all, (stage, ex.id)


def test_the_students_table_and_canvas_file_say_who_is_missing(graded):
    course, out, _ = graded
    rows = {r[list(r)[0]]: r for r in read_csv(out / "students.csv")}
    absent = f"s{STUDENTS - 1:02d}"
    assert absent in rows and "02_split" in " ".join(rows[absent].values())
    with open(out / "canvas.csv", newline="", encoding="utf-8") as handle:
        header, possible, *lines = list(csv.reader(handle))
    assert header[-2:] == list(STAGES) and possible[0].strip() == "Points Possible"
    assert len(lines) == STUDENTS
    assert (out / "index.html").stat().st_size > 10_000

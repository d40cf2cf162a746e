"""From a Colab student's download to the LMS's gradebook, through the real commands: a Canvas
bulk download of a small class's renamed notebooks goes in (``course collect``), is graded in the
sandbox (``course grade``), and the Canvas CSV (``course report``) carries each student's Canvas id
and points, with no file moved by hand. A notebook put in ``submitted/`` under Colab's name is
graded and said; two notebooks of one stage are named, not guessed between.

The Canvas naming is cited in ``tests/cli/test_collect.py``."""

import csv
import sys

import pytest
from cli_helpers import cli
from lms_downloads import colab, course_folder, notebook, with_alembic, zip_of

from malaria_lab.checks import load_stage

STAGE = "02_split"
ROSTER = ('Student,ID,SIS User ID,SIS Login ID,Section\n    Points Possible,,,,\n'
          '"Smith, Alice",101,S001,alice,A\n"Jones, Bob",102,S002,bob,A\n"Lee, Carol",103,S003,carol,A\n')

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not sys.platform.startswith("linux"), reason="bubblewrap is Linux's")]


def points(answers):
    """What the checks give these answers, computed here, in-process."""
    decl = load_stage(STAGE)
    ns = {"__name__": "__main__"}
    exec(decl.prelude, ns)
    for ex in decl:
        choice = answers.get(ex.id, "solution")
        exec(ex.solution_code if choice == "solution" else ex.with_answer(ex.mistakes[choice[1]][0]), ns)
    return sum(ex.run(ns, hidden=True).points for ex in decl)


def test_a_canvas_download_comes_back_as_canvas_grades(tmp_path):
    course = course_folder(tmp_path / "course")
    (tmp_path / "roster.csv").write_text(ROSTER, encoding="utf-8")
    bob_answers = {"q1": ("mistake", 0)}
    download = zip_of(tmp_path / "submissions.zip", [
        ("smithalice_101_7001_Copy of 02_split.ipynb", colab(notebook())),
        ("jonesbob_late_102_7002_02_split (1).ipynb", notebook(answers=bob_answers)),
    ])
    env = with_alembic()
    done = cli("course", "collect", download, course, "--roster", tmp_path / "roster.csv", cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    # Carol's notebook, put in by hand under Colab's name; Dan's two copies, neither named 02_split.ipynb.
    for rel, data in (("carol/02_split/Copy of 02_split.ipynb", colab(notebook())),
                      ("dan/02_split/02_split (1).ipynb", notebook()),
                      ("dan/02_split/02_split (2).ipynb", notebook(answers="untouched"))):
        (course / "submitted" / rel).parent.mkdir(parents=True, exist_ok=True)
        (course / "submitted" / rel).write_bytes(data)

    graded = cli("course", "grade", course, "--stage", STAGE, "-q", "--workers", "2", "--timeout", "60",
                 cwd=tmp_path, env=env, timeout=1200)
    assert graded.returncode == 0, graded.stdout[-3000:] + graded.stderr[-3000:]
    assert "Graded 3 job(s), 0 failed" in graded.stdout
    assert ("submitted/carol/02_split/Copy of 02_split.ipynb: graded as carol's 02_split" in graded.stdout)
    assert "submitted/dan/02_split: 2 notebooks of 02_split" in graded.stdout
    assert (course / "autograded/carol/02_split/02_split.ipynb").is_file()  # where nbgrader expects it

    report = cli("course", "report", course, "--out", tmp_path / "report", "--stage", STAGE, cwd=tmp_path, env=env)
    assert report.returncode == 0, report.stderr
    with open(tmp_path / "report" / "canvas.csv", newline="", encoding="utf-8") as handle:
        header, possible, *rows = list(csv.reader(handle))
    assert header == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", STAGE]
    full = load_stage(STAGE).points
    got = {row[1]: (row[0], row[3], float(row[5])) for row in rows}
    assert got == {"101": ("Smith, Alice", "alice", full), "102": ("Jones, Bob", "bob", points(bob_answers)),
                   "103": ("Lee, Carol", "carol", full)}
    assert points(bob_answers) < full

"""``nbgrader release_feedback`` works on what ``malaria-lab course grade`` writes: the grader leaves
the submission's timestamp and exchange secret beside each feedback page, as nbgrader's own
``generate_feedback`` does, and copies a secret only when it is what nbgrader writes."""

import os
import subprocess
import sys

import pytest
from nbgrader.utils import notebook_hash

from malaria_lab.instructor import coursedir
from malaria_lab.instructor.grader import writer

STAGE = "02_split"


def _course(tmp_path, secret="ab" * 64):
    course = tmp_path / "course"
    submitted = coursedir.folder(course, coursedir.Kind.SUBMITTED, STAGE, "alice")
    submitted.mkdir(parents=True)
    (submitted / f"{STAGE}.ipynb").write_text("{}")
    (submitted / "timestamp.txt").write_text("2026-12-05 12:29:37.819802 UTC")
    if secret is not None:
        (submitted / "submission_secret.txt").write_text(secret)
    page = coursedir.feedback_page(course, STAGE, "alice")
    page.parent.mkdir(parents=True)
    page.write_text("<h1>02_split: 8 / 8 points</h1>")
    return course


def test_release_feedback_finds_the_grader_s_pages(tmp_path):
    course, exchange = _course(tmp_path), tmp_path / "exchange"
    exchange.mkdir(mode=0o777)
    writer._feedback_receipt(course, "alice", STAGE)
    feedback = coursedir.folder(course, coursedir.Kind.FEEDBACK, STAGE, "alice")
    assert (feedback / "timestamp.txt").read_text() == "2026-12-05 12:29:37.819802 UTC"
    done = subprocess.run([sys.executable, "-m", "nbgrader", "release_feedback", STAGE,
                           f"--CourseDirectory.root={course}", "--CourseDirectory.course_id=c",
                           f"--Exchange.root={exchange}"], capture_output=True, text=True, cwd=tmp_path,
                          env={**os.environ, "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"]})
    assert done.returncode == 0, done.stderr[-2000:]
    released = exchange / "c" / "feedback" / f"{notebook_hash(secret='ab' * 64, notebook_id=STAGE)}.html"
    assert released.read_text() == "<h1>02_split: 8 / 8 points</h1>"


@pytest.mark.parametrize("secret", ["not hex at all", "ab" * 200, "", None, "link"])
def test_a_secret_that_is_not_nbgrader_s_is_not_copied(tmp_path, secret):
    course = _course(tmp_path, secret=None if secret == "link" else secret)
    if secret == "link":
        target = tmp_path / "elsewhere.txt"
        target.write_text("cd" * 64)
        os.symlink(target, coursedir.submission_secret(course, coursedir.Kind.SUBMITTED, STAGE, "alice"))
    writer._feedback_receipt(course, "alice", STAGE)
    assert not coursedir.submission_secret(course, coursedir.Kind.FEEDBACK, STAGE, "alice").exists()

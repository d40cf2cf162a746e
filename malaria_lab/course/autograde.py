"""Grading in one go with nbgrader: autograde every submission of some stages, write the
feedback, export the grades, and read them back."""

import csv
import time
from pathlib import Path

from ..settings import STAGES
from .nbgrader_cmd import nbgrader


def autograde(course_dir, stage, student=None, env=None, exclude=()):
    """``nbgrader autograde`` one stage (one student, or all but ``exclude``); returns seconds."""
    args = ["autograde", stage, "--force"] + ([f"--student={student}"] if student else [])
    if exclude:
        args.append(f"--CourseDirectory.student_id_exclude={','.join(exclude)}")
    start = time.perf_counter()
    nbgrader(args, course_dir, env=env)
    return time.perf_counter() - start


def grade(course_dir, stages=STAGES, env=None, feedback=True, export="grades.csv"):
    """Autograde all submissions of ``stages``, write feedback, export grades; returns timings."""
    course_dir = Path(course_dir)
    seconds = {}
    for stage in stages:
        if not any((course_dir / "submitted").glob(f"*/{stage}")):
            continue
        seconds[stage] = autograde(course_dir, stage, env=env)
        if feedback:
            nbgrader(["generate_feedback", stage, "--force"], course_dir, env=env)
    if export:
        nbgrader(["export", f"--to={export}"], course_dir, env=env)
    return seconds


def scores(course_dir, export="grades.csv"):
    """{(stage, student): (score, max_score)} from an exported grades CSV."""
    out = {}
    with open(Path(course_dir) / export, newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            out[(row["assignment"], row["student_id"])] = (float(row["score"]), float(row["max_score"]))
    return out

"""Where a graded job's results go, written by the one trusted writer: the gradebook (nbgrader's
``Gradebook`` API), ``autograded/`` and ``feedback/`` where nbgrader's own commands put them, and
the job's JSON record. nbgrader's ``export``, ``release_feedback`` and the formgrader keep
working on them."""

import json
import re
import warnings
from pathlib import Path

from ...atomic import write_text
from ...checks.cell_ids import answer_id, check_id
from ...checks.results import Status
from .. import coursedir, records, submitted

db_url = coursedir.gradebook_url
# What nbgrader's `submit` writes: secrets.token_hex(64).
SECRET = re.compile(r"[0-9a-f]{32,256}")


def timestamp(course_dir, student, stage) -> str | None:
    """The submission's time from nbgrader's ``timestamp.txt``, as text, or None."""
    path = coursedir.timestamp(course_dir, coursedir.Kind.SUBMITTED, stage, student)
    try:
        text = submitted.read(course_dir, path, 256).decode("utf-8", "replace").strip()
    except (OSError, submitted.Refused):
        return None
    return text[:64] or None


class WrongJob(ValueError):
    """A worker's result names another student or stage than the job it was given."""


def earlier(course_dir, stage, student) -> dict | None:
    """The job's last record if it was graded, else None."""
    try:
        old = records.validate(json.loads(records.path_of(course_dir, stage, student).read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return None
    return old if old["status"] == "graded" else None


def write(course_dir, result, student, stage) -> dict:
    """Save one job's result (see :func:`.job.grade_job`) as the result of (``student``,
    ``stage``), the job the grader sent out; returns its record. A failure the student did not
    cause (``result["grader_fault"]``) never replaces an earlier grade: that grade is kept and
    returned."""
    course_dir = Path(course_dir)
    record = records.validate(records.bounded(result["record"]))
    if (record["student"], record["stage"]) != (student, stage):
        raise WrongJob(f"the worker's result names {record['student']!r} {record['stage']!r}")
    if result.get("grader_fault"):
        kept = earlier(course_dir, stage, student)
        if kept is not None:
            return dict(kept, problem=f"{record['problem']}; the earlier grade is kept")
        records.write(course_dir, record)
        return record
    if result.get("autograded"):
        write_text(coursedir.notebook(course_dir, coursedir.Kind.AUTOGRADED, stage, student), result["autograded"])
        stamp = timestamp(course_dir, student, stage)
        if stamp:
            write_text(coursedir.timestamp(course_dir, coursedir.Kind.AUTOGRADED, stage, student), stamp + "\n")
    if result.get("feedback"):
        feedback = coursedir.feedback_page(course_dir, stage, student)
        write_text(feedback, result["feedback"])
        _feedback_receipt(course_dir, student, stage)
        record["feedback"] = feedback.relative_to(course_dir).as_posix()
    _gradebook(course_dir, record)
    records.write(course_dir, record)
    return record


def _feedback_receipt(course_dir, student, stage):
    """Beside the feedback page, the submission's timestamp and exchange secret, as nbgrader's own
    ``generate_feedback`` leaves them: ``nbgrader release_feedback`` dates the page by the one and
    names it in the exchange by the other (the student's ``fetch_feedback`` finds it so). Both come
    from the student's submission: read bounded, never through a link, and a secret that is not
    what nbgrader writes is not copied (that student's feedback then cannot be released)."""
    stamp = timestamp(course_dir, student, stage)
    if stamp:
        write_text(coursedir.timestamp(course_dir, coursedir.Kind.FEEDBACK, stage, student), stamp)
    path = coursedir.submission_secret(course_dir, coursedir.Kind.SUBMITTED, stage, student)
    try:  # a link, a FIFO or a device is refused without being opened for reading
        secret = submitted.read(course_dir, path, 257).decode("ascii", "replace").strip()
    except (OSError, submitted.Refused):
        return
    if SECRET.fullmatch(secret):
        write_text(coursedir.submission_secret(course_dir, coursedir.Kind.FEEDBACK, stage, student), secret)


def _submitted_at(text, parse_utc):
    """nbgrader's timestamp argument for the submission's time, or none where the time cannot be
    read or is not a real one (graded as if untimed)."""
    if not text:
        return {}
    try:
        when = parse_utc(text)
    except (ValueError, OverflowError):
        return {}
    return {"timestamp": when} if 2000 <= when.year <= 2200 else {}


def _gradebook(course_dir, record):
    # nbgrader's database layer (SQLAlchemy) loads only for the writer.
    from nbgrader.api import Gradebook, MissingEntry
    from nbgrader.utils import parse_utc

    student, stage = record["student"], record["stage"]
    when = _submitted_at(record.get("submitted"), parse_utc)  # before the old row goes
    points = {check_id(e["id"]): e["points"] for e in record["exercises"]}
    attempted = {answer_id(e["id"]): e["status"] != Status.NOT_ATTEMPTED for e in record["exercises"]}
    with warnings.catch_warnings(), Gradebook(db_url(course_dir)) as gb:
        # nbgrader's own autograde makes SQLAlchemy warn the same way; the rows are right.
        warnings.simplefilter("ignore")
        gb.update_or_create_student(student)
        try:
            gb.remove_submission(stage, student)
        except MissingEntry:
            pass
    with warnings.catch_warnings(), Gradebook(db_url(course_dir)) as gb:
        warnings.simplefilter("ignore")
        submission = gb.add_submission(stage, student, **when)
        for notebook in submission.notebooks:
            for grade in notebook.grades:
                score = points.get(grade.name)
                grade.auto_score = score if record["status"] == "graded" else 0.0
                grade.needs_manual_grade = score is None or record["status"] != "graded"
            for comment in notebook.comments:
                if comment.name in attempted and not attempted[comment.name]:
                    comment.auto_comment = "No response."
        gb.db.commit()

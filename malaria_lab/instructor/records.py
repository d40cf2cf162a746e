"""The record of one grading job (one student, one stage), as JSON: what ``malaria-lab course
grade`` writes to ``COURSE_DIR/grading/jobs/<stage>/<student>.json`` and the class report reads.

A record::

    {"version": 1, "student": "alice", "stage": "02_split",
     "status": "graded" | "failed",          # failed: no verdict (the submission could not run)
     "problem": null | "one line: why",      # e.g. "timed out in cell q3_answer after 120 s"
     "notes": ["check cell of q2 was deleted: restored from the source and graded", ...],
     "sandbox": true, "fingerprint": "sha256 of what was graded", "submitted": "ISO time" | null,
     "graded_at": "ISO time", "seconds": 12.3, "score": 6.0, "max_score": 8.0,
     "exercises": [{"id": "q1", "title": "...", "status": "correct" | "passed public" | "wrong" |
                    "not attempted", "message": "what the student was shown", "details": [...],
                    "points": 2.0, "max_points": 2.0,
                    "checks": [{"id": "02_split.q3.leaves_no_part_empty", "what": "...",
                                "hidden": false, "outcome": "ok" | "wrong" | "not attempted",
                                "message": "..."}],
                    "failed": ["what", ...], "answer": "the answer cell's source"}],
     "feedback": "feedback/alice/02_split/02_split.html" | null}

Records cross a trust boundary (a cluster worker may write them), so :func:`validate` checks
every field's type before anything reads it. A check's ``id`` is stable where its wording
(``what``) may change; records written before checks had ids have none (``null`` once read).
"""

import math
from pathlib import Path

from ..atomic import write_json
from ..checks.results import Outcome, Status
from .coursedir import GRADING
from .whole_text import whole

VERSION = 1
JOBS_DIR = Path(GRADING) / "jobs"
STATUSES = ("graded", "failed")
EXERCISE_STATUSES = tuple(s.value for s in Status)
OUTCOMES = tuple(o.value for o in Outcome)
MAX_TEXT = 20_000


def path_of(course_dir, stage, student):
    return Path(course_dir) / JOBS_DIR / stage / f"{student}.json"


CUT_MARK = "\n... (cut: {n} more characters)"


def cut(text, limit=MAX_TEXT):
    """``text`` cut to ``limit`` characters, with a mark saying how much was cut."""
    if len(text) <= limit:
        return text
    keep = max(0, limit - len(CUT_MARK.format(n=len(text))))  # the mark at its longest
    return text[:keep] + CUT_MARK.format(n=len(text) - keep)


def bounded(value):
    """A record (or any part of one) with every text cut to :data:`MAX_TEXT`, so that no answer,
    message or note is ever too long to keep: records are cut, never refused, for length."""
    if isinstance(value, str):
        return cut(whole(value))
    if isinstance(value, list):
        return [bounded(v) for v in value]
    if isinstance(value, dict):
        return {k: bounded(v) for k, v in value.items()}
    return value


def _text(value, name, optional=False):
    if value is None and optional:
        return None
    if not isinstance(value, str) or len(value) > MAX_TEXT:
        raise ValueError(f"{name} should be text of at most {MAX_TEXT} characters")
    return value


def _number(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name} should be a finite number")
    return float(value)


def _check(check):
    if not isinstance(check, dict):
        raise ValueError("a check should be an object")
    if check.get("outcome") not in OUTCOMES or not isinstance(check.get("hidden"), bool):
        raise ValueError("a check's outcome or hidden flag is not valid")
    return {"id": _text(check.get("id"), "check.id", optional=True),
            "what": _text(check.get("what"), "check.what"), "hidden": check["hidden"],
            "outcome": check["outcome"], "message": _text(check.get("message", ""), "check.message")}


def _exercise(ex):
    if not isinstance(ex, dict) or ex.get("status") not in EXERCISE_STATUSES:
        raise ValueError("an exercise's status is not valid")
    out = {"id": _text(ex.get("id"), "exercise.id"), "title": _text(ex.get("title"), "exercise.title"),
           "status": ex["status"], "message": _text(ex.get("message"), "exercise.message"),
           "points": _number(ex.get("points"), "exercise.points"),
           "max_points": _number(ex.get("max_points"), "exercise.max_points"),
           "details": [_text(d, "exercise.details") for d in ex.get("details", [])],
           "checks": [_check(c) for c in ex.get("checks", [])],
           "answer": _text(ex.get("answer"), "exercise.answer", optional=True)}
    out["failed"] = [c["what"] for c in out["checks"] if c["outcome"] == Outcome.WRONG]
    if not 0 <= out["points"] <= out["max_points"]:
        raise ValueError("an exercise's points are outside 0..max_points")
    return out


def validate(record):
    """The record with every field checked and nothing else; ValueError says what is wrong."""
    if not isinstance(record, dict) or record.get("version") != VERSION:
        raise ValueError(f"not a version-{VERSION} grading record")
    if record.get("status") not in STATUSES:
        raise ValueError("status is not valid")
    out = {"version": VERSION, "student": _text(record.get("student"), "student"),
           "stage": _text(record.get("stage"), "stage"), "status": record["status"],
           "problem": _text(record.get("problem"), "problem", optional=True),
           "notes": [_text(n, "notes") for n in record.get("notes", [])],
           "sandbox": bool(record.get("sandbox")),
           "fingerprint": _text(record.get("fingerprint"), "fingerprint"),
           "submitted": _text(record.get("submitted"), "submitted", optional=True),
           "graded_at": _text(record.get("graded_at"), "graded_at"),
           "seconds": _number(record.get("seconds"), "seconds"),
           "score": _number(record.get("score"), "score"),
           "max_score": _number(record.get("max_score"), "max_score"),
           "exercises": [_exercise(e) for e in record.get("exercises", [])],
           "feedback": _text(record.get("feedback"), "feedback", optional=True)}
    if abs(sum(e["points"] for e in out["exercises"]) - out["score"]) > 1e-6:
        raise ValueError("score is not the sum of the exercises' points")
    return out


def write(course_dir, record):
    record = validate(record)
    return write_json(path_of(course_dir, record["stage"], record["student"]), record)

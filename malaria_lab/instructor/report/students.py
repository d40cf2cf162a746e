"""One row per student: points per stage, what is missing, and where their feedback is."""

import os
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from ...checks.results import Status


@dataclass
class StudentRow:
    student: str
    person: object  # load.Person
    scores: dict  # {stage: (score, max_score)} of the graded stages
    failed: dict  # {stage: problem} of the stages whose submission could not be graded
    missing: list  # lines: what is not there
    feedback: dict = field(default_factory=dict)  # {stage: (href or None, note)}

    @property
    def total(self) -> float:
        return sum(s for s, _ in self.scores.values())

    @property
    def submitted_nothing(self) -> bool:
        return not self.scores and not self.failed


def feedback_link(course_dir, out_dir, path) -> tuple[str | None, str]:
    """(href relative to the report, note) for a record's feedback path, or (None, why not)."""
    if not path:
        return None, "no feedback was written"
    rel = PurePosixPath(path)
    if rel.is_absolute() or ".." in rel.parts or "\\" in path:
        return None, "the record's feedback path lies outside the course folder"
    target = Path(course_dir) / rel
    if not target.is_file():
        return None, f"no feedback file at {path}"
    href = os.path.relpath(target.resolve(), Path(out_dir).resolve())
    return PurePosixPath(Path(href)).as_posix(), ""


def student_rows(cls, stats, out_dir, links=True) -> list:
    """[StudentRow] of every student of the course, in id order."""
    rows = []
    for student, person in cls.people.items():
        row = StudentRow(student, person, {}, {}, [])
        for stage, st in stats.items():
            record = cls.records.get((stage, student))
            if record is None:
                if st.present:
                    row.missing.append(f"{stage}: not submitted")
                continue
            if record["status"] == "failed":
                row.failed[stage] = record["problem"] or "no verdict"
                row.missing.append(f"{stage}: could not be graded ({row.failed[stage]})")
                continue
            row.scores[stage] = (record["score"], record["max_score"])
            blank = [e["id"] for e in record["exercises"] if e["status"] == Status.NOT_ATTEMPTED]
            if blank:
                row.missing.append(f"{stage}: {', '.join(blank)} not attempted")
            if links:
                row.feedback[stage] = feedback_link(cls.course_dir, out_dir, record["feedback"])
        if row.submitted_nothing:
            row.missing.insert(0, "submitted nothing")
        rows.append(row)
    return rows

"""What the class report reads: every grading record of the course (skipping, and naming, those
that do not validate), and the students' names from nbgrader's gradebook when there is one."""

import json
from dataclasses import dataclass, field
from pathlib import Path

from ...errors import MalariaLabError
from ...settings import STAGES
from .. import coursedir, records

MAX_BYTES = 5_000_000


@dataclass
class Person:
    """A student as the gradebook knows them (all but ``id`` may be empty)."""

    id: str
    first_name: str = ""
    last_name: str = ""
    email: str = ""
    lms_user_id: str = ""
    username: str = ""  # their login on the LMS, where `course collect` read a roster
    sis_user_id: str = ""

    @property
    def sortable_name(self) -> str:
        """"Last, First", as Canvas lists students; the id when the gradebook has no name."""
        if self.last_name and self.first_name:
            return f"{self.last_name}, {self.first_name}"
        return self.last_name or self.first_name or self.id


@dataclass
class Class:
    """Everything the report is made from."""

    course_dir: Path
    stages: tuple
    records: dict  # {(stage, student): validated record}
    people: dict  # {student: Person}, every student known (records and gradebook)
    present: set  # the stages that have a folder of records
    skipped: list = field(default_factory=list)  # (path relative to the course folder, why)
    seen_ids: set = field(default_factory=set)  # every id a file name or record gives, valid or not
    notes: list = field(default_factory=list)  # lines about the sources (the gradebook, ...)


def _read(path, stage):
    if path.stat().st_size > MAX_BYTES:
        raise ValueError(f"larger than {MAX_BYTES // 1_000_000} MB")
    record = records.validate(json.loads(path.read_text(encoding="utf-8")))
    if record["stage"] != stage or record["student"] != path.stem:
        raise ValueError(f"it is the record of {record['student']!r} for {record['stage']!r}, "
                         f"not of {path.stem!r} for {stage!r}")
    ids = [e["id"] for e in record["exercises"]]
    if len(set(ids)) != len(ids):
        raise ValueError("an exercise appears twice")
    return record


def read_records(course_dir, stages) -> tuple:
    """({(stage, student): record}, present stages, skipped, ids seen) from ``grading/jobs``."""
    course_dir = Path(course_dir)
    root = course_dir / records.JOBS_DIR
    if not root.is_dir():
        raise MalariaLabError(f"No grading records in {root}.",
                              "Grade first: `malaria-lab course grade COURSE_DIR`.")
    found, present, skipped, seen = {}, set(), [], set()
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        if folder.name not in STAGES:
            skipped.append((str(folder.relative_to(course_dir)), f"{folder.name!r} is not a stage of this course"))
            continue
        if folder.name not in stages:
            continue
        present.add(folder.name)
        for path in sorted(folder.glob("*.json")):
            seen.add(path.stem)
            try:
                record = _read(path, folder.name)
            except (OSError, UnicodeDecodeError, ValueError) as err:  # JSONDecodeError is a ValueError
                skipped.append((str(path.relative_to(course_dir)), str(err)))
                continue
            found[(folder.name, record["student"])] = record
    return found, present, skipped, seen


def read_people(course_dir) -> tuple[dict, str]:
    """({student: Person} from ``gradebook.db``, a note) or ({}, note) without a usable gradebook."""
    db = coursedir.gradebook(course_dir)
    if not db.is_file():
        return {}, "No gradebook.db in the course folder: students are known by their ids only."
    # nbgrader (SQLAlchemy) takes seconds to import, and only a course with a gradebook needs it.
    from nbgrader.api import Gradebook

    try:
        # Read-only, and course_id="" so that nbgrader adds no course row to the instructor's file.
        with Gradebook(f"sqlite:///file:{db.resolve()}?mode=ro&uri=true", course_id="") as gb:
            people = {s.id: Person(s.id, s.first_name or "", s.last_name or "", s.email or "",
                                   s.lms_user_id or "") for s in gb.students}
    except Exception as err:  # a damaged or foreign database: report from the records alone
        return {}, f"Could not read {db.name} ({type(err).__name__}): students are known by their ids only."
    return people, f"Names and e-mail addresses from {db.name} ({len(people)} students)."


def read_lms_roster(course_dir, people) -> str | None:
    """Add to ``people`` each student's LMS login and ids from ``lms_roster.json`` (written by
    ``malaria-lab course collect``); returns a note, or None without one."""
    path = coursedir.lms_roster(course_dir)
    if not path.is_file():
        return None
    try:
        if path.stat().st_size > MAX_BYTES:
            raise ValueError(f"larger than {MAX_BYTES // 1_000_000} MB")
        roster = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(roster, dict):
            raise ValueError("not a JSON object")
    except (OSError, UnicodeDecodeError, ValueError) as err:
        return f"Could not read {path.name} ({err}): LMS logins are the course's ids."
    fields = ("first_name", "last_name", "email", "lms_user_id", "username", "sis_user_id")
    for student, entry in roster.items():
        if not coursedir.is_student_id(student) or not isinstance(entry, dict):
            continue
        got = {f: entry[f] for f in fields if isinstance(entry.get(f), str)}
        person = people.setdefault(student, Person(student))
        for f, value in got.items():
            if not getattr(person, f):
                setattr(person, f, value)
    return f"LMS logins and ids from {path.name}."


def load_class(course_dir, stages=None) -> Class:
    """The records of ``stages`` (default: all) and the students of the course."""
    course_dir = Path(course_dir)
    stages = tuple(stages or STAGES)
    found, present, skipped, seen = read_records(course_dir, stages)
    people, note = read_people(course_dir)
    roster_note = read_lms_roster(course_dir, people)
    for _, student in found:
        people.setdefault(student, Person(student))
    seen |= set(people)
    people = dict(sorted(people.items()))
    if not found and not skipped:
        raise MalariaLabError(f"No grading records in {course_dir / records.JOBS_DIR} for "
                              f"{', '.join(stages)}.", "Grade first: `malaria-lab course grade COURSE_DIR`.")
    return Class(course_dir, stages, found, people, present, skipped, seen, [n for n in (note, roster_note) if n])

"""The course folder's layout, in one place: nbgrader's folders (as its ``CourseDirectory``
``format_path`` builds them, ``{root}/{kind}/{student}/{stage}/``), the text notebooks, the course
settings and what ``malaria-lab course grade`` keeps in ``grading/``.

Every other module asks here where a file of the course lives.
"""

import re
from enum import Enum
from pathlib import Path

TEXT = "stages"
SETTINGS_FILE = "course.toml"
GRADEBOOK = "gradebook.db"
TIMESTAMP = "timestamp.txt"
SECRET = "submission_secret.txt"
GRADING = "grading"
SOLUTIONS = "solutions"
# What ``malaria-lab course collect`` learned: beside a hand-in, where it came from (the LMS, the
# file in the download, the late flag); in the course folder, the LMS's roster as it read it.
COLLECTED = "collected.json"
LMS_ROSTER = "lms_roster.json"
# A student id names folders (submitted/<student>/...): plain characters only, never a path.
STUDENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,127}")  # whole names only: fullmatch
# What nbgrader passes over in an assignment's folders (its ``CourseDirectory.ignore``).
IGNORED = (".ipynb_checkpoints", "__pycache__", "*.pyc", "feedback")


class Kind(str, Enum):
    """nbgrader's folders, by the name of the ``CourseDirectory`` setting that names each."""
    SOURCE = "source"
    RELEASE = "release"
    SUBMITTED = "submitted"
    AUTOGRADED = "autograded"
    FEEDBACK = "feedback"


def folder(course_dir, kind, stage, student=None) -> Path:
    """``{course}/{kind}/[{student}/]{stage}``: where nbgrader keeps one stage's files."""
    kind = Kind(kind)
    root = Path(course_dir) / kind.value
    return (root / student / stage) if student is not None else root / stage


def notebook(course_dir, kind, stage, student=None) -> Path:
    """The stage's notebook in that folder: ``.../{stage}/{stage}.ipynb``."""
    return folder(course_dir, kind, stage, student) / f"{stage}.ipynb"


def feedback_page(course_dir, stage, student) -> Path:
    """The HTML page a student gets back for one stage."""
    return folder(course_dir, Kind.FEEDBACK, stage, student) / f"{stage}.html"


def timestamp(course_dir, kind, stage, student) -> Path:
    """nbgrader's ``timestamp.txt`` beside a submitted or autograded notebook."""
    return folder(course_dir, kind, stage, student) / TIMESTAMP


def collected(course_dir, stage, student) -> Path:
    """Where a collected hand-in came from, beside it in ``submitted/``."""
    return folder(course_dir, Kind.SUBMITTED, stage, student) / COLLECTED


def lms_roster(course_dir) -> Path:
    """The LMS's roster as ``collect`` read it: each student's LMS login and ids."""
    return Path(course_dir) / LMS_ROSTER


def is_student_id(text) -> bool:
    return isinstance(text, str) and STUDENT_ID.fullmatch(text) is not None


def submission_secret(course_dir, kind, stage, student) -> Path:
    """The secret nbgrader's exchange gave a submission (it names the student's feedback there)."""
    return folder(course_dir, kind, stage, student) / SECRET


def students_dir(course_dir, kind=Kind.SUBMITTED) -> Path:
    """The folder holding one folder per student (``submitted/`` by default)."""
    return Path(course_dir) / Kind(kind).value


def text_notebook(course_dir, stage) -> Path:
    """The stage as authored: ``stages/<stage>.md``."""
    return Path(course_dir) / TEXT / f"{stage}.md"


def solutions_notebook(course_dir, stage) -> Path:
    """A stage's solutions, released by ``malaria-lab course solutions``: its own name, so that it
    never overwrites the student's notebook where both are downloaded."""
    return Path(course_dir) / SOLUTIONS / stage / f"{stage}_solutions.ipynb"


def settings_file(course_dir) -> Path:
    """The instructor's settings of the course (``course.toml``)."""
    return Path(course_dir) / SETTINGS_FILE


def gradebook(course_dir) -> Path:
    return Path(course_dir) / GRADEBOOK


def gradebook_url(course_dir) -> str:
    """nbgrader's database address for the course's gradebook."""
    return f"sqlite:///{gradebook(course_dir).resolve()}"


def grading_dir(course_dir) -> Path:
    """What ``malaria-lab course grade`` keeps: records, templates, summary, logs."""
    return Path(course_dir) / GRADING


def release_in_repository(stage) -> str:
    """The student notebook of a stage, relative to the repository root (badges, site)."""
    return f"course/{Kind.RELEASE.value}/{stage}/{stage}.ipynb"


def in_repository() -> Path:
    """The repository's own course folder, beside the package (a clone, or an editable install)."""
    return Path(__file__).resolve().parents[2] / "course"

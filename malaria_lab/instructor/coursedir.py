"""The course folder's layout, in one place: nbgrader's folders (as its ``CourseDirectory``
``format_path`` builds them, ``{root}/{kind}/{student}/{stage}/``), the text notebooks, the course
settings and what ``malaria-lab course grade`` keeps in ``grading/``.

Every other module asks here where a file of the course lives.
"""

from enum import Enum
from pathlib import Path

TEXT = "stages"
SETTINGS_FILE = "course.toml"
GRADEBOOK = "gradebook.db"
TIMESTAMP = "timestamp.txt"
SECRET = "submission_secret.txt"
GRADING = "grading"


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


def submission_secret(course_dir, kind, stage, student) -> Path:
    """The secret nbgrader's exchange gave a submission (it names the student's feedback there)."""
    return folder(course_dir, kind, stage, student) / SECRET


def students_dir(course_dir, kind=Kind.SUBMITTED) -> Path:
    """The folder holding one folder per student (``submitted/`` by default)."""
    return Path(course_dir) / Kind(kind).value


def text_notebook(course_dir, stage) -> Path:
    """The stage as authored: ``stages/<stage>.md``."""
    return Path(course_dir) / TEXT / f"{stage}.md"


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

"""``build_report``: the class report of a graded course, from its grading records."""

from dataclasses import dataclass
from pathlib import Path

from ...atomic import write_text
from ...errors import MalariaLabError
from ...settings import STAGES
from . import lms as lms_files
from . import page, similar_section, tables
from .anonymise import Names, course_key
from .load import load_class
from .similarity import class_similarity
from .stats import class_stats
from .students import student_rows


@dataclass
class Report:
    """What :func:`build_report` wrote, and the records it left out (path, why)."""

    out_dir: Path
    files: list
    skipped: list


def build_report(course_dir, out_dir, stages=None, lms="canvas", anonymise=False) -> Report:
    """Write the report of ``course_dir``'s grading records into ``out_dir``: ``index.html``, the
    figures as CSV and the grades for the LMS (``"canvas"`` or ``"generic"``)."""
    course_dir, out_dir = Path(course_dir), Path(out_dir)
    if lms not in lms_files.FILES:
        raise MalariaLabError(f"No LMS layout {lms!r}.", f"Use one of {', '.join(lms_files.FILES)}.")
    unknown = [s for s in stages or () if s not in STAGES]
    if unknown:
        raise MalariaLabError(f"No stage {unknown[0]!r}.", f"Use one of {', '.join(STAGES)}.")
    if out_dir.exists() and not out_dir.is_dir():
        raise MalariaLabError(f"{out_dir} is a file.", "Give --out a folder (it is made if missing).")
    cls = load_class(course_dir, stages)
    names = Names(cls.seen_ids, course_key(course_dir) if anonymise else None)
    stats = class_stats(cls)
    similar = class_similarity(stats, names.text)
    rows = sorted(student_rows(cls, stats, out_dir, links=not anonymise), key=lambda r: names.of(r.student))
    out_dir.mkdir(parents=True, exist_ok=True)
    files = [tables.exercises_csv(out_dir / "exercises.csv", stats),
             tables.checks_csv(out_dir / "checks.csv", stats),
             tables.wrong_answers_csv(out_dir / "wrong_answers.csv", stats, names),
             tables.students_csv(out_dir / "students.csv", rows, stats, names),
             similar_section.similar_csv(out_dir / "similar_answers.csv", similar, names),
             lms_files.write_lms(out_dir, lms, rows, stats, names)]
    index = write_text(out_dir / "index.html",
                       page.render(cls, stats, rows, names, [f.name for f in files], similar))
    return Report(out_dir, [index] + files, list(cls.skipped))

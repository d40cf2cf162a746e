"""What ``malaria-lab course collect`` writes, losing nothing of the instructor's: a hand-in at
``submitted/<student>/<stage>/<stage>.ipynb`` with nbgrader's ``timestamp.txt`` and where it came
from (``collected.json``), each written atomically and never over another hand-in unless asked;
the students into the gradebook (nbgrader's ``Gradebook`` API), filling what it does not have yet;
and the LMS's ids of each student in ``lms_roster.json`` for the grades going back.
"""

import json
import os
import stat
import warnings
from datetime import timezone
from enum import Enum

from ..atomic import atomic_path, to_json, write_json, write_text
from . import coursedir


class Written(str, Enum):
    IMPORTED = "imported"
    REPLACED = "replaced"
    UNCHANGED = "already there"
    KEPT = "kept existing"
    REFUSED = "not written"


def nbgrader_time(when):
    """A time as nbgrader's ``timestamp.txt`` holds it (UTC, read by its ``parse_utc``)."""
    return when.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f UTC")


def _links_on_the_way(course_dir, stage, student):
    """The first of the student's folder and stage folder in ``submitted/`` that is a link or no
    folder, or None (``submitted/`` itself is the instructor's, and may be a link to another disk)."""
    root = coursedir.students_dir(course_dir)
    for path in (root, root / student, root / student / stage):
        try:
            mode = (os.stat if path == root else os.lstat)(path).st_mode
        except FileNotFoundError:
            return None
        if not stat.S_ISDIR(mode):
            return path
    return None


def write_handin(course_dir, student, stage, data, when, provenance, force):
    """(Written, detail) after putting one hand-in in place."""
    bad = _links_on_the_way(course_dir, stage, student)
    rel = f"submitted/{student}/{stage}"
    if bad is not None:
        return Written.REFUSED, f"{bad.relative_to(course_dir)} is a link or not a folder: nothing written through it"
    dest = coursedir.notebook(course_dir, coursedir.Kind.SUBMITTED, stage, student)
    try:
        mode = os.lstat(dest).st_mode
    except FileNotFoundError:
        mode = None
    if mode is not None and not stat.S_ISREG(mode):
        return Written.REFUSED, f"{rel}/{dest.name} is not a regular file: left as it is"
    if mode is not None and dest.read_bytes() == data:
        return Written.UNCHANGED, f"{rel}/{dest.name}"
    if mode is not None and not force:
        return Written.KEPT, f"{rel}/{dest.name} holds another hand-in: --force replaces it"
    with_time = coursedir.timestamp(course_dir, coursedir.Kind.SUBMITTED, stage, student)
    with atomic_path(dest) as tmp:
        tmp.write_bytes(data)  # the student's file as handed in, byte for byte
    if when is not None:
        write_text(with_time, nbgrader_time(when) + "\n")
    elif mode is not None and with_time.is_file() and not with_time.is_symlink():
        with_time.unlink()  # the replaced hand-in's time: this one has none
    write_json(coursedir.collected(course_dir, stage, student), provenance)
    return (Written.REPLACED if mode is not None else Written.IMPORTED), f"{rel}/{dest.name}"


FIELDS = ("first_name", "last_name", "email", "lms_user_id")


def update_gradebook(course_dir, people, force):
    """Add the roster's students to ``gradebook.db`` or fill what it lacks of them (``force``:
    replace what differs); returns (added, updated, notes)."""
    # nbgrader's database layer (SQLAlchemy) loads only when there are students to write.
    from nbgrader.api import Gradebook, MissingEntry

    added = updated = 0
    notes = []
    with warnings.catch_warnings(), Gradebook(coursedir.gradebook_url(course_dir)) as gb:
        warnings.simplefilter("ignore")  # SQLAlchemy's, as in nbgrader's own commands
        for p in people:
            values = {f: getattr(p, f) for f in FIELDS if getattr(p, f)}
            try:
                student = gb.find_student(p.student)
            except MissingEntry:
                gb.add_student(p.student, **values)
                added += 1
                continue
            changed = False
            for field, value in values.items():
                old = getattr(student, field) or ""
                if old == value:
                    continue
                if old and not force:
                    notes.append(f"gradebook.db keeps {p.student}'s {field.replace('_', ' ')} {old!r} (the roster "
                                 f"says {value!r}; --force takes the roster's)")
                    continue
                setattr(student, field, value)
                changed = True
            updated += changed
        gb.db.commit()
    return added, updated, notes


def save_roster(course_dir, people, lms):
    """Merge the LMS's ids of ``people`` into ``lms_roster.json`` (read by ``course report``)."""
    path = coursedir.lms_roster(course_dir)
    try:
        known = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    except (OSError, ValueError):
        known = {}
    known = known if isinstance(known, dict) else {}
    for p in people:
        entry = known.get(p.student) if isinstance(known.get(p.student), dict) else {}
        known[p.student] = {**entry, **p.record(), "lms": lms}
    text = to_json(dict(sorted(known.items())))
    if not path.is_file() or path.read_text(encoding="utf-8") != text + "\n":
        write_text(path, text + "\n")
    return path

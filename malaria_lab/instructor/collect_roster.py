"""The LMS's roster (a CSV the LMS exports), to map the names and ids in a bulk download to the
course's student ids, and to give the gradebook each student's name, e-mail and LMS user id.

Columns are found by their header, whatever the order, case or spacing (any other column is
ignored); the first that is there of each:

* the course's id for the student (their folder in ``submitted/``): ``student_id``, else ``SIS
  Login ID`` (Canvas), ``Username`` (Moodle, Blackboard; Brightspace's ``#`` prefix is dropped),
  else the e-mail address;
* the LMS's own user id: ``ID`` (Canvas's gradebook export) or ``lms_user_id``;
* ``SIS User ID`` / ``ID number`` / ``OrgDefinedId``; Moodle's ``Identifier`` (``Participant N``,
  in an assignment's grading worksheet);
* the name: ``Student`` (Canvas, ``Last, First``), ``First name`` and ``Last name`` (or
  ``Surname``), else ``Full name`` or ``Name``; the e-mail: ``Email`` or ``Email address``.
"""

import csv
import io
from dataclasses import asdict, dataclass

from ..errors import MalariaLabError
from . import coursedir
from .collect_names import Lms, name_key

MAX_BYTES = 20_000_000
COLUMNS = {
    "student_id": ("student_id",),
    "username": ("sis login id", "username", "user name"),
    "lms_user_id": ("id", "lms_user_id"),
    "sis_user_id": ("sis user id", "id number", "orgdefinedid"),
    "participant": ("identifier",),
    "sortable": ("student",),
    "first_name": ("first name", "firstname", "given name"),
    "last_name": ("last name", "lastname", "surname", "family name"),
    "full_name": ("full name", "name"),
    "email": ("email", "email address", "e-mail", "e-mail address"),
}
HELP = ("a CSV of the LMS's roster: Canvas's gradebook export (Student, ID, SIS Login ID), Moodle's grading "
        "worksheet (Identifier, Full name, Email address) or participants (First name, Last name, Username, "
        "Email address), Blackboard's or Brightspace's grade export (Username, First Name, Last Name, Email); "
        "a student_id column, if any, gives the course's ids (else SIS Login ID, Username or the e-mail)")


@dataclass(frozen=True)
class Person:
    """One student of the roster."""
    student: str  # the course's id
    first_name: str = ""
    last_name: str = ""
    email: str = ""
    lms_user_id: str = ""
    username: str = ""
    sis_user_id: str = ""
    participant: str = ""
    line: int = 0

    @property
    def full_name(self):
        return " ".join(p for p in (self.first_name, self.last_name) if p)

    def record(self):
        """What the course keeps of them (``lms_roster.json``), without the line number."""
        return {k: v for k, v in asdict(self).items() if k not in ("student", "line") and v}


def _header_key(text):
    return " ".join((text or "").replace("\ufeff", "").strip().casefold().replace("_", " ").split())


def _columns(header):
    """{field: column index} of the fields the header has."""
    keys = [_header_key(h) for h in header]
    found = {}
    for field, names in COLUMNS.items():
        for name in names:
            if _header_key(name) in keys:
                found[field] = keys.index(_header_key(name))
                break
    return found


def _split_name(row):
    if row.get("first_name") or row.get("last_name"):
        return row.get("first_name", ""), row.get("last_name", "")
    if row.get("sortable"):
        last, _, first = row["sortable"].partition(",")
        return first.strip(), last.strip()
    first, _, last = row.get("full_name", "").rpartition(" ")
    return (first, last) if first else (last, "")


class Roster:
    """The roster's people, found by each kind of id an LMS names them by."""

    def __init__(self, people, notes=()):
        self.people = list(people)
        self.notes = list(notes)  # rows not used, one line each
        self.by_id = {p.student: p for p in self.people}
        self._index = {}
        for p in self.people:
            for kind, value in (("lms_user_id", p.lms_user_id), ("participant", p.participant),
                                ("username", p.username.casefold()), ("student", p.student.casefold()),
                                ("first_last", name_key(p.first_name + p.last_name)),
                                ("last_first", name_key(p.last_name + p.first_name))):
                if value:
                    self._index.setdefault((kind, value), []).append(p)

    def _one(self, kind, value):
        found = self._index.get((kind, value), [])
        if len(found) > 1:
            return None, f"{len(found)} students of the roster match it ({', '.join(p.student for p in found)})"
        return (found[0], "") if found else (None, "")

    def find(self, who):
        """(Person or None, why not) for a file's :class:`~.collect_names.Identity`."""
        tries = []
        if who.lms_user_id:
            tries.append(("lms_user_id", who.lms_user_id))
        if who.participant:
            tries.append(("participant", who.participant))
        if who.username:
            tries += [("username", who.username.casefold()), ("student", who.username.casefold())]
        if who.name:
            tries.append(("last_first" if who.lms is Lms.CANVAS else "first_last", name_key(who.name)))
        for kind, value in tries:
            person, clash = self._one(kind, value)
            if person or clash:
                return person, clash
        said = ", ".join(filter(None, [who.name and f"name {who.name!r}", who.lms_user_id and f"user id "
                                       f"{who.lms_user_id}", who.participant and f"participant {who.participant}",
                                       who.username and f"username {who.username!r}"]))
        return None, f"no student of the roster has its {said or 'name'}"


def read_roster(path):
    """The :class:`Roster` in the CSV file ``path``; a file that cannot be one is a
    :class:`MalariaLabError` saying what to give instead."""
    fix = f"Give --roster {HELP}."
    try:
        data = path.read_bytes() if path.stat().st_size <= MAX_BYTES else None
    except OSError as err:
        raise MalariaLabError(f"Cannot read the roster {path} ({err.strerror or err}).", fix) from None
    if data is None:
        raise MalariaLabError(f"The roster {path} is larger than {MAX_BYTES // 1_000_000} MB.", fix)
    try:
        rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    except (UnicodeDecodeError, csv.Error) as err:
        raise MalariaLabError(f"The roster {path} is not a UTF-8 CSV file ({err}).", fix) from None
    if not rows:
        raise MalariaLabError(f"The roster {path} is empty.", fix)
    columns = _columns(rows[0])
    if not {"student_id", "username", "email"} & set(columns):
        raise MalariaLabError(f"The roster {path} has no column that gives students' ids (student_id, SIS "
                              "Login ID, Username or Email).", fix)
    people, notes, seen = [], [], {}
    for n, cells in enumerate(rows[1:], start=2):
        row = {f: cells[i].strip() for f, i in columns.items() if i < len(cells)}
        if not any(row.values()) or "points possible" in row.get("sortable", "").casefold():
            continue  # blank lines, and the row of Canvas's export that holds the maximum points
        username = row.get("username", "").lstrip("#")  # Brightspace writes #jdoe
        student = row.get("student_id") or username or row.get("email", "")
        first, last = _split_name(row)
        shown = " ".join(filter(None, (first, last))) or "?"
        if not student:
            notes.append(f"roster line {n} ({shown}): no id (student_id, SIS Login ID, Username or Email): not used")
            continue
        if not coursedir.is_student_id(student):
            notes.append(f"roster line {n} ({shown}): id {student!r} is not a plain name (letters, digits, "
                         ". _ @ -): not used")
            continue
        if student in seen:
            raise MalariaLabError(f"Roster lines {seen[student]} and {n} both give the id {student!r}.",
                                  "Fix the roster: each student once, each with their own id.")
        seen[student] = n
        participant = row.get("participant", "")
        people.append(Person(student, first, last, row.get("email", ""), row.get("lms_user_id", ""), username,
                             row.get("sis_user_id", "").lstrip("#"),
                             participant.rsplit(" ", 1)[-1] if participant else "", n))
    return Roster(people, notes)

"""Who handed a file in, from the name each LMS gives it in its bulk download of an assignment.

* **Canvas** (*Assignment > Download Submissions*): ``smithjane[_late]_<user id>_<file id>_<uploaded
  name>``; the name is the student's sortable name, lower case, letters only; ``_late`` marks a
  hand-in after the due date; a file uploaded again under the same name gets ``-1``, ``-2``... in
  its uploaded name. The user id is Canvas's, the one its gradebook import matches on.
* **Moodle** (*View all submissions > Download all submissions*): ``<Full Name>_<participant
  number>_assignsubmission_file_<uploaded name>``, flat or with the same prefix as a folder per
  student (*Download submissions in folders*). The number is the student's *participant* number in
  that assignment, which its grading worksheet lists as ``Participant <number>``.
* **Blackboard** Learn (*Grade Centre > Assignment File Download*):
  ``<assignment>_<username>_attempt_<YYYY-MM-DD-HH-MM-SS>_<uploaded name>`` beside a receipt
  ``<assignment>_<username>_attempt_<time>.txt`` whose first line is ``Name: <Full Name>
  (<username>)`` (the receipt's username wins: one with ``_`` in it makes the file name ambiguous).
* **Brightspace** (*Assignments > Download*): ``<number>-<number> - <Full Name> - <Mon D, YYYY
  HMM AM> - <uploaded name>``, or that prefix as a folder per hand-in, and an ``index.html``; the
  time may be written ``H:MM``, ``HMM`` or, unzipped on Windows (no ``:`` in its names), ``H_MM``.

The tests cite where each pattern comes from. Times are the LMS's, with no time zone in them.
"""

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from enum import Enum


class Lms(str, Enum):
    CANVAS = "canvas"
    MOODLE = "moodle"
    BLACKBOARD = "blackboard"
    BRIGHTSPACE = "brightspace"


@dataclass(frozen=True)
class Identity:
    """What a file's name says about its hand-in (empty where that LMS says nothing)."""
    lms: Lms
    name: str = ""  # the student's name as the LMS wrote it
    lms_user_id: str = ""  # Canvas's user id
    participant: str = ""  # Moodle's participant number in the assignment
    username: str = ""  # Blackboard's login
    when: object = None  # the LMS's time of the hand-in (a naive datetime), or None
    late: bool = False  # Canvas's _late
    order: object = None  # an id the LMS gives in upload order (Canvas's file id, Brightspace's), or None
    resubmission: int = 0  # Canvas's -N on a file uploaded again under the same name
    receipt_key: str = ""  # Blackboard: the name a hand-in's files share with its receipt
    is_receipt: bool = False  # Blackboard's .txt receipt, not a hand-in
    uploaded: str = ""  # the file's name as the student uploaded it


CANVAS = re.compile(r"^(?P<name>[^_]+?)(?P<late>_late)?_(?P<user>\d+)_(?P<file>\d+)_(?P<uploaded>.+)$",
                    re.IGNORECASE | re.DOTALL)
MOODLE = re.compile(r"^(?P<name>.+?)_(?P<pid>\d+)_assignsubmission_(?P<plugin>[a-z]+)_(?P<uploaded>.*)$", re.DOTALL)
BLACKBOARD = re.compile(r"^(?P<key>.+_(?P<user>[^_]+)_attempt_(?P<when>\d{4}(?:-\d\d){5}))"
                        r"(?:_(?P<uploaded>.+)|(?P<receipt>\.txt))?$", re.DOTALL)
BRIGHTSPACE = re.compile(r"^(?P<sub>\d+)(?:-(?P<user>\d+))? - (?P<name>.+?) - "
                         r"(?P<when>(?P<mon>[A-Z][a-z]{2}) (?P<day>\d{1,2}), (?P<year>\d{4}) "
                         r"(?P<hour>\d{1,2})[:_]?(?P<minute>\d\d) (?P<ampm>[AP]M))(?: - (?P<uploaded>.+))?$", re.DOTALL)
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
RESUBMITTED = re.compile(r"-(\d{1,4})(\.[A-Za-z0-9]+)?$")
RECEIPT_NAME = re.compile(r"^Name:\s*(?P<name>.*?)\s*\((?P<user>[^()\s]+)\)\s*$", re.MULTILINE)


def name_key(text):
    """A name compared without case, accents, spaces or punctuation (``Smith, Jane`` and
    Canvas's ``smithjane`` when put last name first)."""
    text = unicodedata.normalize("NFKD", text or "")
    return "".join(c for c in text.casefold() if c.isalnum())


def _canvas(m):
    uploaded = m["uploaded"]
    again = RESUBMITTED.search(uploaded)
    return Identity(Lms.CANVAS, name=m["name"], lms_user_id=m["user"], late=bool(m["late"]),
                    order=int(m["file"]), resubmission=int(again[1]) if again else 0, uploaded=uploaded)


def _moodle(m):
    return Identity(Lms.MOODLE, name=m["name"], participant=m["pid"], uploaded=m["uploaded"])


def _blackboard(m):
    try:
        when = datetime.strptime(m["when"], "%Y-%m-%d-%H-%M-%S")
    except ValueError:
        return None
    return Identity(Lms.BLACKBOARD, username=m["user"], when=when, receipt_key=m["key"],
                    is_receipt=bool(m["receipt"]), uploaded=m["uploaded"] or "")


def _brightspace(m):
    if m["mon"] not in MONTHS:
        return None
    hour, minute = int(m["hour"]), int(m["minute"])
    if not 1 <= hour <= 12:
        return None
    try:
        when = datetime(int(m["year"]), MONTHS.index(m["mon"]) + 1, int(m["day"]),
                        hour % 12 + (12 if m["ampm"] == "PM" else 0), minute)
    except ValueError:
        return None
    return Identity(Lms.BRIGHTSPACE, name=m["name"], when=when, order=int(m["sub"]), uploaded=m["uploaded"] or "")


PATTERNS = {Lms.CANVAS: (CANVAS, _canvas), Lms.MOODLE: (MOODLE, _moodle),
            Lms.BLACKBOARD: (BLACKBOARD, _blackboard), Lms.BRIGHTSPACE: (BRIGHTSPACE, _brightspace)}


def parse_name(name, lms):
    """The :class:`Identity` in one file or folder name, or None when ``lms`` does not name so."""
    pattern, make = PATTERNS[Lms(lms)]
    m = pattern.match(name)
    return make(m) if m else None


def identity_of(parts, lms):
    """The :class:`Identity` of a file at ``parts`` (its path in the download, across nested zips):
    from its own name, else the nearest folder or zip around it that the LMS named."""
    for part in reversed(parts):
        found = parse_name(part, lms)
        if found is not None:
            return found
    return None


def detect(paths):
    """The LMS whose naming most of ``paths`` (tuples of parts) follow, or None when none does."""
    counts = {lms: sum(identity_of(p, lms) is not None for p in paths) for lms in Lms}
    best = max(counts.values(), default=0)
    if best == 0:
        return None
    winners = [lms for lms, n in counts.items() if n == best]
    return winners[0] if len(winners) == 1 else None


def receipt_identity(text):
    """(full name, username) from a Blackboard receipt's ``Name: ... (username)`` line, or None."""
    m = RECEIPT_NAME.search(text)
    return (m["name"], m["user"]) if m else None

"""``malaria-lab course collect DOWNLOAD``: an LMS's bulk download of an assignment (students'
notebooks from Colab, Binder or their own JupyterLab), put where nbgrader and ``malaria-lab course
grade`` read it, with no file moved by hand.

For each file of the download (:mod:`.collect_archive`): *who* handed it in, from the LMS's naming
(:mod:`.collect_names`) mapped to the course's student ids through the LMS's roster
(:mod:`.collect_roster`); *which stage*, from the notebook's content (:mod:`.notebook_stage`),
whatever the file is called. Of several hand-ins of one student and stage the newest is kept. Then
:mod:`.collect_write` writes the hand-ins and the students. Every file of the download ends as one
row of the table, imported or not, and why.
"""

import hashlib
import tempfile
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from enum import Enum
from pathlib import Path

from ..errors import MalariaLabError
from .collect_archive import walk
from .collect_names import Lms, detect, identity_of, receipt_identity
from .collect_roster import HELP, Person, read_roster
from .collect_write import Written, nbgrader_time, save_roster, update_gradebook, write_handin
from .coursedir import is_student_id
from .notebook_stage import Stages
from .submitted import shown

JUNK = (".DS_Store", "Thumbs.db", "desktop.ini")


class Outcome(str, Enum):
    """What became of one file of the download."""
    IMPORTED = "imported"
    REPLACED = "replaced"
    UNCHANGED = "already there"
    OLDER = "older hand-in"
    LMS_FILE = "LMS's own file"
    IGNORED = "ignored"
    KEPT = "kept existing"
    NOT_IMPORTED = "NOT imported"


FAILED = (Outcome.KEPT, Outcome.NOT_IMPORTED)  # what makes the command exit 1
WRITTEN = {Written.IMPORTED: Outcome.IMPORTED, Written.REPLACED: Outcome.REPLACED,
           Written.UNCHANGED: Outcome.UNCHANGED, Written.KEPT: Outcome.KEPT, Written.REFUSED: Outcome.NOT_IMPORTED}


@dataclass
class Row:
    file: str
    outcome: Outcome
    student: str = ""
    stage: str = ""
    detail: str = ""


@dataclass
class Result:
    lms: Lms
    rows: list
    notes: list = field(default_factory=list)
    added: int = 0  # students added to the gradebook
    updated: int = 0  # students whose name, e-mail or LMS id the gradebook lacked

    @property
    def failed(self):
        return [r for r in self.rows if r.outcome in FAILED]

    def count(self, outcome):
        return sum(r.outcome is outcome for r in self.rows)


@dataclass
class _HandIn:
    row: Row
    person: Person
    stage: str
    spool: Path
    sha: str
    when: object  # an aware datetime, or None
    late: bool
    order: object
    resubmission: int
    mtime: object


def _zone(name):
    if not name:
        return None
    # zoneinfo reads the system's time zone data only when a zone is named.
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise MalariaLabError(f"No time zone {name!r}.", "Give a zone name such as Europe/London or "
                              "America/New_York (the LMS's, for the times in its file names).") from None


def _aware(when, zone):
    """An LMS's time (naive) in ``zone``, else in this computer's zone."""
    if when is None:
        return None
    return when.replace(tzinfo=zone) if zone else when.astimezone()


def _junk(parts):
    return "__MACOSX" in parts or parts[-1] in JUNK or parts[-1].startswith("._")


def _spool(members, folder):
    """[(member without its bytes, path of its bytes or None)], so that no download sits in memory."""
    out = []
    for i, member in enumerate(members):
        path = None
        if member.data is not None:
            path = folder / f"{i}.bin"
            path.write_bytes(member.data)
        out.append((replace(member, data=None), path))
    return out


def _newer(a, b):
    """(the newer of two hand-ins, by what), or (None, why not) when nothing tells them apart."""
    for what, ka, kb in (("the LMS's time", a.when, b.when), ("the LMS's upload order", a.order, b.order),
                         ("Canvas's -N", a.resubmission, b.resubmission), ("the zip's file times", a.mtime, b.mtime)):
        if ka is not None and kb is not None and ka != kb:
            return (a if ka > kb else b), what
    return None, "nothing in the download says which is newer"


class _Collect:
    def __init__(self, course_dir, lms, roster, stages, zone):
        self.course_dir, self.lms, self.roster, self.stages, self.zone = course_dir, lms, roster, stages, zone
        self.known = Stages.of_course(course_dir)
        self.rows, self.handins, self.receipts = [], [], {}

    def receipts_of(self, members):
        for member, spool in members:
            who = identity_of(member.parts, self.lms) if not member.problem else None
            if who and who.is_receipt and spool is not None:
                found = receipt_identity(spool.read_bytes().decode("utf-8", "replace"))
                if found:
                    self.receipts[(member.parts[:-1], who.receipt_key)] = found

    def triage(self, member, spool):
        row = Row(shown(member.path), Outcome.NOT_IMPORTED)
        self.rows.append(row)
        if member.problem:
            row.detail = f"{member.problem.value} ({member.detail})" if member.detail else member.problem.value
            return
        if _junk(member.parts):
            row.outcome, row.detail = Outcome.IGNORED, "the operating system's folder metadata"
            return
        if self.lms is Lms.BRIGHTSPACE and member.parts[-1].lower() == "index.html":
            row.outcome, row.detail = Outcome.LMS_FILE, "Brightspace's index of the download"
            return
        who = identity_of(member.parts, self.lms)
        if who is None:
            row.detail = f"a name the {self.lms.value.capitalize()} pattern does not match"
            return
        if who.is_receipt:
            row.outcome, row.detail = Outcome.LMS_FILE, "Blackboard's receipt (read for the student's name)"
            return
        receipt = self.receipts.get((member.parts[:-1], who.receipt_key)) if who.receipt_key else None
        if receipt:
            who = replace(who, name=receipt[0], username=receipt[1])
        if spool is None:
            row.detail = "not a notebook"
            return
        data = spool.read_bytes()
        verdict = self.known.identify_bytes(data)
        if not verdict.stage:
            row.detail = str(verdict)
            return
        row.stage = verdict.stage
        if self.stages and verdict.stage not in self.stages:
            row.detail = f"a notebook of {verdict.stage}, and --stage asks for {', '.join(self.stages)}"
            return
        person, why = self._person(who)
        if person is None:
            row.detail = f"unknown student ({why})"
            return
        row.student = person.student
        self.handins.append(_HandIn(row, person, verdict.stage, spool, hashlib.sha256(data).hexdigest(),
                                    _aware(who.when, self.zone), who.late, who.order, who.resubmission,
                                    member.mtime))

    def _person(self, who):
        if self.roster is not None:
            return self.roster.find(who)
        if not is_student_id(who.username):
            return None, f"username {who.username!r} is not a plain name (letters, digits, . _ @ -)"
        first, _, last = (who.name or "").rpartition(" ")
        return Person(who.username, first, last, username=who.username), ""

    def newest(self):
        """The hand-in to write for each (student, stage); the others' rows say why not."""
        groups = {}
        for h in self.handins:
            groups.setdefault((h.person.student, h.stage), []).append(h)
        chosen = []
        for group in groups.values():
            best, undecided = group[0], []
            for other in group[1:]:
                if other.sha == best.sha:
                    newer = best if _newer(best, other)[0] is not other else other
                    why = "the same notebook"
                else:
                    newer, why = _newer(best, other)
                if newer is None:
                    undecided.append(why)
                    continue
                older = other if newer is best else best
                older.row.outcome = Outcome.OLDER
                older.row.detail = f"{newer.row.file} was taken ({why})"
                best = newer
            if undecided:
                for h in group:
                    h.row.outcome = Outcome.NOT_IMPORTED
                    h.row.detail = (f"one of {len(group)} different hand-ins of {h.person.student}'s {h.stage}: "
                                    f"{undecided[0]}; put the right one in submitted/ by hand")
                continue
            chosen.append(best)
        return chosen

    def write(self, handin, download, force):
        row = handin.row
        provenance = {"lms": self.lms.value, "download": Path(download).name, "file": row.file,
                      "sha256": handin.sha, "late": handin.late,
                      "submitted": nbgrader_time(handin.when) if handin.when else None,
                      "collected": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        written, where = write_handin(self.course_dir, handin.person.student, handin.stage,
                                      handin.spool.read_bytes(), handin.when, provenance, force)
        row.outcome = WRITTEN[written]
        flags = (["late"] if handin.late else []) + ([f"handed in {handin.when:%Y-%m-%d %H:%M %Z}"]
                                                     if handin.when else [])
        row.detail = where + (f" ({', '.join(flags)})" if flags else "")


def collect(course_dir, download, lms=None, roster=None, stages=None, force=False, zone=None, limits=None):
    """Collect ``download`` into ``course_dir`` (see the module docstring); returns the :class:`Result`."""
    course_dir = Path(course_dir)
    people = read_roster(Path(roster)) if roster else None
    zone = _zone(zone)
    with tempfile.TemporaryDirectory(prefix="malaria-lab-collect-") as scratch:
        members = _spool(walk(download, limits), Path(scratch))
        if not members:
            raise MalariaLabError(f"{download} holds no files.", "Give the LMS's zip of the assignment's submissions.")
        if lms in (None, "auto"):
            lms = detect([m.parts for m, _ in members if not _junk(m.parts)])
            if lms is None:
                raise MalariaLabError(f"The names in {download} are not those of Canvas, Moodle, Blackboard or "
                                      "Brightspace, or fit two of them.", "Give --lms canvas, moodle, blackboard or "
                                      "brightspace.")
        lms = Lms(lms)
        if people is None and lms is not Lms.BLACKBOARD:
            raise MalariaLabError(f"{lms.value.capitalize()} names files by the student's name and LMS ids, not by "
                                  "the course's student ids.", f"Give --roster: {HELP}.")
        job = _Collect(course_dir, lms, people, tuple(stages or ()), zone)
        if not job.known.signatures:
            raise MalariaLabError(f"{course_dir} has no release or source notebooks to tell the stages by.",
                                  "Run `malaria-lab course build` first.")
        job.receipts_of(members)
        for member, spool in members:
            job.triage(member, spool)
        for handin in job.newest():
            job.write(handin, download, force)
    result = Result(lms, job.rows, list(people.notes) if people else [])
    landed = (Outcome.IMPORTED, Outcome.REPLACED, Outcome.UNCHANGED)
    everyone = people.people if people else list({h.person.student: h.person for h in job.handins
                                                  if h.row.outcome in landed}.values())
    if everyone:
        result.added, result.updated, notes = update_gradebook(course_dir, everyone, force)
        result.notes += notes
        save_roster(course_dir, everyone, lms.value)
    return result


ORDER = list(Outcome)


def format_result(result, download):
    """The end-of-run table: one line per file of the download, those not imported last."""
    rows = sorted(result.rows, key=lambda r: (ORDER.index(r.outcome), r.student, r.stage, r.file))
    width = max([len(r.student) for r in rows] + [7])
    lines = [f"{download} ({result.lms.value.capitalize()}'s naming): {len(rows)} file(s)"]
    for r in rows:
        lines.append(f"  {r.outcome.value:<15} {r.student or '-':<{width}} {r.stage or '-':<12} {r.file}"
                     + (f": {r.detail}" if r.detail else ""))
    counts = ", ".join(f"{result.count(o)} {o.value}" for o in ORDER if result.count(o) and o not in FAILED)
    lines.append(f"{counts or 'Nothing imported'}."
                 + (f" {len(result.failed)} file(s) NOT imported (above)." if result.failed else ""))
    if result.added or result.updated:
        lines.append(f"gradebook.db: {result.added} student(s) added, {result.updated} completed "
                     "(name, e-mail, LMS id).")
    lines += [f"  note: {n}" for n in result.notes]
    return "\n".join(lines)

"""How ``submitted/`` is read: nbgrader's ``submitted/<student>/<stage>/<stage>.ipynb``, one job
per (student, stage), and every other notebook there named in words, never passed over in silence.

It is read as hostile input: regular files and folders only, never following a symbolic link
(:mod:`.nofollow`), and no notebook over 50 MB. Which stage a notebook is comes from its content
(:mod:`.notebook_stage`), never its name: a notebook not named ``<stage>.ipynb`` (Colab's ``Copy of
02_split.ipynb``) is graded when it is the only notebook of that stage in the student's stage
folder, and the summary says so; a notebook of another stage, of no stage of this course, or one
of several, is named and not graded.
"""

import fnmatch
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from ..settings import STAGES
from . import coursedir, nofollow
from .nofollow import Kind, Refused  # noqa: F401 (Refused: what read() raises)
from .notebook_stage import MAX_BYTES, NotANotebook, Stages, parse

MAX_DEPTH = 4  # how deep notebooks are looked for inside a stage folder


class Job(NamedTuple):
    """One hand-in to grade; ``path`` is the notebook, whatever its name."""
    student: str
    stage: str
    path: Path


@dataclass
class Found:
    """What ``submitted/`` holds: the jobs, and one line per thing worth saying."""
    jobs: list = field(default_factory=list)
    problems: list = field(default_factory=list)  # not graded, and why
    notes: list = field(default_factory=list)  # graded, in a way worth saying (a renamed notebook)

    def lines(self):
        return self.problems + self.notes


def shown(name):
    """A file name as it can be printed on one line (a student chose it)."""
    return name if name.isprintable() else ascii(name)[1:-1]


def _ignored(name):
    """nbgrader's ignored names, and hidden files that are not notebooks (.DS_Store...)."""
    return (any(fnmatch.fnmatch(name, p) for p in coursedir.IGNORED)
            or (name.startswith(".") and not name.lower().endswith(".ipynb")))


def _is_notebook_name(name):
    return name.lower().endswith(".ipynb")


class _Reader:
    def __init__(self, course_dir, stages):
        self.course_dir, self.stages = Path(course_dir), stages
        self.found = Found()
        self._known = None

    @property
    def known(self):
        """The course's stages by content, read once, when a notebook must be identified."""
        if self._known is None:
            self._known = Stages.of_course(self.course_dir)
        return self._known

    def student(self, fd, student):
        where = f"submitted/{student}"
        for name, kind in nofollow.entries(fd):
            if _ignored(name):
                continue
            here = f"{where}/{shown(name)}"
            if name not in STAGES:
                if kind is Kind.FOLDER or _is_notebook_name(name):
                    self.found.problems.append(f"{here}: not a stage of this course: not graded")
                continue
            if name not in self.stages:
                continue
            if kind is not Kind.FOLDER:
                self.found.problems.append(f"{here}: a {kind.value}, not a folder: not graded")
                continue
            try:
                with nofollow.opened(name, fd) as stage_fd:
                    self.stage(stage_fd, student, name)
            except Refused as err:
                self.found.problems.append(f"{here}: {err}")

    def stage(self, fd, student, stage):
        where = f"submitted/{student}/{stage}"
        expected = f"{stage}.ipynb"
        notebooks = {}
        for name, kind in nofollow.entries(fd):
            if _ignored(name):
                continue
            if kind is Kind.FOLDER:
                self._nested(fd, name, f"{where}/{shown(name)}", 1)
            elif _is_notebook_name(name):
                notebooks[name] = kind
        verdicts = {}
        for name, kind in notebooks.items():
            here = f"{where}/{shown(name)}"
            if kind is not Kind.FILE:
                self.found.problems.append(f"{here}: a {kind.value}: not followed, not graded")
                continue
            try:
                verdicts[name] = self._verdict(fd, name)
            except Refused as err:
                self.found.problems.append(f"{here}: {err}: not graded")
        if expected in notebooks:
            if expected in verdicts:
                self._take(student, stage, expected, verdicts.pop(expected), named=True)
            for name in verdicts:
                self.found.problems.append(f"{where}/{shown(name)}: not graded: {expected} is the hand-in")
            return
        ours = [n for n, v in verdicts.items() if v == stage]
        for name, verdict in verdicts.items():
            if name in ours and len(ours) == 1:
                self._take(student, stage, name, verdict, named=False)
            elif name not in ours:
                self.found.problems.append(f"{where}/{shown(name)}: {self._not_this(verdict, stage)}: not graded")
        if len(ours) > 1:
            names = ", ".join(shown(n) for n in sorted(ours))
            self.found.problems.append(f"{where}: {len(ours)} notebooks of {stage} ({names}) and none named "
                                       f"{expected}: none graded; name the hand-in {expected}")

    def _verdict(self, fd, name):
        """The stage ``name`` is, as text; a damaged notebook is ``"damaged"`` (graded as the
        file it is only when it bears the stage's own name: the grader then says what is wrong)."""
        data = nofollow.read(name, fd, MAX_BYTES)
        try:
            nb = parse(data)
        except NotANotebook as err:
            return err
        verdict = self.known.identify(nb)
        return verdict.stage or verdict

    def _take(self, student, stage, name, verdict, named):
        where = f"submitted/{student}/{stage}/{shown(name)}"
        path = coursedir.folder(self.course_dir, coursedir.Kind.SUBMITTED, stage, student) / name
        if named and (verdict == stage or isinstance(verdict, NotANotebook)):
            self.found.jobs.append(Job(student, stage, path))  # a damaged one fails in the grader, with a record
        elif named:
            self.found.problems.append(f"{where}: {self._not_this(verdict, stage)}: not graded")
        else:
            self.found.jobs.append(Job(student, stage, path))
            self.found.notes.append(f"{where}: graded as {student}'s {stage} (the only notebook of {stage} "
                                    f"there, though not named {stage}.ipynb)")

    @staticmethod
    def _not_this(verdict, stage):
        if isinstance(verdict, str):
            return f"a notebook of {verdict}, not of {stage}"
        return str(verdict)

    def _nested(self, fd, name, where, depth):
        """Name the notebooks in a subfolder of a hand-in: nbgrader grades only the stage's folder."""
        if depth > MAX_DEPTH:
            return
        try:
            with nofollow.opened(name, fd) as inner:
                for child, kind in nofollow.entries(inner):
                    if _ignored(child):
                        continue
                    if kind is Kind.FOLDER:
                        self._nested(inner, child, f"{where}/{shown(child)}", depth + 1)
                    elif _is_notebook_name(child):
                        self.found.problems.append(f"{where}/{shown(child)}: a notebook in a subfolder of the "
                                                   "hand-in: not graded")
        except Refused as err:
            self.found.problems.append(f"{where}: {err}")


def find_jobs(course_dir, stages=None, students=None):
    """The :class:`Found` jobs and problems of ``submitted/`` (``stages`` and ``students`` narrow it)."""
    stages = tuple(stages or STAGES)
    reader = _Reader(course_dir, stages)
    found = reader.found
    root = coursedir.students_dir(course_dir)
    if not root.is_dir():
        found.problems += [f"submitted/{s}: no such folder" for s in students or ()]
        return found
    with nofollow.opened(root) as root_fd:
        listing = nofollow.entries(root_fd)
        names = {name for name, _ in listing}
        found.problems += [f"submitted/{s}: no such folder" for s in students or () if s not in names]
        for name, kind in listing:
            if (students and name not in students) or _ignored(name):
                continue
            here = f"submitted/{shown(name)}"
            if kind is not Kind.FOLDER:
                if kind is not Kind.FILE or _is_notebook_name(name):
                    found.problems.append(f"{here}: a {kind.value}, not a student's folder: not graded")
                continue
            if not coursedir.is_student_id(name):
                found.problems.append(f"{here}: not a student id (letters, digits, . _ @ -): not graded")
                continue
            try:
                with nofollow.opened(name, root_fd) as student_fd:
                    reader.student(student_fd, name)
            except Refused as err:
                found.problems.append(f"{here}: {err}")
    return found


def read(course_dir, path, limit=None):
    """The bytes of a file of a job (its notebook, its timestamp), opened without following any
    link on the way (:class:`~.nofollow.Refused` for a link, a special file, or one over ``limit``
    bytes, 50 MB by default)."""
    root = coursedir.students_dir(course_dir)
    student, stage, name = Path(path).relative_to(root).parts
    with nofollow.opened(root) as fd, nofollow.opened(student, fd) as s_fd, nofollow.opened(stage, s_fd) as t_fd:
        return nofollow.read(name, t_fd, MAX_BYTES if limit is None else limit)

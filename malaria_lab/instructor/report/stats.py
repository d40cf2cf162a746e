"""The report's figures, from the records alone: per stage, per exercise (with its
discrimination), per check, and the common wrong answers."""

import math
import statistics
from dataclasses import dataclass, field

from ...checks import load_stage
from ...checks.results import Outcome, Status

EPS = 1e-9
TOO_EASY = 0.95  # share of full marks at or above which an exercise is too easy
TOO_HARD = 0.20  # share scoring anything at or below which it is too hard
LOW_DISCRIMINATION = 0.2
MIN_STUDENTS = 3  # fewer, and no correlation is worth computing
UNDEFINED_SAME = "undefined: everyone scored the same"
UNDEFINED_REST = "undefined: everyone scored the same on the rest of the stage"
UNDEFINED_FEW = f"undefined: fewer than {MIN_STUDENTS} students"


@dataclass
class Group:
    """Students who failed the same checks and were shown the same message."""

    failed: tuple
    message: str
    students: list
    mean_points: float
    example: str  # the student whose answer is shown ("" when no answer was recorded)


@dataclass
class CheckStats:
    """One check's figures, counted under its stable ``id`` and shown with its declared wording."""

    id: str
    what: str
    hidden: bool
    ran: int = 0  # students whose answer this check ran on
    failed: int = 0
    not_attempted: int = 0


@dataclass
class ExerciseStats:
    stage: str
    id: str
    title: str
    max_points: float
    students: int = 0
    mean: float = None
    median: float = None
    full: int = 0
    partial: int = 0
    zero: int = 0
    not_attempted: int = 0
    discrimination: float = None
    discrimination_note: str = ""
    flags: list = field(default_factory=list)
    checks: list = field(default_factory=list)
    groups: list = field(default_factory=list)

    def share(self, count) -> float | None:
        return count / self.students if self.students else None


@dataclass
class StageStats:
    stage: str
    title: str
    max_points: float
    present: bool
    graded: list  # the graded records
    failed: list  # records with no verdict
    not_submitted: list  # students of the course with no record of this stage
    exercises: list

    @property
    def submissions(self) -> int:
        return len(self.graded) + len(self.failed)

    @property
    def scores(self) -> list:
        return [r["score"] for r in self.graded]

    @property
    def full_marks(self) -> int:
        return sum(r["score"] >= r["max_score"] - EPS for r in self.graded)

    @property
    def untouched(self) -> int:
        """Graded submissions in which no exercise was attempted."""
        return sum(all(e["status"] == Status.NOT_ATTEMPTED for e in r["exercises"]) for r in self.graded)


def pearson(xs, ys) -> float | None:
    """Pearson's r, or None when either side does not vary."""
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys))
    sxx = sum((x - mx) ** 2 for x in xs)
    syy = sum((y - my) ** 2 for y in ys)
    if sxx <= EPS or syy <= EPS:
        return None
    return max(-1.0, min(1.0, sxy / math.sqrt(sxx * syy)))


def _declared(stage):
    decl = load_stage(stage)
    return decl.title, {ex.id: ex for ex in decl}


def check_key(check, by_wording) -> str:
    """What a recorded check is counted under: its id, else (a record from before checks had ids)
    the id of the declared check worded the same, else its wording."""
    return check.get("id") or by_wording.get(check["what"], check["what"])


def _exercise(stage, ex_id, title, max_points, checks, graded):
    st = ExerciseStats(stage, ex_id, title, max_points, students=len(graded))
    by_wording = {what: check_id for check_id, what, _ in checks}
    checks = {check_id: CheckStats(check_id, what, hidden) for check_id, what, hidden in checks}
    points, rest, groups = [], [], {}
    for record in graded:
        entry = next((e for e in record["exercises"] if e["id"] == ex_id), None)
        p = entry["points"] if entry else 0.0
        points.append(p)
        rest.append(record["score"] - p)
        if entry is None or entry["status"] == Status.NOT_ATTEMPTED:
            st.not_attempted += 1
        elif p >= max_points - EPS:
            st.full += 1
        elif p > EPS:
            st.partial += 1
        else:
            st.zero += 1
        failed = []
        for check in entry["checks"] if entry else ():
            key = check_key(check, by_wording)
            c = checks.setdefault(key, CheckStats(key, check["what"], check["hidden"]))
            c.ran += 1
            c.failed += check["outcome"] == Outcome.WRONG
            c.not_attempted += check["outcome"] == Outcome.NOT_ATTEMPTED
            if check["outcome"] == Outcome.WRONG:
                failed.append(key)
        if entry and entry["status"] == Status.WRONG:
            groups.setdefault((tuple(failed), entry["message"]), []).append((record, p))
    st.checks = list(checks.values())
    st.groups = sorted((_group((tuple(checks[k].what for k in key[0]), key[1]), members, ex_id)
                        for key, members in groups.items()),
                       key=lambda g: (-len(g.students), g.message))
    if points:
        st.mean, st.median = statistics.fmean(points), statistics.median(points)
        _discrimination(st, points, rest)
    return st


def _group(key, members, ex_id):
    students = sorted(r["student"] for r, _ in members)
    with_answer = sorted(r["student"] for r, _ in members
                         if any(e["id"] == ex_id and e["answer"] for e in r["exercises"]))
    return Group(key[0], key[1], students, statistics.fmean(p for _, p in members),
                 with_answer[0] if with_answer else "")


def _discrimination(st, points, rest):
    """The corrected item-total correlation, and the flags it and the shares call for."""
    if len(points) < MIN_STUDENTS:
        st.discrimination_note = UNDEFINED_FEW
    else:
        st.discrimination = pearson(points, rest)
        if st.discrimination is None:
            st.discrimination_note = UNDEFINED_SAME if max(points) - min(points) <= EPS else UNDEFINED_REST
    if st.share(st.full) >= TOO_EASY:
        st.flags.append("too easy")
    if st.share(sum(p > EPS for p in points)) <= TOO_HARD:
        st.flags.append("too hard")
    if len(points) >= MIN_STUDENTS and (st.discrimination is None or st.discrimination < LOW_DISCRIMINATION):
        st.flags.append("does not discriminate")


def stage_stats(cls, stage) -> StageStats:
    """:class:`StageStats` of one stage of a :class:`~.load.Class`."""
    title, declared = _declared(stage)
    mine = [r for (s, _), r in cls.records.items() if s == stage]
    graded = [r for r in mine if r["status"] == "graded"]
    failed = [r for r in mine if r["status"] == "failed"]
    submitted = {r["student"] for r in mine}
    exercises = {ex_id: (ex.title, ex.points, [(c.id, c.what, c.hidden) for c in ex.checks])
                 for ex_id, ex in declared.items()}
    for record in graded:  # exercises the records know and the declaration does not (an older course)
        for e in record["exercises"]:
            if e["id"] not in exercises:
                exercises[e["id"]] = (e["title"], e["max_points"], [])
    stats = [_exercise(stage, ex_id, t, p, checks, graded) for ex_id, (t, p, checks) in exercises.items()]
    max_points = sum(s.max_points for s in stats)
    return StageStats(stage, title, max_points, stage in cls.present, graded, failed,
                      [s for s in cls.people if s not in submitted], stats)


def class_stats(cls) -> dict:
    """{stage: StageStats} for every stage the report covers."""
    return {stage: stage_stats(cls, stage) for stage in cls.stages}

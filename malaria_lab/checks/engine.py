"""The checks engine: each exercise is declared once, and everything else comes from that.

An :class:`Exercise` says which names the student defines, what a right answer looks like (a list
of small check functions, some of them hidden until grading), a few hints from gentle to
explicit, the solution, and the points. From that one declaration come:

* ``q1.check()`` in the notebook: runs the public checks on the student's names and says, in
  terms of the task, what (if anything) to fix;
* ``q1.hint()``, ``q1.hint(2)``, ``q1.solution()`` for self-study;
* :func:`grade`, which nbgrader's hidden test cells call through a fresh copy of this package
  (see ``fresh.py``), so redefining ``q1`` or patching this module cannot change a grade.

A check never raises into the notebook. It returns a :class:`Result`, shown as a coloured
message, whose plain-text form is the points earned: that is how nbgrader reads partial
credit from a test cell, and it keeps tracebacks (which show cell source) out of feedback.
Everything a check runs happens inside :func:`malaria_lab.quiet.muted`, because nbgrader scores any stderr output
in a test cell as a failure and Keras and TensorFlow write warnings there.
"""

import sys
import textwrap
from dataclasses import dataclass

from ..quiet import muted
from . import policy
from .hook import ALIASES
from .results import (
    MORE_AT_GRADING,
    NotAttempted,
    Outcome,
    Result,
    Status,
    Stopped,
    StudentRaised,
    Wrong,
    fmt,
    show,
)

# --- helpers for writing checks ------------------------------------------------------------


def expect(condition, message):
    """Fail with ``message`` unless ``condition`` holds."""
    if not condition:
        raise Wrong(message)


def call(function, *args, label=None, **kwargs):
    """Call the student's ``function``; their exceptions become messages, not crashes.

    ``NotImplementedError`` (what nbgrader puts in an untouched exercise) means not attempted.
    """
    label = label or f"{getattr(function, '__name__', 'your function')}(...)"
    if not callable(function):
        raise Wrong(f"`{label.split('(')[0]}` should be a function, but it is a "
                    f"{type(function).__name__}.")
    try:
        return function(*args, **kwargs)
    except NotImplementedError:
        raise NotAttempted(f"`{label.split('(')[0]}` still raises NotImplementedError: "
                           "replace that line with your code.") from None
    except (Wrong, NotAttempted):
        raise
    except StudentRaised as err:  # raised in the sandbox, reported by name (see .hook)
        raise Wrong(f"Calling `{label}` raised {err.student_type}: {_one_line(err)}") from None
    except Exception as err:  # the student's code failed: say how, in one line
        raise Wrong(f"Calling `{label}` raised {type(err).__name__}: {_one_line(err)}") from None


def same_object(answer, argument):
    """True when the student's function returned ``argument`` itself (here, or across the
    sandbox's wall, where the answer is a copy: see :mod:`.hook`)."""
    return answer is argument or ALIASES.stands_for(answer, argument)


def _one_line(err, limit=300):
    text = " ".join(str(err).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


# --- exercises ---------------------------------------------------------------------------


@dataclass
class Check:
    """One thing an answer must do. ``fn(*values)`` raises :class:`Wrong` when it does not.

    ``id`` names the check in grading records and the class report (``02_split.q3.leaves_no_part_empty``):
    stage, exercise and the check's name, so ``what`` (the wording students read) can change
    without splitting a class's statistics.
    """

    what: str
    fn: object
    hidden: bool = False
    weight: float = 1.0
    id: str = ""


class Exercise:
    """One exercise, declared once.

    ``names``: what the student defines (the checks get their values, in order).
    ``code``: the exercise cell as it appears in the source notebook, with the solution between
    ``### BEGIN SOLUTION`` and ``### END SOLUTION`` (nbgrader replaces that part for students).
    ``hints``: from gentle to explicit. ``points``: what full marks are worth.
    ``mistakes``: typical wrong answers (code replacing the solution region) with a piece of the
    message each must get; the tests run them, and so can instructors.
    """

    def __init__(self, id, title, points, names, code, hints, stage=None, mistakes=()):
        self.id = id
        self.title = title
        self.points = float(points)
        self.names = tuple(names)
        self.code = textwrap.dedent(code).strip("\n") + "\n"
        self.hints = tuple(textwrap.dedent(h).strip() for h in hints)
        self.stage = stage
        self.mistakes = tuple(mistakes)
        self.checks = []
        if "### BEGIN SOLUTION" not in self.code or "### END SOLUTION" not in self.code:
            raise ValueError(f"{id}: code needs a ### BEGIN SOLUTION / ### END SOLUTION region")

    # declaring checks
    def test(self, what, hidden=False, weight=1.0, name=None):
        """Decorator: add a check (``hidden`` ones run only at grading). ``name``: the check's stable
        name (default: the function's); pass the old one when renaming the function, so that
        records graded before still count with the new ones."""

        def add(fn):
            short = name or fn.__name__
            if not short.isidentifier() or short.strip("_") == "" or short == "<lambda>":
                raise ValueError(f"{self.id}: a check needs a name of its own, not {short!r}: {what}")
            check_id = f"{self.stage}.{self.id}.{short}"
            if any(c.id == check_id for c in self.checks):
                raise ValueError(f"{self.id}: two checks named {short!r}")
            self.checks.append(Check(what, fn, hidden, weight, check_id))
            return fn

        return add

    def hidden_test(self, what, weight=1.0, name=None):
        return self.test(what, hidden=True, weight=weight, name=name)

    @property
    def has_hidden(self):
        return any(c.hidden for c in self.checks)

    # the solution, as students see it and as the tests build answers
    @property
    def solution_code(self):
        """The exercise cell with the solution filled in and the markers removed."""
        return "".join(
            line for line in self.code.splitlines(keepends=True)
            if line.strip() not in ("### BEGIN SOLUTION", "### END SOLUTION")
        )

    def with_answer(self, answer):
        """The exercise cell with the solution region replaced by ``answer`` (indented to fit)."""
        lines = self.code.splitlines(keepends=True)
        start = next(i for i, l in enumerate(lines) if l.strip() == "### BEGIN SOLUTION")
        end = next(i for i, l in enumerate(lines) if l.strip() == "### END SOLUTION")
        indent = lines[start][: len(lines[start]) - len(lines[start].lstrip())]
        body = textwrap.indent(textwrap.dedent(answer).strip("\n") + "\n", indent)
        return "".join(lines[:start]) + body + "".join(lines[end + 1:])

    @property
    def starter_code(self):
        """What students get: nbgrader's stub in place of the solution."""
        return self.with_answer("# YOUR CODE HERE\nraise NotImplementedError()")

    # student-facing
    def check(self, *values):
        """Run the public checks on your answer and say what, if anything, to fix."""
        namespace = _caller_namespace() if not values else None
        return self.run(namespace=namespace, values=values or None, hidden=False)

    def hint(self, n=1):
        """Hint ``n`` of this exercise (1 is gentle; higher numbers say more), shown at once, so
        that ``q1.hint()`` and ``q1.hint(2)`` in one cell both show."""
        if not self.hints:
            return show(f"{self.id}: no hints for this one.")
        n = max(1, min(int(n), len(self.hints)))
        if n < len(self.hints):
            more = f"`{self.id}.hint({n + 1})` says more."
        else:  # a graded course does not offer the solution (checks/policy.py)
            more = ("That is the last hint." if policy.withheld(self.stage)
                    else f"`{self.id}.solution()` shows a solution.")
        # The hint is its own paragraph: one that opens with a code fence must start a line.
        return show(f"**Hint {n} of {len(self.hints)}** for {self.id}:\n\n{self.hints[n - 1].strip()}\n\n*{more}*")

    def solution(self):
        """A solution, to compare with yours once you have tried; one line instead where the course
        withholds solutions (see ``checks/policy.py``)."""
        if policy.withheld(self.stage):
            return show(policy.WITHHELD.format(id=self.id))
        return show(f"**Solution to {self.id}** ({self.title}):\n\n```python\n{self.solution_code}```")

    def __repr__(self):
        return f"<exercise {self.id}: {self.title} ({fmt(self.points)} points)>"

    # running
    def values_from(self, namespace):
        missing = [n for n in self.names if n not in namespace]
        if missing:
            raise NotAttempted(
                f"`{missing[0]}` is not defined yet: write it in the exercise cell above, run "
                "that cell, then run this one.")
        return tuple(namespace[n] for n in self.names)

    def run(self, namespace=None, values=None, hidden=True):
        """Check an answer (from ``namespace`` or explicit ``values``); returns a :class:`Result`.

        With ``hidden``, the hidden checks run too and every check counts toward partial credit;
        without, the public checks run in order and the first failure is reported.
        """
        with muted():
            try:
                values = tuple(values) if values is not None else self.values_from(namespace or {})
            except NotAttempted as err:
                return self._result(Status.NOT_ATTEMPTED, f"Not attempted: {err}", 0.0)
            checks = [c for c in self.checks if hidden or not c.hidden]
            outcomes = []
            for i, check in enumerate(checks):
                outcome, message = _run_check(check, values)
                outcomes.append((check, outcome, message))
                if outcome == _STOPPED:
                    outcomes[-1] = (check, Outcome.WRONG, message)
                    outcomes += [(c, Outcome.WRONG, f"Not run: {message}") for c in checks[i + 1:]]
                    break
                if outcome == Outcome.NOT_ATTEMPTED:
                    return self._result(Status.NOT_ATTEMPTED, f"Not attempted: {message}", 0.0,
                                        outcomes=outcomes)
                if outcome == Outcome.WRONG and not hidden:
                    break
        failed = [(c, m) for c, o, m in outcomes if o == Outcome.WRONG]
        total = sum(c.weight for c in checks) or 1.0
        earned = sum(c.weight for c, o, _ in outcomes if o == Outcome.OK)
        if not failed:
            if hidden or not self.has_hidden:
                return self._result(Status.CORRECT, "Correct: all checks passed.", self.points, outcomes=outcomes)
            return self._result(Status.PASSED_PUBLIC, f"Correct so far: {MORE_AT_GRADING}.", self.points,
                                outcomes=outcomes)
        points = round(self.points * earned / total, 2) if hidden else 0.0
        first_check, first_message = failed[0]
        if hidden and all(c.hidden for c, _ in failed):
            lead = "Public checks passed, but a check run at grading failed: "
        else:
            lead = "Not yet: "
        details = []
        if hidden:
            for _, message in failed[1:]:
                if message != first_message and message not in details and len(details) < 3:
                    details.append(message)
        return self._result(Status.WRONG, lead + first_message, points, details, outcomes)

    def _result(self, status, message, points, details=(), outcomes=()):
        checks = [{"id": c.id, "what": c.what, "hidden": c.hidden, "outcome": o, "message": m}
                  for c, o, m in outcomes]
        return Result(self.id, self.title, status, message, float(points), self.points, list(details), checks)


# A call that did not finish: the check counts as wrong and the exercise's other checks do not run.
_STOPPED = "stopped"


def _run_check(check, values):
    try:
        check.fn(*values)
    except NotAttempted as err:
        return Outcome.NOT_ATTEMPTED, str(err)
    except NotImplementedError:
        return Outcome.NOT_ATTEMPTED, "your code still raises NotImplementedError: replace that line."
    except Stopped as err:
        return _STOPPED, str(err)
    except Wrong as err:
        return Outcome.WRONG, str(err)
    except Exception as err:  # an answer of an unexpected shape broke the check: still its fault
        return Outcome.WRONG, (f"{check.what[0].upper()}{check.what[1:]}: checking it raised "
                         f"{type(err).__name__}: {_one_line(err)}")
    return Outcome.OK, ""


def _caller_namespace():
    """The globals of the notebook (or module) that called ``q.check()``."""
    frame = sys._getframe(2)
    return frame.f_globals


# --- stages ------------------------------------------------------------------------------


class Stage:
    """The exercises of one stage (one notebook), in order."""

    def __init__(self, name, title, prelude=""):
        self.name = name
        self.title = title
        self.prelude = textwrap.dedent(prelude).strip("\n") + "\n" if prelude else ""
        self.exercises = {}

    def exercise(self, id, title, points, names, code, hints, mistakes=()):
        ex = Exercise(id, title, points, names, code, hints, stage=self.name, mistakes=mistakes)
        self.exercises[id] = ex
        return ex

    @property
    def points(self):
        return sum(ex.points for ex in self.exercises.values())

    def __getitem__(self, id):
        return self.exercises[id]

    def __iter__(self):
        return iter(sorted(self.exercises.values(), key=lambda ex: ex.id))

    def __repr__(self):
        return f"<stage {self.name}: {len(self.exercises)} exercises, {fmt(self.points)} points>"


class Grader:
    """What a graded test cell calls in place of ``q1``: ``check()`` runs every check.

    The hidden part of a test cell rebinds ``q1`` to a Grader made by a fresh copy of this
    package, just before the cell's visible ``q1.check()`` line, so that line grades with all
    checks whatever the notebook did to ``q1`` before.
    """

    def __init__(self, exercise):
        self.exercise = exercise

    def check(self, *values):
        namespace = _caller_namespace() if not values else None
        return self.exercise.run(namespace=namespace, values=values or None, hidden=True)

    def hint(self, n=1):
        return self.exercise.hint(n)

    def solution(self):
        return self.exercise.solution()

    def __repr__(self):
        return f"<grader for {self.exercise!r}>"

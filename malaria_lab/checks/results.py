"""What checking an exercise says: a :class:`Result` (points, status, message), and the two
exceptions a check raises, :class:`Wrong` and :class:`NotAttempted`."""

import html
from dataclasses import dataclass, field
from enum import Enum


class _Word(str, Enum):
    """A str-valued name whose text is its value (in f-strings, CSV and JSON alike), so records
    written before these enums existed read the same."""

    def __str__(self):
        return self.value

    def __format__(self, spec):
        return format(self.value, spec)


class Status(_Word):
    """How an exercise did, as a record and the report keep it."""

    CORRECT = "correct"
    PASSED_PUBLIC = "passed public"  # public checks passed; hidden ones run at grading
    WRONG = "wrong"
    NOT_ATTEMPTED = "not attempted"


class Outcome(_Word):
    """How one check did."""

    OK = "ok"
    WRONG = "wrong"
    NOT_ATTEMPTED = "not attempted"


NOT_ATTEMPTED = Status.NOT_ATTEMPTED.value
MORE_AT_GRADING = "public checks passed; more checks run at grading"


class Wrong(Exception):
    """A check failed; ``str(err)`` tells the student what is wrong, in terms of the task."""


class NotAttempted(Exception):
    """The exercise still holds its starter code (or its names are not defined yet)."""


class StudentRaised(Exception):
    """The student's function, called across the sandbox's wall by the grader, raised an exception
    of type ``student_type`` (its name: the exception itself stays in the sandbox). The checks'
    :func:`~malaria_lab.checks.engine.call` reports it like one raised here."""

    def __init__(self, student_type: str, message: str) -> None:
        super().__init__(message)
        self.student_type = student_type


class Stopped(Wrong):
    """A call of the student's code did not finish (time limit, memory, a dead kernel): the
    exercise's remaining checks are not run."""


# --- results -----------------------------------------------------------------------------


@dataclass
class Result:
    """The outcome of checking one exercise.

    Its plain-text form is the points earned (``"2.0"``): nbgrader reads partial credit from
    that. Notebooks show the HTML form: a short message in words.
    """

    exercise: str
    title: str
    status: str  # a Status
    message: str
    points: float
    max_points: float
    details: list = field(default_factory=list)
    # Each check run: {"id", "what", "hidden", "outcome" (an Outcome), "message"}.
    checks: list = field(default_factory=list)

    @property
    def passed(self):
        return self.status in (Status.CORRECT, Status.PASSED_PUBLIC)

    def to_dict(self):
        """Plain data for JSON: what the class report and the grading record read."""
        return {"id": self.exercise, "title": self.title, "status": self.status, "message": self.message,
                "points": self.points, "max_points": self.max_points, "details": list(self.details),
                "checks": [dict(c) for c in self.checks],
                "failed": [c["what"] for c in self.checks if c["outcome"] == Outcome.WRONG]}

    def __repr__(self):
        return repr(float(self.points))

    def __float__(self):
        return float(self.points)

    def __str__(self):
        lines = [f"{self.exercise} ({self.title}): {self.message}"]
        lines += [f"  - {d}" for d in self.details]
        return "\n".join(lines)

    def _repr_html_(self):
        """The verdict: a mark and the points in the theme's own text colour (readable in light and
        dark themes alike), the status's colour only on the border, a graphic at 3:1 or more."""
        colour, mark = STYLE.get(self.status, STYLE[NOT_ATTEMPTED])
        items = "".join(f"<li>{html.escape(d)}</li>" for d in self.details)
        body = _markdown_code(html.escape(self.message))
        return (
            f'<div class="malaria-lab-result" style="border-left:4px solid {colour};padding:4px 10px;margin:2px 0">'
            f"<strong>{mark} {html.escape(self.exercise)} &middot; {html.escape(self.title)}</strong>"
            f" ({fmt(self.points)}/{fmt(self.max_points)} points)"
            f"<br>{body}{'<ul>' + _markdown_code(items) + '</ul>' if items else ''}</div>"
        )


# {status: (border colour, mark)}: the colours have 5:1 or more against white, and the mark and the
# words say the same without colour.
STYLE = {Status.CORRECT: ("#1b7f3b", "&#10004;"), Status.PASSED_PUBLIC: ("#1b7f3b", "&#10004;"),
         Status.WRONG: ("#b3261e", "&#10008;"), Status.NOT_ATTEMPTED: ("#6b6b6b", "&#9675;")}


def fmt(x):
    return f"{x:g}"


def _markdown_code(text):
    """`code` spans in a message shown as code."""
    parts = text.split("`")
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))


class Text(str):
    """Markdown text that notebooks render and terminals print as is."""

    def _repr_markdown_(self):
        return str(self)

    def __repr__(self):
        return str(self)


class _Shown(Text):
    """A Text already displayed: IPython shows nothing more when a cell ends with it."""

    def _ipython_display_(self):
        pass


def show(text):
    """Display ``text`` now in IPython (so several calls in one cell all show) and return it."""
    text = Text(text)
    try:
        from IPython import get_ipython  # only inside IPython is there anything to display on
    except ImportError:
        return text
    if get_ipython() is None:
        return text
    from IPython.display import display  # IPython is there: get_ipython() found a shell

    display(text)
    return _Shown(text)

"""The report's plots, as :class:`~malaria_lab.alt_text.Picture` (PNG and its text alternative,
written from the counts it shows): matplotlib's Figure without pyplot (no GUI, no global state),
so the page carries its pictures and opens from disk. Stacked bars tell their parts apart by
colour, hatching and a white gap, and say their counts in the description."""

from matplotlib.figure import Figure

from ...alt_text import Picture, describe
from ...palette import BLUE, OUTCOMES, SEPARATOR

DPI = 90


def _picture(fig):
    return Picture.of(fig, dpi=DPI, bbox_inches="tight")


def _stacked(ax, labels, parts):
    """Horizontal bars of ``labels``, each split into ``parts`` ({name: [count per label]}), one
    cue of :data:`~malaria_lab.palette.OUTCOMES` per part, in order."""
    left = [0.0] * len(labels)
    for (name, counts), cue in zip(parts.items(), OUTCOMES):
        ax.barh(labels, counts, left=left, label=name, **cue.bar())
        left = [a + b for a, b in zip(left, counts)]
    ax.invert_yaxis()
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=len(parts), frameon=False, fontsize=8)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def _counts(labels, parts):
    """'01_download: full marks 12, below full marks 20, ...; 02_split: ...' for a description."""
    return "; ".join(f"{label}: " + ", ".join(f"{name} {counts[i]}" for name, counts in parts.items())
                     for i, label in enumerate(labels))


def glance(stats) -> Picture:
    """Per stage with submissions: full marks, other graded, could not be graded, not submitted."""
    stages = [s for s in stats.values() if s.submissions]
    fig = Figure(figsize=(7.5, 0.45 * len(stages) + 1.4))
    ax = fig.add_subplot()
    labels = [s.stage for s in stages]
    parts = {"full marks": [s.full_marks for s in stages],
             "below full marks": [len(s.graded) - s.full_marks for s in stages],
             "could not be graded": [len(s.failed) for s in stages],
             "not submitted": [len(s.not_submitted) for s in stages]}
    _stacked(ax, labels, parts)
    ax.set_xlabel("students")
    ax.set_title("Submissions per stage", fontsize=10)
    return _picture(describe(fig, f"Stacked bar chart, submissions per stage, in students: {_counts(labels, parts)}."))


def histogram(st) -> Picture:
    """The distribution of a stage's scores (graded submissions)."""
    fig = Figure(figsize=(5.0, 2.6))
    ax = fig.add_subplot()
    top = st.max_points or 1.0
    bins = max(4, min(20, int(round(top * 2))))
    counts, edges, _ = ax.hist(st.scores, bins=bins, range=(0, top), color=BLUE, edgecolor=SEPARATOR)
    ax.set_xlim(0, top)
    ax.set_xlabel(f"points (of {top:g})")
    ax.set_ylabel("students")
    ax.set_title(f"{st.stage}: scores of {len(st.graded)} graded submissions", fontsize=10)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    bars = [f"{edges[i]:g} to {edges[i + 1]:g}: {int(n)}" for i, n in enumerate(counts) if n]
    scores = sorted(st.scores)
    return _picture(describe(fig, f"Histogram, {st.stage}: scores of {len(st.graded)} graded submissions, from "
                                  f"{scores[0]:g} to {scores[-1]:g} points of {top:g}; students per score band: "
                                  + "; ".join(bars) + "."))


def exercises(st) -> Picture:
    """Per exercise: full, partial, zero, not attempted (students)."""
    items = st.exercises
    fig = Figure(figsize=(7.5, 0.45 * len(items) + 1.4))
    ax = fig.add_subplot()
    labels = [e.id for e in items]
    parts = {"full": [e.full for e in items], "partial": [e.partial for e in items],
             "zero": [e.zero for e in items], "not attempted": [e.not_attempted for e in items]}
    _stacked(ax, labels, parts)
    ax.set_xlabel("students")
    ax.set_title(f"{st.stage}: each exercise", fontsize=10)
    return _picture(describe(fig, f"Stacked bar chart, {st.stage}, students per exercise by points: "
                                  f"{_counts(labels, parts)}."))

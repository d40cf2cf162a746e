"""The report's plots, as PNG data URIs: matplotlib's Figure without pyplot (no GUI, no global
state), so the page carries its pictures and opens from disk."""

import base64
import io

from matplotlib.figure import Figure

COLOURS = {"full marks": "#1b7f3b", "below full marks": "#3b6ea8", "full": "#1b7f3b", "partial": "#e0a800",
           "zero": "#b3261e", "not attempted": "#9e9e9e", "could not be graded": "#6a3d9a", "not submitted": "#d9d9d9"}
DPI = 90


def _uri(fig):
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _stacked(ax, labels, parts):
    """Horizontal bars of ``labels``, each split into ``parts`` ({name: [count per label]})."""
    left = [0.0] * len(labels)
    for name, counts in parts.items():
        ax.barh(labels, counts, left=left, color=COLOURS[name], label=name)
        left = [a + b for a, b in zip(left, counts)]
    ax.invert_yaxis()
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=len(parts), frameon=False, fontsize=8)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def glance(stats):
    """Per stage with submissions: full marks, other graded, could not be graded, not submitted."""
    stages = [s for s in stats.values() if s.submissions]
    fig = Figure(figsize=(7.5, 0.45 * len(stages) + 1.4))
    ax = fig.add_subplot()
    _stacked(ax, [s.stage for s in stages], {
        "full marks": [s.full_marks for s in stages],
        "below full marks": [len(s.graded) - s.full_marks for s in stages],
        "could not be graded": [len(s.failed) for s in stages],
        "not submitted": [len(s.not_submitted) for s in stages]})
    ax.set_xlabel("students")
    ax.set_title("Submissions per stage", fontsize=10)
    return _uri(fig)


def histogram(st):
    """The distribution of a stage's scores (graded submissions)."""
    fig = Figure(figsize=(5.0, 2.6))
    ax = fig.add_subplot()
    top = st.max_points or 1.0
    bins = max(4, min(20, int(round(top * 2))))
    ax.hist(st.scores, bins=bins, range=(0, top), color="#3b6ea8", edgecolor="white")
    ax.set_xlim(0, top)
    ax.set_xlabel(f"points (of {top:g})")
    ax.set_ylabel("students")
    ax.set_title(f"{st.stage}: scores of {len(st.graded)} graded submissions", fontsize=10)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return _uri(fig)


def exercises(st):
    """Per exercise: full, partial, zero, not attempted (students)."""
    items = st.exercises
    fig = Figure(figsize=(7.5, 0.45 * len(items) + 1.4))
    ax = fig.add_subplot()
    _stacked(ax, [e.id for e in items], {
        "full": [e.full for e in items], "partial": [e.partial for e in items],
        "zero": [e.zero for e in items], "not attempted": [e.not_attempted for e in items]})
    ax.set_xlabel("students")
    ax.set_title(f"{st.stage}: each exercise", fontsize=10)
    return _uri(fig)

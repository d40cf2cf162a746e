"""The report's section *Answers to look at* and ``similar_answers.csv``, from
:mod:`.similarity`. Everything a student wrote is escaped: the instructor opens this page."""

import html
from pathlib import Path

from .similarity import NOT_TELLING, PUBLISHED, THRESHOLD, Kind
from .tables import number, write_csv

SHOWN = 10  # findings shown per exercise (the CSV has them all)
NAMES_SHOWN = 24  # students named per finding on the page (the CSV names them all)

CSS = """
.pair{display:grid;grid-template-columns:1fr 1fr;gap:10px}.pair figure{margin:0;min-width:0}
.pair figcaption{font-weight:bold;font-size:12px}.pair pre{margin:2px 0;max-width:none}
mark{background:#fff0a8;color:inherit}.finding{border-left:3px solid #d9d9d9;padding-left:10px;margin:12px 0}
"""

def esc(value) -> str:
    return html.escape(str(value), quote=True)


def marked(text, spans) -> str:
    """``text`` escaped, with the ``spans`` ([(start, end)]) that matched in ``<mark>``."""
    out, at = [], 0
    for start, end in sorted(spans):
        start, end = max(start, at), min(end, len(text))
        if end <= start:
            continue
        out += [esc(text[at:start]), "<mark>", esc(text[start:end]), "</mark>"]
        at = end
    return "".join(out + [esc(text[at:])])


def _who(students, names):
    shown = [PUBLISHED if s == PUBLISHED else names.of(s) for s in students[:NAMES_SHOWN]]
    more = len(students) - len(shown)
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")


def _caption(who, names):
    return "the published solution" if who == PUBLISHED else names.of(who)


def _finding(f, names):
    left, right = f.marks()
    share = ("identical once normalised" if f.identical else
             f"{f.similarity[0]:.0%} of the left answer's tokens are in the right one, "
             f"{f.similarity[1]:.0%} the other way")
    if f.kind is Kind.IDENTICAL:
        who = f"<b>{len(f.students)} students</b> gave this answer: {esc(_who(f.students, names))}"
    elif f.kind is Kind.PUBLISHED:
        count = f"{len(f.students)} student{'s' if len(f.students) != 1 else ''}"
        who = f"<b>{count}</b>, like the published solution: {esc(_who(f.students, names))}"
    else:
        who = (f"<b>{esc(_who(f.students, names))}</b> and <b>{esc(_who(f.others, names))}</b>")
    # tabindex: a long answer scrolls, and the keyboard must reach it (WCAG 2.1.1).
    sides = "".join(f"<figure><figcaption>{esc(_caption(w, names))}</figcaption>"
                    f'<pre tabindex="0">{marked(text, spans)}</pre></figure>'
                    for (w, text), spans in ((f.left, left), (f.right, right)))
    return (f'<div class="finding"><p>{who} ({esc(share)}; highlighted: what matched)</p>'
            f'<div class="pair">{sides}</div></div>')


def _summary_rows(similar):
    rows = []
    for stage, exercises in similar.items():
        for e in exercises:
            telling = "yes" if e.telling else f"not telling: {e.why_not_telling}"
            honest = (f"{e.honest_flagged} of {e.honest_pairs}" if e.honest_pairs else "none written")
            link = f'<a href="#similar-{esc(stage)}-{esc(e.id)}">{len(e.findings)}</a>' if e.findings else "0"
            rows.append(f"<tr><td>{esc(stage)}</td><td>{esc(e.id)}</td><td>{esc(e.title)}</td>"
                        f'<td class="n">{e.answers}</td><td class="n">{link}</td><td>{esc(honest)}</td>'
                        f"<td>{esc(telling)}</td></tr>")
    return "".join(rows)


def section(similar, names) -> str:
    """The whole section (empty when no stage has graded answers)."""
    if not similar:
        return ""
    head = ("<tr><th>stage</th><th>exercise</th><th>title</th><th>answers compared</th><th>to look at</th>"
            "<th>independently written answers that would be listed (pairs)</th><th>telling?</th></tr>")
    parts = [
        '<h2 id="similar">Answers to look at</h2>',
        "<p><b>This is for a person to review, never a verdict.</b> Students who studied together, "
        "followed the same hint or wrote the one obvious line can match honestly, and a determined copier "
        "can escape it; read the answers side by side, and talk to the students, before concluding "
        "anything.</p>",
        f'<p class="muted">Each exercise\'s attempted answers are compared with each other and with the '
        f"published solution, after taking out what every student was given (the <code>def</code> line, "
        f"the docstring, the stub) and normalising comments, blank lines, names of variables and layout "
        f"(winnowed fingerprints, as MOSS does, by copydetect). Listed: answers identical once normalised, "
        f"pairs where {THRESHOLD:.0%} or more of one answer's tokens are found in the other, and answers "
        f"like the published solution. An exercise is <i>not telling</i> where {NOT_TELLING:.0%} or more "
        "of the pairs of independently written correct answers would be listed too, or its solution is too "
        "short to fingerprint: there, alike answers say little.</p>",
        f"<table><thead>{head}</thead><tbody>{_summary_rows(similar)}</tbody></table>"]
    for stage, exercises in similar.items():
        for e in exercises:
            if not e.findings:
                continue
            parts.append(f'<h3 id="similar-{esc(stage)}-{esc(e.id)}">{esc(stage)} {esc(e.id)}: {esc(e.title)} '
                         f"({len(e.findings)} to look at)</h3>")
            if not e.telling:
                parts.append(f'<p><span class="flag">not telling</span> {esc(e.why_not_telling)}: honest '
                             "answers to it are alike, so these matches say little.</p>")
            parts += [_finding(f, names) for f in e.findings[:SHOWN]]
            if len(e.findings) > SHOWN:
                parts.append(f'<p class="muted">and {len(e.findings) - SHOWN} more (similar_answers.csv lists '
                             "them all).</p>")
    if not any(e.findings for exercises in similar.values() for e in exercises):
        parts.append('<p class="empty">No answers to look at: no two answers are alike, and none is like the '
                     "published solution.</p>")
    return "\n".join(parts)


def similar_csv(path, similar, names) -> Path:
    """similar_answers.csv: every finding, its students and how alike the answers are."""
    header = ["stage", "exercise", "kind", "identical", "similarity", "similarity_other_way", "students",
              "other_students", "student_count", "exercise_telling", "honest_pairs_listed", "honest_pairs"]
    rows = []
    for stage, exercises in similar.items():
        for e in exercises:
            for f in e.findings:
                rows.append([stage, e.id, f.kind.value, str(f.identical).lower(), number(f.similarity[0]),
                             number(f.similarity[1]), " ".join(names.of(s) for s in f.students),
                             " ".join(s if s == PUBLISHED else names.of(s) for s in f.others),
                             len(f.students) + sum(s != PUBLISHED for s in f.others),
                             str(e.telling).lower(), e.honest_flagged, e.honest_pairs])
    return write_csv(path, header, rows)

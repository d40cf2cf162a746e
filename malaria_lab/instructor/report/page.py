"""The report's page, ``index.html``: one self-contained file (plots embedded as PNG data, a few
lines of JavaScript to sort the tables), readable from disk with no server and no network."""

import html
import re
import statistics

from ...checks import load_stage
from . import figures, similar_section
from .stats import LOW_DISCRIMINATION, TOO_EASY, TOO_HARD
from .tables import number

TOP_GROUPS = 8
EXAMPLE_LINES = 14

CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:1150px;padding:0 16px;color:#222}
h1{margin-bottom:0}h2{border-bottom:2px solid #ddd;padding-bottom:4px;margin-top:36px}
table{border-collapse:collapse;margin:8px 0 16px}th,td{border:1px solid #ddd;padding:3px 8px;text-align:left;
vertical-align:top}th{background:#f3f3f3}th button{font:inherit;font-weight:bold;color:inherit;background:none;
border:0;padding:0;text-align:left;cursor:pointer}th{cursor:pointer}
th[aria-sort=ascending] button::after{content:" \\25B2"}
th[aria-sort=descending] button::after{content:" \\25BC"}
td.n{text-align:right;font-variant-numeric:tabular-nums}.empty{color:#6b6b6b;font-style:italic}
.flag{background:#fde7e4;color:#8a1c12;border-radius:3px;padding:0 5px;margin-right:4px;white-space:nowrap}
pre{background:#f7f7f7;border:1px solid #e3e3e3;padding:6px;overflow:auto;font-size:12px;max-width:1000px}
code{background:#f3f3f3;padding:0 3px}.muted{color:#6b6b6b}li{margin-bottom:6px}img{max-width:100%}
figure{margin:12px 0}figcaption{font-size:13px;max-width:1000px;margin-top:2px}
"""

# Each sortable header is a button (so the keyboard sorts too); aria-sort says the order to screen readers.
SCRIPT = """
document.querySelectorAll("table.sortable").forEach(function (table) {
  table.querySelectorAll("th button").forEach(function (button) {
    var th = button.parentNode, i = th.cellIndex;
    th.addEventListener("click", function () {  // the whole header cell, its button (keyboard) included
      var dir = th.getAttribute("aria-sort") === "ascending" ? "descending" : "ascending", body = table.tBodies[0];
      table.querySelectorAll("th").forEach(function (h) { h.removeAttribute("aria-sort"); });
      th.setAttribute("aria-sort", dir);
      function key(row) {
        var c = row.cells[i];
        return c.dataset.sort !== undefined ? c.dataset.sort : c.textContent.trim();
      }
      var rows = Array.prototype.slice.call(body.rows);
      var numeric = rows.every(function (r) { return key(r) !== "" && !isNaN(key(r)); });
      rows.sort(function (a, b) {
        var x = key(a), y = key(b), c = numeric ? x - y : x.localeCompare(y);
        return dir === "ascending" ? c : -c;
      });
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });
});
"""


def esc(value) -> str:
    return html.escape(str(value), quote=True)


def message_html(text) -> str:
    """A check's message with its `code` spans shown as code."""
    parts = esc(text).split("`")
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))


def td(text, sort=None, numeric=False, raw=False) -> str:
    attrs = (f' data-sort="{esc(sort)}"' if sort is not None else "") + (' class="n"' if numeric else "")
    return f"<td{attrs}>{text if raw else esc(text)}</td>"


def table(header, rows, sortable=True, id=None) -> str:
    head = "".join(f'<th scope="col"><button type="button">{esc(h)}</button></th>' if sortable
                   else f'<th scope="col">{esc(h)}</th>' for h in header)
    body = "".join(f"<tr>{''.join(cells)}</tr>" for cells in rows)
    attrs = (' class="sortable"' if sortable else "") + (f' id="{esc(id)}"' if id else "")
    return f"<table{attrs}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def num_td(value, digits=2) -> str:
    """A figure, sorting below every number when there is none."""
    return td(number(value, digits), sort=-1 if value is None else value, numeric=True)


def count_td(count, total) -> str:
    share = f" ({100 * count / total:.0f}%)" if total else ""
    return td(f"{count}{share}", sort=count, numeric=True)


def img(picture) -> str:
    """A plot: the image with its text alternative as ``alt`` and as a caption under it."""
    return picture.html()


def short_answer(stage, ex_id, answer) -> str:
    """The student's part of an answer cell: the template's fixed lines left out (``def`` lines
    kept for context), at most :data:`EXAMPLE_LINES` lines."""
    try:
        code = load_stage(stage)[ex_id].code
    except (KeyError, ValueError):
        code = ""
    start, end = code.find("### BEGIN SOLUTION"), code.find("### END SOLUTION")
    fixed = {line.strip() for line in (code[:start] + code[end:]).splitlines()} if start >= 0 else set()
    lines = [line for line in answer.rstrip().splitlines()
             if line.strip() and (line.strip() not in fixed or re.match(r"\s*(def|class) ", line))]
    if len(lines) > EXAMPLE_LINES:
        lines = lines[:EXAMPLE_LINES] + [f"# ... {len(lines) - EXAMPLE_LINES} more lines"]
    return "\n".join(lines)


# --- sections -----------------------------------------------------------------------------


def glance(stats, rows) -> str:
    header = ["stage", "title", "points", "submissions", "graded", "could not be graded", "not submitted",
              "nothing attempted", "full marks", "mean", "median"]
    out, lines = [], []
    for st in stats.values():
        if not st.present:
            out.append([td(st.stage), td(st.title), num_td(st.max_points)] + [td("\u2014", sort=-1)] * 8)
            lines.append(f"{st.stage}: not graded yet (no records).")
            continue
        n, graded = len(st.not_submitted) + st.submissions, len(st.graded)
        mean, median = (statistics.fmean(st.scores), statistics.median(st.scores)) if graded else (None, None)
        out.append([td(st.stage), td(st.title), num_td(st.max_points), td(st.submissions, numeric=True),
                    count_td(graded, n),
                    count_td(len(st.failed), n), count_td(len(st.not_submitted), n),
                    count_td(st.untouched, graded), count_td(st.full_marks, graded), num_td(mean),
                    num_td(median)])
        if not st.submissions:
            lines.append(f"{st.stage}: no submission was graded.")
    nothing = sum(r.submitted_nothing for r in rows)
    if nothing:
        lines.append(f"{nothing} of {len(rows)} students submitted nothing at all.")
    parts = ['<h2 id="glance">The class at a glance</h2>',
             f"<p>{len(rows)} students; shares of the students of the course, and, for "
             "<i>nothing attempted</i> and <i>full marks</i>, of the graded submissions.</p>",
             table(header, out, id="glance-table")]
    parts += [f'<p class="empty">{esc(line)}</p>' for line in lines]
    if any(st.submissions for st in stats.values()):
        parts.append(img(figures.glance(stats)))
    return "\n".join(parts)


def first_look(stats, names) -> str:
    """The flagged exercises and each stage's largest group of wrong answers: where to look first."""
    items = []
    for st in stats.values():
        for e in st.exercises:
            if e.flags:
                items.append(f'<a href="#{esc(e.stage)}-{esc(e.id)}">{esc(e.stage)} {esc(e.id)}</a> '
                             f"({esc(e.title)}): {esc(', '.join(e.flags))}")
        groups = [(g, e) for e in st.exercises for g in e.groups]
        if groups:
            g, e = max(groups, key=lambda ge: len(ge[0].students))
            items.append(f'<a href="#{esc(e.stage)}-{esc(e.id)}">{esc(e.stage)} {esc(e.id)}</a>: the most '
                         f"common wrong answer, {len(g.students)} of {e.students} students: "
                         f"{message_html(names.text(g.message))}")
    if not items:
        return ""
    return '<h2 id="first">Where to look first</h2><ul>' + "".join(f"<li>{i}</li>" for i in items) + "</ul>"


def skipped(cls, names) -> str:
    if not cls.skipped:
        return ""
    items = "".join(f"<li><code>{esc(names.text(path))}</code>: {esc(names.text(why))}</li>"
                    for path, why in cls.skipped)
    return (f'<h2 id="skipped">Records left out ({len(cls.skipped)})</h2><p>These files are not valid '
            f"grading records, and nothing in this report counts them:</p><ul>{items}</ul>")


def exercise_table(st) -> str:
    header = ["exercise", "title", "points", "mean", "median", "full", "partial", "zero", "not attempted",
              "discrimination", "flags"]
    out = []
    for e in st.exercises:
        disc = number(e.discrimination, 2) if e.discrimination is not None else e.discrimination_note
        flags = "".join(f'<span class="flag">{esc(f)}</span>' for f in e.flags)
        out.append([td(e.id), td(e.title), td(number(e.max_points), numeric=True),
                    num_td(e.mean), num_td(e.median),
                    *(count_td(c, e.students) for c in (e.full, e.partial, e.zero, e.not_attempted)),
                    td(disc, sort=e.discrimination if e.discrimination is not None else -2),
                    td(flags, sort=" ".join(e.flags), raw=True)])
    return table(header, out, id=f"exercises-{st.stage}")


def wrong_answers(cls, e, names) -> str:
    if not e.groups:
        return '<p class="empty">Nobody who attempted it got it wrong.</p>'
    items = []
    for g in e.groups[:TOP_GROUPS]:
        failed = "; ".join(g.failed) or "(no single check: the answer could not be checked)"
        example = ""
        if g.example:
            answer = next(x["answer"] for x in cls.records[(e.stage, g.example)]["exercises"] if x["id"] == e.id)
            example = (f"<details><summary>an example answer ({esc(names.of(g.example))})</summary>"
                       f'<pre tabindex="0">{esc(names.text(short_answer(e.stage, e.id, answer)))}</pre></details>')
        items.append(f"<li><b>{len(g.students)} student{'s' if len(g.students) != 1 else ''}</b> "
                     f"(mean {number(g.mean_points, 2)} of {number(e.max_points)} points): "
                     f"{message_html(names.text(g.message))}<br><span class=\"muted\">failed: "
                     f"{esc(failed)}</span>{example}</li>")
    more = len(e.groups) - TOP_GROUPS
    tail = f'<p class="muted">and {more} smaller groups (wrong_answers.csv lists them all).</p>' if more > 0 else ""
    return f"<ol>{''.join(items)}</ol>{tail}"


def exercise_section(cls, e, names) -> str:
    checks = [[td(c.what), td("hidden" if c.hidden else "public"), td(c.ran, numeric=True),
               count_td(c.failed, e.students)] for c in e.checks]
    return (f'<h3 id="{esc(e.stage)}-{esc(e.id)}">{esc(e.id)}: {esc(e.title)}</h3>'
            + table(["check", "run", "answers it checked", "students who failed it"], checks)
            + "<h4>The common wrong answers</h4>" + wrong_answers(cls, e, names))


def stage_section(cls, st, names) -> str:
    parts = [f'<h2 id="stage-{esc(st.stage)}">{esc(st.stage)}: {esc(st.title)}</h2>']
    if not st.present:
        return parts[0] + (f'<p class="empty">No grading records for this stage yet (there is no folder '
                           f"grading/jobs/{esc(st.stage)}): nothing to show.</p>")
    if not st.submissions:
        return parts[0] + (f'<p class="empty">grading/jobs/{esc(st.stage)} holds no valid record: no '
                           "submission of this stage has been graded, so there is nothing to plot.</p>")
    if st.failed:
        items = "".join(f"<li>{esc(names.of(r['student']))}: {esc(names.text(r['problem'] or 'no verdict'))}</li>"
                        for r in st.failed)
        parts.append(f"<details><summary>{len(st.failed)} submission(s) could not be graded</summary>"
                     f"<ul>{items}</ul></details>")
    if not st.graded:
        return "\n".join(parts + ['<p class="empty">No submission of this stage could be graded: no scores to '
                                  "show.</p>"])
    parts += [img(figures.histogram(st)), exercise_table(st),
              f'<p class="muted">Discrimination: the correlation of the exercise\'s points with the rest of '
              f"the stage's score. Flags: <i>too easy</i> at {TOO_EASY:.0%} full marks or more, <i>too hard</i> "
              f"when {TOO_HARD:.0%} or fewer score anything, <i>does not discriminate</i> below "
              f"{LOW_DISCRIMINATION} or when undefined.</p>",
              img(figures.exercises(st))]
    parts += [exercise_section(cls, e, names) for e in st.exercises]
    return "\n".join(parts)


def students_section(rows, stats, names) -> str:
    stages = list(stats)
    named = not names.anonymous and any(r.person.first_name or r.person.last_name for r in rows)
    header = ["student"] + (["name"] if named else []) + stages + ["total", "missing", "feedback"]
    out = []
    for r in rows:
        cells = [td(names.of(r.student))] + ([td(f"{r.person.first_name} {r.person.last_name}".strip())]
                                             if named else [])
        for s in stages:
            if s in r.scores:
                cells.append(num_td(r.scores[s][0]))
            else:
                cells.append(td("failed" if s in r.failed else "\u2014", sort=-1, numeric=True))
        links = []
        for s, (href, note) in r.feedback.items():
            links.append(f'<a href="{esc(href)}">{esc(s)}</a>' if href else f'<span class="muted">{esc(s)}: '
                         f"{esc(names.text(note))}</span>")
        cells += [num_td(r.total), td(names.text("; ".join(r.missing))),
                  td("<br>".join(links), raw=True)]
        out.append(cells)
    note = ("<p class=\"muted\">Feedback links are left out of an anonymised report (their paths hold "
            "student ids).</p>" if names.anonymous else "")
    return (f'<h2 id="students">Students ({len(rows)})</h2><p>Click a column\'s header to sort by it.</p>'
            + note + table(header, out, id="students-table"))


def render(cls, stats, rows, names, files, similar=None) -> str:
    """The whole page, as text (``similar``: :func:`.similarity.class_similarity`'s answers to look at)."""
    nav = " &middot; ".join(['<a href="#glance">at a glance</a>']
                            + [f'<a href="#stage-{esc(s)}">{esc(s)}</a>' for s in stats]
                            + (['<a href="#similar">answers to look at</a>'] if similar else [])
                            + ['<a href="#students">students</a>'])
    data = ", ".join(f'<a href="{esc(f)}">{esc(f)}</a>' for f in files)
    notes = "".join(f'<p class="muted">{esc(n)}</p>' for n in cls.notes)
    anon = "<p><b>Anonymised</b>: students appear under pseudonyms.</p>" if names.anonymous else ""
    body = "\n".join([f"<h1>Class report</h1><p class=\"muted\">{len(cls.records)} grading records of "
                      f"{len(rows)} students. The same figures as data: {data}.</p>", anon, notes,
                      f"<nav>{nav}</nav>", glance(stats, rows), first_look(stats, names), skipped(cls, names),
                      *(stage_section(cls, st, names) for st in stats.values()),
                      similar_section.section(similar, names), students_section(rows, stats, names)])
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>Class report</title>'
            f"<style>{CSS}{similar_section.CSS}</style></head><body>\n{body}\n<script>{SCRIPT}</script></body></html>\n")

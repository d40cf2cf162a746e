"""The report's figures as data: exercises.csv, checks.csv, wrong_answers.csv, students.csv."""

import csv
import io
from pathlib import Path

from ...atomic import write_text


def number(value, digits=3) -> str:
    """A figure for a table: rounded, without trailing zeros; "" when there is none (never NaN)."""
    if value is None:
        return ""
    text = f"{round(float(value), digits):.{digits}f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _cell(value):
    """Text a spreadsheet would run as a formula (``=``, ``+``, ``-``, ``@``) gets a leading quote:
    messages can quote a student's own text."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        try:
            float(value)
        except ValueError:
            return "'" + value
    return value


def write_csv(path, header, rows) -> Path:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows([_cell(c) for c in row] for row in rows)
    return write_text(path, buffer.getvalue())


def exercises_csv(path, stats) -> Path:
    header = ["stage", "exercise", "title", "max_points", "students", "mean", "median", "full", "partial",
              "zero", "not_attempted", "share_full", "share_partial", "share_zero", "share_not_attempted",
              "discrimination", "discrimination_note", "flags"]
    rows = []
    for st in stats.values():
        for e in st.exercises:
            counts = [e.full, e.partial, e.zero, e.not_attempted]
            rows.append([e.stage, e.id, e.title, number(e.max_points), e.students, number(e.mean),
                         number(e.median), *counts, *(number(e.share(c)) for c in counts),
                         number(e.discrimination), e.discrimination_note, "; ".join(e.flags)])
    return write_csv(path, header, rows)


def checks_csv(path, stats) -> Path:
    header = ["stage", "exercise", "check", "hidden", "students_checked", "failed", "share_failed",
              "not_attempted", "check_id"]
    rows = [[e.stage, e.id, c.what, str(c.hidden).lower(), c.ran, c.failed,
             number(c.failed / e.students if e.students else None), c.not_attempted, c.id]
            for st in stats.values() for e in st.exercises for c in e.checks]
    return write_csv(path, header, rows)


def wrong_answers_csv(path, stats, names) -> Path:
    header = ["stage", "exercise", "rank", "students", "share", "failed_checks", "message", "mean_points",
              "example", "student_ids"]
    rows = [[e.stage, e.id, rank, len(g.students), number(len(g.students) / e.students), "; ".join(g.failed),
             names.text(g.message), number(g.mean_points), names.of(g.example) if g.example else "",
             " ".join(sorted(names.of(s) for s in g.students))]
            for st in stats.values() for e in st.exercises for rank, g in enumerate(e.groups, start=1)]
    return write_csv(path, header, rows)


def students_csv(path, rows, stats, names) -> Path:
    stages = list(stats)
    header = ["student", "name", "email", *stages, "total", "max_total", "missing"]
    out = []
    for row in rows:
        p = row.person
        named = not names.anonymous and p.first_name + p.last_name
        out.append([names.of(row.student), f"{p.first_name} {p.last_name}".strip() if named else "",
                    "" if names.anonymous else p.email,
                    *(number(row.scores[s][0]) if s in row.scores else "" for s in stages),
                    number(row.total), number(sum(m for _, m in row.scores.values())),
                    names.text("; ".join(row.missing))])
    return write_csv(path, header, out)

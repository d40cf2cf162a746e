"""Grades for the LMS: Canvas's own gradebook CSV layout, or a plain student x stage table.

Canvas's importer (its ``GradebookImporter``) wants the columns Student, ID, SIS User ID, SIS Login
ID, Section, then one column per assignment, and takes a row whose first cell holds "Points
Possible" for the assignments' maximum points; a blank grade changes nothing.
"""

from pathlib import Path

from .tables import number, write_csv

CANVAS_ID_COLUMNS = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
POINTS_POSSIBLE = "    Points Possible"  # as Canvas writes it in its own export
GENERIC_ID_COLUMNS = ["Username", "Last Name", "First Name", "Email"]
FILES = {"canvas": "canvas.csv", "generic": "grades.csv"}


def _graded(stats):
    """The stages with at least one grade: a column of blanks would only make an empty assignment."""
    return [s for s, st in stats.items() if st.graded]


def _grades(row, stages):
    return [number(row.scores[s][0], 2) if s in row.scores else "" for s in stages]


def canvas_csv(path, rows, stats, names) -> Path:
    """One row per student; ID is the Canvas user id (the gradebook's ``lms_user_id``, which
    ``course collect`` records), SIS User ID and SIS Login ID those the roster gave, else the id."""
    stages = _graded(stats)
    out = [[POINTS_POSSIBLE, "", "", "", "", *(number(stats[s].max_points, 2) for s in stages)]]
    for row in rows:
        p, who = row.person, names.of(row.student)
        if names.anonymous:
            out.append([who, "", who, who, "", *_grades(row, stages)])
        else:
            out.append([p.sortable_name, p.lms_user_id, p.sis_user_id or row.student, p.username or row.student, "",
                        *_grades(row, stages)])
    return write_csv(path, CANVAS_ID_COLUMNS + stages, out)


def generic_csv(path, rows, stats, names) -> Path:
    """Username (the LMS login from the roster ``course collect`` read, else the nbgrader id), names,
    e-mail, then the points of each stage."""
    stages = _graded(stats)
    out = []
    for row in rows:
        p = row.person
        people = ["", "", ""] if names.anonymous else [p.last_name, p.first_name, p.email]
        login = names.of(row.student) if names.anonymous else (p.username or row.student)
        out.append([login, *people, *_grades(row, stages)])
    return write_csv(path, GENERIC_ID_COLUMNS + stages, out)


def write_lms(out_dir, kind, rows, stats, names) -> Path:
    write = {"canvas": canvas_csv, "generic": generic_csv}[kind]
    return write(out_dir / FILES[kind], rows, stats, names)

"""The page a student gets back for one stage: their notebook as graded, under a table of their
points (nbconvert's HTML, written by the grader's writer to ``feedback/``)."""

import copy
import html

import nbformat
from nbconvert import HTMLExporter


def feedback_html(nb, record):
    """The student's feedback page: their notebook as graded, under a table of their points."""
    # nbconvert loads templates and pandoc filters: only when a page is made.

    rows = "".join(f"<tr><td>{html.escape(e['id'])}</td><td>{html.escape(e['title'])}</td>"
                   f"<td>{e['points']:g} / {e['max_points']:g}</td><td>{html.escape(e['message'])}</td></tr>"
                   for e in record["exercises"])
    said = record["notes"] + ([record["problem"]] if record["problem"] else [])
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in said)
    head = (f"<h1>{html.escape(record['stage'])}: {record['score']:g} / {record['max_score']:g} points</h1>"
            f"<table><tr><th>exercise</th><th></th><th>points</th><th>what the checks said</th></tr>{rows}</table>"
            + (f"<ul>{notes}</ul>" if notes else ""))
    shown = copy.deepcopy(nb)
    shown.cells.insert(0, nbformat.v4.new_markdown_cell(head))
    body, _ = HTMLExporter(template_name="lab").from_notebook_node(shown)
    return body


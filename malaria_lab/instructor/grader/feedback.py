"""The page a student gets back for one stage: their notebook as graded (made inert by
:mod:`.inert`), under a table of their points; nbconvert's HTML, written by the grader's writer
to ``feedback/``.

The page carries a Content-Security-Policy that allows no script, frame, form or outside
resource at all, before anything else in it: even HTML that got past the cleaning runs nothing.
"""

import copy
import html

import nbformat
from nbconvert import HTMLExporter

from .inert import inert

POLICY = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; font-src data:; "
          "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
CSP = f'<meta http-equiv="Content-Security-Policy" content="{POLICY}">'


def feedback_html(nb, record):
    """The student's feedback page: their notebook as graded, under a table of their points."""
    rows = "".join(f"<tr><td>{html.escape(e['id'])}</td><td>{html.escape(e['title'])}</td>"
                   f"<td>{e['points']:g} / {e['max_points']:g}</td><td>{html.escape(e['message'])}</td></tr>"
                   for e in record["exercises"])
    said = record["notes"] + ([record["problem"]] if record["problem"] else [])
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in said)
    head = (f"<h1>{html.escape(record['stage'])}: {record['score']:g} / {record['max_score']:g} points</h1>"
            f"<table><tr><th>exercise</th><th></th><th>points</th><th>what the checks said</th></tr>{rows}</table>"
            + (f"<ul>{notes}</ul>" if notes else ""))
    shown = inert(copy.deepcopy(nb))
    shown.cells.insert(0, nbformat.v4.new_markdown_cell(head))
    body, _ = HTMLExporter(template_name="lab").from_notebook_node(
        shown, resources={"metadata": {"name": f"{record['stage']}: feedback"}})
    return with_policy(body)


def with_policy(page):
    """``page`` with :data:`CSP` as the first element of its head (a page without a head gets one)."""
    start = page.find("<head>")
    if start < 0:
        return f"<!DOCTYPE html>\n<html><head>{CSP}</head><body>{page}</body></html>"
    return page[:start + len("<head>")] + CSP + page[start + len("<head>"):]

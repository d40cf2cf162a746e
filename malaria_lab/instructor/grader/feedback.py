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

# Code is coloured by Pygments, whose time grows fast with a cell's length: a cell is shown up to
# this many characters, and the page's code up to the second figure (the graded notebook keeps all).
SHOWN_CELL, SHOWN_CODE = 20_000, 100_000
POLICY = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; font-src data:; "
          "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
CSP = f'<meta http-equiv="Content-Security-Policy" content="{POLICY}">'

# After nbconvert's own styles: the light theme's code, prompt and ANSI colours darkened to WCAG's
# 4.5:1 on their backgrounds (#f5f5f5 for code; white, and #fdd for errors, for outputs), hue kept;
# links underlined, not told from the text around them by colour alone.
READABLE = """<style>
:root{--jp-cell-prompt-opacity:1;--jp-cell-prompt-not-active-opacity:1;
--jp-cell-inprompt-font-color:#2e79b7;--jp-cell-outprompt-font-color:#b9583b;
--jp-mirror-editor-atom-color:#6565bd;--jp-mirror-editor-number-color:#008100;--jp-mirror-editor-variable-3-color:#007e4f;
--jp-mirror-editor-operator-color:#a521f7;--jp-mirror-editor-comment-color:#3c7878;--jp-mirror-editor-meta-color:#a521f7;
--jp-mirror-editor-bracket-color:#707057;--jp-mirror-editor-quote-color:#008100;--jp-mirror-editor-error-color:#e00000}
.jp-RenderedText pre .ansi-red-fg{color:#a94340}.jp-RenderedText pre .ansi-green-fg{color:#00753a}
.jp-RenderedText pre .ansi-yellow-fg{color:#776217}.jp-RenderedText pre .ansi-blue-fg{color:#1766b2}
.jp-RenderedText pre .ansi-magenta-fg{color:#96458d}.jp-RenderedText pre .ansi-cyan-fg{color:#356d6e}
.jp-RenderedText pre .ansi-white-fg{color:#66645e}.jp-RenderedText pre .ansi-yellow-intense-fg{color:#855e0d}
.jp-RenderedText pre .ansi-blue-intense-fg{color:#0063c6}.jp-RenderedText pre .ansi-cyan-intense-fg{color:#1d7070}
.jp-RenderedText pre .ansi-white-intense-fg{color:#62656d}
.jp-RenderedHTMLCommon a:link,.jp-RenderedHTMLCommon a:visited{text-decoration:underline}
</style>"""


def feedback_html(nb, record) -> str:
    """The student's feedback page: their notebook as graded, under a table of their points."""
    rows = "".join(f"<tr><td>{html.escape(e['id'])}</td><td>{html.escape(e['title'])}</td>"
                   f"<td>{e['points']:g} / {e['max_points']:g}</td><td>{html.escape(e['message'])}</td></tr>"
                   for e in record["exercises"])
    said = record["notes"] + ([record["problem"]] if record["problem"] else [])
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in said)
    head = (f"<h1>{html.escape(record['stage'])}: {record['score']:g} / {record['max_score']:g} points</h1>"
            f"<table><tr><th>exercise</th><th>title</th><th>points</th><th>what the checks said</th></tr>{rows}</table>"
            + (f"<ul>{notes}</ul>" if notes else ""))
    shown = _code_cut(inert(copy.deepcopy(nb)))
    shown.cells.insert(0, nbformat.v4.new_markdown_cell(head))
    resources = {"metadata": {"name": f"Feedback: {record['stage']}"}}
    body, _ = HTMLExporter(template_name="lab").from_notebook_node(shown, resources=resources)
    return with_policy(body.replace("</head>", READABLE + "\n</head>", 1))


def _code_cut(nb):
    """``nb`` with each code cell's source cut to what the page shows, with a note where cut."""
    left = SHOWN_CODE
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        keep = max(0, min(SHOWN_CELL, left))
        if len(cell.source) > keep:
            more = len(cell.source) - keep
            cell.source = cell.source[:keep] + f"\n# [{more:,} more characters of this cell are not shown here]"
        left -= len(cell.source)
    return nb


def with_policy(page) -> str:
    """``page`` with :data:`CSP` as the first element of its head (a page without a head gets one)."""
    start = page.find("<head>")
    if start < 0:
        return f"<!DOCTYPE html>\n<html><head>{CSP}</head><body>{page}</body></html>"
    return page[:start + len("<head>")] + CSP + page[start + len("<head>"):]

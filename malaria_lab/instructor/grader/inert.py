"""A graded notebook made inert before anyone opens it: the instructor in nbgrader's formgrader
(which renders it inside their Jupyter server, with their session) and the student in the
feedback page.

Student outputs keep only what renders without running anything: text, PNG and JPEG pictures,
and HTML cleaned by nh3 (no scripts, event handlers, frames, forms or styles that move things;
links only to the web, pictures only as data). Markdown the student wrote is shown as the text
it is, in a code block, so no HTML or link in it is ever interpreted. The course's own cells,
restored from the source by :mod:`.merge`, are left as they are.
"""

import base64
import binascii
import copy
import re

import nh3

from .merge import grade_id

KEPT_DATA = ("text/plain", "image/png", "image/jpeg", "text/html")
TAGS = nh3.ALLOWED_TAGS - {"area", "map"}
ATTRIBUTES = {tag: set(attrs) for tag, attrs in nh3.ALLOWED_ATTRIBUTES.items()}
ATTRIBUTES["*"] = {"class", "title", "lang", "style", "role", "aria-label"}
STYLES = {"color", "background-color", "font-weight", "font-style", "text-align", "text-decoration",
          "border", "border-left", "border-bottom", "padding", "margin", "white-space", "font-family"}
PICTURE = re.compile(r"^data:image/(png|jpeg|gif);base64,[A-Za-z0-9+/=\s]+$")
LINK = re.compile(r"^(https?://|mailto:|#)", re.IGNORECASE)


def _attribute(tag, name, value):
    if tag == "img" and name == "src":
        return value if PICTURE.match(value) else None
    if tag == "a" and name == "href":
        return value if LINK.match(value.strip()) else None
    return value


def clean_html(text) -> str:
    """HTML that runs nothing and reaches nothing outside the page."""
    return nh3.clean(text, tags=TAGS, attributes=ATTRIBUTES, url_schemes={"http", "https", "mailto", "data"},
                     attribute_filter=_attribute, filter_style_properties=STYLES, link_rel="noopener noreferrer")


def _picture(value):
    text = "".join(value) if isinstance(value, list) else value
    if not isinstance(text, str):
        return None
    try:
        base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        return None
    return text


def _data(data):
    kept = {}
    for mime in KEPT_DATA:
        value = data.get(mime)
        if value is None:
            continue
        if mime.startswith("image/"):
            value = _picture(value)
        elif mime == "text/html":
            value = clean_html("".join(value) if isinstance(value, list) else str(value))
        else:
            value = "".join(value) if isinstance(value, list) else str(value)
        if value is not None:
            kept[mime] = value
    if not kept:
        shown = sorted(str(k)[:60] for k in data)[:5]
        kept["text/plain"] = f"[an output of type {', '.join(shown) or 'nothing'} is not shown in the graded copy]"
    return kept


def _output(output):
    if output.get("output_type") in ("display_data", "execute_result"):
        output = copy.deepcopy(output)
        output["data"] = _data(output.get("data") or {})
        metadata = output.get("metadata") or {}
        output["metadata"] = {m: {k: v for k, v in metadata[m].items() if k in ("width", "height") and
                                  type(v) is int} for m in ("image/png", "image/jpeg")
                              if isinstance(metadata.get(m), dict)}
    return output


def _fenced(text):
    fence = "`" * max(3, 1 + max((len(run) for run in re.findall(r"`+", text)), default=0))
    return f"*Your notes (shown as text):*\n\n{fence}text\n{text}\n{fence}"


def _is_course_cell(cell):
    meta = cell.get("metadata", {}).get("nbgrader")
    return isinstance(meta, dict) and bool(meta.get("locked")) and bool(grade_id(cell))


def inert(nb) -> dict:
    """A copy of the graded notebook ``nb`` whose student parts run nothing when shown."""
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        if cell.cell_type == "markdown" and not _is_course_cell(cell):
            cell.source = _fenced(cell.source)
            cell.pop("attachments", None)
        elif cell.cell_type == "code":
            cell.outputs = [_output(o) for o in cell.get("outputs", [])]
    return nb

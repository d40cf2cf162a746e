"""Accessibility checks in a Playwright page: axe-core (installed from npm by
``tests/browser/setup.sh``) with the WCAG 2.0 and 2.1 level A and AA rules, and the checks axe
leaves to people: images described by their content (not a file name or a placeholder), headings
in order, links that say where they lead, and the page's language.

``check(page, where, include)`` runs them all and fails with a readable account; :data:`KNOWN`
lists the violations left on what the course does not make, each with its reason.
"""

import json
import os
import re
from pathlib import Path

HERE = Path(__file__).resolve().parent
AXE = HERE / "node_modules" / "axe-core" / "axe.min.js"
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
BLOCKING = ("serious", "critical")
# (rule, a fragment of the node's CSS selector or markup, why it is left). Anything else serious or
# critical fails.
KNOWN = (
    ("aria-input-field-name", "cm-content",
     "JupyterLab's own cell editor (CodeMirror's role=textbox has no accessible name): JupyterLab's markup"),
    ("aria-required-children", "jp-WindowedPanel-viewport",
     "JupyterLab's own list of cells (role=feed whose children are not articles): JupyterLab's markup"),
    ("button-name", "jp-collapseHeadingButton",
     "JupyterLab's own button that folds a heading's section (shown beside the active heading cell) "
     "has no text or label: JupyterLab's markup"),
    ("aria-input-field-name", "noUi-handle",
     "ipywidgets' slider handle (noUiSlider's role=slider) gets no name: ipywidgets passes noUiSlider no "
     "handle attributes and offers none to set. The labelled number box before each slider "
     "(widgets/view.py number_box) is the named control for the same value"),
)
PLACEHOLDERS = ("no description has been provided", "image", "figure", "plot", "picture", "output")
VAGUE_LINKS = ("here", "click here", "link", "this", "more", "read more", "this link")
FIGURE = "figure.malaria-lab-figure"

# What the page says about its images, headings, links and language, computed in the browser.
SURVEY = """(scope) => {
  const roots = scope ? Array.from(document.querySelectorAll(scope)) : [document.body];
  const all = (sel) => roots.flatMap((r) => Array.from(r.querySelectorAll(sel)));
  const shown = (e) => !!(e.offsetWidth || e.offsetHeight || e.getClientRects().length);
  const hidden = (e) => e.closest('[aria-hidden="true"]') || e.getAttribute("role") === "presentation";
  return {
    lang: document.documentElement.getAttribute("lang"),
    images: all("img").filter((e) => !hidden(e)).map((e) => ({
      src: (e.getAttribute("src") || "").slice(0, 120), alt: e.getAttribute("alt"),
      figure: !!e.closest("figure.malaria-lab-figure"),
      caption: e.closest("figure") && e.closest("figure").querySelector("figcaption")
        ? e.closest("figure").querySelector("figcaption").textContent : null})),
    headings: all("h1, h2, h3, h4, h5, h6").filter(shown).map((e) => [Number(e.tagName[1]), e.textContent.trim()]),
    links: all("a[href]").filter(shown).map((e) => [e.getAttribute("href"),
      (e.getAttribute("aria-label") || e.textContent || "").trim()
      || Array.from(e.querySelectorAll("img")).map((i) => i.alt).join(" ").trim()]),
  };
}"""


def engine():
    """The path of axe.min.js; skips (or fails, where CI requires the browser tests) without it."""
    path = Path(os.environ.get("MALARIA_LAB_AXE") or AXE)
    if not path.is_file():
        from test_jupyterlab import _missing

        _missing(f"axe-core is not installed at {path} (bash tests/browser/setup.sh installs it)")
    return path


def scan(page, include=None, exclude=()):
    """The axe violations on ``page`` (within the ``include`` selectors, outside ``exclude``)."""
    if not page.evaluate("() => !!window.axe"):
        # Evaluated, not added as a <script>: a page's Content-Security-Policy cannot block it.
        page.evaluate(engine().read_text(encoding="utf-8") + "\n;0")
    context = {"include": [[s] for s in include] if include else [["html"]], "exclude": [[s] for s in exclude]}
    options = {"runOnly": {"type": "tag", "values": TAGS}, "resultTypes": ["violations"]}
    return page.evaluate("([context, options]) => axe.run(context, options)", [context, options])["violations"]


def serious(violations):
    """[(rule, impact, selector, what to fix)] for each serious or critical node not in KNOWN."""
    out = []
    for v in violations:
        for node in v["nodes"]:
            impact = node.get("impact") or v.get("impact")
            target = " ".join(str(t) for t in node["target"])
            where = target + " " + node.get("html", "")  # axe's selector may name no class
            if impact in BLOCKING and not any(v["id"] == rule and part in where for rule, part, _ in KNOWN):
                out.append((v["id"], impact, target[-160:], node.get("failureSummary", "").replace("\n", " ")[:240]))
    return out


def report(where, violations):
    """All of axe's findings (every impact), for a failing assert or a log."""
    lines = [f"axe on {where}:"]
    for v in violations:
        lines.append(f"  {v['id']} ({v.get('impact')}): {v['help']} - {len(v['nodes'])} node(s)")
        lines += [f"    {json.dumps(n['target'])[-200:]}: {n['html'][:160]}" for n in v["nodes"][:4]]
    return "\n".join(lines)


def problems(survey, page_lang=True):
    """What the survey shows wrong: undescribed images, headings out of order, vague links, no lang."""
    found = []
    if page_lang and not survey["lang"]:
        found.append("the page declares no language (<html lang>)")
    for img in survey["images"]:
        alt = (img["alt"] or "").strip()
        name = Path(img["src"].split("?")[0]).name
        if not alt or alt.lower().rstrip(".") in PLACEHOLDERS or alt.lower().startswith(PLACEHOLDERS[0]):
            found.append(f"image {img['src'][:60]!r} has no description (alt {img['alt']!r})")
        elif re.search(r"\.(png|jpe?g|svg|gif)$", alt, re.I) or "/" in alt and " " not in alt or alt == name:
            found.append(f"image {img['src'][:60]!r} is described by a file name: {alt!r}")
        elif img["figure"] and " ".join((img["caption"] or "").split()) != " ".join(alt.split()):
            found.append(f"figure {alt[:60]!r}: its caption says something else ({img['caption']!r})")
    levels = [level for level, _ in survey["headings"]]
    if levels and page_lang and levels[0] != 1:
        found.append(f"the first heading is h{levels[0]}, not h1: {survey['headings'][0][1]!r}")
    for (before, _), (level, text) in zip(survey["headings"], survey["headings"][1:]):
        if level > before + 1:
            found.append(f"heading h{level} {text!r} follows h{before}: a level is skipped")
    for href, text in survey["links"]:
        if not text or text.lower().rstrip(".") in VAGUE_LINKS:
            found.append(f"link to {href[:80]!r} says only {text!r}")
    return found


def check(page, where, include=None, exclude=(), within=None, page_lang=True):
    """Scan ``page`` (within ``include``) and fail on anything serious; survey its content (within
    the ``within`` selector, else ``include``) and fail on what axe leaves to people. Returns the
    course figures' descriptions found, in order."""
    violations = scan(page, include, exclude)
    blocking = serious(violations)
    assert not blocking, f"{len(blocking)} serious or critical violation(s)\n{report(where, violations)}"
    survey = page.evaluate(SURVEY, within or (include[0] if include else None))
    wrong = problems(survey, page_lang)
    assert not wrong, f"{where}:\n  " + "\n  ".join(wrong[:20])
    return [img["alt"] for img in survey["images"] if img["figure"]]

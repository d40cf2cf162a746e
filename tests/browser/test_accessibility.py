"""WCAG 2.1 AA on what the course generates, checked in Chromium by axe-core (WCAG 2.0/2.1 A and AA
rules, serious and critical impact) and by the checks axe leaves to people (see ``axe.py``):

* every page of the self-study site, built from ``site/executed/``;
* feedback pages, made by the grader's own ``feedback_html`` from a graded notebook: the student's
  version of each stage with the outputs and figures of a real run, a wrong answer and a traceback;
* the six stage notebooks with those outputs, as JupyterLab renders them (scoped to the cells);

and that each figure there is described by its own data. The class report is scanned in
``test_report.py``, the live widgets in ``test_jupyterlab.py`` and ``test_course_notebooks.py``.
A screenshot of each kind of page goes to ``$MALARIA_LAB_SCREENSHOTS`` (else a temp folder).
"""

import importlib.util
import re
import shutil
import time
from pathlib import Path

import axe
import nbformat
import pytest
from test_jupyterlab import CHROMIUM_ARGS, REPO, Lab, accept_kernel_dialog, browser_path  # noqa: F401

from malaria_lab.checks import STAGES

pytestmark = [pytest.mark.browser]

EXECUTED = REPO / "site" / "executed"
# A student's cell that raised, as IPython shows it (its ANSI colours are what nbconvert restyles).
TRACEBACK = ["\x1b[31m---------------------------------------------------------------------------\x1b[39m",
             "\x1b[31mNameError\x1b[39m                                 Traceback (most recent call last)",
             "\x1b[36mCell\x1b[39m\x1b[36m \x1b[39m\x1b[32mIn[9]\x1b[39m\x1b[32m, line 1\x1b[39m\n"
             "\x1b[32m----> 1\x1b[39m\x1b[33m \x1b[39mprint(\x1b[43mcount\x1b[49m)",
             "\x1b[31mNameError\x1b[39m: name 'count' is not defined"]


def figures_saved(nb):
    """How many course figures a notebook's saved outputs hold."""
    return sum(str(out.get("data", {}).get("text/html", "")).count('<figure class="malaria-lab-figure"')
               for cell in nb.cells for out in cell.get("outputs", []))


@pytest.fixture(scope="module")
def shots(tmp_path_factory):
    import os

    folder = Path(os.environ.get("MALARIA_LAB_SCREENSHOTS") or tmp_path_factory.mktemp("screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def chromium(browser_path):  # noqa: F811
    from playwright.sync_api import sync_playwright

    axe.engine()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=browser_path, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def tab(chromium):
    """A page that may load only files and data: URIs (the pages must need no network)."""
    page = chromium.new_page(viewport={"width": 1300, "height": 1000})
    page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(("file:", "data:"))
               else route.abort())
    yield page
    page.close()


# The site ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    spec = importlib.util.spec_from_file_location("site_build", REPO / "site" / "build.py")
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    html, _ = build.build(tmp_path_factory.mktemp("site"), log=lambda _: None)
    return html


def test_every_site_page_passes(site, tab, shots):
    pages = sorted(p for p in site.rglob("*.html") if not p.relative_to(site).parts[0].startswith("_")
                   and 'http-equiv="Refresh"' not in p.read_text(encoding="utf-8"))  # index.html: to intro
    assert {f"{s}/{s}.html" for s in STAGES} | {"intro.html", "accessibility.html"} <= {
        p.relative_to(site).as_posix() for p in pages}
    for path in pages:
        tab.goto(path.as_uri())
        described = axe.check(tab, path.relative_to(site).as_posix(), within="main")
        stage = path.stem
        if stage in STAGES:
            saved = nbformat.read(str(EXECUTED / f"{stage}.ipynb"), as_version=4)
            assert len(described) == figures_saved(saved) > 0, f"{stage}: every saved figure is on the page"
    tab.goto((site / "06_evaluate" / "06_evaluate.html").as_uri())
    tab.locator("figure.malaria-lab-figure").first.scroll_into_view_if_needed()
    tab.screenshot(path=str(shots / "a11y_site_06_evaluate.png"))


# Feedback pages ---------------------------------------------------------------------------


def graded(stage):
    """A graded notebook as the grader makes it: the student's version of ``stage``, the answers
    and outputs of a real run (``site/executed``), one cell that raised."""
    release = nbformat.read(str(REPO / "course" / "release" / stage / f"{stage}.ipynb"), as_version=4)
    ran = {c.id: c for c in nbformat.read(str(EXECUTED / f"{stage}.ipynb"), as_version=4).cells}
    for cell in release.cells:
        done = ran.get(cell.id)
        if cell.cell_type != "code" or done is None:
            continue
        cell.outputs, cell.execution_count = done.outputs, done.execution_count
        if "### BEGIN SOLUTION" in done.source:  # the student's answer: the reference's
            cell.source = "\n".join(line for line in done.source.splitlines() if "### " not in line)
    code = [c for c in release.cells if c.cell_type == "code"]
    code[-1].outputs.append(nbformat.v4.new_output("error", ename="NameError", evalue="name 'count' is not defined",
                                                   traceback=TRACEBACK))
    return release


def test_feedback_pages_pass(tab, tmp_path, shots):
    from malaria_lab.instructor.grader.feedback import feedback_html
    from malaria_lab.instructor.report.simulate import Simulator

    simulator = Simulator()
    for stage in STAGES:
        record = simulator.record("student0001", stage, {"q1": ("mistake", 0)})
        path = tmp_path / f"{stage}.html"
        path.write_text(feedback_html(graded(stage), record), encoding="utf-8")
        tab.goto(path.as_uri())
        assert tab.title() == f"Feedback: {stage}"
        described = axe.check(tab, f"feedback page of {stage}")
        assert len(described) == figures_saved(nbformat.read(str(EXECUTED / f"{stage}.ipynb"), as_version=4))
        if stage == "06_evaluate":
            assert tab.locator(".ansi-red-fg").count() and tab.locator("figcaption").count()
            tab.locator("figure.malaria-lab-figure").first.scroll_into_view_if_needed()
            tab.screenshot(path=str(shots / "a11y_feedback_06_evaluate.png"))


# The notebooks in JupyterLab ----------------------------------------------------------------


@pytest.fixture(scope="module")
def lab(browser_path, tmp_path_factory):  # noqa: F811
    server = Lab(tmp_path_factory.mktemp("jupyterlab-a11y"))
    for stage in STAGES:
        shutil.copy(EXECUTED / f"{stage}.ipynb", server.root / f"{stage}.ipynb")
    try:
        yield server.start()
    finally:
        server.stop()


def test_the_stage_notebooks_pass_in_jupyterlab(lab, chromium, shots):
    page = chromium.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(90_000)
    try:
        for stage in STAGES:
            saved = nbformat.read(str(EXECUTED / f"{stage}.ipynb"), as_version=4)
            # A workspace of its own, so that JupyterLab does not reopen the notebooks before it.
            page.goto(f"{lab.url}/lab/workspaces/a11y-{stage}/tree/{stage}.ipynb?token={lab.token}")
            notebook = ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook"
            page.locator(f"{notebook} .jp-Cell").nth(len(saved.cells) - 1).wait_for()
            deadline = time.monotonic() + 60
            while page.locator(f"{notebook} figure.malaria-lab-figure img").count() < figures_saved(saved):
                accept_kernel_dialog(page)
                assert time.monotonic() < deadline, f"{stage}: the saved figures did not render"
                time.sleep(0.5)
            described = axe.check(page, f"{stage} in JupyterLab", include=[notebook], page_lang=False)
            assert len(described) == figures_saved(saved)
            assert all(re.search(r"\d", text) for text in described), "each description gives the data's numbers"
            page.locator(f"{notebook} figure.malaria-lab-figure").last.scroll_into_view_if_needed()
            page.screenshot(path=str(shots / f"a11y_jupyterlab_{stage}.png"))
    finally:
        page.close()

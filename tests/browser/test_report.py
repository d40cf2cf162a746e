"""The class report's page in a real (headless) Chromium, opened from disk as an instructor would:
every plot loads, the students table sorts when a header is clicked (or pressed from the keyboard),
the answers to look at show side by side with what matched, screenshots are saved (into
``$MALARIA_LAB_SCREENSHOTS``, else a temp folder), and axe-core finds nothing serious (see ``axe.py``)."""

import csv
import os
import re
from pathlib import Path

import axe
import pytest
from test_jupyterlab import CHROMIUM_ARGS, _missing, chromium

pytestmark = [pytest.mark.browser]

STAGES = ("01_download", "02_split", "06_evaluate")  # 03 to 05 ungraded: sentences, not plots


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    from malaria_lab.instructor.report import build_report
    from malaria_lab.instructor.report.simulate import random_plan, write_class

    course = tmp_path_factory.mktemp("class") / "course"
    write_class(course, random_plan(45, STAGES, seed=5))
    return build_report(course, tmp_path_factory.mktemp("report"))


@pytest.fixture(scope="module")
def page(report):
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("playwright is not installed (bash tests/browser/setup.sh)")
    path = chromium()
    if path is None:
        _missing("Chromium is not installed at /usr/bin/chromium (bash tests/browser/setup.sh)")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=path, headless=True, args=CHROMIUM_ARGS)
        try:
            tab = browser.new_page(viewport={"width": 1300, "height": 1000})
            tab.route("**/*", lambda route: route.continue_() if route.request.url.startswith(("file:", "data:"))
                      else route.abort())  # the page must need no network
            tab.goto((report.out_dir / "index.html").as_uri())
            yield tab
        finally:
            browser.close()


def column(page, header):
    """The texts of one column of the students table, top to bottom."""
    index = page.locator("#students-table thead th").all_inner_texts().index(header)
    return page.locator(f"#students-table tbody tr td:nth-child({index + 1})").all_inner_texts()


def test_every_plot_loads(page):
    images = page.locator("img")
    assert images.count() == 1 + 2 * len(STAGES)
    widths = images.evaluate_all("els => els.map(e => e.complete ? e.naturalWidth : 0)")
    assert all(w > 100 for w in widths), widths


def test_students_table_sorts_by_the_clicked_header(page, report):
    with open(report.out_dir / "students.csv", newline="") as handle:
        totals = {r["student"]: float(r["total"]) for r in csv.DictReader(handle)}
    assert column(page, "student") == sorted(totals)
    header = page.locator("#students-table thead th", has_text="total")
    header.click()
    ascending = [float(t) for t in column(page, "total")]
    assert ascending == sorted(totals.values()) and ascending != [totals[s] for s in sorted(totals)]
    assert [totals[s] for s in column(page, "student")] == ascending
    header.click()
    assert [float(t) for t in column(page, "total")] == sorted(totals.values(), reverse=True)
    page.locator("#students-table thead th", has_text="student").click()
    assert column(page, "student") == sorted(totals)


def test_answers_to_look_at_show_side_by_side_with_what_matched(page):
    heading = page.locator("h2#similar")
    assert heading.inner_text() == "Answers to look at"
    assert "never a verdict" in page.locator("h2#similar + p").inner_text()
    page.locator("nav a[href='#similar']").click()
    assert heading.bounding_box()["y"] < 50, "the navigation leads to the section"
    pair = page.locator("#similar ~ .finding .pair").first
    left, right = pair.locator("figure").all()
    a, b = left.bounding_box(), right.bounding_box()
    assert abs(a["y"] - b["y"]) < 1 and a["x"] + a["width"] <= b["x"] and a["width"] > 300, (a, b)
    assert left.locator("mark").count() >= 1 and right.locator("mark").count() >= 1
    assert right.locator("figcaption").inner_text() in ("the published solution", *page.locator(
        "#students-table tbody tr td:first-child").all_inner_texts())


def test_screenshot(page, tmp_path_factory):
    folder = Path(os.environ.get("MALARIA_LAB_SCREENSHOTS") or tmp_path_factory.mktemp("screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(folder / "class-report.png"), full_page=False)
    page.locator("h2#similar").scroll_into_view_if_needed()
    page.locator("h2#similar").evaluate("h => window.scrollTo(0, h.offsetTop)")
    page.screenshot(path=str(folder / "class-report-similar.png"), full_page=False)
    assert (folder / "class-report.png").stat().st_size > 10_000
    page.locator("figure").nth(2).scroll_into_view_if_needed()  # a stage's exercises: hatching, caption
    page.screenshot(path=str(folder / "class-report-figure.png"), full_page=False)


def test_the_report_passes_axe_and_describes_its_plots(page):
    described = axe.check(page, "the class report")
    assert len(described) == 1 + 2 * len(STAGES)
    assert all(len(re.findall(r"\b\d+\b", text)) >= 3 for text in described), "each description gives the counts"


def test_the_students_table_sorts_from_the_keyboard(page, report):
    with open(report.out_dir / "students.csv", newline="") as handle:
        totals = sorted(float(r["total"]) for r in csv.DictReader(handle))
    header = page.locator("#students-table thead th", has_text="total")
    header.locator("button").focus()
    page.keyboard.press("Enter")
    assert header.get_attribute("aria-sort") == "ascending"
    assert [float(t) for t in column(page, "total")] == totals
    page.keyboard.press("Space")
    assert header.get_attribute("aria-sort") == "descending"
    page.locator("#students-table thead th button", has_text="student").click()

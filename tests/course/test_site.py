"""The self-study site: built from the course (no notebook run), every stage's page, solutions
behind toggles, launch buttons that open the student versions, and links that work.

The site is built into a temporary folder with ``site/build.py`` (Jupyter Book 1), from the
outputs saved in ``site/executed/``: a few seconds.
"""

import importlib.util
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from malaria_lab.checks import STAGES, load_stage

pytest.importorskip("jupyter_book")
from bs4 import BeautifulSoup  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def _load_build():
    spec = importlib.util.spec_from_file_location("site_build", ROOT / "site" / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    build = _load_build()
    html, stale = build.build(tmp_path_factory.mktemp("site"), log=lambda _: None)
    return html, stale


@pytest.fixture(scope="module")
def authoring():
    from malaria_lab.instructor import authoring

    return vars(authoring)


def soup(path):
    return BeautifulSoup(Path(path).read_text(encoding="utf-8"), "html.parser")


def page(html, stage):
    return html / stage / f"{stage}.html"


def test_every_stage_has_a_page_with_prose_and_figures(site):
    html, _ = site
    assert (html / "index.html").is_file() and (html / "intro.html").is_file()
    for n, stage in enumerate(STAGES, 1):
        doc = soup(page(html, stage))
        main = doc.find("main") or doc
        assert main.find("h1").get_text().startswith(f"Stage {n}"), stage
        assert len(main.find_all("p")) > 5, f"{stage}: the prose is there"
        figures = main.select("figure.malaria-lab-figure")
        assert figures, f"{stage}: the figures saved in site/executed/ are shown"
        for figure in figures:  # each with its description, as alt and as a visible caption
            assert figure.img["src"].startswith("data:image/png") and figure.img["alt"], stage
            assert figure.figcaption.get_text() == figure.img["alt"], stage
        assert "points)" in main.get_text(), f"{stage}: check results are shown"


def test_saved_outputs_match_the_code(site):
    _, stale = site
    assert not any(stale.values()), (f"code cells without saved outputs: {stale}. Run "
                                      "`python site/build.py --refresh` and commit site/executed/.")


def test_solutions_are_behind_toggles_and_no_grading_lines_show(site):
    html, _ = site
    for stage in STAGES:
        doc = soup(page(html, stage))
        text = str(doc)
        for secret in ("BEGIN SOLUTION", "END SOLUTION", "HIDDEN TESTS", "fresh.py", "google.colab"):
            assert secret not in text, (stage, secret)
        toggles = doc.select("div.tag_hide-input details")
        hidden = "\n".join(t.get_text() for t in toggles)
        for ex_id, ex in load_stage(stage).exercises.items():
            body = ex.code.split("### BEGIN SOLUTION")[1].split("### END SOLUTION")[0].strip()
            first = body.splitlines()[0].strip()
            assert first in hidden, f"{stage} {ex_id}: the solution is behind a toggle"
            assert f"{ex_id}.check()" in doc.get_text()
        assert all("Show a solution" in t.get_text() for t in toggles)


def test_launch_buttons_open_the_student_versions(site, authoring):
    html, _ = site
    for stage in STAGES:
        hrefs = {a["href"] for a in soup(page(html, stage)).find_all("a", href=True)}
        assert authoring["colab_url"](stage) in hrefs, stage
        binder = [h for h in hrefs if h.startswith("https://mybinder.org/v2/gh/")]
        assert binder and all(h.endswith(f"course/release/{stage}/{stage}.ipynb") for h in binder)
        assert (ROOT / "course" / "release" / stage / f"{stage}.ipynb").is_file()


def _local_targets(doc):
    for tag, attr in (("a", "href"), ("img", "src"), ("link", "href"), ("script", "src")):
        for element in doc.find_all(tag):
            value = element.get(attr)
            if not value:
                continue
            url = urlparse(value)
            if url.scheme or url.netloc or not url.path:
                continue  # another site, or an anchor on this page
            yield unquote(url.path)


def test_links_between_pages_work(site):
    html, _ = site
    pages = [html / "intro.html", *(page(html, s) for s in STAGES)]
    for path in pages:
        doc = soup(path)
        for target in _local_targets(doc):
            assert (path.parent / target).exists(), f"{path.relative_to(html)} links to missing {target}"
    chain = [html / "intro.html"]
    while len(chain) <= len(STAGES):
        nxt = soup(chain[-1]).find("a", class_="right-next")
        assert nxt is not None, f"no next page after {chain[-1].name}"
        chain.append((chain[-1].parent / nxt["href"]).resolve())
    assert chain[1:] == [page(html, s).resolve() for s in STAGES], "next links go through the stages in order"
    back = soup(page(html, STAGES[1])).find("a", class_="left-prev")
    assert (page(html, STAGES[1]).parent / back["href"]).resolve() == page(html, STAGES[0]).resolve()
    intro = {t for t in _local_targets(soup(html / "intro.html"))}
    assert all(f"{s}/{s}.html" in intro for s in STAGES), "the intro links every stage"


def _saved_text(stage):
    """The saved outputs of a stage in site/executed/, as one text per cell id."""
    import nbformat

    from malaria_lab.instructor.notebooks import outputs_text

    nb = nbformat.read(str(ROOT / "site" / "executed" / f"{stage}.ipynb"), as_version=4)
    return {cell.get("id"): outputs_text(cell) for cell in nb.cells if cell.cell_type == "code"}


def test_the_saved_run_learns_and_its_text_matches_it():
    import re

    setup = _saved_text("05_train")
    assert any("Small mode" in text for text in setup.values()), "the site comes from small mode (or better)"
    monitor = next(t for t in setup.values() if "Training monitor:" in t)
    epochs = int(re.search(r"Training monitor: (\d+) epoch", monitor).group(1))
    said = next(t for t in setup.values() if "early stopping" in t.lower())
    ran = re.search(r"All (\d+) epoch\(s\) ran|after epoch (\d+) of", said)
    assert ran and int(ran.group(1) or ran.group(2)) == epochs, (said, epochs)
    evaluated = "\n".join(_saved_text("06_evaluate").values())
    auc = float(re.search(r"accuracy [\d.]+\s+AUC ([\d.]+)", evaluated).group(1))
    assert auc >= 0.95, f"the saved stage-6 model barely detects (AUC {auc})"

"""Build the self-study site: the six stages with prose, figures, launch buttons and solutions.

    python site/build.py                # HTML in build/site/_build/html, from site/executed/
    python site/build.py --out DIR      # HTML in DIR/_build/html
    python site/build.py --refresh      # first re-run the notebooks (small mode) into site/executed/

Building runs no notebook. Each page is the stage's source notebook (so a prose edit shows at
once) with the outputs saved in ``site/executed/`` merged in by cell id wherever the code is
unchanged; solutions sit behind a toggle, hidden test lines and the Colab set-up are left out.
Jupyter Book 1 (``pip install "jupyter-book>=1,<2"``) makes the HTML. ``--refresh`` makes the saved
outputs with ``malaria-lab reference --mode small`` on the embedded data set (a few minutes on 2 CPU
cores) and shrinks their pictures; commit ``site/executed/`` afterwards.
"""

import argparse
import base64
import io
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from malaria_lab.checks import STAGES  # noqa: E402
from malaria_lab.errors import MalariaLabError  # noqa: E402
from malaria_lab.instructor import coursedir  # noqa: E402

EXECUTED = HERE / "executed"
DEFAULT_OUT = ROOT / "build" / "site"
# What the saved outputs show instead of the paths of the run that made them.
SHOWN_WORK = "~/malaria_lab_work"
SHOWN_CACHE = "~/.cache/malaria_lab"
SOLUTION_PROMPTS = {"code_prompt_show": "Show a solution", "code_prompt_hide": "Hide the solution"}
PNG_COLOURS = 128
# The site's accessibility fixes to its theme: a Sphinx extension and template overrides.
THEME = ("_ext", "_templates")
PNG_URI = re.compile(r"(data:image/png;base64,)([A-Za-z0-9+/=]+)")


def repository():
    """(OWNER/NAME, branch) from course/course.toml, the one place the repository is named."""
    from malaria_lab.instructor import authoring

    settings = authoring.repository(ROOT / "course")
    return settings.repository, settings.branch


def source_notebook(stage):
    return coursedir.notebook(ROOT / "course", coursedir.Kind.SOURCE, stage)


def _without_markers(code):
    """A solution cell's code without nbgrader's ``### BEGIN/END SOLUTION`` lines."""
    return "\n".join(line for line in code.splitlines()
                     if line.strip() not in ("### BEGIN SOLUTION", "### END SOLUTION"))


def _without_hidden_tests(code):
    """A check cell as students see it: the hidden test lines removed."""
    return re.sub(r"### BEGIN HIDDEN TESTS\n.*?### END HIDDEN TESTS\n?", "", code, flags=re.S)


def _tag(cell, tag):
    tags = cell.metadata.setdefault("tags", [])
    if tag not in tags:
        tags.append(tag)


def page(stage, executed=EXECUTED):
    """One stage's page as a notebook, and the ids of code cells with no saved outputs."""
    nb = nbformat.read(str(source_notebook(stage)), as_version=4)
    saved_path = Path(executed) / f"{stage}.ipynb"
    saved = {}
    if saved_path.is_file():
        saved = {c.id: c for c in nbformat.read(str(saved_path), as_version=4).cells}
    cells, stale = [], []
    for cell in nb.cells:
        role = cell.metadata.pop("nbgrader", {})
        if cell.id == "launch":  # the Colab and Binder badges: the site has its own buttons
            continue
        if cell.id == "handin":  # handing a notebook in: the site's readers have nothing to hand in
            continue
        if cell.cell_type == "code":
            done = saved.get(cell.id)
            if done is not None and done.source == cell.source:
                cell.outputs, cell.execution_count = done.outputs, done.execution_count
            else:
                stale.append(cell.id)
            if "google.colab" in cell.source:
                _tag(cell, "remove-cell")
            if role.get("solution"):
                cell.source = _without_markers(cell.source)
                cell.metadata["mystnb"] = dict(SOLUTION_PROMPTS)
                _tag(cell, "hide-input")
            if role.get("grade"):
                cell.source = _without_hidden_tests(cell.source)
        cells.append(cell)
    nb.cells = cells
    return nb, stale


def _config(repo, branch):
    import yaml

    config = yaml.safe_load((HERE / "_config.yml").read_text(encoding="utf-8"))
    config["repository"]["url"] = f"https://github.com/{repo}"
    config["repository"]["branch"] = branch
    return yaml.safe_dump(config, sort_keys=False)


def assemble(book, executed=EXECUTED):
    """Write the book's sources into ``book`` (emptied first); returns {stage: stale cell ids}."""
    book = Path(book)
    if book.exists():
        shutil.rmtree(book)
    book.mkdir(parents=True)
    repo, branch = repository()
    (book / "_config.yml").write_text(_config(repo, branch), encoding="utf-8")
    shutil.copy(HERE / "_toc.yml", book / "_toc.yml")
    for theme in THEME:
        shutil.copytree(HERE / theme, book / theme)
    shutil.copy(ROOT / "ACCESSIBILITY.md", book / "accessibility.md")
    intro = (HERE / "intro.md").read_text(encoding="utf-8")
    (book / "intro.md").write_text(intro.replace("{{repository}}", f"https://github.com/{repo}"),
                                   encoding="utf-8")
    stale = {}
    for stage in STAGES:
        nb, stale[stage] = page(stage, executed)
        path = book / stage / f"{stage}.ipynb"
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, str(path))
    return stale


def build(out=DEFAULT_OUT, executed=EXECUTED, log=print):
    """Assemble the book in ``out/book`` and build it; returns (HTML folder, {stage: stale ids})."""
    import importlib.util

    if importlib.util.find_spec("jupyter_book") is None:
        raise MalariaLabError("Jupyter Book is not installed.", 'pip install "jupyter-book>=1,<2"')
    out = Path(out).resolve()
    stale = assemble(out / "book", executed)
    for stage, ids in stale.items():
        if ids:
            log(f"{stage}: no saved outputs for cells {', '.join(ids)} (their code changed); "
                "run `python site/build.py --refresh`.")
    html = out / "_build" / "html"
    if html.exists():
        shutil.rmtree(html)
    cmd = [sys.executable, "-c", "from jupyter_book.cli.main import main; main()",
           "build", str(out / "book"), "--path-output", str(out), "--all", "--quiet"]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0 or not (html / "index.html").is_file():
        raise MalariaLabError(f"jupyter-book build failed ({done.returncode}):\n"
                              f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}",
                              "Fix what it reports, then build again.")
    warnings = [line for line in done.stderr.splitlines() if "WARNING" in line]
    for line in warnings:
        log(line)
    log(f"Site: {html / 'index.html'}")
    return html, stale


def _shrink_png(data):
    """A figure re-encoded with a palette: about a third of the size, the same to the eye."""
    from PIL import Image

    image = Image.open(io.BytesIO(base64.b64decode(data))).convert("RGB")
    small = image.quantize(colors=PNG_COLOURS, method=Image.Quantize.MEDIANCUT)
    buffer = io.BytesIO()
    small.save(buffer, format="PNG", optimize=True)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _tidy(nb, shown):
    """Saved outputs without this run's paths and timestamps, and with smaller pictures."""
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream":
                output["text"] = _replace(output["text"], shown)
            for mime, value in output.get("data", {}).items():
                if mime == "image/png":
                    output["data"][mime] = _shrink_png(value)
                elif isinstance(value, str) and mime.startswith("text/"):
                    output["data"][mime] = _replace(value, shown)
                if mime == "text/html":  # the course's figures: a PNG inside, with its description
                    output["data"][mime] = PNG_URI.sub(lambda m: m.group(1) + _shrink_png(m.group(2)),
                                                       output["data"][mime])
    return nb


def _replace(text, shown):
    for real, alias in shown:
        text = text.replace(real, alias)
    return text


def refresh(executed=EXECUTED, log=print):
    """Re-run the six source notebooks in small mode (a model that learns) on the embedded data; save
    their outputs."""
    from malaria_lab.instructor.reference import run
    from malaria_lab.settings import cache_dir as default_cache_dir

    executed = Path(executed)
    with tempfile.TemporaryDirectory(prefix="malaria_lab_site_") as tmp:
        report = run(Path(tmp) / "run", mode="small", embedded=True, log=log)
        shown = [(report["work"], SHOWN_WORK), (str(default_cache_dir().resolve()), SHOWN_CACHE),
                 (str(default_cache_dir()), SHOWN_CACHE)]
        executed.mkdir(parents=True, exist_ok=True)
        for stage in STAGES:
            nb = nbformat.read(str(Path(tmp) / "run" / "notebooks" / f"{stage}.ipynb"), as_version=4)
            nbformat.write(_tidy(nb, shown), str(executed / f"{stage}.ipynb"))
            log(f"saved {executed / f'{stage}.ipynb'}")
    return report


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where to build")
    parser.add_argument("--refresh", action="store_true",
                        help="first re-run the notebooks (grading mode) and save their outputs")
    args = parser.parse_args(argv)
    try:
        if args.refresh:
            refresh()
        build(args.out)
    except MalariaLabError as err:
        print(f"site/build.py: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

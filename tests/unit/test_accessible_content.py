"""Accessibility without a browser: every figure the course draws is described by its own data,
is shown only with its description, and tells its series apart by more than colour; the palette,
the check messages and the feedback page keep WCAG's contrast; the notebooks' headings are in
order. (axe-core in Chromium: ``tests/browser/test_accessibility.py``.)"""

import html
import re
from pathlib import Path

import nbformat
import numpy as np
import pytest
from matplotlib.figure import Figure
from PIL import Image

from malaria_lab import evaluate, palette
from malaria_lab.alt_text import Picture, description, save_png
from malaria_lab.checks import STAGES
from malaria_lab.course import plots
from malaria_lab.errors import MalariaLabError
from malaria_lab.split import Row

ROOT = Path(__file__).resolve().parents[2]
FIGURE = re.compile(r'<figure class="malaria-lab-figure"><img src="data:image/png;base64,[^"]+" alt="([^"]*)">'
                    r'<figcaption aria-hidden="true">([^<]*)</figcaption></figure>')


def data(seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, 120)
    p = np.clip(0.35 * y + rng.random(120) * 0.65, 0, 1)
    return y, p, rng.integers(0, 255, (120, 12, 12, 3)).astype("uint8")


def history(seed):
    rng = np.random.default_rng(seed)
    curve = lambda start, end: list(np.linspace(start, end, 6) + rng.random(6) * 0.01)  # noqa: E731
    return {"loss": curve(0.7, 0.2), "val_loss": curve(0.66, 0.3), "accuracy": curve(0.6, 0.95),
            "val_accuracy": curve(0.58, 0.9), "auc": curve(0.7, 0.99), "val_auc": curve(0.71, 0.97)}


def rows(seed):
    rng = np.random.default_rng(seed)
    return [Row(f"c{i}.png", "Uninfected", f"P{i % 9}", ("train", "val", "test")[rng.integers(0, 3)])
            for i in range(150)]


FIGURES = {
    "training curves": lambda s: evaluate.plot_history(history(s)),
    "confusion matrix": lambda s: evaluate.plot_confusion(evaluate.confusion(*data(s)[:2])),
    "ROC curve": lambda s: evaluate.plot_roc(*data(s)[:2], threshold=0.4 + s / 10),
    "gallery of mistakes": lambda s: evaluate.plot_gallery(data(s)[2], *data(s)[:2], threshold=0.5),
    "image grid": lambda s: plots.image_grid(list(data(s)[2][:10]), [f"cell {s}-{k}" for k in range(10)], cols=5),
    "bar chart": lambda s: plots.bar_chart({"Parasitized": 600 + s, "Uninfected": 580 - s}, title="images"),
    "split chart": lambda s: plots.split_chart(rows(s), "a split"),
}


@pytest.mark.parametrize("kind", FIGURES)
def test_every_figure_is_described_by_its_own_data(kind):
    first, second = (description(FIGURES[kind](seed)) for seed in (1, 2))
    assert first and second and first != second, "the description follows the data"
    assert len(first) > 40 and re.search(r"\d", first)


def test_descriptions_give_the_numbers_drawn():
    y, p, x = data(3)
    (tn, fp), (fn, tp) = evaluate.confusion(y, p, 0.5)
    said = description(evaluate.plot_confusion([[tn, fp], [fn, tp]]))
    assert f"{tn} called uninfected" in said and f"{fn} missed" in said and f"{tp} called parasitized" in said
    m = evaluate.metrics(y, p, 0.45)
    said = description(evaluate.plot_roc(y, p, 0.45))
    assert f"AUC {m['auc']:.3f}" in said and f"sensitivity {100 * m['sensitivity']:.1f}%" in said
    curves = history(3)
    said = description(evaluate.plot_history(curves))
    best = int(np.argmin(curves["val_loss"]))
    assert f"lowest {curves['val_loss'][best]:.3g} at epoch {best + 1}" in said and "AUC:" in said
    part = rows(3)
    said = description(plots.split_chart(part))
    assert ", ".join(f"{s} {sum(r.split == s for r in part)}" for s in ("train", "val", "test")) in said
    assert "Parasitized 7; Uninfected 9" in description(plots.bar_chart({"Parasitized": 7, "Uninfected": 9}))


def test_the_learning_rate_chart_is_described():
    import keras  # a schedule is a Keras object

    schedule = keras.optimizers.schedules.CosineDecay(0.0, 50, warmup_target=1e-3, warmup_steps=10)
    said = description(plots.schedule_chart(schedule, steps_per_epoch=10, epochs=6))
    assert "rises to 0.001 at epoch 1.0" in said and "6 epoch(s)" in said


def test_no_series_relies_on_colour_alone():
    for group in (palette.PARTS, palette.CURVES, palette.OUTCOMES[:4]):
        cues = list(group.values()) if isinstance(group, dict) else list(group)
        for attribute in ("colour", "marker", "linestyle", "hatch"):
            assert len({getattr(c, attribute) for c in cues}) == len(cues), attribute
        assert all(palette.contrast(c.colour, palette.PAPER) >= 3 for c in cues), "graphics: 3:1 on white"
    split = plots.split_chart(rows(1))
    assert {str(bar.get_hatch() or "") for bar in split.axes[0].patches} == {c.hatch for c in palette.PARTS.values()}
    curves = evaluate.plot_history(history(1)).axes[0].lines
    assert len({(line.get_marker(), line.get_linestyle()) for line in curves}) == 2


def test_text_on_a_colour_always_reads():
    from matplotlib import colormaps
    from matplotlib.colors import to_hex

    for name in ("Blues", "viridis", "Greys"):
        for level in np.linspace(0, 1, 41):
            background = to_hex(colormaps[name](level))
            assert palette.contrast(palette.ink_on(background), background) >= 4.5, (name, level)
    assert palette.contrast(palette.GREY, palette.PAPER) >= 4.5


def test_show_displays_the_figure_with_its_description_and_refuses_one_without(capsys):
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output

    InteractiveShell.instance()
    fig = plots.bar_chart({"a": 1, "b": 2}, title="two bars")
    with capture_output() as captured:
        plots.show(fig)
    (output,) = captured.outputs
    alt, caption = FIGURE.search(output.data["text/html"]).groups()
    assert html.unescape(alt) == html.unescape(caption) == description(fig) == output.data["text/plain"]
    assert "image/png" not in output.data, "one copy of the picture: JupyterLab shows the HTML, with its alt"
    with pytest.raises(MalariaLabError, match="no text alternative"):
        plots.show(Figure())
    with capture_output() as captured:
        plots.show(Figure(), "an empty figure, for the test")
    assert 'alt="an empty figure, for the test"' in captured.outputs[0].data["text/html"]


def test_saved_pictures_carry_their_description(tmp_path):
    fig = evaluate.plot_roc(*data(4)[:2], threshold=0.5)
    path = save_png(fig, tmp_path / "roc.png")
    with Image.open(path) as image:
        assert image.text["Description"] == description(fig)
    assert Picture.of(fig).text == description(fig)


@pytest.mark.parametrize("stage", STAGES)
def test_every_figure_of_the_stages_saved_run_is_described(stage):
    nb = nbformat.read(str(ROOT / "site" / "executed" / f"{stage}.ipynb"), as_version=4)
    found = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            bundle = out.get("data", {})
            assert not {"image/png", "image/jpeg", "image/svg+xml"} & set(bundle), f"{stage}: a figure without HTML"
            page = "".join(bundle.get("text/html", ""))
            assert page.count("<img") == len(FIGURE.findall(page)), f"{stage}: an image that is not a course figure"
            for alt, caption in FIGURE.findall(page):
                assert alt == caption and re.search(r"\d", alt) and len(alt) > 40, alt
                found.append(alt)
    assert found, f"{stage} shows figures"


@pytest.mark.parametrize("stage", STAGES)
def test_the_stages_draw_only_through_the_course_plots(stage):
    text = (ROOT / "course" / "stages" / f"{stage}.md").read_text(encoding="utf-8")
    assert not re.search(r"pyplot|plt\.|\.savefig|display\(Image", text), "draw with plots.show (a description)"


@pytest.mark.parametrize("kind", ["source", "release"])
def test_notebook_headings_are_in_order(kind):
    for stage in STAGES:
        nb = nbformat.read(str(ROOT / "course" / kind / stage / f"{stage}.ipynb"), as_version=4)
        levels = [len(m.group(1)) for cell in nb.cells if cell.cell_type == "markdown"
                  for m in re.finditer(r"^(#{1,6}) ", cell.source, re.M)]
        assert levels[0] == 1 and levels.count(1) == 1, stage
        assert all(b <= a + 1 for a, b in zip(levels, levels[1:])), f"{stage}: a heading level is skipped"


def test_check_messages_keep_the_themes_text_colour():
    from malaria_lab.checks.results import STYLE, Result

    for status, (colour, _) in STYLE.items():
        page = Result("q1", "Title", status, "use `x`", 1, 2, ["a detail"])._repr_html_()
        assert re.findall(r"(?<!-)color:", page) == [], "text takes the theme's colour, light or dark"
        assert f"border-left:4px solid {colour}" in page and palette.contrast(colour, palette.PAPER) >= 3


def test_the_feedback_page_is_readable_and_describes_its_figures():
    from malaria_lab.instructor.grader.feedback import feedback_html

    fig = plots.bar_chart({"Parasitized": 3, "Uninfected": 4}, title="images per class")
    picture = Picture.of(fig)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Stage 1"), nbformat.v4.new_code_cell(
        "plots.show(fig)", outputs=[nbformat.v4.new_output("display_data", data=picture.bundle())])])
    record = {"stage": "01_download", "score": 1, "max_score": 6, "notes": [], "problem": None, "exercises": [
        {"id": "q1", "title": "Verify", "points": 1, "max_points": 2, "message": "Wrong."}]}
    page = feedback_html(nb, record)
    assert '<html lang="en">' in page and "<title>Feedback: 01_download</title>" in page
    assert "--jp-cell-prompt-not-active-opacity:1" in page.split("</head>")[0]
    alt = re.search(r'<figure class="malaria-lab-figure"><img [^>]*alt="([^"]*)"', page).group(1)
    assert html.unescape(alt) == picture.text
    assert "No description has been provided" not in page and "<th></th>" not in page

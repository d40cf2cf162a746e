"""The widgets, driven from Python: move a control, check what is shown; and their fallbacks
(the PNG and text a saved notebook or a terminal keeps)."""

import base64
import io
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from malaria_lab.data.layout import find_images
from malaria_lab.errors import MalariaLabError

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
DEMO = Path(__file__).resolve().parents[1] / "browser" / "widgets_demo.ipynb"


@pytest.fixture(scope="module")
def cells(tmp_path_factory):
    from malaria_lab.data.synth import synthesize

    return synthesize(tmp_path_factory.mktemp("cells"), per_class=24, patients=4, seed=3)


@pytest.fixture(scope="module")
def arrays(cells):
    from malaria_lab.pipeline import load_arrays

    return load_arrays(find_images(cells), image_size=32, use_cache=False)


@pytest.fixture(scope="module")
def shell():
    """An IPython shell (no kernel), so display() publishes outputs the tests can capture."""
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    config = Config()
    config.HistoryManager.enabled = False
    return InteractiveShell.instance(config=config)


def shown_outputs(view, act=None):
    """The outputs of ``view.show(live=True)`` and of ``act()`` after it, as a kernel sees them."""
    from IPython.utils.capture import capture_output

    with capture_output() as captured:
        view.show(live=True)
        if act is not None:
            act()
    return captured.outputs


def is_png(data):
    return Image.open(io.BytesIO(data)).format == "PNG"


def png_in(data):
    """The PNG inside a picture output's HTML figure, whose image must carry a description."""
    page = data["text/html"]
    alt = re.search(r'<img src="data:image/png;base64,([^"]+)" alt="([^"]+)">', page)
    assert alt and len(alt.group(2)) > 20, page[:300]
    return base64.b64decode(alt.group(1))


def check_live_and_static(outputs, view, kind):
    """The controls first (a widget with a text fallback), then a picture that can be updated."""
    assert f"malaria-lab-{kind}" in view.panel._dom_classes
    controls, picture = outputs[0], outputs[1]
    assert WIDGET_VIEW in controls.data and "live controls" in controls.data["text/plain"]
    assert is_png(png_in(picture.data)) and picture.data["text/plain"]
    assert picture.transient["display_id"] and not picture.update
    assert "run this cell again for the live controls" in outputs[2].data["text/markdown"]  # a reopened notebook
    return picture


# Data browser


def test_data_browser_filters_by_class_and_patient(cells):
    from malaria_lab.widgets import DataBrowser

    browser = DataBrowser(cells, per_page=5)
    assert len(browser.shown) == 5 and browser.page.max == -(-48 // 5)
    browser.label.value = "Parasitized"
    assert {r.label for r in browser.matches} == {"Parasitized"} and len(browser.matches) == 24
    patient = next(r.patient for r in browser.matches)
    browser.patient.value = patient
    assert all(r.patient == patient and r.label == "Parasitized" for r in browser.shown)
    assert browser.page.value == 1 and browser.page.max == -(-len(browser.matches) // 5)
    assert f"patient {patient}" in browser.status.value
    text = browser.text()
    for ref in browser.shown:
        with Image.open(ref.path) as image:
            assert f"{ref.name}  {image.width}x{image.height} px" in text


def test_data_browser_pages_and_empty_choices(cells):
    from malaria_lab.widgets import DataBrowser

    browser = DataBrowser(find_images(cells), per_page=6)
    first = [r.name for r in browser.shown]
    browser.page.value = 2
    assert [r.name for r in browser.shown] != first and "page 2 of 8" in browser.status.value
    infected = {r.patient for r in browser.images if r.label == "Parasitized"}
    uninfected_only = {r.patient for r in browser.images} - infected
    browser.patient.value = sorted(uninfected_only)[0]
    browser.label.value = "Parasitized"
    assert browser.shown == [] and "No cells" in browser.text() and is_png(browser.png())


def test_data_browser_redraws_its_picture_in_place(cells, shell):
    from malaria_lab.widgets import DataBrowser

    browser = DataBrowser(cells, per_page=4)
    outputs = shown_outputs(browser, lambda: setattr(browser.label, "value", "Uninfected"))
    picture = check_live_and_static(outputs, browser, "data-browser")
    update = outputs[-1]
    assert update.update and update.transient["display_id"] == picture.transient["display_id"]
    assert png_in(update.data) != png_in(picture.data)
    assert "Uninfected" in update.data["text/plain"] and "Parasitized" not in update.data["text/plain"].split("\n")[1]


def test_displaying_a_widget_in_a_kernel_is_one_call(cells, shell, monkeypatch):
    from IPython.display import display
    from IPython.utils.capture import capture_output

    from malaria_lab.widgets import DataBrowser, view

    monkeypatch.setattr(view, "in_kernel", lambda: True)
    browser = DataBrowser(cells, per_page=2)
    with capture_output() as captured:
        display(browser)
    check_live_and_static(captured.outputs, browser, "data-browser")
    assert len(captured.outputs) == 3  # controls, picture, the line for a reopened notebook


def test_without_a_kernel_show_prints_text(cells, capsys):
    from malaria_lab.widgets import DataBrowser

    browser = DataBrowser(cells, per_page=3)
    browser.show()
    out = capsys.readouterr().out
    assert out.startswith("Data browser: all classes, all patients: 48 cells") and out.count(" px ") == 3
    assert repr(browser) == browser.text()


# Augmentation explorer


def test_augmentation_settings_match_make_augmenter(arrays):
    import inspect

    from malaria_lab.pipeline import make_augmenter
    from malaria_lab.widgets import AugmentationExplorer

    explorer = AugmentationExplorer(arrays, n=3)
    defaults = inspect.signature(make_augmenter).parameters
    assert explorer.settings == {k: defaults[k].default for k in explorer.settings}
    assert set(explorer.settings) == set(defaults) - {"seed", "name"}
    assert isinstance(explorer.controls["flip"], type(explorer.controls["rotate90"]))  # switches
    explorer.controls["rotation"].value = 0.25
    explorer.controls["flip"].value = False
    assert explorer.settings["rotation"] == 0.25 and explorer.settings["flip"] is False
    layers = [type(layer).__name__ for layer in explorer.augmenter().layers]
    assert "RandomRotation" in layers and "RandomFlip" not in layers
    assert [type(layer).__name__ for layer in make_augmenter(**explorer.settings).layers] == layers
    assert "rotation=0.25" in explorer.code.value and "flip=False" in explorer.call()
    with pytest.raises(MalariaLabError, match="shear"):
        AugmentationExplorer(arrays, shear=0.2)


def test_augmentation_shows_what_each_setting_does(arrays):
    from malaria_lab.widgets import AugmentationExplorer

    off = {name: 0 for name in AugmentationExplorer(arrays, n=1).settings}
    explorer = AugmentationExplorer(arrays.x, n=4, versions=3, **off)
    originals = explorer.originals
    assert not any(explorer.settings.values()) and np.array_equal(explorer.augmented()[0], originals)
    flips = [lambda a: a, lambda a: a[::-1], lambda a: a[:, ::-1], lambda a: a[::-1, ::-1]]
    turns = [lambda a, k=k: np.rot90(a, k) for k in range(4)]
    for name, views in (("flip", flips), ("rotate90", turns)):
        explorer.set(**{**off, name: True})
        for version in explorer.augmented():
            for original, copy in zip(originals, version):
                assert any(np.array_equal(copy, view(original)) for view in views), name
    explorer.set(rotate90=False, brightness=0.5)
    assert np.abs(explorer.augmented().astype(float) - originals[None]).mean() > 1
    before = explorer.augmented().copy()
    explorer.redraw.click()
    assert explorer.seed == 1 and not np.array_equal(explorer.augmented(), before)
    assert "brightness=0.5" in explorer.text() and "mean pixel change" in explorer.text()


def test_augmentation_picture_follows_a_slider(arrays, shell):
    from malaria_lab.widgets import AugmentationExplorer

    explorer = AugmentationExplorer(arrays, n=3, rotation=0.0, zoom=0.0)
    outputs = shown_outputs(explorer, lambda: setattr(explorer.controls["zoom"], "value", 0.4))
    picture = check_live_and_static(outputs, explorer, "augmentation")
    assert outputs[-1].update and png_in(outputs[-1].data) != png_in(picture.data)
    assert "zoom=0.4" in outputs[-1].data["text/plain"]


# Training monitor


def test_training_monitor_draws_every_epoch_and_keeps_the_last(monkeypatch, shell):
    from IPython.utils.capture import capture_output

    from malaria_lab.quiet import import_keras
    from malaria_lab.widgets import training_monitor
    from malaria_lab.widgets.training_monitor import TrainingMonitor

    assert isinstance(TrainingMonitor(), import_keras().callbacks.Callback)
    monkeypatch.setattr(training_monitor, "in_kernel", lambda: True)
    monitor = TrainingMonitor()
    monitor.set_params({"epochs": 3, "verbose": 0, "steps": 2})
    with capture_output() as captured:
        monitor.on_train_begin()
        for epoch, loss in enumerate((0.7, 0.5, 0.4)):
            monitor.on_epoch_end(epoch, {"loss": loss, "binary_accuracy": 1 - loss,
                                         "val_loss": loss + 0.1, "val_binary_accuracy": 0.9 - loss})
        monitor.on_train_end()
    outputs = captured.outputs
    picture = check_live_and_static(outputs, monitor, "training-monitor")
    updates = [o for o in outputs[2:] if o.update]
    assert len(updates) == 4 and all(u.transient == picture.transient for u in updates)
    assert len({png_in(u.data) for u in updates}) >= 3
    final = updates[-1].data["text/plain"]
    assert "3 epoch(s), finished" in final and "val_accuracy" in final and "0.4000" in final
    assert monitor.progress.value == monitor.progress.max == 3 and "finished" in monitor.status.value
    assert monitor.curves["accuracy"] == pytest.approx([0.3, 0.5, 0.6])


def test_training_monitor_in_a_real_fit_prints_its_table_without_a_kernel(arrays, capsys):
    from malaria_lab.quiet import import_keras
    from malaria_lab.widgets import TrainingMonitor

    keras = import_keras()
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((32, 32, 3)), keras.layers.Rescaling(1 / 255),
                              keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    monitor = TrainingMonitor()
    x, y = arrays.x.astype("float32"), arrays.y.astype("float32")
    model.fit(x, y, validation_data=(x[:16], y[:16]), epochs=2, batch_size=16, verbose=0, callbacks=[monitor])
    assert [len(monitor.history[k]) for k in ("loss", "accuracy", "val_loss", "val_accuracy")] == [2] * 4
    out = capsys.readouterr().out
    assert out.startswith("Training monitor: 2 epoch(s), finished") and out.count("\n") == 4
    assert is_png(monitor.png())


# Evaluation explorer


Y = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0, 0])
P = np.array([.9, .8, .6, .3, .7, .2, .1, .1, .4, .05])


def test_evaluation_threshold_updates_scores_and_mistakes(arrays):
    from malaria_lab.evaluate import metrics
    from malaria_lab.widgets import EvaluationExplorer

    names = [f"/data/cell_images/x/cell_{i}.png" for i in range(10)]
    explorer = EvaluationExplorer(Y, P, arrays.x[:10], names=names)
    explorer._update_controls()
    assert explorer.metrics["confusion"] == [[5, 1], [1, 3]]
    assert "sensitivity 75.0% (1 of 4 parasitized missed)" in explorer.scores.value
    assert "specificity 83.3% (1 of 6 uninfected flagged)" in explorer.scores.value
    explorer.slider.value = 0.25
    assert explorer.metrics == metrics(Y, P, 0.25)
    assert "sensitivity 100.0%" in explorer.scores.value and "specificity 66.7%" in explorer.scores.value
    missed, alarms = explorer.mistakes()
    assert list(missed) == [] and list(alarms) == [4, 8]
    text = explorer.text()
    assert "false alarms (2): cell_4.png p=0.70, cell_8.png p=0.40" in text
    assert "ROC point: 1 - specificity 0.333, sensitivity 1.000" in text
    assert [len(row) for row in explorer.figures()] == [1, 2, 1]


def test_evaluation_picture_follows_the_slider(shell):
    from malaria_lab.widgets import EvaluationExplorer

    explorer = EvaluationExplorer(Y, P)
    outputs = shown_outputs(explorer, lambda: setattr(explorer, "threshold", 0.65))
    picture = check_live_and_static(outputs, explorer, "evaluation")
    assert len(explorer.figures()) == 2  # no images: no gallery
    assert outputs[-1].update and png_in(outputs[-1].data) != png_in(picture.data)
    assert "threshold 0.650: sensitivity 50.0%" in outputs[-1].data["text/plain"]
    with pytest.raises(MalariaLabError):
        EvaluationExplorer(Y, P[:5])


def test_evaluation_from_a_model(arrays):
    from malaria_lab.quiet import import_keras
    from malaria_lab.widgets import EvaluationExplorer

    keras = import_keras()
    model = keras.Sequential([keras.Input((32, 32, 3)), keras.layers.GlobalAveragePooling2D(),
                              keras.layers.Dense(1, activation="sigmoid")])
    explorer = EvaluationExplorer.from_model(model, arrays, threshold=0.4)
    assert len(explorer.p) == len(arrays.y) and explorer.threshold == 0.4
    assert explorer.names[0] == Path(arrays.paths[0]).name and is_png(explorer.png())


# Packaging and headless notebooks


def test_importing_the_widgets_is_cheap_and_framework_neutral():
    code = ("import sys, malaria_lab, malaria_lab.widgets; print('ipywidgets' in sys.modules); "
            "import malaria_lab.widgets.data_browser, malaria_lab.widgets.augmentation, "
            "malaria_lab.widgets.evaluation; print('keras' in sys.modules, 'tensorflow' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False", "False"]


@pytest.mark.parametrize("p, start", [(P, 0.5), (np.linspace(0.005, 0.08, 50), 0.002),
                                      (np.full(20, 0.061), 0.059), (np.linspace(0, 1, 99), 0.37)])
def test_threshold_slider_fits_the_probabilities(p, start):
    from malaria_lab.widgets import EvaluationExplorer
    from malaria_lab.widgets.evaluation import threshold_scale

    top, step, decimals = threshold_scale(p, start)
    assert max(p.max(), start) <= top <= 10 * max(p.max(), start) and top <= 1
    positions = np.round(np.arange(0, top + step / 2, step), decimals)
    assert len(positions) >= 200, "the useful range is many steps, not the first one to three"
    labels = [f"{v:.{decimals}f}" for v in positions]
    assert len(set(labels)) == len(labels) and all(float(lab) == v for lab, v in zip(labels, positions))
    explorer = EvaluationExplorer((p > 0.04).astype(int), p, threshold=start)
    assert explorer.slider.max == top and explorer.slider.readout_format == f".{decimals}f"
    assert f"{explorer.threshold:.{decimals}f}" == f"{start:.{decimals}f}" and explorer.threshold in positions
    explorer.threshold = top
    explorer.threshold = start
    assert explorer.threshold == positions[np.argmin(abs(positions - start))], "the start value is reachable again"
    assert f"threshold {start:.{decimals}f}:" in explorer._headline()


def test_hover_text_uses_the_installed_ipywidgets_name_for_it():
    # ipywidgets 7 (Colab's) calls it description_tooltip; 8 calls it tooltip.
    import ipywidgets

    from malaria_lab.widgets import view

    slider = ipywidgets.IntSlider(description="n", **view.tooltip("how many"))
    assert view.TOOLTIP in slider.traits() and getattr(slider, view.TOOLTIP) == "how many"
    row = view.number_box(slider)
    assert getattr(row.children[0], view.TOOLTIP) == "how many"

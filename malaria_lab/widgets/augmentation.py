"""Augmentation explorer: one control per argument of ``make_augmenter``, originals beside
augmented copies, redrawn as the controls move.

The chosen settings go straight to the pipeline: ``make_augmenter(**explorer.settings)``, or
``explorer.augmenter()``.
"""

import inspect

import ipywidgets as w
import numpy as np

from ..course.plots import image_grid
from ..errors import MalariaLabError
from ..pipeline import make_augmenter
from ..quiet import import_keras
from .view import LiveView, number_box, tooltip

# What each knob of make_augmenter offers: (largest value on its slider, or None for an on/off
# switch; what it does). An argument not listed here still gets a control, from its default.
KNOBS = {
    "flip": (None, "mirror left-right and up-down (a cell has no up or down)"),
    "rotate90": (None, "turn by quarter turns (exact, no interpolation)"),
    "rotation": (0.5, "turn by up to this fraction of a full turn"),
    "zoom": (0.5, "zoom in or out by up to this fraction"),
    "translation": (0.3, "shift by up to this fraction of the image"),
    "contrast": (0.9, "change contrast by up to this fraction (stain differences)"),
    "brightness": (0.9, "change brightness by up to this fraction (lighting differences)"),
}
NOT_KNOBS = ("seed", "name")


def knobs():
    """{argument: (slider maximum or None for a switch, meaning, default)} for every augmentation
    argument of make_augmenter, in its order, so the explorer never lags behind it."""
    out = {}
    for name, param in inspect.signature(make_augmenter).parameters.items():
        if name in NOT_KNOBS:
            continue
        top, meaning = KNOBS.get(name, (None if isinstance(param.default, bool) else
                                        max(1.0, 2 * float(param.default or 0)), name))
        out[name] = (top, meaning, param.default)
    return out


def default_settings():
    """make_augmenter's own defaults, read from its signature so the two never drift apart."""
    return {name: default for name, (_, _, default) in knobs().items()}


class AugmentationExplorer(LiveView):
    """Sliders (and on/off switches) for the augmentations, with the first ``n`` images of ``images``
    shown as originals and as ``versions`` augmented copies each."""

    title = "Augmentation explorer"

    def __init__(self, images, n=6, versions=2, seed=0, **settings):
        super().__init__()
        self.knobs = knobs()
        unknown = sorted(set(settings) - set(self.knobs))
        if unknown:
            raise MalariaLabError(f"Unknown augmentation setting(s): {', '.join(unknown)}.",
                                  f"Use some of: {', '.join(self.knobs)}.")
        x = np.asarray(getattr(images, "x", images)[:n])
        if x.ndim != 4 or x.shape[-1] != 3 or not len(x):
            raise MalariaLabError(f"Expected images shaped (N, height, width, 3), got {x.shape}.",
                                  "Pass Arrays from load_arrays, or its .x.")
        self.originals = np.clip(x, 0, 255).astype("uint8")
        self.versions = int(versions)
        self.seed = int(seed)
        start = {**default_settings(), **settings}
        style = {"description_width": "80px"}
        self.controls = {}
        for name, (top, meaning, _) in self.knobs.items():
            if top is None:
                control = w.Checkbox(value=bool(start[name]), description=name, indent=False,
                                     layout=w.Layout(width="auto"), **tooltip(meaning))
            else:
                control = w.FloatSlider(value=float(start[name] or 0.0), min=0.0, max=top, step=0.01,
                                        description=name, readout_format=".2f", **tooltip(meaning),
                                        continuous_update=False, style=style)
            control.observe(lambda change: self.refresh(), names="value")
            self.controls[name] = control
        self.redraw = w.Button(description="new random draw", icon="refresh",
                               tooltip="the same settings, other random transformations",
                               layout=w.Layout(width="auto"))
        self.redraw.on_click(self._new_draw)
        self.code = w.HTML()
        self._cache = None
        switches = [self.controls[k] for k, (top, _, _) in self.knobs.items() if top is None]
        sliders = [number_box(self.controls[k]) for k, (top, _, _) in self.knobs.items() if top is not None]
        self._panel([w.HBox([*switches, self.redraw]), *sliders, self.code], "augmentation")

    @property
    def settings(self):
        """The chosen settings: ``make_augmenter(**explorer.settings)`` builds that augmenter."""
        return {name: (bool(c.value) if self.knobs[name][0] is None else round(float(c.value), 4))
                for name, c in self.controls.items()}

    def augmenter(self, seed=None, name="augment"):
        """The Keras augmentation layers for the chosen settings, ready for a model."""
        import_keras()
        return make_augmenter(**self.settings, seed=seed, name=name)

    def set(self, **settings):
        """Move several controls at once, with one redraw."""
        for name in settings:
            if name not in self.controls:
                raise MalariaLabError(f"Unknown augmentation setting {name!r}.",
                                      f"Use one of: {', '.join(self.knobs)}.")
        with self.holding():
            for name, value in settings.items():
                self.controls[name].value = value
        self.refresh()

    def _new_draw(self, button=None):
        self.seed += 1
        self.refresh()

    def augmented(self):
        """``versions`` augmented copies of the originals, uint8, shaped (versions, n, h, w, 3)."""
        key = (tuple(self.settings.items()), self.seed)
        if self._cache and self._cache[0] == key:
            return self._cache[1]
        keras = import_keras()
        if not any(self.settings.values()):
            out = np.repeat(self.originals[None], self.versions, axis=0)
        else:
            layers = self.augmenter(seed=self.seed)
            batch = self.originals.astype("float32")
            out = np.stack([
                np.clip(keras.ops.convert_to_numpy(layers(batch, training=True)), 0, 255).astype("uint8")
                for _ in range(self.versions)
            ])
        self._cache = (key, out)
        return out

    def call(self):
        """The Python call that makes the chosen augmenter."""
        args = ", ".join(f"{k}={v!r}" for k, v in self.settings.items())
        return f"make_augmenter({args})"

    def _update_controls(self):
        self.code.value = f"<code>{self.call()}</code>"

    def figures(self):
        copies = self.augmented()
        n = len(self.originals)
        pictures = list(self.originals) + [img for version in copies for img in version]
        titles = ["original"] * n + [f"augmented {v + 1}" for v in range(len(copies)) for _ in range(n)]
        return [[image_grid(pictures, titles, cols=n, size=1.3, title=self.call())]]

    def text(self):
        copies = self.augmented().astype("float32")
        change = np.abs(copies - self.originals.astype("float32")[None]).mean(axis=(0, 2, 3, 4))
        lines = [f"{self.title}: {self.call()}",
                 f"  {len(self.originals)} cells, {len(copies)} augmented copies each (seed {self.seed})",
                 "  mean pixel change per cell (0-255): " + ", ".join(f"{c:.1f}" for c in change)]
        return "\n".join(lines)

"""Augmentation explorer: one control per argument of ``make_augmenter``, originals beside
augmented copies, redrawn as the controls move.

The chosen settings go straight to the pipeline: ``make_augmenter(**explorer.settings)``, or
``explorer.augmenter()``.
"""

import inspect

import ipywidgets as w
import numpy as np

from ..errors import MalariaLabError
from ..pipeline import make_augmenter
from .view import LiveView

# Each knob of make_augmenter: (largest value offered, what it does).
KNOBS = {
    "flip": (None, "mirror left-right and up-down (a cell has no up or down)"),
    "rotation": (0.5, "turn by up to this fraction of a full turn"),
    "zoom": (0.5, "zoom in or out by up to this fraction"),
    "translation": (0.3, "shift by up to this fraction of the image"),
    "contrast": (0.9, "change contrast by up to this fraction (stain differences)"),
    "brightness": (0.9, "change brightness by up to this fraction (lighting differences)"),
}


def default_settings():
    """make_augmenter's own defaults, read from its signature so the two never drift apart."""
    params = inspect.signature(make_augmenter).parameters
    return {name: params[name].default for name in KNOBS}


class AugmentationExplorer(LiveView):
    """Sliders (and a flip toggle) for the augmentations, with the first ``n`` images of ``images``
    shown as originals and as ``versions`` augmented copies each."""

    title = "Augmentation explorer"

    def __init__(self, images, n=6, versions=2, seed=0, **settings):
        super().__init__()
        unknown = sorted(set(settings) - set(KNOBS))
        if unknown:
            raise MalariaLabError(f"Unknown augmentation setting(s): {', '.join(unknown)}.",
                                  f"Use some of: {', '.join(KNOBS)}.")
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
        for name, (top, meaning) in KNOBS.items():
            if top is None:
                control = w.Checkbox(value=bool(start[name]), description=name, indent=False,
                                     tooltip=meaning)
            else:
                control = w.FloatSlider(value=float(start[name] or 0.0), min=0.0, max=top, step=0.01,
                                        description=name, readout_format=".2f", tooltip=meaning,
                                        continuous_update=False, style=style)
            control.observe(lambda change: self.refresh(), names="value")
            self.controls[name] = control
        self.redraw = w.Button(description="new random draw", icon="refresh",
                               tooltip="the same settings, other random transformations",
                               layout=w.Layout(width="auto"))
        self.redraw.on_click(self._new_draw)
        self.code = w.HTML()
        self._cache = None
        self._panel([w.HBox([self.controls["flip"], self.redraw]),
                     *(self.controls[name] for name in KNOBS if name != "flip"), self.code],
                    "augmentation")

    @property
    def settings(self):
        """The chosen settings: ``make_augmenter(**explorer.settings)`` builds that augmenter."""
        return {name: (bool(c.value) if name == "flip" else round(float(c.value), 4))
                for name, c in self.controls.items()}

    def augmenter(self, seed=None, name="augment"):
        """The Keras augmentation layers for the chosen settings, ready for a model."""
        from ..quiet import import_keras

        import_keras()
        return make_augmenter(**self.settings, seed=seed, name=name)

    def set(self, **settings):
        """Move several controls at once, with one redraw."""
        for name in settings:
            if name not in self.controls:
                raise MalariaLabError(f"Unknown augmentation setting {name!r}.",
                                      f"Use one of: {', '.join(KNOBS)}.")
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
        from ..quiet import import_keras

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
        from ..grading import image_grid

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

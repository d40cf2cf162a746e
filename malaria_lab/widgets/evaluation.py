"""Evaluation explorer: a threshold slider that updates the confusion matrix, sensitivity,
specificity and the operating point on the ROC curve, and a gallery of the worst mistakes.

Moving the threshold trades missed parasites (false negatives) for false alarms (false
positives); seeing both change together is the point of this widget.
"""

import html
import math
from pathlib import PurePosixPath

import ipywidgets as w
import numpy as np
from matplotlib.figure import Figure

from .. import evaluate
from ..alt_text import describe
from ..errors import MalariaLabError
from .view import LiveView, number_box


class EvaluationExplorer(LiveView):
    """``y`` the true labels (1 = parasitized), ``p`` the predicted probabilities, ``x`` the
    images (for the gallery, optional), ``names`` their file names or paths (optional)."""

    title = "Evaluation explorer"

    def __init__(self, y, p, x=None, threshold=0.5, names=None, n=16):
        super().__init__()
        self.y = np.asarray(y).astype(int).reshape(-1)
        self.p = np.asarray(p, dtype="float64").reshape(-1)
        evaluate.confusion(self.y, self.p)  # checks that y and p match
        self.x = None if x is None else np.asarray(x)
        if self.x is not None and len(self.x) != len(self.y):
            raise MalariaLabError(f"{len(self.x)} images but {len(self.y)} labels.",
                                  "Pass the images the predictions were made on.")
        self.names = [PurePosixPath(str(n).split("::")[-1]).name for n in names] if names is not None else None
        self.n = int(n)
        high, self.step, self.decimals = threshold_scale(self.p, threshold)
        self.slider = w.FloatSlider(value=self._snap(threshold), min=0.0, max=high, step=self.step,
                                    description="threshold", readout_format=f".{self.decimals}f",
                                    continuous_update=False, style={"description_width": "80px"},
                                    layout=w.Layout(width="420px"))
        self.scores = w.HTML()
        self.slider.observe(lambda change: self.refresh(), names="value")
        self._panel([number_box(self.slider), self.scores], "evaluation")

    @classmethod
    def from_model(cls, model, arrays, threshold=0.5, tta=False, n=16):
        """Predict on ``arrays`` (from load_arrays) with ``model`` and explore the result."""
        p = evaluate.predict(model, arrays.x, tta=tta)
        return cls(arrays.y, p, arrays.x, threshold=threshold, names=arrays.paths, n=n)

    @property
    def threshold(self):
        return float(self.slider.value)

    @threshold.setter
    def threshold(self, value):
        self.slider.value = self._snap(value)

    def _snap(self, value):
        """``value`` on the slider's grid, so that its label is the number it stands for."""
        return round(round(float(value) / self.step) * self.step, self.decimals)

    @property
    def metrics(self):
        """evaluate.metrics at the current threshold."""
        return evaluate.metrics(self.y, self.p, self.threshold)

    def mistakes(self):
        """(missed parasitized, false alarms): indices, the most confident mistakes first."""
        called = self.p >= self.threshold
        missed = np.flatnonzero((self.y == 1) & ~called)
        alarms = np.flatnonzero((self.y == 0) & called)
        return missed[np.argsort(self.p[missed])], alarms[np.argsort(-self.p[alarms])]

    def _headline(self):
        m = self.metrics
        (tn, fp), (fn, tp) = m["confusion"]
        return (f"threshold {self.threshold:.{self.decimals}f}: sensitivity {_pct(m['sensitivity'])} "
                f"({fn} of {fn + tp} parasitized missed), specificity {_pct(m['specificity'])} "
                f"({fp} of {fp + tn} uninfected flagged), accuracy {_pct(m['accuracy'])}")

    def _update_controls(self):
        # A status message, so assistive technology may announce the new scores as the slider moves.
        self.scores.value = f'<span role="status">{html.escape(self._headline())}</span>'

    def figures(self):
        m = self.metrics
        header = Figure(figsize=(8, 0.5), dpi=100)
        header.text(0.5, 0.5, self._headline().replace(", specificity", ",\nspecificity"),
                    ha="center", va="center", fontsize=10)
        rows = [[describe(header, self._headline() + ".")],
                [evaluate.plot_confusion(m["confusion"]), evaluate.plot_roc(self.y, self.p, self.threshold)]]
        if self.x is not None:
            rows.append([evaluate.plot_gallery(self.x, self.y, self.p, self.threshold, n=self.n)])
        return rows

    def _name(self, i):
        return self.names[i] if self.names else f"image {i}"

    def text(self):
        m = self.metrics
        (tn, fp), (fn, tp) = m["confusion"]
        missed, alarms = self.mistakes()
        lines = [
            f"{self.title}: {self._headline()}",
            f"  AUC {m['auc']:.3f}; ROC point: 1 - specificity {1 - m['specificity']:.3f}, "
            f"sensitivity {m['sensitivity']:.3f}",
            "  confusion          called uninfected  called parasitized",
            f"    uninfected       {tn:17d}  {fp:19d}",
            f"    parasitized      {fn:17d}  {tp:19d}",
        ]
        for what, picks in (("missed parasitized", missed), ("false alarms", alarms)):
            lines.append(f"  {what} ({len(picks)}): " + (", ".join(
                f"{self._name(i)} p={self.p[i]:.2f}" for i in picks[: self.n // 2]) or "none")
                + (", ..." if len(picks) > self.n // 2 else ""))
        return "\n".join(lines)


def threshold_scale(p, start=0.5, positions=200):
    """(top, step, decimals) of a threshold slider from 0 that fits the probabilities ``p``.

    The top is the next 1, 2 or 5 times a power of ten above the largest probability and the
    start (a model whose probabilities all lie under 0.08 gets 0 to 0.1); the step is a power of
    ten giving at least ``positions`` positions, and the label shows exactly its decimals, so
    two positions never share a label.
    """
    largest = max(float(np.max(p)) if len(p) else 1.0, float(start), 1e-3)
    power = 10 ** math.floor(math.log10(largest))
    top = min(1.0, next(m * power for m in (1, 2, 5, 10) if m * power >= largest * (1 - 1e-9)))
    decimals = max(2, math.ceil(-math.log10(top / positions)))
    return top, 10.0 ** -decimals, decimals


def _pct(value):
    return "n/a" if value != value else f"{100 * value:.1f}%"

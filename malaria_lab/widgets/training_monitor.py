"""Training monitor: a Keras callback that redraws loss and accuracy, training against
validation, after every epoch of ``fit``; the last drawing stays in the saved notebook."""

import ipywidgets as w
from matplotlib.figure import Figure

from ..alt_text import describe
from ..evaluate import plot_history
from ..quiet import import_keras
from .view import LiveView, in_kernel

keras = import_keras()

WAITING = "Loss and accuracy appear here after the first epoch."
# Other names Keras gives the accuracy metric, mapped to the one plot_history draws.
ALIASES = {"binary_accuracy": "accuracy", "acc": "accuracy"}


class TrainingMonitor(keras.callbacks.Callback, LiveView):
    """Pass it to ``fit(callbacks=[TrainingMonitor()])``; it shows itself when training starts.

    ``history`` (a dict of lists, e.g. a resumed run's) is drawn before the new epochs. With
    ``show=False`` nothing is displayed until you call ``show()``.
    """

    title = "Training monitor"

    def __init__(self, history=None, show=True):
        keras.callbacks.Callback.__init__(self)
        LiveView.__init__(self)
        self.history = {k: [float(v) for v in vals] for k, vals in dict(history or {}).items()}
        self.auto = show
        self.epochs = None
        self.finished = False
        self.progress = w.IntProgress(value=0, min=0, max=1, description="epoch",
                                      style={"description_width": "50px"})
        self.status = w.HTML()
        self._panel([self.progress, self.status], "training-monitor")
        self._update_controls()

    @property
    def curves(self):
        """The history as plot_history reads it (accuracy under its usual name)."""
        curves = {}
        for key, values in self.history.items():
            prefix = "val_" if key.startswith("val_") else ""
            base = key[len(prefix):]
            curves.setdefault(prefix + ALIASES.get(base, base), values)
        return curves

    def on_train_begin(self, logs=None):
        self.finished = False
        self.epochs = (self.params or {}).get("epochs")
        self._update_controls()
        if self.auto and not self._handles and in_kernel():
            self.show(live=True)

    def on_epoch_end(self, epoch, logs=None):
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(float(value))
        self.refresh()

    def on_train_end(self, logs=None):
        self.finished = True
        self.refresh()
        if self.auto and not self._handles:
            print(self.text())

    def done(self):
        return len(next(iter(self.history.values()), []))

    def _latest(self):
        return ", ".join(f"{k} {v[-1]:.4g}" for k, v in self.history.items()
                         if v and k.replace("val_", "") in ("loss", "accuracy", *ALIASES))

    def _update_controls(self):
        done = self.done()
        total = max(self.epochs or 0, done, 1)
        self.progress.max, self.progress.value = total, done
        state = "finished" if self.finished else ("waiting for the first epoch" if not done else "training")
        latest = self._latest()
        self.status.value = f"{state}: epoch {done} of {self.epochs or '?'}" + (f"; {latest}" if latest else "")

    def figures(self):
        if not self.done():
            fig = Figure(figsize=(9, 0.8), dpi=100)
            fig.text(0.5, 0.5, WAITING, ha="center", va="center")
            return [[describe(fig, WAITING)]]
        return [[plot_history(self.curves)]]

    def text(self):
        keys = [k for k in ("loss", "accuracy", "val_loss", "val_accuracy") if k in self.curves]
        lines = [f"{self.title}: {self.done()} epoch(s)" + (", finished" if self.finished else "")]
        if keys:
            lines.append("  epoch  " + "  ".join(f"{k:>12}" for k in keys))
            for i in range(self.done()):
                values = [self.curves[k][i] if i < len(self.curves[k]) else float("nan") for k in keys]
                lines.append(f"  {i + 1:5d}  " + "  ".join(f"{v:12.4f}" for v in values))
        return "\n".join(lines)

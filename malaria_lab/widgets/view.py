"""What every widget shares: live controls, plus a picture and a text that any viewer can show.

In a kernel, ``show()`` displays the controls (an ipywidgets box, so their state is saved with
the notebook) and, below them, the picture as a plain PNG output that is redrawn in place each
time a control changes. A saved or headless-run notebook, a static site or a notebook opened
without a kernel still shows the latest picture; a plain terminal gets the text.
"""

import contextlib
import io

import ipywidgets as w
from PIL import Image

from ..alt_text import Picture, required

PREFIX = "malaria-lab-"
# A control's hover text: `tooltip` in ipywidgets 8, `description_tooltip` in 7 (Colab's, whose
# front end renders no ipywidgets 8). A Button has `tooltip` in both.
TOOLTIP = "tooltip" if int(w.__version__.split(".")[0]) >= 8 else "description_tooltip"
# Under the picture: a reopened notebook has no kernel behind its controls, which then show an error.
REOPENED = ("*The picture above is the controls' latest view; in a reopened notebook, run this cell "
            "again for the live controls.*")


def in_kernel():
    """True inside a Jupyter kernel (JupyterLab, Colab, nbclient), False in a terminal."""
    try:
        from IPython import get_ipython  # absent outside Jupyter: then no kernel
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def to_png(rows):
    """One PNG of matplotlib Figures: each row left to right, rows top to bottom, on white."""
    pictures = [[_raster(fig) for fig in row] for row in _rows(rows)]
    if len(pictures) == 1 and len(pictures[0]) == 1:
        return _png(pictures[0][0])
    width = max(sum(p.width for p in row) for row in pictures)
    height = sum(max(p.height for p in row) for row in pictures)
    canvas = Image.new("RGB", (width, height), "white")
    top = 0
    for row in pictures:
        left = (width - sum(p.width for p in row)) // 2
        for picture in row:
            canvas.paste(picture, (left, top))
            left += picture.width
        top += max(p.height for p in row)
    return _png(canvas)


def describe_rows(rows):
    """The text alternative of a picture made of ``rows`` of Figures: theirs, in reading order."""
    return " ".join(required(fig) for row in _rows(rows) for fig in row)


def _rows(rows):
    rows = [[fig for fig in row if fig is not None] for row in rows]
    return [row for row in rows if row]


def _raster(fig):
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=fig.dpi, facecolor="white")
    return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")


def _png(image):
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=False)
    return buffer.getvalue()


def tooltip(text):
    """The keyword arguments that give a control the hover text ``text`` in the installed ipywidgets."""
    return {TOOLTIP: text}


def number_box(slider):
    """``slider`` with a labelled number box before it, the two linked both ways; returns the row.

    ipywidgets' slider handle has no accessible name, so a screen reader announces a bare "slider":
    the box is a native ``<input type=number>`` with the slider's label, which assistive technology
    announces with its value and the arrow keys step. The slider stays for the mouse; its own
    label and readout move to the box (``slider.box``).
    """
    kind = w.BoundedIntText if isinstance(slider, w.IntSlider) else w.BoundedFloatText
    slider.box = kind(value=slider.value, min=slider.min, max=slider.max, step=slider.step,
                      description=slider.description, **tooltip(getattr(slider, TOOLTIP)),
                      style={"description_width": slider.style.description_width},
                      layout=w.Layout(width="auto", max_width="220px"))
    for name in ("min", "max", "value"):
        w.link((slider, name), (slider.box, name))
    slider.description, slider.readout = "", False
    return w.HBox([slider.box, slider])


class Panel(w.VBox):
    """A VBox whose plain-text form says what it is, for viewers that cannot draw widgets."""

    def __init__(self, children=(), fallback="", **kwargs):
        super().__init__(children, **kwargs)
        self.fallback = fallback

    def _repr_mimebundle_(self, **kwargs):
        data = super()._repr_mimebundle_(**kwargs)
        if data:
            data["text/plain"] = self.fallback
        return data


class LiveView:
    """Base of the widgets: ``panel`` (the ipywidgets controls), ``figures()`` (rows of Figures
    that make the picture) and ``text()``.

    Subclasses build their controls into ``self.panel`` with :meth:`_panel`, and call
    :meth:`refresh` when a control changes.
    """

    title = "view"

    def __init__(self):
        self._handles = []
        self._held = 0
        self.panel = None

    def _panel(self, children, kind):
        self.panel = Panel(children, fallback=f"[{self.title}: live controls, drawn when this notebook "
                                              "runs in Jupyter; the picture below is their latest view.]")
        self.panel.add_class(PREFIX + "widget")
        self.panel.add_class(PREFIX + kind)
        return self.panel

    def figures(self):
        """Rows of matplotlib Figures that make up the picture."""
        raise NotImplementedError

    def text(self):
        """What the picture shows, in words, for terminals and text-only viewers."""
        raise NotImplementedError

    def _update_controls(self):
        """Bring labels and counters in the controls up to date (nothing by default)."""

    def png(self):
        """The picture as PNG bytes, drawn now."""
        return self.picture().png

    def picture(self):
        """The picture, drawn now, with its text alternative (its figures' descriptions)."""
        rows = self.figures()
        return Picture(to_png(rows), describe_rows(rows))

    def bundle(self):
        """The static output: the picture as an HTML figure with its text alternative, and
        :meth:`text` for viewers that show no images."""
        return self.picture().bundle(plain=self.text())

    def show(self, live=None):
        """Display the controls and the picture (in a kernel), or print the text (elsewhere)."""
        self._update_controls()
        if not (in_kernel() if live is None else live):
            print(self.text())
            return
        from IPython.display import display  # in a kernel, so IPython is there

        display(self.panel)
        self._handles.append(display(self.bundle(), raw=True, display_id=True))
        display({"text/markdown": REOPENED, "text/plain": ""}, raw=True)

    @contextlib.contextmanager
    def holding(self):
        """No redraws inside the block (for changing several controls at once)."""
        self._held += 1
        try:
            yield self
        finally:
            self._held -= 1

    def refresh(self):
        """Redraw after a change: the labels at once, the picture in every place it is shown."""
        if self._held:
            return
        self._update_controls()
        if self._handles:
            data = self.bundle()
            for handle in self._handles:
                handle.update(data, raw=True)

    def _ipython_display_(self):
        self.show()

    def __repr__(self):
        return self.text()

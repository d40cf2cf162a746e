"""Every picture the course shows comes with a text alternative, written from the data it shows.

:func:`describe` attaches the text to a matplotlib Figure where the figure is drawn;
:class:`Picture` carries the rendered PNG with its text to every front end:

* HTML (JupyterLab, Colab, VS Code, nbconvert's pages, the site, the class report): a
  ``<figure>`` whose ``<img>`` has the text as ``alt`` and whose visible ``<figcaption>`` says it
  too (hidden from screen readers, which have just read the ``alt``). JupyterLab gives a plain
  PNG output no ``alt`` at all, hence HTML;
* ``text/plain`` (terminals, text-only viewers, and whatever prints a notebook's text): the text;
* the PNG file itself: the text in its ``Description`` field (PNG's tEXt chunk).
"""

import base64
import html
import io
from dataclasses import dataclass

from .atomic import atomic_path
from .errors import MalariaLabError

ATTRIBUTE = "malaria_lab_description"
CLASS = "malaria-lab-figure"


def describe(fig, text):
    """Attach ``text``, what ``fig`` shows in words and numbers, to ``fig``; returns ``fig``."""
    text = " ".join(str(text).split())
    if not text:
        raise ValueError("a figure's description cannot be empty")
    setattr(fig, ATTRIBUTE, text)
    return fig


def description(fig):
    """The text attached by :func:`describe`, or None."""
    return getattr(fig, ATTRIBUTE, None)


def required(fig, text=None):
    """``text``, else the figure's own description; refuses a figure that has none."""
    said = " ".join(str(text).split()) if text else description(fig)
    if not said:
        raise MalariaLabError(
            "This figure has no text alternative, so a screen reader would announce only "
            "'image' and a text-only viewer would show nothing.",
            "Describe it when showing it: show(fig, \"what it shows, with its main numbers\").")
    return said


def png_bytes(fig, text=None, dpi=None, **savefig):
    """``fig`` as PNG bytes on white, its description in the PNG's Description field."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi or fig.dpi, facecolor="white",
                metadata={"Description": required(fig, text)}, **savefig)
    return buffer.getvalue()


def save_png(fig, path, text=None):
    """Write ``fig`` to ``path`` as PNG (atomically), its description inside; returns the path."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(png_bytes(fig, text))
    return path


@dataclass(frozen=True)
class Picture:
    """A rendered picture (PNG bytes) and its text alternative."""

    png: bytes
    text: str

    @classmethod
    def of(cls, fig, text=None, **savefig):
        """Render ``fig``; ``text`` overrides the description attached to it."""
        said = required(fig, text)
        return cls(png_bytes(fig, said, **savefig), said)

    def data_uri(self):
        return "data:image/png;base64," + base64.b64encode(self.png).decode("ascii")

    def html(self):
        """``<figure>``: the image with its ``alt``, and the same words visible under it."""
        said = html.escape(self.text, quote=True)
        return (f'<figure class="{CLASS}"><img src="{self.data_uri()}" alt="{said}">'
                f'<figcaption aria-hidden="true">{said}</figcaption></figure>')

    def bundle(self, plain=None):
        """A Jupyter display bundle: the HTML figure, and ``plain`` (else the description) as text."""
        return {"text/html": self.html(), "text/plain": plain or self.text}

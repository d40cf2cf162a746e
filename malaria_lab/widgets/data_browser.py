"""Data browser: the cells of a data set in a grid, filtered by class and patient.

Each cell is shown at its own size with its file name and pixel size, so learners see how much
the crops vary before anything is resized.
"""

import io
import os
from collections import Counter

import ipywidgets as w
import numpy as np
from matplotlib.figure import Figure
from PIL import Image

from ..alt_text import describe
from ..course.plots import image_grid
from ..data.layout import CLASSES, find_images, read_bytes
from .view import LiveView, number_box

ALL = "(all)"


class DataBrowser(LiveView):
    """A page of cells, chosen with a class and a patient dropdown and a page slider.

    ``data`` is a data set (folder or zip, as for ``find_images``) or a list of ImageRef.
    """

    title = "Data browser"

    def __init__(self, data, per_page=18, cols=6):
        super().__init__()
        images = find_images(data) if isinstance(data, (str, os.PathLike)) else data
        self.images = list(images)
        self.per_page, self.cols = int(per_page), int(cols)
        self._sizes = {}
        classes = Counter(ref.label for ref in self.images)
        patients = Counter(ref.patient for ref in self.images)
        style = {"description_width": "60px"}
        self.label = w.Dropdown(
            options=[(f"all classes ({len(self.images)})", ALL)]
            + [(f"{name} ({classes[name]})", name) for name in CLASSES if classes[name]],
            value=ALL, description="class", style=style)
        self.patient = w.Dropdown(
            options=[(f"all patients ({len(patients)})", ALL)]
            + [(f"{p} ({patients[p]} cells)", p) for p in sorted(patients)],
            value=ALL, description="patient", style=style)
        self.page = w.IntSlider(value=1, min=1, max=1, description="page", style=style,
                                continuous_update=False)
        self.status = w.HTML()
        self._paginate()
        for control in (self.label, self.patient):
            control.observe(self._filter_changed, names="value")
        self.page.observe(lambda change: self.refresh(), names="value")
        self._panel([w.HBox([self.label, self.patient]), number_box(self.page), self.status], "data-browser")

    @property
    def matches(self):
        """The images of the chosen class and patient."""
        return [ref for ref in self.images
                if self.label.value in (ALL, ref.label) and self.patient.value in (ALL, ref.patient)]

    @property
    def shown(self):
        """The images on the current page."""
        start = (self.page.value - 1) * self.per_page
        return self.matches[start:start + self.per_page]

    def _paginate(self):
        pages = max(1, -(-len(self.matches) // self.per_page))
        with self.holding():
            self.page.value = 1
            self.page.max = pages

    def _filter_changed(self, change):
        self._paginate()
        self.refresh()

    def size(self, ref):
        """(width, height) in pixels of one image, read from its header."""
        if ref.path not in self._sizes:

            with Image.open(io.BytesIO(read_bytes(ref.path))) as image:
                self._sizes[ref.path] = image.size
        return self._sizes[ref.path]

    def _where(self):
        what = "all classes" if self.label.value == ALL else self.label.value
        who = "all patients" if self.patient.value == ALL else f"patient {self.patient.value}"
        return f"{what}, {who}"

    def _summary(self):
        n, shown = len(self.matches), len(self.shown)
        if not n:
            return f"No cells for {self._where()}."
        return (f"{self._where()}: {n} cells; page {self.page.value} of {self.page.max} "
                f"shows {shown}")

    def _update_controls(self):
        self.status.value = self._summary()

    def figures(self):
        shown = self.shown
        if not shown:
            fig = Figure(figsize=(5, 0.8), dpi=100)
            fig.text(0.5, 0.5, self._summary(), ha="center", va="center")
            return [[describe(fig, self._summary())]]
        pictures, titles = [], []
        for ref in shown:

            with Image.open(io.BytesIO(read_bytes(ref.path))) as image:
                pictures.append(np.asarray(image.convert("RGB")))
            width, height = self.size(ref)
            titles.append(f"{_wrap(ref.name)}\n{width}x{height} px")
        grid = image_grid(pictures, titles, cols=self.cols, size=1.7, title=self._summary())
        return [[describe(grid, f"{self._summary()}, each titled with its file name and size: " + "; ".join(
            f"{ref.name}, {ref.label}, {'x'.join(map(str, self.size(ref)))} px" for ref in shown) + ".")]]

    def text(self):
        lines = [f"{self.title}: {self._summary()}"]
        for ref in self.shown:
            width, height = self.size(ref)
            lines.append(f"  {ref.name}  {width}x{height} px  {ref.label}  patient {ref.patient}")
        return "\n".join(lines)


def _wrap(name, width=22):
    """A file name broken at underscores into lines of at most ``width`` characters."""
    lines, line = [], ""
    for part in name.replace("_", "_\0").split("\0"):
        if line and len(line) + len(part) > width:
            lines.append(line)
            line = ""
        line += part
    return "\n".join(lines + [line])

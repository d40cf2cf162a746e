"""The course's pictures, shown as PNG so that they look the same in Jupyter, Colab and exported
HTML: an image grid, bar charts, a learning-rate schedule and a split's patients."""

import io
import sys
from collections import Counter, defaultdict

import numpy as np
from matplotlib.figure import Figure


def show(fig):
    """Display a matplotlib figure in the notebook (and close it)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=fig.dpi)
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:  # a figure made with pyplot: let pyplot forget it
        pyplot.close(fig)
    try:
        from IPython.display import Image, display  # only inside IPython

        display(Image(buffer.getvalue()))
    except ImportError:  # outside IPython: nothing to show on
        pass


def image_grid(images, titles=None, cols=8, size=1.3, title=None):
    """A figure with ``images`` (uint8 HxWx3 arrays) in a grid, with optional titles."""
    images = list(images)
    cols = max(1, min(cols, len(images)))
    rows = max(1, -(-len(images) // cols))
    fig = Figure(figsize=(cols * size, rows * (size + (0.25 if titles else 0)) + (0.3 if title else 0)),
                 dpi=100, layout="constrained")
    axes = np.atleast_1d(fig.subplots(rows, cols)).reshape(-1)
    for ax in axes:
        ax.axis("off")
    for i, (ax, image) in enumerate(zip(axes, images)):
        ax.imshow(np.clip(np.asarray(image), 0, 255).astype("uint8"))
        if titles:
            ax.set_title(str(titles[i]), fontsize=7)
    if title:
        fig.suptitle(title, fontsize=9)
    return fig


def bar_chart(counts, title=None, xlabel=None, ylabel=None, horizontal=False, size=(7, 3)):
    """A figure with one bar per key of ``counts`` (a dict)."""
    fig = Figure(figsize=size, dpi=100, layout="constrained")
    ax = fig.subplots()
    keys = [str(k) for k in counts]
    values = list(counts.values())
    (ax.barh if horizontal else ax.bar)(keys, values, color="#a33a5a")
    if not horizontal:
        ax.tick_params(axis="x", labelrotation=60, labelsize=7)
    ax.set(title=title or "", xlabel=xlabel or "", ylabel=ylabel or "")
    return fig


def schedule_chart(schedule, steps_per_epoch, epochs, size=(6, 2.6)):
    """A figure of a learning-rate schedule, epoch by epoch."""
    import keras  # a schedule is a Keras object, so Keras is loaded already

    total = int(steps_per_epoch) * int(epochs)
    steps = np.unique(np.linspace(0, total, min(total + 1, 200)).astype(int))
    rates = [float(keras.ops.convert_to_numpy(schedule(int(step)))) if callable(schedule)
             else float(schedule) for step in steps]
    fig = Figure(figsize=size, dpi=100, layout="constrained")
    ax = fig.subplots()
    ax.plot(steps / max(1, int(steps_per_epoch)), rates, color="#a33a5a")
    ax.set(xlabel="epoch", ylabel="learning rate", title="Learning rate during training")
    ax.xaxis.get_major_locator().set_params(integer=True)
    return fig


def split_chart(rows, title=None, limit=40):
    """A figure with one bar per patient, coloured by the parts its cells are in."""
    counts = defaultdict(Counter)
    for row in rows:
        counts[row.patient][row.split] += 1
    patients = sorted(counts, key=lambda p: (-sum(counts[p].values()), p))[:limit]
    fig = Figure(figsize=(8, 3.2), dpi=100, layout="constrained")
    ax = fig.subplots()
    bottom = np.zeros(len(patients))
    for part, colour in (("train", "#4c72b0"), ("val", "#dd8452"), ("test", "#c44e52")):
        values = np.array([counts[p][part] for p in patients], dtype=float)
        ax.bar(range(len(patients)), values, bottom=bottom, color=colour, label=part)
        bottom += values
    ax.set_xticks(range(len(patients)), patients, rotation=70, fontsize=6)
    ax.set(ylabel="cells", title=title or "cells per patient, by part")
    ax.legend(fontsize=8)
    return fig

"""The course's pictures: an image grid, bar charts, a learning-rate schedule and a split's patients.

Each figure is drawn with colours everyone can tell apart plus a second cue (:mod:`malaria_lab.palette`)
and carries a text alternative written from its data (:mod:`malaria_lab.alt_text`). :func:`show`
displays it as an HTML figure (the image with that text as ``alt`` and as a visible caption) and
as plain text, so it reads the same in JupyterLab, Colab, exported HTML and a terminal.
"""

import sys
from collections import Counter, defaultdict

import numpy as np
from matplotlib.figure import Figure

from ..alt_text import Picture, describe
from ..palette import BLUE, PARTS

LISTED = 12  # at most this many values named one by one in a description


def show(fig, description=None):
    """Display ``fig`` with its text alternative (``description``, else the one drawn with it) and
    close it; refuses a figure without one. Returns nothing, so a cell ending with it shows it once."""
    picture = Picture.of(fig, description)
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:  # a figure made with pyplot: let pyplot forget it
        pyplot.close(fig)
    try:
        from IPython.display import display  # only inside IPython
    except ImportError:  # outside IPython: the words are what there is to show
        print(picture.text)
        return
    display(picture.bundle(), raw=True)


def _runs(titles):
    """'parasitized (8), then uninfected (8)': the titles in order, repeats counted."""
    runs = []
    for title in titles:
        title = str(title).replace("\n", " ").strip() or "no title"
        if runs and runs[-1][0] == title:
            runs[-1][1] += 1
        else:
            runs.append([title, 1])
    named = [f"{t} ({n})" if n > 1 else t for t, n in runs]
    if len(named) > LISTED:
        named = named[:LISTED] + [f"and {len(named) - LISTED} more"]
    return ", then ".join(named) if len(runs) <= 3 else ", ".join(named)


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
    shapes = set()
    for i, (ax, image) in enumerate(zip(axes, images)):
        pixels = np.clip(np.asarray(image), 0, 255).astype("uint8")
        shapes.add(f"{pixels.shape[1]}x{pixels.shape[0]}")
        ax.imshow(pixels)
        if titles:
            ax.set_title(str(titles[i]), fontsize=7)
    if title:
        fig.suptitle(title, fontsize=9)
    size_said = f", each {shapes.pop()} pixels" if len(shapes) == 1 else ""
    said = (f"{title + ': ' if title else ''}{len(images)} image(s) in {rows} row(s) of {cols}{size_said}"
            + (f"; titled, in reading order: {_runs(titles[:len(images)])}." if titles else ", untitled."))
    return describe(fig, said)


def _listing(keys, values):
    pairs = [f"{k} {v:g}" for k, v in zip(keys, values)]
    if len(pairs) <= LISTED:
        return "; ".join(pairs)
    top = int(np.argmax(values))
    low = int(np.argmin(values))
    return (f"from {values[top]:g} ({keys[top]}) down to {values[low]:g} ({keys[low]}), total {sum(values):g}; "
            f"first {LISTED}: " + "; ".join(pairs[:LISTED]))


def bar_chart(counts, title=None, xlabel=None, ylabel=None, horizontal=False, size=(7, 3)):
    """A figure with one bar per key of ``counts`` (a dict), each few bars labelled with its value."""
    fig = Figure(figsize=size, dpi=100, layout="constrained")
    ax = fig.subplots()
    keys = [str(k) for k in counts]
    values = [float(v) for v in counts.values()]
    bars = (ax.barh if horizontal else ax.bar)(keys, values, color=BLUE)
    if len(keys) <= LISTED:
        ax.bar_label(bars, labels=[f"{v:g}" for v in values], fontsize=8, padding=2)
        ax.margins(**({"x": 0.15} if horizontal else {"y": 0.15}))
    if not horizontal:
        ax.tick_params(axis="x", labelrotation=60, labelsize=7)
    ax.set(title=title or "", xlabel=xlabel or "", ylabel=ylabel or "")
    return describe(fig, f"Bar chart{', ' + title if title else ''}: {len(keys)} bar(s)"
                         f"{' of ' + ylabel if ylabel else ''}; {_listing(keys, values)}.")


def schedule_chart(schedule, steps_per_epoch, epochs, size=(6, 2.6)):
    """A figure of a learning-rate schedule, epoch by epoch."""
    import keras  # a schedule is a Keras object, so Keras is loaded already

    total = int(steps_per_epoch) * int(epochs)
    steps = np.unique(np.linspace(0, total, min(total + 1, 200)).astype(int))
    rates = np.array([float(keras.ops.convert_to_numpy(schedule(int(step)))) if callable(schedule)
                      else float(schedule) for step in steps])
    at = steps / max(1, int(steps_per_epoch))
    fig = Figure(figsize=size, dpi=100, layout="constrained")
    ax = fig.subplots()
    ax.plot(at, rates, color=BLUE, linewidth=2)
    ax.set(xlabel="epoch", ylabel="learning rate", title="Learning rate during training")
    ax.xaxis.get_major_locator().set_params(integer=True)
    peak = int(np.argmax(rates))
    said = (f"Line chart, learning rate during {int(epochs)} epoch(s) of {int(steps_per_epoch)} steps: "
            f"starts at {rates[0]:.2g}")
    if rates.max() > rates[0]:
        said += f", rises to {rates[peak]:.2g} at epoch {at[peak]:.1f}"
    said += f", ends at {rates[-1]:.2g}." if rates[-1] != rates[peak] or peak == 0 else "."
    return describe(fig, said)


def split_chart(rows, title=None, limit=40):
    """A figure with one bar per patient, its cells stacked by part (colour, hatching and legend)."""
    counts = defaultdict(Counter)
    for row in rows:
        counts[row.patient][row.split] += 1
    patients = sorted(counts, key=lambda p: (-sum(counts[p].values()), p))[:limit]
    fig = Figure(figsize=(8, 3.2), dpi=100, layout="constrained")
    ax = fig.subplots()
    bottom = np.zeros(len(patients))
    for part, cue in PARTS.items():
        values = np.array([counts[p][part] for p in patients], dtype=float)
        ax.bar(range(len(patients)), values, bottom=bottom, label=part, **cue.bar())
        bottom += values
    ax.set_xticks(range(len(patients)), patients, rotation=70, fontsize=6)
    heading = title or "cells per patient, by part"
    ax.set(ylabel="cells", title=heading)
    ax.legend(fontsize=8)
    parts = Counter(row.split for row in rows)
    mixed = sum(1 for p in counts if len(counts[p]) > 1)
    shown = f"the largest {len(patients)} of {len(counts)}" if len(counts) > len(patients) else f"all {len(counts)}"
    return describe(fig, f"Stacked bar chart, {heading}: {shown} patients, one bar each, its cells split into "
                         "train (solid blue), val (orange-red, striped) and test (green, dotted). "
                         f"{mixed} of {len(counts)} patients have cells in more than one part. Cells: "
                         + ", ".join(f"{part} {parts[part]}" for part in PARTS) + ".")

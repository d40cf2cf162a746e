"""Colours everyone can tell apart, and a second cue for each series.

The colours are Okabe and Ito's palette ("Color Universal Design", 2008), distinguishable with
the common colour-vision deficiencies, restricted to the four with WCAG's 3:1 contrast against
white paper (graphical objects, success criterion 1.4.11). Colour is never the only difference
between series: each also has its own marker, line style and hatching (criterion 1.4.1).
"""

from dataclasses import dataclass

BLUE = "#0072B2"  # 5.2:1 on white
VERMILLION = "#D55E00"  # 3.9:1
GREEN = "#009E73"  # 3.4:1 (bluish green)
PURPLE = "#CC79A7"  # 3.1:1 (reddish purple)
GREY = "#767676"  # 4.5:1: the lightest grey that text on white may use
INK = "#000000"
PAPER = "#FFFFFF"
# Between neighbouring bars and inside hatching: each colour above stands out from white.
SEPARATOR = PAPER


@dataclass(frozen=True)
class Cue:
    """How one series looks: its colour and the cues that do not need colour vision."""

    colour: str
    marker: str
    linestyle: str
    hatch: str

    def line(self):
        """Keyword arguments for ``Axes.plot``."""
        return {"color": self.colour, "marker": self.marker, "linestyle": self.linestyle}

    def bar(self):
        """Keyword arguments for ``Axes.bar``/``barh``: white outline and white hatching."""
        return {"color": self.colour, "hatch": self.hatch, "edgecolor": SEPARATOR, "linewidth": 0.8}


# The parts of a split, and training against validation.
PARTS = {"train": Cue(BLUE, "o", "-", ""), "val": Cue(VERMILLION, "s", "--", "//"),
         "test": Cue(GREEN, "^", ":", "..")}
CURVES = {"training": Cue(BLUE, "o", "-", ""), "validation": Cue(VERMILLION, "s", "--", "//")}
# Outcomes, best to worst, then absent (the class report's stacked bars).
OUTCOMES = (Cue(GREEN, "o", "-", ""), Cue(BLUE, "s", "--", "//"), Cue(VERMILLION, "^", ":", "xx"),
            Cue(GREY, "D", "-.", ".."), Cue(PURPLE, "v", "-", "\\\\"))


def _channel(value):
    value /= 255
    return value / 12.92 if value <= 0.04045 else ((value + 0.055) / 1.055) ** 2.4


def luminance(colour):
    """WCAG's relative luminance of a ``#rrggbb`` colour, 0 (black) to 1 (white)."""
    text = colour.lstrip("#")
    r, g, b = (_channel(int(text[i:i + 2], 16)) for i in (0, 2, 4))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a, b):
    """WCAG's contrast ratio of two colours, 1 to 21 (text needs 4.5, graphics 3)."""
    light, dark = sorted((luminance(a), luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def ink_on(background):
    """Black or white, whichever reads better on ``background`` (always 4.5:1 or more)."""
    return INK if contrast(INK, background) >= contrast(PAPER, background) else PAPER

"""A friendly stop when a cell runs into an exercise that still holds its starter code.

The starter code is nbgrader's ``raise NotImplementedError()``. Run All would show its raw
traceback at the first provided cell that calls an unsolved exercise; the kernel extension shows
one line instead, naming the exercise to solve first. Grading never installs it.
"""

import sys
from pathlib import Path

from ..checks.catalog import all_stages
from ..settings import grading_mode

PACKAGE = str(Path(__file__).resolve().parents[1])


def _exercise_of(name):
    """The exercise that defines ``name``, or None."""
    for stage in all_stages():
        for ex in stage.exercises.values():
            if name in ex.names:
                return ex
    return None


def _raising_frame(tb):
    """The innermost frame of ``tb``, or None when the error came from a library."""
    while tb.tb_next is not None:
        tb = tb.tb_next
    frame = tb.tb_frame
    filename = frame.f_code.co_filename
    if filename.startswith(PACKAGE) or "site-packages" in filename or filename.startswith(sys.prefix):
        return None
    return frame


def explain(value, tb):
    """One line for a NotImplementedError raised by starter code, else None."""
    if type(value) is not NotImplementedError or value.args or tb is None:
        return None
    frame = _raising_frame(tb)
    if frame is None:
        return None
    name = frame.f_code.co_name
    if name == "<module>":
        return ("This exercise cell still holds the starter code: replace `raise NotImplementedError()` "
                "with your answer, then run the cell again.")
    ex = _exercise_of(name)
    if ex is None:
        return None
    here = tb.tb_frame.f_code.co_filename == frame.f_code.co_filename
    where = "in this cell" if here else "above"
    return (f"`{name}` is still the starter code: solve exercise {ex.id[1:]} ({ex.title}) {where}, "
            "then run this cell again.")


def _handler(shell, etype, value, tb, tb_offset=None):
    line = explain(value, tb)
    if line is None:
        return shell.showtraceback((etype, value, tb), tb_offset=tb_offset)
    print(line, file=sys.stderr)
    return None


def install(shell):
    """Show the one line in ``shell`` (an IPython shell); nothing while nbgrader runs."""
    if grading_mode():
        return False
    shell.set_custom_exc((NotImplementedError,), _handler)
    return True

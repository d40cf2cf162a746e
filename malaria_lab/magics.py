"""The IPython extension: ``%load_ext malaria_lab`` quiets TensorFlow, turns on inline plots and
adds the course's magics.

* ``%malaria_doctor``: what the course needs, checked (:mod:`malaria_lab.course.doctor`).
* ``%malaria_mode [grading|small|full]``: show or switch the mode (before ``setup()``).

It also turns the raw ``NotImplementedError`` of an unsolved exercise's starter code into one
line naming the exercise to solve first (:mod:`malaria_lab.course.unsolved`).
"""

import os

from .course import unsolved
from .course.doctor import doctor
from .machine import memory_gb
from .settings import MODE_ENV, MODES, resolve_mode

MAGICS = ("malaria_doctor", "malaria_mode")


def _magics_class():
    # IPython is there whenever an extension loads; this module is also imported outside it.
    from IPython.core.magic import Magics, line_magic, magics_class

    @magics_class
    class CourseMagics(Magics):
        """The course's line magics."""

        @line_magic
        def malaria_doctor(self, line=""):
            """Check Python, Keras, the backend, GPU, memory and the data set; say what to fix."""
            print(doctor().text())

        @line_magic
        def malaria_mode(self, line=""):
            """``%malaria_mode small``: grading, small or full; the next ``setup()`` uses it."""
            word = line.strip().lower()
            if word in MODES:
                os.environ[MODE_ENV] = word
            elif word:
                print(f"Use %malaria_mode {' / '.join(MODES)}, or %malaria_mode to see the mode.")
                return
            mode = resolve_mode(memory_gb=memory_gb())
            print(f"The course is in {mode.name} mode." if mode.problem is None else " ".join(mode.problem))

    return CourseMagics


def load_ipython_extension(ipython):
    """Quiet TensorFlow, inline plots (in a kernel), and register the magics. Keras itself loads
    in the stage's set-up (``setup(stage)``), and only for the stages that use it."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if getattr(ipython, "kernel", None) is not None:
        ipython.run_line_magic("matplotlib", "inline")
    ipython.register_magics(_magics_class())
    unsolved.install(ipython)


def unload_ipython_extension(ipython):
    """Remove the magics again."""
    ipython.set_custom_exc((), None)
    line = ipython.magics_manager.magics.get("line", {})
    for name in MAGICS:
        line.pop(name, None)

"""The IPython extension: ``%load_ext malaria_lab`` quiets TensorFlow, turns on inline plots and
adds the course's magics.

* ``%malaria_doctor``: what the course needs, checked (:mod:`malaria_lab.course.doctor`).
* ``%malaria_fast [on|off]``: show or switch fast mode (small subsets, few epochs).

It also turns the raw ``NotImplementedError`` of an unsolved exercise's starter code into one
line naming the exercise to solve first (:mod:`malaria_lab.course.unsolved`).
"""

import os

from .course import unsolved
from .course.doctor import doctor
from .settings import FAST_ENV, fast_mode

MAGICS = ("malaria_doctor", "malaria_fast")


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
        def malaria_fast(self, line=""):
            """``%malaria_fast on`` / ``off``: small subsets and few epochs (for small machines)."""
            word = line.strip().lower()
            if word in ("on", "1", "true", "yes"):
                os.environ[FAST_ENV] = "1"
            elif word in ("off", "0", "false", "no"):
                os.environ[FAST_ENV] = "0"
            elif word:
                print("Use %malaria_fast on, %malaria_fast off, or %malaria_fast to see the mode.")
                return
            print(f"Fast mode is {'on' if fast_mode() else 'off'}.")

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

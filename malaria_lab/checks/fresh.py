"""Grade with a private copy of malaria_lab, loaded from its files (standard library only).

A graded test cell in a source notebook reads::

    ### BEGIN HIDDEN TESTS
    import runpy, malaria_lab
    q1 = runpy.run_path(malaria_lab.__path__[0] + "/checks/fresh.py")["grader"]("02_split", "q1")
    ### END HIDDEN TESTS
    q1.check()

Students get only the last line. At grading, the hidden lines first rebind ``q1`` to a grader
that runs every check, public and hidden. A student's notebook may have redefined ``q1``,
patched ``malaria_lab.checks`` or replaced a reference function such as
``malaria_lab.split.check_leakage``; none of that reaches the copy made here, because every
module of it is executed anew from disk under a new, random name.
Only the student's own names (read from ``globals()``) are graded.
"""

import importlib
import importlib.util
import os
import secrets
import sys

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def load():
    """A new, private instance of the malaria_lab package (its submodules load on import)."""
    name = f"_malaria_lab_grading_{secrets.token_hex(8)}"
    spec = importlib.util.spec_from_file_location(
        name, os.path.join(_PACKAGE_DIR, "__init__.py"), submodule_search_locations=[_PACKAGE_DIR])
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # relative imports inside the copy resolve through this entry
    spec.loader.exec_module(module)
    return module


def _checks():
    package = load()
    return importlib.import_module(package.__name__ + ".checks")


def grader(stage, exercise):
    """An object whose ``check()`` grades one exercise with all its checks (see above)."""
    return _checks().grader(stage, exercise)


def grade(stage, exercise, namespace):
    """Points for one exercise (all checks, hidden ones included), as a Result."""
    return _checks().grade(stage, exercise, namespace)

"""malaria_lab: build a malaria detector from blood-smear cell images, end to end, with Keras 3.

The data flows one way: data -> split -> pipeline -> models -> train -> evaluate. Importing the
package is cheap (Keras loads only when a model is built or trained).
"""

from ._version import __version__
from .errors import MalariaLabError

__all__ = ["MalariaLabError", "__version__"]


def load_ipython_extension(ipython):
    """``%load_ext malaria_lab``: quiet TensorFlow, inline plots, the course's magics."""
    from .magics import load_ipython_extension as load  # a front end: loaded only by %load_ext

    load(ipython)


def unload_ipython_extension(ipython):
    from .magics import unload_ipython_extension as unload  # see load_ipython_extension

    unload(ipython)

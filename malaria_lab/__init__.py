"""malaria_lab: build a malaria detector from blood-smear cell images, end to end, with Keras 3.

The data flows one way: data -> split -> pipeline -> models -> train -> evaluate. Importing the
package is cheap (Keras loads only when a model is built or trained).
"""

__version__ = "0.1.0"

from .errors import MalariaLabError  # noqa: E402

__all__ = ["MalariaLabError", "__version__"]


def load_ipython_extension(ipython):
    """``%load_ext malaria_lab``: quiet TensorFlow, inline plots, the course's magics."""
    from .magics import load_ipython_extension as load

    load(ipython)


def unload_ipython_extension(ipython):
    from .magics import unload_ipython_extension as unload

    unload(ipython)

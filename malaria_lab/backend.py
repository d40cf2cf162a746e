"""What differs between the Keras backends (TensorFlow, PyTorch, JAX), kept in this one module.

Everything else in malaria_lab is backend-neutral Keras. Here: which backend Keras will load,
checked before it loads (an unknown or missing one is a clear error, not a traceback), the devices
each framework sees, and XLA compilation of augmentation layers under JAX.
"""

import contextlib
import importlib.util
import json
import os
import sys
import warnings
from pathlib import Path

from .errors import MalariaLabError
from .layer_walk import nested_layers
from .settings import KERAS_BACKEND_ENV, KERAS_HOME_ENV

BACKENDS = ("tensorflow", "torch", "jax")
# The modules each backend imports, and what pip installs to provide them.
MODULES = {"tensorflow": ("tensorflow",), "torch": ("torch",), "jax": ("jax", "jaxlib")}
INSTALL = {"tensorflow": "tensorflow", "torch": "torch", "jax": "jax"}
# Layers Keras marks as not compilable because TensorFlow's XLA lacks their image transform; JAX
# compiles them (the same pixels as eager), and a JAX train step left uncompiled runs at half speed.
JAX_COMPILES = ("RandomRotation", "RandomZoom", "RandomTranslation", "RandomShear")
_JIT_REFUSED = "Model doesn't support `jit_compile=True`"


class BackendError(MalariaLabError):
    """No usable backend. In a notebook it shows as its one line, not a traceback."""

    def _render_traceback_(self):  # IPython's hook for how an exception is shown
        return [f"{type(self).__name__}: {self}"]


def _keras_json():
    """Keras's own config file, found the way Keras finds it."""
    home = os.environ.get(KERAS_HOME_ENV)
    if not home:
        base = os.path.expanduser("~")
        home = os.path.join(base if os.access(base, os.W_OK) else "/tmp", ".keras")
    return Path(home) / "keras.json"


def requested():
    """(backend, where it is named): the loaded Keras's, else $KERAS_BACKEND, else keras.json's,
    else TensorFlow, as Keras itself decides. Imports nothing."""
    keras = sys.modules.get("keras")
    if keras is not None and hasattr(keras, "config"):
        return keras.config.backend(), "the loaded Keras"
    if os.environ.get(KERAS_BACKEND_ENV):
        return os.environ[KERAS_BACKEND_ENV], KERAS_BACKEND_ENV
    path = _keras_json()
    try:
        named = json.loads(path.read_text()).get("backend")
    except (OSError, ValueError, AttributeError):
        named = None
    return (named, str(path)) if named else ("tensorflow", "Keras's default")


def installed(backend):
    """True when the framework under ``backend`` can be imported (it is not imported here)."""
    return all(importlib.util.find_spec(m) is not None for m in MODULES.get(backend, (backend,)))


def check():
    """The backend Keras will load, or a :class:`BackendError` saying what to install or set.

    Called before ``import keras``, which would otherwise end in a ModuleNotFoundError or
    ValueError traceback.
    """
    name, source = requested()
    if source == "the loaded Keras" and name in BACKENDS:
        return name
    here = ", ".join(b for b in BACKENDS if installed(b)) or "none"
    if name not in BACKENDS:
        raise BackendError(f"The Keras backend {name!r} (from {source}) is not one the course runs on.",
                           f"Set KERAS_BACKEND to tensorflow, torch or jax (installed here: {here}).")
    if importlib.util.find_spec("keras") is None:
        raise BackendError("Keras is not installed.", "pip install 'keras>=3.3', then start again.")
    if not installed(name):
        raise BackendError(f"The Keras backend {name} (from {source}) is not installed.",
                           f"pip install {INSTALL[name]}, or set KERAS_BACKEND to one that is "
                           f"(installed here: {here}).")
    return name


def load_failed(name, err):
    """The error for a backend that is installed but does not import."""
    return BackendError(f"Keras could not load its {name} backend ({type(err).__name__}: {err}).",
                        f"Reinstall it (pip install --force-reinstall {INSTALL.get(name, name)}), "
                        "or set KERAS_BACKEND to another backend.")


def devices(backend):
    """(kind, product name) of each device the framework under ``backend`` sees, CPU first; an
    empty list where it cannot tell. Imports that framework: call it once Keras has loaded it."""
    # Each framework is imported only when it is the backend asked about: importing one costs
    # seconds and, for TensorFlow, claims the GPU.
    try:
        if backend == "tensorflow":
            import tensorflow as tf  # heavy, see above

            return [(d.device_type, tf.config.experimental.get_device_details(d).get("device_name", "")
                     if d.device_type == "GPU" else "") for d in tf.config.list_physical_devices()]
        if backend == "torch":
            import torch  # heavy, see above

            return [("CPU", "")] + [("GPU", torch.cuda.get_device_name(i)) for i in range(torch.cuda.device_count())]
        if backend == "jax":
            import jax  # heavy, see above

            return [(d.platform.upper(), "" if d.platform == "cpu" else d.device_kind) for d in jax.devices()]
    except Exception:
        return []
    return []


def gpu_names(backend):
    """Product names of the GPUs the Keras backend can use (empty when it has none)."""
    return [name or kind for kind, name in devices(backend) if kind == "GPU"]


def allow_jit(model):
    """Under JAX, let XLA compile ``model`` even with the :data:`JAX_COMPILES` layers in it; a
    no-op elsewhere. Call it after ``compile`` (the saved compile config keeps Keras's own
    choice, so the model loads quietly on any backend) and after loading. Returns the model."""
    import keras  # a model exists, so Keras is loaded

    if keras.config.backend() != "jax":
        return model
    kinds = tuple(getattr(keras.layers, name) for name in JAX_COMPILES)
    changed = False
    for layer in [model, *nested_layers(model)]:
        if isinstance(layer, kinds) and not layer.supports_jit:
            layer.supports_jit = True
            changed = True
    if changed and getattr(model, "compiled", False):
        model.jit_compile = True
    return model


@contextlib.contextmanager
def loading():
    """Around ``keras.saving.load_model``: under JAX, hush Keras refusing a saved
    ``jit_compile=True`` for those layers (:func:`allow_jit` turns it on again after)."""
    with warnings.catch_warnings():
        if requested()[0] == "jax":
            warnings.filterwarnings("ignore", message=_JIT_REFUSED)
        yield

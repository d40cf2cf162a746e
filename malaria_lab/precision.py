"""Which number format a model trains in: bfloat16 where that is measured to be faster, float32
everywhere else, and float32 again once a model is saved and loaded.

Keras mixed precision computes in bfloat16 and keeps the weights in float32. On a CPU with
AVX-512 BF16 instructions, TensorFlow trains the reference CNN about a quarter faster that way,
with cross-validated accuracy within noise of float32. Elsewhere bfloat16 is emulated and slower,
so ``auto`` picks it only where the processor has the instructions.
"""

import contextlib

from .backend import gpu_names
from .errors import MalariaLabError
from .layer_walk import nested_layers
from .machine import cpu_has_bfloat16

CHOICES = ("auto", "float32", "mixed_bfloat16")


def resolve(precision, backend=None, gpus=None):
    """``auto`` -> ``mixed_bfloat16`` for TensorFlow on a CPU with native bfloat16, else ``float32``.

    Only that case was measured; on a GPU float32 already trains at tens of thousands of images
    per second.
    """
    if precision not in CHOICES:
        raise MalariaLabError(f"Unknown precision {precision!r}.", f"Use one of {', '.join(CHOICES)}.")
    if precision != "auto":
        return precision
    import keras  # heavy; this module is imported by the command line before a backend is chosen

    backend = backend or keras.backend.backend()
    gpus = gpu_names(backend) if gpus is None else gpus
    if backend == "tensorflow" and not gpus and cpu_has_bfloat16():
        return "mixed_bfloat16"
    return "float32"


@contextlib.contextmanager
def policy(name):
    """Layers built inside take dtype policy ``name``; the global policy is restored afterwards,
    so models a student builds later in the same notebook stay float32."""
    import keras  # heavy, see resolve()

    before = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(name)
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(before)


def to_float32(model):
    """Make every layer of ``model`` compute in float32 (weights are float32 already), so a model
    trained in bfloat16 predicts alike on any machine. Returns the model."""
    for layer in [model, *nested_layers(model)]:
        if layer.dtype_policy.name != "float32":
            layer.dtype_policy = "float32"
    return model

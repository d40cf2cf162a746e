"""Which number format a model trains in: bfloat16 where that is measured to be faster, float32
everywhere else, and float32 again once a model is saved and loaded.

Keras mixed precision computes in bfloat16 and keeps the weights in float32. On a CPU with
AVX-512 BF16 instructions, TensorFlow trains the reference CNN about a quarter faster that way,
with cross-validated accuracy within noise of float32. Elsewhere bfloat16 is emulated and slower,
so ``auto`` picks it only where the processor has the instructions.
"""

import contextlib
import sys
from pathlib import Path

from .errors import MalariaLabError

CHOICES = ("auto", "float32", "mixed_bfloat16")
_CPU_FLAGS = ("avx512_bf16", "amx_bf16")


def cpu_has_bfloat16(cpuinfo="/proc/cpuinfo"):
    """True when the CPU lists native bfloat16 instructions (Linux; False where it cannot tell)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        text = Path(cpuinfo).read_text()
    except OSError:
        return False
    flags = set()
    for line in text.splitlines():
        if line.startswith("flags"):
            flags.update(line.split(":", 1)[1].split())
    return any(flag in flags for flag in _CPU_FLAGS)


def resolve(precision, backend=None, gpus=None):
    """``auto`` -> ``mixed_bfloat16`` for TensorFlow on a CPU with native bfloat16, else ``float32``.

    Only that case was measured; on a GPU float32 already trains at tens of thousands of images
    per second.
    """
    if precision not in CHOICES:
        raise MalariaLabError(f"Unknown precision {precision!r}.", f"Use one of {', '.join(CHOICES)}.")
    if precision != "auto":
        return precision
    import keras

    from .reference import gpu_names

    backend = backend or keras.backend.backend()
    gpus = gpu_names(backend) if gpus is None else gpus
    if backend == "tensorflow" and not gpus and cpu_has_bfloat16():
        return "mixed_bfloat16"
    return "float32"


@contextlib.contextmanager
def policy(name):
    """Layers built inside take dtype policy ``name``; the global policy is restored afterwards,
    so models a student builds later in the same notebook stay float32."""
    import keras

    before = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(name)
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(before)


def layers_of(model):
    """Every layer inside ``model``, nested models' layers included."""
    found = []
    for layer in getattr(model, "layers", []):
        found.append(layer)
        found.extend(layers_of(layer))
    return found


def to_float32(model):
    """Make every layer of ``model`` compute in float32 (weights are float32 already), so a model
    trained in bfloat16 predicts alike on any machine. Returns the model."""
    for layer in [model, *layers_of(model)]:
        if layer.dtype_policy.name != "float32":
            layer.dtype_policy = "float32"
    return model

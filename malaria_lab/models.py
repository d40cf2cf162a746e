"""The CNNs: the 2020 tutorial's small network, and the course's improved reference network.

Both take images as float pixels 0-255 (the ``Rescaling`` layer is inside the model, so a saved
model needs no separate preprocessing) and output the probability that the cell is parasitized,
computed in float32 even when the rest trains in bfloat16 (AUC ranks probabilities finely).
"""

import keras
from keras import layers

from . import backend
from . import layers as _custom_layers  # noqa: F401  (registers them, so saved models load)
from .errors import MalariaLabError
from .precision import to_float32


def tutorial_cnn(image_size=100, filters=(32, 32, 64), kernel_size=3, dense_units=64,
                 dropout=0.5, bn_momentum=0.99, augmentation=None, name="tutorial_cnn"):
    """The 2020 tutorial's CNN: conv 3x3 -> batch norm -> max pool per filter count, a small
    dense layer, a sigmoid output.

    Its batch-norm momentum 0.99 lets the moving statistics lag far behind the weights in the
    first epochs, so validation accuracy can sit at 0.5 while training accuracy is high; pass
    ``bn_momentum=0.9`` to fix it.
    """
    inputs = keras.Input((image_size, image_size, 3), name="image")
    x = augmentation(inputs) if augmentation is not None else inputs
    x = layers.Rescaling(1 / 255, name="rescale")(x)
    for i, f in enumerate(filters, start=1):
        x = layers.Conv2D(f, kernel_size, padding="same", activation="relu", name=f"conv{i}")(x)
        x = layers.BatchNormalization(momentum=bn_momentum, name=f"bn{i}")(x)
        x = layers.MaxPooling2D(2, name=f"pool{i}")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(dense_units, activation="relu", name="dense")(x)
    if dropout:
        x = layers.Dropout(dropout, name="dropout")(x)
    outputs = layers.Dense(1, activation="sigmoid", dtype="float32", name="parasitized")(x)
    return keras.Model(inputs, outputs, name=name)


def _conv_bn_relu(x, filters, name, bn_momentum, strides=1):
    x = layers.Conv2D(filters, 3, strides=strides, padding="same", use_bias=False, name=f"{name}_conv")(x)
    x = layers.BatchNormalization(momentum=bn_momentum, name=f"{name}_bn")(x)
    return layers.Activation("relu", name=f"{name}_relu")(x)


def reference_cnn(image_size=64, widths=(16, 32, 64, 128), convs_per_block=2, dropout=0.2,
                  bn_momentum=0.9, pooling="avg", augmentation=None, name="reference_cnn"):
    """The course's reference CNN: small VGG-style blocks with batch norm, global average pooling.

    Global pooling instead of a large dense layer keeps it small and less prone to memorising
    one slide's look; batch-norm momentum 0.9 keeps validation scores honest from epoch one.
    The first block has a single convolution, since full-resolution convolutions dominate the
    cost on a CPU. ``pooling`` "max" or "avgmax" (both, side by side) lets one small parasite
    anywhere in the cell count fully instead of being averaged over the cell.
    """
    inputs = keras.Input((image_size, image_size, 3), name="image")
    x = augmentation(inputs) if augmentation is not None else inputs
    x = layers.Rescaling(1 / 255, name="rescale")(x)
    for b, width in enumerate(widths, start=1):
        n = 1 if b == 1 else convs_per_block
        for c in range(1, n + 1):
            x = _conv_bn_relu(x, width, f"block{b}_{c}", bn_momentum)
        if b < len(widths):
            x = layers.MaxPooling2D(2, name=f"block{b}_pool")(x)
    if pooling == "avg":
        x = layers.GlobalAveragePooling2D(name="gap")(x)
    elif pooling == "max":
        x = layers.GlobalMaxPooling2D(name="gmp")(x)
    elif pooling == "avgmax":
        x = layers.Concatenate(name="gap_gmp")([layers.GlobalAveragePooling2D(name="gap")(x),
                                                layers.GlobalMaxPooling2D(name="gmp")(x)])
    else:
        raise MalariaLabError(f"Unknown pooling {pooling!r}.", "Use 'avg', 'max' or 'avgmax'.")
    if dropout:
        x = layers.Dropout(dropout, name="dropout")(x)
    outputs = layers.Dense(1, activation="sigmoid", dtype="float32", name="parasitized")(x)
    return keras.Model(inputs, outputs, name=name)


BUILDERS = {"tutorial": tutorial_cnn, "reference": reference_cnn}


def build(architecture, **kwargs):
    """Build a model by name (``tutorial`` or ``reference``) with the builder's keyword knobs."""
    if architecture not in BUILDERS:
        raise MalariaLabError(
            f"Unknown architecture {architecture!r}.", f"Choose one of {', '.join(BUILDERS)}."
        )
    return BUILDERS[architecture](**kwargs)


def load_model(path, compile=True, float32=True):
    """Load a saved ``.keras`` model, custom layers included; with ``float32``, a model trained in
    mixed precision computes in float32 again, so it predicts alike on any machine."""
    with backend.loading():
        model = backend.allow_jit(keras.saving.load_model(path, compile=compile))
    return to_float32(model) if float32 else model

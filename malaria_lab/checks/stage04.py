"""Stage 4, the network: build the CNN from its description, and count what it learns."""

import textwrap

import numpy as np

from ..layer_walk import leaf_layers
from .engine import Stage, call, expect

STAGE = Stage("04_build_cnn", "Build the CNN", prelude="""
    import numpy as np
    import keras
    from keras import layers
""")

WIDTHS = (16, 32, 64, 128)
CONVS = (1, 2, 2, 2)

# --- q1 -----------------------------------------------------------------------------------

_CODE = '''
    def build_cnn(image_size=64, augmentation=None):
        """The course CNN (see the description above) for image_size x image_size RGB cells, pixels 0-255."""
        inputs = keras.Input((image_size, image_size, 3))
        x = augmentation(inputs) if augmentation is not None else inputs
        ### BEGIN SOLUTION
        x = layers.Rescaling(1 / 255)(x)
        for block, (width, convs) in enumerate(zip((16, 32, 64, 128), (1, 2, 2, 2)), start=1):
            for _ in range(convs):
                x = layers.Conv2D(width, 3, padding="same", use_bias=False)(x)
                x = layers.BatchNormalization(momentum=0.9)(x)
                x = layers.Activation("relu")(x)
            if block < 4:
                x = layers.MaxPooling2D(2)(x)
        x = layers.GlobalAveragePooling2D()(x)
        x = layers.Dropout(0.2)(x)
        outputs = layers.Dense(1, activation="sigmoid")(x)
        ### END SOLUTION
        return keras.Model(inputs, outputs, name="cnn")
    '''
# The solution region alone; each typical mistake below is it with one thing wrong.
_SOLUTION = textwrap.dedent(_CODE.split("### BEGIN SOLUTION\n")[1].split("### END SOLUTION")[0])

q1 = STAGE.exercise(
    "q1", "Build the CNN from its description", points=5, names=["build_cnn"],
    code=_CODE,
    hints=[
        "Go through the description line by line: each line is one or two Keras layers, applied "
        "to `x` in turn (`x = layers.Something(...)(x)`). A loop over the four widths saves "
        "typing.",
        "One convolution unit is `Conv2D(width, 3, padding=\"same\", use_bias=False)`, then "
        "`BatchNormalization(momentum=0.9)`, then `Activation(\"relu\")`. Block 1 has one unit, "
        "blocks 2-4 have two; `MaxPooling2D(2)` follows blocks 1-3, not block 4.",
        "After the blocks: `GlobalAveragePooling2D()`, `Dropout(0.2)`, and "
        "`Dense(1, activation=\"sigmoid\")` for the probability of a parasitized cell. Do not "
        "forget `Rescaling(1 / 255)` first: the pixels arrive as 0-255.",
    ],
    mistakes=[
        (_SOLUTION.replace("GlobalAveragePooling2D()", "Flatten()"), "global average pooling"),
        (_SOLUTION.replace("BatchNormalization(momentum=0.9)", "BatchNormalization()"), "momentum"),
        (_SOLUTION.replace("x = layers.Rescaling(1 / 255)(x)\n", ""), "rescaling"),
        (_SOLUTION.replace('Dense(1, activation="sigmoid")', "Dense(1)"), "sigmoid"),
        # Two units in every block, and a pooling after the last one too.
        (_SOLUTION.replace("(1, 2, 2, 2)", "(2, 2, 2, 2)")
         .replace("    if block < 4:\n        x = layers.MaxPooling2D(2)(x)", "    x = layers.MaxPooling2D(2)(x)"),
         "block"),
    ],
)


_BUILT = {}


def _model(build_cnn, image_size=64, augmentation=None):
    """The student's network; the plain 64-pixel one is built once per check run and reused."""
    key = (id(build_cnn), image_size)
    if augmentation is None and key in _BUILT and _BUILT[key][0] is build_cnn:
        return _BUILT[key][1]
    label = f"build_cnn({image_size})" if augmentation is None else \
        f"build_cnn({image_size}, augmentation=...)"
    model = call(build_cnn, image_size, augmentation=augmentation, label=label)
    expect(hasattr(model, "layers") and hasattr(model, "predict"),
           f"`build_cnn` should return a Keras model, but returned a {type(model).__name__}.")
    if augmentation is None:
        _BUILT.clear()
        _BUILT[key] = (build_cnn, model)
    return model


def _kinds(model, name):
    return [layer for layer in leaf_layers(model) if type(layer).__name__ == name]


def _shape(tensor_shape):
    return tuple(None if d is None else int(d) for d in tensor_shape)


@q1.test("takes RGB images of the given size and gives one probability per image")
def takes_rgb_images_given_size(build_cnn):
    model = _model(build_cnn, 64)
    expect(_shape(model.input_shape) == (None, 64, 64, 3),
           f"The input shape is {model.input_shape}; for image_size=64 it should be "
           "(None, 64, 64, 3).")
    expect(_shape(model.output_shape) == (None, 1),
           f"The output shape is {model.output_shape}, but the network should give one number per "
           "image: end with `Dense(1, ...)`.")


@q1.test("ends with a sigmoid, so the output is a probability")
def ends_in_sigmoid(build_cnn):
    model = _model(build_cnn, 64)
    last = [l for l in leaf_layers(model) if type(l).__name__ in ("Dense", "Activation")][-1]
    activation = last.get_config().get("activation")
    expect(activation == "sigmoid",
           f"The last layer's activation is {activation!r}: the output should be the probability "
           "of a parasitized cell, so end with `Dense(1, activation=\"sigmoid\")`.")


@q1.test("rescales pixels first")
def rescales_pixels_first(build_cnn):
    model = _model(build_cnn, 64)
    rescaling = _kinds(model, "Rescaling")
    expect(rescaling, "The pixels arrive as 0-255, but the description starts with a rescaling "
                      "to 0-1: add `layers.Rescaling(1 / 255)` before the first convolution.")
    scale = float(np.asarray(rescaling[0].get_config().get("scale")).reshape(-1)[0])
    expect(abs(scale - 1 / 255) < 1e-6, "Your Rescaling layer does not map 0-255 to 0-1: use "
                                         "`Rescaling(1 / 255)`.")
    order = [type(l).__name__ for l in leaf_layers(model)]
    expect(order.index("Rescaling") < order.index("Conv2D") if "Conv2D" in order else True,
           "Rescaling should come before the first convolution.")


@q1.test("has the described convolution blocks")
def has_described_convolution_blocks(build_cnn):
    model = _model(build_cnn, 64)
    convs = _kinds(model, "Conv2D")
    widths = [c.get_config()["filters"] for c in convs]
    wanted = [w for w, n in zip(WIDTHS, CONVS) for _ in range(n)]
    expect(len(convs) == len(wanted),
           f"Your network has {len(convs)} convolutions; the description has one in block 1 and "
           "two in each of blocks 2, 3 and 4.")
    expect(widths == wanted, "The convolutions' numbers of filters do not follow the description "
                             "(block by block: 16, 32, 64, 128).")
    for c in convs:
        config = c.get_config()
        size = config["kernel_size"]
        expect(tuple(size) == (3, 3), "Every convolution should be 3x3.")
        expect(config["padding"] == "same", "Use padding=\"same\" so that a convolution keeps the "
                                            "image size (pooling does the shrinking).")
        expect(not config["use_bias"], "Convolutions followed by batch normalisation need no bias "
                                       "(batch norm adds its own): use_bias=False.")


@q1.test("normalises each convolution with batch-norm momentum 0.9")
def batch_norm_after_each_convolution(build_cnn):
    model = _model(build_cnn, 64)
    norms = _kinds(model, "BatchNormalization")
    expect(len(norms) == len(_kinds(model, "Conv2D")),
           "Each convolution should be followed by its own BatchNormalization.")
    momenta = {round(float(n.get_config()["momentum"]), 4) for n in norms}
    expect(momenta == {0.9}, "The description asks for batch-norm momentum 0.9: with the default "
                             "0.99 its running averages lag far behind in a short training, and "
                             "validation scores look worse than the network is.")


@q1.test("pools between blocks, then averages globally")
def pools_between_blocks_then_averages(build_cnn):
    model = _model(build_cnn, 64)
    expect(not _kinds(model, "Flatten"),
           "The description ends with global average pooling, not Flatten: it keeps the network "
           "small and less inclined to memorise one slide's look.")
    expect(len(_kinds(model, "GlobalAveragePooling2D")) == 1,
           "Add one `GlobalAveragePooling2D` after the last block.")
    pools = len(_kinds(model, "MaxPooling2D"))
    expect(pools == 3, f"Your network max-pools {pools} times; pool after blocks 1, 2 and 3, not "
                       "after the last block.")
    drops = [float(d.get_config()["rate"]) for d in _kinds(model, "Dropout")]
    expect(drops and abs(drops[-1] - 0.2) < 1e-6, "Add `Dropout(0.2)` before the output layer.")


@q1.hidden_test("has the same number of weights as the description")
def has_described_number_of_weights(build_cnn):
    from ..models import reference_cnn  # Keras loads when a check runs, not when the stages are listed

    model = _model(build_cnn, 64)
    expect(model.count_params() == reference_cnn(64, dropout=0.2).count_params(),
           "Your network's number of weights differs from the description's; compare "
           "`model.summary()` with the description, layer by layer.")


@q1.hidden_test("works for another image size, and with augmentation in front")
def works_on_another_image_size(build_cnn):
    import keras  # Keras loads when a check runs, not when the stages are listed

    model = _model(build_cnn, 96)
    expect(_shape(model.input_shape) == (None, 96, 96, 3) and _shape(model.output_shape) == (None, 1),
           "With image_size=96, the input or output shape is wrong: use the `image_size` argument.")
    flip = keras.Sequential([keras.layers.RandomFlip("horizontal")], name="check_flip")
    model = _model(build_cnn, 48, augmentation=flip)
    names = [type(l).__name__ for l in leaf_layers(model)]
    expect("RandomFlip" in names, "With an augmentation given, the network should use it first "
                                  "(keep the starter lines that apply it).")
    # From its random start a last layer without sigmoid gives values inside 0-1 in some runs, not
    # in others; ten thousand times steeper it never does, and a sigmoid still gives probabilities.
    # Put back after: the layer may be one the student's other models share.
    dense = _kinds(model, "Dense")
    saved = dense[-1].get_weights() if dense else []
    if saved:
        dense[-1].set_weights([saved[0] * 1e4, *saved[1:]])
    try:
        x = np.random.default_rng(0).uniform(0, 255, (3, 48, 48, 3)).astype("float32")
        p = keras.ops.convert_to_numpy(model(x, training=False)).reshape(-1)
    finally:
        if saved:
            dense[-1].set_weights(saved)
    expect(p.shape == (3,) and np.all((p >= 0) & (p <= 1)),
           "For a batch of images, the network should give one probability (0 to 1) per image.")


# --- q2 -----------------------------------------------------------------------------------

q2 = STAGE.exercise(
    "q2", "Count a convolution's weights", points=2, names=["conv_weights"],
    code='''
    def conv_weights(in_channels, filters, kernel_size=3, use_bias=True):
        """How many numbers a Conv2D layer learns."""
        ### BEGIN SOLUTION
        weights = kernel_size * kernel_size * in_channels * filters
        return weights + (filters if use_bias else 0)
        ### END SOLUTION
    ''',
    hints=[
        "Each filter is a small stack of weights: one `kernel_size x kernel_size` square for every "
        "input channel.",
        "So one filter has `kernel_size * kernel_size * in_channels` weights, and there are "
        "`filters` of them. With a bias, each filter also learns one extra number.",
        "```python\nreturn kernel_size * kernel_size * in_channels * filters + "
        "(filters if use_bias else 0)\n```",
    ],
    mistakes=[
        ("return kernel_size * kernel_size * filters + (filters if use_bias else 0)", "input channel"),
        ("return kernel_size * kernel_size * in_channels * filters + filters", "bias"),
        ("return kernel_size * in_channels * filters + (filters if use_bias else 0)", "square"),
    ],
)


def _true_weights(in_channels, filters, kernel_size, use_bias):
    import keras  # Keras loads when a check runs, not when the stages are listed

    layer = keras.layers.Conv2D(filters, kernel_size, use_bias=use_bias)
    layer.build((None, 16, 16, in_channels))
    return layer.count_params()


def _weights(conv_weights, *args):
    labels = ("in_channels", "filters", "kernel_size", "use_bias")
    got = call(conv_weights, *args, label="conv_weights(" + ", ".join(
        f"{k}={v!r}" for k, v in zip(labels, args)) + ")")
    expect(isinstance(got, (int, np.integer)) and not isinstance(got, bool),
           f"`conv_weights` should return a whole number, not a {type(got).__name__}.")
    return int(got)


@q2.test("counts the first layer of the CNN")
def counts_first_layer_cnn(conv_weights):
    got = _weights(conv_weights, 3, 16, 3, False)
    expect(got != 3 * 3 * 16, "Your count leaves out the input channels: each filter has one "
                              "square of weights per input channel.")
    expect(got == _true_weights(3, 16, 3, False),
           "For 3 input channels, 16 filters of 3x3 and no bias, your count is not what Keras "
           "reports.")


@q2.test("adds one bias per filter")
def adds_one_bias_per_filter(conv_weights):
    expect(_weights(conv_weights, 32, 64, 3, True) == _true_weights(32, 64, 3, True),
           "With use_bias=True, each filter learns one extra number, the bias: your count is off.")
    expect(_weights(conv_weights, 32, 64, 3, False) == _true_weights(32, 64, 3, False),
           "With use_bias=False there is no bias: your count is off.")


@q2.hidden_test("works for other kernel sizes")
def works_other_kernel_sizes(conv_weights):
    for args in ((1, 8, 5, True), (64, 128, 1, False), (16, 16, 7, True)):
        expect(_weights(conv_weights, *args) == _true_weights(*args),
               "For another kernel size, your count is off: the square has kernel_size x "
               "kernel_size weights.")

"""Stage 3, augmentation: random changes that keep a cell's diagnosis, and looking at them."""

import numpy as np

from ..layer_walk import leaf_layers
from .engine import Stage, Wrong, call, expect

STAGE = Stage("03_augment", "Augmentations that suit blood smears", prelude="""
    import numpy as np
    import keras
    from keras import layers
    from malaria_lab.layers import RandomRotate90
""")

# Layers that change colour: the stain's colour is how a parasite is seen.
COLOUR_LAYERS = {"RandomHue", "RandomSaturation", "RandomColorJitter", "RandomGrayscale",
                 "RandomColorDegeneration", "RandomInvert", "RandomPosterization", "Solarization",
                 "AutoContrast", "Equalization"}
# Layers that can remove or mix what decides the label.
LABEL_BREAKING = {"RandomErasing", "CutMix", "MixUp", "RandomCrop", "CenterCrop", "Resizing"}
GEOMETRIC = {"RandomRotation", "RandomZoom", "RandomTranslation", "RandomShear"}
MAX_ZOOM, MAX_TRANSLATION, MAX_INTENSITY = 0.2, 0.1, 0.3

# --- q1 -----------------------------------------------------------------------------------

q1 = STAGE.exercise(
    "q1", "Choose the augmentations", points=4, names=["make_augmentation"],
    code='''
    def make_augmentation():
        """A keras.Sequential of random layers for cell images with pixels 0-255, active only in training."""
        ### BEGIN SOLUTION
        return keras.Sequential([
            layers.RandomFlip("horizontal_and_vertical"),
            RandomRotate90(),
            layers.RandomContrast(0.1, value_range=(0, 255)),
            layers.RandomBrightness(0.1, value_range=(0, 255)),
        ], name="augmentation")
        ### END SOLUTION
    ''',
    hints=[
        "A cell under the microscope has no up, down, left or right, so flips and turns keep "
        "its diagnosis. Stain strength varies a little from slide to slide. The stain's colour, "
        "though, is how a parasite is seen: leave hue and saturation alone.",
        "`keras.layers.RandomFlip(\"horizontal_and_vertical\")` and `RandomRotate90()` (imported "
        "for you: random quarter turns) together give all eight ways a cell can lie, with every "
        "pixel kept exactly. `keras.layers.RandomRotation(0.5, fill_mode=\"constant\")` turns by "
        "any angle and works too, but blends pixels, fills the corners, and trains slower on a "
        "GPU. Add `RandomContrast` and `RandomBrightness` with a small factor.",
        "The pixels here run from 0 to 255 (the model rescales them itself, later), so give "
        "`RandomContrast` and `RandomBrightness` `value_range=(0, 255)`, and do not add a "
        "`Rescaling` layer. Layers that move pixels by any amount (`RandomRotation`, "
        "`RandomZoom`) need `fill_mode=\"constant\"`: the default \"reflect\" would mirror bits "
        "of the cell into the black corners. Put the layers in a list inside "
        "`keras.Sequential([...])`.",
    ],
    mistakes=[
        ("return keras.Sequential([layers.RandomFlip('horizontal'),\n"
         "    layers.RandomRotation(0.5, fill_mode='constant'),\n"
         "    layers.RandomBrightness(0.1)])", "both ways"),
        ("return keras.Sequential([layers.RandomFlip('horizontal_and_vertical'),\n"
         "    layers.RandomRotation(0.5), layers.RandomContrast(0.1)])", "fill_mode"),
        ("return keras.Sequential([layers.RandomFlip('horizontal_and_vertical'),\n"
         "    layers.RandomRotation(0.5, fill_mode='constant'),\n"
         "    layers.RandomBrightness(0.1), layers.RandomHue(0.2)])", "colour"),
        ("return keras.Sequential([layers.RandomFlip('horizontal_and_vertical'),\n"
         "    layers.RandomRotation(0.5, fill_mode='constant'),\n"
         "    layers.RandomBrightness(0.1, value_range=(0, 1))])", "0-255"),
        ("return keras.Sequential([layers.Rescaling(1 / 255),\n"
         "    layers.RandomFlip('horizontal_and_vertical'),\n"
         "    layers.RandomRotation(0.5, fill_mode='constant'), layers.RandomContrast(0.1)])",
         "inference"),
        ("return keras.Sequential([layers.RandomFlip('horizontal_and_vertical'),\n"
         "    layers.RandomRotation(0.5, fill_mode='constant'),\n"
         "    layers.RandomZoom(0.5, fill_mode='constant'), layers.RandomContrast(0.1)])", "zoom"),
    ],
)


def _batch(size=64, n=4, seed=0):
    """Cell-like test images: a bright disc on black, pixels 0-255 as float32."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    disc = ((yy - size / 2) ** 2 + (xx - size / 2) ** 2) < (size * 0.4) ** 2
    x = np.zeros((n, size, size, 3), "float32")
    x[:, disc] = rng.uniform(60, 240, (n, int(disc.sum()), 3))
    return x


def _augmenter(make_augmentation):
    aug = call(make_augmentation, label="make_augmentation()")
    expect(callable(aug) and hasattr(aug, "layers"),
           f"`make_augmentation()` should return a `keras.Sequential` of layers, but returned a "
           f"{type(aug).__name__}.")
    return aug


def _run(aug, x, training):
    import keras  # Keras loads when a check runs, not when the stages are listed

    try:
        # convert_to_numpy, not np.asarray: a tensor on a GPU (PyTorch, JAX) has no __array__.
        return keras.ops.convert_to_numpy(aug(x, training=training)).astype("float32")
    except Exception as err:
        raise Wrong(f"Your augmentation failed on a batch of {x.shape[1]}x{x.shape[2]} RGB images "
                    f"(training={training}): {type(err).__name__}: {' '.join(str(err).split())[:200]}")


def _names(aug):
    return [type(layer).__name__ for layer in leaf_layers(aug) if type(layer).__name__ != "InputLayer"]


def _configs(aug, name):
    return [layer.get_config() for layer in leaf_layers(aug) if type(layer).__name__ == name]


def _span(value):
    """The largest magnitude in a factor given as a number or a (low, high) pair."""
    if value is None:
        return 0.0
    if isinstance(value, (list, tuple)):
        return max(abs(float(v)) for v in value)
    return abs(float(value))


@q1.test("returns Keras layers that keep the image size")
def returns_keras_layers_keeping_shape(make_augmentation):
    aug = _augmenter(make_augmentation)
    x = _batch()
    y = _run(aug, x, True)
    expect(y.shape == x.shape, f"A batch of shape {x.shape} came out as {y.shape}: augmentation "
                               "must keep the image size (no cropping or resizing).")


@q1.test("leaves images unchanged at inference")
def leaves_images_unchanged_inference(make_augmentation):
    aug = _augmenter(make_augmentation)
    x = _batch()
    y = _run(aug, x, False)
    names = _names(aug)
    expect(not {"Rescaling", "Normalization"} & set(names),
           "Your augmentation rescales or normalises pixels; that also happens at inference, and "
           "the model already rescales by itself. Keep only random layers.")
    expect(np.allclose(y, x, atol=1e-3),
           "Your augmentation changes images at inference too (training=False): augmentations "
           "must act only in training. Use only Keras's random layers.")


@q1.test("changes images in training")
def changes_images_training(make_augmentation):
    aug = _augmenter(make_augmentation)
    x = _batch()
    a, b = _run(aug, x, True), _run(aug, x, True)
    expect(not (np.allclose(a, x) and np.allclose(b, x)),
           "Your augmentation does not change the images in training (training=True).")


@q1.test("flips both ways and turns every way")
def flips_both_ways_turns_every(make_augmentation):
    aug = _augmenter(make_augmentation)
    modes = {c.get("mode") for c in _configs(aug, "RandomFlip")}
    both = "horizontal_and_vertical" in modes or {"horizontal", "vertical"} <= modes
    expect(both, "A cell has no up or down and no left or right: flip both ways "
                 "(`RandomFlip(\"horizontal_and_vertical\")`).")
    if "RandomRotate90" in _names(aug):
        return
    turns = [_span(c.get("factor")) for c in _configs(aug, "RandomRotation")]
    expect(turns, "Add turns: a cell can lie at any angle. `RandomRotate90()` (random quarter "
                  "turns) with the flips gives every orientation exactly.")
    expect(max(turns) >= 0.25, "Your `RandomRotation` turns only a little: a cell can lie at any "
                               "angle, so allow at least a quarter turn either way.")


@q1.test("fills with black, the background of the cell images")
def fills_black_background_cell_images(make_augmentation):
    aug = _augmenter(make_augmentation)
    for name in GEOMETRIC:
        for config in _configs(aug, name):
            expect(config.get("fill_mode") == "constant" and float(config.get("fill_value", 0)) == 0,
                   f"Your `{name}` uses fill_mode={config.get('fill_mode')!r}: it would paint "
                   "mirrored or smeared bits of the cell into the corners, but the background is "
                   "black. Use fill_mode=\"constant\" (fill value 0).")


@q1.test("keeps the stain's colour")
def keeps_stain_colour(make_augmentation):
    aug = _augmenter(make_augmentation)
    colour = sorted(set(_names(aug)) & COLOUR_LAYERS)
    expect(not colour, f"{', '.join(colour)} changes colours, but the stain's colour is how a "
                       "parasite is seen: remove it. Brightness and contrast are fine.")
    expect(set(_names(aug)) & {"RandomContrast", "RandomBrightness"},
           "Stain strength varies from slide to slide: add a little `RandomContrast` or "
           "`RandomBrightness`.")


@q1.test("works on pixels from 0 to 255")
def works_on_pixels_0_to_255(make_augmentation):
    aug = _augmenter(make_augmentation)
    x = _batch()
    y = np.concatenate([_run(aug, x, True) for _ in range(3)])
    expect(y.max() > 2.0, "Your augmentation squeezes pixels into 0..1, but the images here have "
                          "pixels 0-255: give `RandomContrast`/`RandomBrightness` "
                          "value_range=(0, 255).")
    expect(y.min() >= -1.0 and y.max() <= 256.0,
           "Your augmentation makes pixels outside 0-255: give `RandomContrast`/`RandomBrightness` "
           "value_range=(0, 255) so that they stay in range.")


@q1.hidden_test("keeps changes mild")
def keeps_changes_mild(make_augmentation):
    aug = _augmenter(make_augmentation)
    for config in _configs(aug, "RandomZoom"):
        span = max(_span(config.get("height_factor")), _span(config.get("width_factor")))
        expect(span <= MAX_ZOOM, "Your zoom is strong enough to crop the edge of a cell, where "
                                 "parasites often sit, or to shrink cells to specks: keep it mild.")
    for config in _configs(aug, "RandomTranslation"):
        span = max(_span(config.get("height_factor")), _span(config.get("width_factor")))
        expect(span <= MAX_TRANSLATION, "Your translation can push part of the cell out of the "
                                        "frame: keep it small, or leave it out.")
    for name in ("RandomContrast", "RandomBrightness"):
        for config in _configs(aug, name):
            expect(_span(config.get("factor")) <= MAX_INTENSITY,
                   f"Your `{name}` changes the image a lot; slides differ only a little: keep it mild.")


@q1.hidden_test("keeps what decides the label")
def keeps_what_decides_label(make_augmentation):
    aug = _augmenter(make_augmentation)
    bad = sorted(set(_names(aug)) & LABEL_BREAKING)
    expect(not bad, f"{', '.join(bad)} can remove or mix the part of the image that decides the "
                    "label: leave it out.")


@q1.hidden_test("works on other image sizes")
def works_other_image_sizes(make_augmentation):
    aug = _augmenter(make_augmentation)
    x = _batch(size=100, n=2, seed=1)
    y = _run(aug, x, True)
    expect(y.shape == x.shape, "On 100x100 images, your augmentation changes the image size.")


# --- q2 -----------------------------------------------------------------------------------

q2 = STAGE.exercise(
    "q2", "See what the augmentation does", points=2, names=["augment_examples"],
    code='''
    def augment_examples(augmentation, image, n=8):
        """`n` random augmentations of one image (HxWx3 uint8), as an (n, H, W, 3) uint8 array."""
        ### BEGIN SOLUTION
        batch = np.repeat(image[np.newaxis].astype("float32"), n, axis=0)
        out = keras.ops.convert_to_numpy(augmentation(batch, training=True))
        return np.clip(np.round(out), 0, 255).astype("uint8")
        ### END SOLUTION
    ''',
    hints=[
        "Make a batch of `n` copies of the image and pass the whole batch through the "
        "augmentation once, with `training=True`: each copy gets its own random change.",
        "`np.repeat(image[np.newaxis], n, axis=0)` makes the batch; convert it to float32 "
        "first. The result is a tensor: `keras.ops.convert_to_numpy(...)` makes it an array.",
        "To show the result as a picture it must be uint8 again: clip to 0..255 first "
        "(`np.clip(x, 0, 255)`), then `.astype(\"uint8\")`, so that 256 does not wrap to 0.",
    ],
    mistakes=[
        ("one = keras.ops.convert_to_numpy(augmentation(image[np.newaxis].astype('float32'), training=True))\n"
         "return np.repeat(np.clip(one, 0, 255).astype('uint8'), n, axis=0)", "different"),
        ("batch = np.repeat(image[np.newaxis].astype('float32'), n, axis=0)\n"
         "return keras.ops.convert_to_numpy(augmentation(batch, training=True))", "uint8"),
        ("batch = np.repeat(image[np.newaxis].astype('float32'), n, axis=0)\n"
         "out = keras.ops.convert_to_numpy(augmentation(batch, training=True))\n"
         "return out.astype('uint8')", "clip"),
    ],
)


def _examples(augment_examples, augmentation, image, n):
    got = call(augment_examples, augmentation, image.copy(), n=n,
               label=f"augment_examples(augmentation, image, n={n})")
    expect(isinstance(got, np.ndarray), f"`augment_examples` should return a numpy array, but "
                                        f"returned a {type(got).__name__}.")
    h, w = image.shape[:2]
    expect(got.shape == (n, h, w, 3), f"For n={n} and a {h}x{w} image, the result should have "
                                      f"shape ({n}, {h}, {w}, 3), not {got.shape}.")
    expect(got.dtype == np.uint8, f"The result should be uint8 (what pictures are made of), not "
                                  f"{got.dtype}.")
    return got


def _image(size=32, seed=2):
    return np.clip(_batch(size, 1, seed)[0], 0, 255).astype("uint8")


def _keras():
    import keras  # Keras loads when a check runs, not when the stages are listed

    return keras


@q2.test("returns n pictures of the image's size")
def returns_n_pictures_of_image_size(augment_examples):
    keras = _keras()
    _examples(augment_examples, keras.Sequential([keras.layers.RandomFlip("horizontal")]), _image(), 5)


@q2.test("gives the image back unchanged when the augmentation does nothing")
def unchanged_when_augmentation_does_nothing(augment_examples):
    keras = _keras()
    image = _image()
    got = _examples(augment_examples, keras.Sequential([keras.layers.Identity()]), image, 3)
    expect(all(np.array_equal(g, image) for g in got),
           "With an augmentation that does nothing, every result should equal the image.")


@q2.test("draws a different augmentation for each picture")
def draws_new_augmentation_per_picture(augment_examples):
    keras = _keras()
    aug = keras.Sequential([keras.layers.RandomRotation(0.5, fill_mode="constant", seed=3)])
    got = _examples(augment_examples, aug, _image(), 6)
    expect(len({g.tobytes() for g in got}) > 1,
           "All your pictures are the same: pass a batch of n copies through the augmentation, so "
           "that each gets a different random change.")


@q2.hidden_test("clips to 0..255 before converting to uint8")
def clips_before_uint8(augment_examples):
    keras = _keras()
    brighter = keras.Sequential([keras.layers.Rescaling(1.6)])  # pushes bright pixels past 255
    image = np.full((8, 8, 3), 200, "uint8")
    got = _examples(augment_examples, brighter, image, 2)
    expect(got.min() == 255, "Pixels pushed past 255 wrap around to dark values: clip the result "
                             "to 0..255 before converting to uint8.")

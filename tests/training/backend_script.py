"""Augmentation and compilation under the backend $KERAS_BACKEND names, printed as one JSON line
for test_backends.py: random layers inside the compiled train step, called eagerly as the widgets
call them, and XLA compilation of the tutorial recipe's model under JAX."""

import json
import sys
import warnings
from pathlib import Path

import numpy as np

from malaria_lab.quiet import import_keras

keras = import_keras()

from malaria_lab import backend  # noqa: E402
from malaria_lab.models import load_model  # noqa: E402
from malaria_lab.pipeline import make_augmenter, make_dataset  # noqa: E402
from malaria_lab.train import build_model, compile_model, get_recipe  # noqa: E402
from malaria_lab.widgets import AugmentationExplorer  # noqa: E402

SIZE = 8
IMAGE = (np.arange(SIZE * SIZE * 3).reshape(1, SIZE, SIZE, 3) * 7 % 251).astype("uint8")


def step_losses(steps=6, epochs=2):
    """Each training step's loss, for one image repeated, through random augmentation and a fixed
    linear read-out (learning rate 0): the losses differ only where each step draws anew."""
    inputs = keras.Input((SIZE, SIZE, 3))
    x = make_augmenter(flip=True, rotate90=True, rotation=0.2, contrast=0, brightness=0, seed=1)(inputs)
    x = keras.layers.Dense(1, use_bias=False, kernel_initializer=keras.initializers.RandomNormal(seed=0))(
        keras.layers.Flatten()(x))
    model = keras.Model(inputs, x)
    model.compile(optimizer=keras.optimizers.SGD(0.0), loss="mse")
    backend.allow_jit(model)
    losses = []

    class Record(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.means = []

        def on_train_batch_end(self, batch, logs=None):
            self.means.append(float(logs["loss"]))  # the mean over the epoch so far

        def on_epoch_end(self, epoch, logs=None):
            m = self.means
            losses.append([m[0]] + [(k + 1) * m[k] - k * m[k - 1] for k in range(1, len(m))])

    data = make_dataset(np.repeat(IMAGE, steps, axis=0), np.zeros(steps), batch_size=1)
    model.fit(data, epochs=epochs, verbose=0, callbacks=[Record()])
    return losses, bool(model.jit_compile)


def eager_draws():
    """What the augmentation explorer shows: copies of one call, the same seed again, a new draw."""
    images = np.repeat(np.pad(IMAGE, ((0, 0), (4, 4), (4, 4), (0, 0))), 2, axis=0)
    explorer = AugmentationExplorer(images, n=2, versions=3, rotation=0.1)
    first = explorer.augmented()
    again = AugmentationExplorer(images, n=2, versions=3, rotation=0.1).augmented()
    explorer._new_draw()
    return {"copies_differ": all(not np.array_equal(first[i], first[j]) for i in range(3) for j in range(i)),
            "same_seed_same": bool(np.array_equal(first, again)),
            "new_draw_differs": not np.array_equal(first, explorer.augmented())}


def tutorial_jit(out):
    """Whether the tutorial recipe's model (RandomZoom inside) compiles: as ``fit`` trains it, once
    loaded, and compiled again by a learner's own code (as in stage 5) then loaded; with any warning
    about it that loading gave."""
    recipe = get_recipe("tutorial").but(image_size=32)
    model = compile_model(build_model(recipe), recipe, steps_per_epoch=1)
    found = {"trained": bool(model.jit_compile)}
    model.save(out / "ours.keras")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        found["loaded"] = bool(load_model(out / "ours.keras").jit_compile)
        theirs = load_model(out / "ours.keras", compile=False)
        theirs.compile(optimizer="adam", loss="binary_crossentropy")
        theirs.save(out / "theirs.keras")
        found["theirs_loaded"] = bool(load_model(out / "theirs.keras").jit_compile)
    found["warnings"] = [str(w.message) for w in caught if "jit_compile" in str(w.message)]
    return found


def jax_jit_matches_eager():
    """Largest difference between each JAX_COMPILES layer jitted and eager, from the same seed state."""
    import jax  # this check is about JAX only

    x = np.random.default_rng(0).uniform(0, 255, (4, 16, 16, 3)).astype("float32")
    found = {}
    for name, kwargs in {"RandomRotation": dict(factor=0.3), "RandomZoom": dict(height_factor=0.3),
                         "RandomTranslation": dict(height_factor=0.2, width_factor=0.2),
                         "RandomShear": dict(x_factor=0.3, y_factor=0.3)}.items():
        layer = getattr(keras.layers, name)(fill_mode="constant", seed=3, **kwargs)
        layer.build(x.shape)
        state = [v.value for v in layer.non_trainable_variables]
        jitted, _ = jax.jit(lambda s, x: layer.stateless_call([], s, x, training=True))(state, x)
        eager = keras.ops.convert_to_numpy(layer(x, training=True))
        found[name] = float(np.abs(np.asarray(jitted) - eager).max())
    return found


if __name__ == "__main__":
    out = Path(sys.argv[1])
    losses, jit = step_losses()
    result = {"backend": keras.backend.backend(), "losses": losses, "jit": jit, "eager": eager_draws(),
              "tutorial": tutorial_jit(out)}
    if result["backend"] == "jax":
        result["jit_vs_eager"] = jax_jit_matches_eager()
    print(json.dumps(result))

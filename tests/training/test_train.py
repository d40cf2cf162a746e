"""Training on the embedded data: it learns under TensorFlow, PyTorch and JAX, stops early, resumes,
and trains in bfloat16 with a model that loads back in float32."""

import json
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from malaria_lab import MalariaLabError
from malaria_lab.backend import installed
from malaria_lab.layer_walk import nested_layers
from malaria_lab.models import load_model
from malaria_lab.pipeline import Arrays
from malaria_lab.train import build_model, fit, get_recipe

SCRIPT = Path(__file__).with_name("train_script.py")


@pytest.fixture(scope="module")
def training_data(tmp_path_factory):
    """Synthetic cells from 20 patients. On the shared set's 12 (2 validation, 4 test patients),
    18 runs with the same seed gave test AUC from 0.56 to 1.00, since TensorFlow's CPU kernels are
    not bit-for-bit repeatable; with 20 patients, ten runs gave 0.991 to 0.9995."""
    from malaria_lab.data.synth import synthesize

    root = tmp_path_factory.mktemp("synth20")
    synthesize(root, per_class=300, patients=20, seed=1)
    return root


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["tensorflow", "torch", "jax"])
def test_short_training_resumes_and_learns(backend, training_data, tmp_path):
    if not installed(backend):
        pytest.skip(f"{backend} is not installed")
    env = dict(os.environ, KERAS_BACKEND=backend)
    done = subprocess.run([sys.executable, str(SCRIPT), str(training_data), str(tmp_path), "14", "4"],
                          env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["backend"] == backend
    assert (result["epochs_before"], result["epochs_after_resume"], result["epochs"]) == (5, 9, 14), result
    assert result["kept"], "the resumed run kept the interrupted run's history"
    assert result["accuracy"] > 0.7, result
    assert result["auc"] > 0.75, result
    assert result["threshold_from_returned_val"], "the returned validation probabilities chose the threshold"
    assert (tmp_path / "model.keras").is_file() and (tmp_path / "training.json").is_file()


def _tiny_arrays(n=64, size=16, seed=0):
    """Bright cells are parasitized: easy enough to learn in a few steps."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    x = rng.uniform(0, 120, (n, size, size, 3)) + y[:, None, None, None] * 100
    return Arrays(x.astype("uint8"), y.astype("int32"), [f"P{i % 4}" for i in range(n)], [str(i) for i in range(n)], [])


class _Interrupt(keras.callbacks.Callback):
    def __init__(self, at):
        super().__init__()
        self.at = at

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.at:
            raise KeyboardInterrupt


class _FirstWeights(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.weights = [np.array(w) for w in self.model.get_weights()]


def _recipe(**changes):
    base = dict(image_size=16, epochs=4, patience=10, start_from_epoch=0, batch_size=16, tta=False)
    return get_recipe("fast").but(**{**base, **changes})


def test_interrupted_training_resumes_from_its_checkpoint(tmp_path):
    recipe = _recipe()
    train, val = _tiny_arrays(), _tiny_arrays(seed=1)
    with pytest.raises(KeyboardInterrupt):
        fit(build_model(recipe), train, val, tmp_path, recipe, verbose=0, callbacks=[_Interrupt(1)])
    state = json.loads((tmp_path / "state.json").read_text())
    partial = json.loads((tmp_path / "history.json").read_text())
    assert state["epoch"] == 1 and len(partial["loss"]) == 2
    saved = keras.saving.load_model(tmp_path / "last.keras").get_weights()
    first = _FirstWeights()
    history = fit(build_model(recipe, seed=99), train, val, tmp_path, recipe, verbose=0, callbacks=[first])
    assert len(history["loss"]) == 4 and history["loss"][:2] == partial["loss"]
    assert all(np.array_equal(a, b) for a, b in zip(first.weights, saved))
    assert json.loads((tmp_path / "state.json").read_text())["epoch"] == 3
    # A finished run resumes to nothing more.
    assert fit(build_model(recipe), train, val, tmp_path, recipe, verbose=0) == history


def test_resuming_with_another_recipe_is_refused(tmp_path):
    recipe = _recipe(epochs=1)
    fit(build_model(recipe), _tiny_arrays(), _tiny_arrays(seed=1), tmp_path, recipe, verbose=0)
    other = recipe.but(learning_rate=0.1, epochs=2)
    with pytest.raises(MalariaLabError, match="another recipe"):
        fit(build_model(other), _tiny_arrays(), _tiny_arrays(seed=1), tmp_path, other, verbose=0)


@pytest.mark.filterwarnings("ignore:The model does not have any trainable weights")
@pytest.mark.parametrize("start", [0, 3])
def test_early_stopping_stops_when_validation_does_not_improve(tmp_path, start):
    recipe = _recipe(learning_rate=0.0, schedule="constant", warmup_epochs=0, patience=2, epochs=10,
                     monitor="val_loss", start_from_epoch=start)
    model = build_model(recipe)
    model.trainable = False  # frozen, batch-norm statistics too: validation cannot improve
    history = fit(model, _tiny_arrays(), _tiny_arrays(seed=1), tmp_path, recipe, verbose=0)
    # Epochs before start_from_epoch neither count as best nor use up patience.
    assert len(history["loss"]) == start + 3
    state = json.loads((tmp_path / "state.json").read_text())
    assert state["best_epoch"] == start and state["wait"] == 2
    assert (tmp_path / "model.keras").is_file() and (tmp_path / "history.json").is_file()


def test_cosine_schedule_warms_up_then_decays(tmp_path):
    recipe = _recipe(epochs=4, warmup_epochs=1)
    history = fit(build_model(recipe), _tiny_arrays(), _tiny_arrays(seed=1), tmp_path, recipe, verbose=0)
    lr = history["learning_rate"]
    assert lr[0] == pytest.approx(recipe.learning_rate, rel=0.05)
    assert lr[0] > lr[1] > lr[2] > lr[3]


def test_bfloat16_recipe_trains_and_its_saved_model_loads_in_float32(tmp_path):
    recipe = _recipe(precision="mixed_bfloat16", epochs=2)
    model = build_model(recipe)
    assert keras.mixed_precision.global_policy().name == "float32", "the global policy is restored"
    convs = [layer for layer in nested_layers(model) if isinstance(layer, keras.layers.Conv2D)]
    assert convs and all(c.compute_dtype == "bfloat16" and c.variable_dtype == "float32" for c in convs)
    assert model.layers[-1].compute_dtype == "float32", "the probability is computed in float32"
    history = fit(model, _tiny_arrays(), _tiny_arrays(seed=1), tmp_path, recipe, verbose=0)
    assert len(history["loss"]) == 2 and all(np.isfinite(history["loss"]))

    again = load_model(tmp_path / "model.keras")
    assert {layer.compute_dtype for layer in nested_layers(again)} == {"float32"}
    x = _tiny_arrays(8, seed=2).x.astype("float32")
    p32 = keras.ops.convert_to_numpy(again(x, training=False))
    p16 = keras.ops.convert_to_numpy(load_model(tmp_path / "model.keras", float32=False)(x, training=False))
    assert p32.dtype == np.float32
    assert np.allclose(p32, p16, atol=0.05), "the same weights, so nearly the same probabilities"


def test_without_validation_the_last_epoch_is_kept_and_nothing_stops_early(tmp_path):
    recipe = _recipe(epochs=3, patience=1)
    model = build_model(recipe)
    history = fit(model, _tiny_arrays(), None, tmp_path, recipe, verbose=0)
    assert len(history["loss"]) == 3 and not any(key.startswith("val_") for key in history)
    assert json.loads((tmp_path / "state.json").read_text())["best_epoch"] == 2
    kept = keras.saving.load_model(tmp_path / "model.keras").get_weights()
    assert all(np.array_equal(a, b) for a, b in zip(kept, model.get_weights()))


def test_training_without_validation_keeps_the_recipes_threshold(tmp_path):
    from malaria_lab.workflow import train_and_calibrate

    recipe = _recipe(epochs=2, threshold=0.4)
    model, summary = train_and_calibrate(_tiny_arrays(), None, tmp_path, recipe, verbose=0, log=lambda *a: None)
    saved = json.loads((tmp_path / "training.json").read_text())
    assert saved["threshold"] == summary["threshold"] == 0.4
    assert saved["validation"] is None and saved["n_val"] == 0 and summary["val_probabilities"] is None
    with pytest.raises(MalariaLabError, match="needs validation patients"):
        train_and_calibrate(_tiny_arrays(), None, tmp_path / "floor", recipe.but(min_sensitivity=0.95), verbose=0)

"""Training: a recipe (what to train and how), and ``fit`` with checkpoints, early stopping,
a learning-rate schedule, a JSON history, and resume after an interruption.

Everything here is public Keras 3 API, so it trains the same on TensorFlow, PyTorch or JAX.
"""

import json
import os
import time
from pathlib import Path

import keras

from . import backend, models, precision
from .atomic import read_json, write_json
from .errors import MalariaLabError
from .pipeline import make_augmenter, make_dataset
from .quiet import silenced_stderr
from .recipes import RECIPES, Recipe, get_recipe  # noqa: F401  (train.Recipe, train.RECIPES)


def build_model(recipe, seed=None):
    """The recipe's model with its augmentation layers in front (active only in training), in the
    recipe's precision."""
    with precision.policy(precision.resolve(recipe.precision)):
        augmentation = make_augmenter(**recipe.augment, seed=seed) if recipe.augment is not None else None
        return models.build(recipe.architecture, image_size=recipe.image_size,
                            augmentation=augmentation, **recipe.model)


def learning_rate_schedule(recipe, steps_per_epoch):
    """The recipe's learning rate: a number, or a warm-up then cosine decay over its epochs."""
    if recipe.schedule == "constant":
        return recipe.learning_rate
    if recipe.schedule == "cosine":
        total = max(1, recipe.epochs * steps_per_epoch)
        warmup = int(recipe.warmup_epochs * steps_per_epoch)
        return keras.optimizers.schedules.CosineDecay(
            initial_learning_rate=recipe.learning_rate / 10 if warmup else recipe.learning_rate,
            decay_steps=max(1, total - warmup), alpha=0.01,
            warmup_target=recipe.learning_rate if warmup else None, warmup_steps=warmup,
        )
    raise MalariaLabError(f"Unknown schedule {recipe.schedule!r}.", "Use 'cosine' or 'constant'.")


def compile_model(model, recipe, steps_per_epoch):
    """Compile with the recipe's optimizer, schedule, loss and metrics (accuracy and AUC)."""
    lr = learning_rate_schedule(recipe, steps_per_epoch)
    if recipe.optimizer == "adamw":
        optimizer = keras.optimizers.AdamW(learning_rate=lr, weight_decay=recipe.weight_decay)
    elif recipe.optimizer == "adam":
        optimizer = keras.optimizers.Adam(learning_rate=lr)
    elif recipe.optimizer == "rmsprop":
        optimizer = keras.optimizers.RMSprop(learning_rate=lr)
    else:
        raise MalariaLabError(f"Unknown optimizer {recipe.optimizer!r}.", "Use adamw, adam or rmsprop.")
    model.compile(
        optimizer=optimizer,
        loss=keras.losses.BinaryCrossentropy(label_smoothing=recipe.label_smoothing),
        metrics=[keras.metrics.BinaryAccuracy(name="accuracy"), keras.metrics.AUC(name="auc")],
    )
    return backend.allow_jit(model)


class TrainingLog(keras.callbacks.Callback):
    """After each epoch: history.json, last.keras, the best model.keras, and state.json.

    Early stopping lives here too, with its counters in state.json, so that a resumed run
    stops exactly where an uninterrupted one would have. With ``monitor`` None (no validation
    data) the newest epoch is always the best, and nothing stops early.
    """

    def __init__(self, out_dir, monitor, patience, state=None, history=None, start_from_epoch=0,
                 epochs=None):
        super().__init__()
        self.out = Path(out_dir)
        self.monitor = monitor
        self.mode = "min" if monitor and "loss" in monitor else "max"
        self.patience = patience
        # A run shorter than start_from_epoch still gets a best model: its last epoch.
        self.start = min(start_from_epoch, epochs - 1) if epochs else start_from_epoch
        self.state = state or {"epoch": -1, "best": None, "best_epoch": None, "wait": 0}
        self.history = history or {}
        self._start = None

    def _better(self, value):
        best = self.state["best"]
        if best is None:
            return True
        return value < best if self.mode == "min" else value > best

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        logs = dict(logs or {})
        logs["seconds"] = time.perf_counter() - self._start
        logs["learning_rate"] = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
        for key, value in logs.items():
            self.history.setdefault(key, []).append(float(value))
        value = logs.get(self.monitor) if self.monitor else None
        if not self.monitor:
            self.state.update(best_epoch=epoch)
            _save_model(self.model, self.out / "model.keras")
        elif value is None:
            raise MalariaLabError(
                f"The metric {self.monitor!r} was not computed.", "Pass validation data to fit."
            )
        elif epoch >= self.start:
            if self._better(value):
                self.state.update(best=float(value), best_epoch=epoch, wait=0)
                _save_model(self.model, self.out / "model.keras")
            else:
                self.state["wait"] += 1
        self.state["epoch"] = epoch
        _save_model(self.model, self.out / "last.keras")
        write_json(self.out / "history.json", self.history)
        write_json(self.out / "state.json", self.state)
        if self.state["wait"] >= self.patience:
            self.model.stop_training = True


def _save_model(model, path):
    """Save beside ``path`` first, then rename: a crash mid-save never leaves a broken file."""
    partial = path.with_name(f".{path.stem}.partial.keras")
    model.save(partial)
    os.replace(partial, path)


def fit(model, train, val, out_dir, recipe="reference", resume=True, seed=0, verbose="auto",
        callbacks=(), epochs=None):
    """Train ``model`` on ``train`` (an Arrays), choosing the best epoch on ``val`` (with ``val``
    None, the last epoch, and no early stopping).

    Writes ``out_dir/model.keras`` (best epoch), ``last.keras``, ``history.json`` and
    ``state.json``. With ``resume`` and a ``last.keras`` from an interrupted run of the same
    recipe, training carries on from the epoch after it. Returns the history as a dict.
    """
    recipe = get_recipe(recipe)
    epochs = epochs or recipe.epochs
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with silenced_stderr():  # it seeds TensorFlow too where installed, and under torch or jax imports it now
        keras.utils.set_random_seed(seed)
    train_batches = make_dataset(train.x, train.y, recipe.batch_size, shuffle=True, seed=seed)
    val_batches = make_dataset(val.x, val.y, max(recipe.batch_size, 128)) if val is not None else None
    state, history, initial_epoch = None, None, 0
    if resume and (out / "last.keras").is_file() and (out / "state.json").is_file():
        state = read_json(out / "state.json", f"{out} (or start over with --force)")
        history = read_json(out / "history.json", f"{out} (or start over with --force)")
        if state.get("recipe") not in (None, _plain(recipe.to_dict())):
            raise MalariaLabError(
                f"{out} holds a run of another recipe; nothing was changed.",
                "Use a new --out folder, or start over there (--force; resume=False in Python).",
            )
        model = models.load_model(out / "last.keras", float32=False)
        initial_epoch = state["epoch"] + 1
        if state["wait"] >= recipe.patience or initial_epoch >= epochs:
            return history
    else:
        compile_model(model, recipe, len(train_batches))
    log = TrainingLog(out, recipe.monitor if val is not None else None, recipe.patience, state, history,
                      start_from_epoch=recipe.start_from_epoch, epochs=epochs)
    log.state["recipe"] = _plain(recipe.to_dict())
    write_json(out / "recipe.json", recipe.to_dict())
    model.fit(
        train_batches, validation_data=val_batches, epochs=epochs, initial_epoch=initial_epoch,
        callbacks=[log, *callbacks], verbose=verbose,
    )
    return log.history


def _plain(data):
    """``data`` as it reads back from JSON (tuples become lists), for comparing."""
    return json.loads(json.dumps(data))


def load_best(out_dir):
    """The best checkpoint of a training run."""
    path = Path(out_dir) / "model.keras"
    if not path.is_file():
        raise MalariaLabError(f"No trained model at {path}.", "Train first: `malaria-lab train`.")
    return models.load_model(path)


def images_per_second(history, n_images):
    """Training images per second per epoch, from the history's epoch times."""
    return [n_images / s for s in history.get("seconds", []) if s > 0]


__all__ = ["Recipe", "RECIPES", "get_recipe", "build_model", "compile_model", "fit",
           "learning_rate_schedule",
           "TrainingLog", "load_best", "images_per_second"]

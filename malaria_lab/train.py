"""Training: a recipe (what to train and how), and ``fit`` with checkpoints, early stopping,
a learning-rate schedule, a JSON history, and resume after an interruption.

Everything here is public Keras 3 API, so it trains the same on TensorFlow, PyTorch or JAX.
"""

import json
import os
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import keras

from . import backend, models, precision
from .atomic import write_json
from .errors import MalariaLabError
from .pipeline import make_augmenter, make_dataset
from .quiet import silenced_stderr


@dataclass(frozen=True)
class Recipe:
    """Everything that decides a training run, so a run can be named, saved and repeated."""

    name: str
    architecture: str = "reference"
    image_size: int = 64
    model: dict = field(default_factory=dict)
    augment: dict = field(default_factory=dict)
    optimizer: str = "adamw"
    learning_rate: float = 3e-3
    weight_decay: float = 1e-4
    schedule: str = "cosine"
    warmup_epochs: float = 1.0
    batch_size: int = 64
    epochs: int = 10
    patience: int = 4
    # Epochs (0-based) before which no checkpoint counts as best and training never stops, as
    # in keras.callbacks.EarlyStopping: early epochs at a high learning rate score well on a
    # few validation patients by luck; choosing one cost a cross-validation fold 4 points of accuracy.
    start_from_epoch: int = 4
    monitor: str = "val_auc"
    label_smoothing: float = 0.1
    tta: bool = True
    # None: the threshold balances sensitivity and specificity on validation (Youden). A floor of
    # 0.96 cost 1.3 points of accuracy for 1.3 of sensitivity in cross-validation, and 6 points
    # in one fold whose few validation patients had a tail of hard positive cells.
    min_sensitivity: float = None
    # "mixed_bfloat16" (or "auto": where the CPU has it natively, see malaria_lab.precision)
    # trained about a quarter faster on 2 cores, but cross-validated 0.956 +- 0.015 accuracy against 0.958 +-
    # 0.010, 1.2 points lower on the hardest fold; time is within budget, so float32 stays.
    # Saved models load back in float32 either way.
    precision: str = "float32"
    # Share of patients that `malaria-lab train` and cross-validation hold out for early stopping
    # and choosing the threshold. 0 trains on every patient for the full schedule (the last epoch
    # is the model) at ``threshold``, fixed in advance by cross-validation.
    validation: float = 0.15
    # The decision threshold where no validation patients choose one (validation 0).
    threshold: float = 0.5

    def to_dict(self):
        return asdict(self)

    @classmethod
    def from_dict(cls, data):
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})

    def but(self, **changes):
        """A copy with some fields changed (``recipe.but(epochs=3)``)."""
        return replace(self, **changes)


RECIPES = {
    # Holds no patient back in `malaria-lab train`: with epochs and threshold fixed by cross-validation,
    # the validation patients are worth more as training data (see `validation` above). Max pooling
    # beside average pooling raised every one of five folds (0.962 against 0.960 accuracy, 0.992
    # against 0.991 AUC) at no cost; at threshold 0.45 rather than 0.5 more sets of 48 held-out patients
    # met every target (26% against 17% of draws), sensitivity bought with a little specificity.
    "reference": Recipe("reference", validation=0.0, model=dict(pooling="avgmax"), threshold=0.45),
    # The 2020 tutorial, made to run on Keras 3: its CNN at 100 px, RMSprop 1e-3, batch 32,
    # early stopping with patience 3 on validation loss; its augmentation was
    # ImageDataGenerator(rescale, zoom, shear, horizontal flip).
    "tutorial": Recipe(
        "tutorial", architecture="tutorial", image_size=100, optimizer="rmsprop",
        learning_rate=1e-3, weight_decay=0.0, schedule="constant", warmup_epochs=0,
        batch_size=32, epochs=25, patience=3, start_from_epoch=0, monitor="val_loss",
        augment=dict(flip=True, rotate90=False, rotation=0, zoom=0.2, contrast=0, brightness=0), tta=False,
        model=dict(bn_momentum=0.99), label_smoothing=0.0,
    ),
    # Few epochs on small images: for fast mode (grading, CI, Binder) and the embedded data.
    "fast": Recipe("fast", image_size=48, epochs=6, patience=3, start_from_epoch=2, batch_size=32,
                   learning_rate=3e-3, label_smoothing=0.0),
}


def get_recipe(recipe):
    if isinstance(recipe, Recipe):
        return recipe
    if recipe not in RECIPES:
        raise MalariaLabError(f"Unknown recipe {recipe!r}.", f"Choose one of {', '.join(RECIPES)}.")
    return RECIPES[recipe]


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
        state = json.loads((out / "state.json").read_text())
        history = json.loads((out / "history.json").read_text())
        if state.get("recipe") not in (None, _plain(recipe.to_dict())):
            raise MalariaLabError(
                f"{out} holds an interrupted run of another recipe.",
                "Use a new --out folder, or resume=False to start over there.",
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

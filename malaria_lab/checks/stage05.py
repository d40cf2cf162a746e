"""Stage 5, training: compile, watch validation with callbacks, and read the curves."""

import os
import tempfile

from .engine import Stage, call, expect, same_object

STAGE = Stage("05_train", "Train with callbacks, and read the curves", prelude="""
    import numpy as np
    import keras
    from pathlib import Path
""")


def _keras():
    import keras  # Keras loads when a check runs, not when the stages are listed

    return keras


def _tiny_model():
    keras = _keras()
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.GlobalAveragePooling2D()(inputs)
    return keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(x), name="check_model")


# --- q1 -----------------------------------------------------------------------------------

q1 = STAGE.exercise(
    "q1", "Compile for training", points=2, names=["compile_for_training"],
    code='''
    def compile_for_training(model, learning_rate=1e-3):
        """Compile `model` with AdamW at `learning_rate` (a number or a schedule), binary cross-entropy with label smoothing 0.1, and accuracy and AUC metrics; return it."""
        ### BEGIN SOLUTION
        model.compile(
            optimizer=keras.optimizers.AdamW(learning_rate=learning_rate),
            loss=keras.losses.BinaryCrossentropy(label_smoothing=0.1),
            metrics=["accuracy", keras.metrics.AUC(name="auc")],
        )
        return model
        ### END SOLUTION
    ''',
    hints=[
        "Everything goes into one call: `model.compile(optimizer=..., loss=..., metrics=[...])`, "
        "and then `return model`.",
        "Make the optimizer yourself to set its learning rate: "
        "`keras.optimizers.AdamW(learning_rate=learning_rate)` (a schedule goes in the same "
        "place as a number). The network gives one probability per cell and the label is 0 or 1: "
        "that is *binary* cross-entropy, `keras.losses.BinaryCrossentropy(label_smoothing=0.1)`.",
        "Name the AUC metric so that its validation value is logged as `val_auc`: "
        "`metrics=[\"accuracy\", keras.metrics.AUC(name=\"auc\")]`.",
    ],
    mistakes=[
        ("model.compile(optimizer=keras.optimizers.AdamW(learning_rate), "
         "loss='categorical_crossentropy', metrics=['accuracy', keras.metrics.AUC(name='auc')])\n"
         "return model", "binary"),
        ("model.compile(optimizer='adamw', loss=keras.losses.BinaryCrossentropy(label_smoothing=0.1), "
         "metrics=['accuracy', keras.metrics.AUC(name='auc')])\nreturn model", "learning_rate"),
        ("model.compile(optimizer=keras.optimizers.RMSprop(learning_rate), "
         "loss=keras.losses.BinaryCrossentropy(label_smoothing=0.1), "
         "metrics=['accuracy', keras.metrics.AUC(name='auc')])\nreturn model", "AdamW"),
        ("model.compile(optimizer=keras.optimizers.AdamW(learning_rate), "
         "loss='binary_crossentropy', metrics=['accuracy', keras.metrics.AUC(name='auc')])\n"
         "return model", "smoothing"),
        ("model.compile(optimizer=keras.optimizers.AdamW(learning_rate), "
         "loss=keras.losses.BinaryCrossentropy(label_smoothing=0.1), metrics=['accuracy'])\n"
         "return model", "AUC"),
        ("model.compile(optimizer=keras.optimizers.AdamW(learning_rate), "
         "loss=keras.losses.BinaryCrossentropy(label_smoothing=0.1), "
         "metrics=['accuracy', keras.metrics.AUC(name='auc')])", "return"),
    ],
)


def _compiled(compile_for_training, learning_rate=None):
    model = _tiny_model()
    if learning_rate is None:
        got = call(compile_for_training, model, label="compile_for_training(model)")
    else:
        got = call(compile_for_training, model, learning_rate=learning_rate,
                   label=f"compile_for_training(model, learning_rate={learning_rate})")
    expect(got is not None, "`compile_for_training` should end with `return model`.")
    expect(same_object(got, model), "`compile_for_training` should compile the model it is given "
                                    "and return that same model.")
    config = got.get_compile_config() if hasattr(got, "get_compile_config") else {}
    expect(bool(config) and got.optimizer is not None,
           "The model is not compiled: call `model.compile(...)`.")
    return got, config


def _names(value):
    """Lower-case names found in a serialized loss or metrics entry."""
    out = []
    if isinstance(value, str):
        out.append(value.lower())
    elif isinstance(value, dict):
        for key in ("class_name", "name"):
            if isinstance(value.get(key), str):
                out.append(value[key].lower())
        if isinstance(value.get("config"), dict):
            name = value["config"].get("name")
            if isinstance(name, str):
                out.append(name.lower())
        if isinstance(value.get("config"), str):
            out.append(value["config"].lower())
    elif isinstance(value, (list, tuple)):
        for item in value:
            out.extend(_names(item))
    return out


@q1.test("uses binary cross-entropy")
def uses_binary_cross_entropy(compile_for_training):
    _, config = _compiled(compile_for_training)
    names = " ".join(_names(config.get("loss")))
    expect("binary" in names and "crossentropy" in names.replace("_", ""),
           "The loss should be binary cross-entropy: one probability per cell, labels 0 or 1.")


@q1.test("softens the labels a little")
def softens_labels_little(compile_for_training):
    model, _ = _compiled(compile_for_training)
    config = model.loss.get_config() if hasattr(model.loss, "get_config") else {}
    smoothing = config.get("label_smoothing")
    expect(smoothing is not None and abs(float(smoothing) - 0.1) < 1e-6,
           "Use label smoothing 0.1: `keras.losses.BinaryCrossentropy(label_smoothing=0.1)`. "
           "About 1 in 20 labels in this data set is thought to be wrong; smoothing keeps the "
           "network from chasing them with ever more certain answers.")


@q1.test("uses AdamW at the given learning rate")
def uses_adamw_given_learning_rate(compile_for_training):
    model, _ = _compiled(compile_for_training, learning_rate=0.002)
    optimizer = model.optimizer
    expect(type(optimizer).__name__ == "AdamW",
           f"The optimizer is {type(optimizer).__name__}; the task asks for AdamW (Adam that also "
           "keeps the weights small): `keras.optimizers.AdamW(learning_rate=learning_rate)`.")
    lr = optimizer.get_config().get("learning_rate")
    expect(isinstance(lr, (int, float)) and abs(float(lr) - 0.002) < 1e-9,
           "The optimizer does not use the `learning_rate` argument: make it with "
           "`keras.optimizers.AdamW(learning_rate=learning_rate)`.")


@q1.test("measures accuracy and AUC")
def measures_accuracy_auc(compile_for_training):
    _, config = _compiled(compile_for_training)
    names = _names(config.get("metrics"))
    expect("auc" in names, "Add an AUC metric named \"auc\" (`keras.metrics.AUC(name=\"auc\")`), "
                           "so that training logs `val_auc`.")
    expect(any("acc" in n for n in names), "Add \"accuracy\" to the metrics.")


@q1.hidden_test("follows another learning rate, and a schedule")
def follows_another_schedule(compile_for_training):
    keras = _keras()
    model, _ = _compiled(compile_for_training, learning_rate=3e-4)
    lr = model.optimizer.get_config().get("learning_rate")
    expect(isinstance(lr, (int, float)) and abs(float(lr) - 3e-4) < 1e-10,
           "With another learning_rate, the optimizer does not use it.")
    schedule = keras.optimizers.schedules.CosineDecay(1e-3, decay_steps=100)
    model, _ = _compiled(compile_for_training, learning_rate=schedule)
    config = model.optimizer.get_config().get("learning_rate")
    expect(isinstance(config, dict) and "CosineDecay" in str(config.get("class_name")),
           "Given a learning-rate schedule, the optimizer should follow it: pass `learning_rate` "
           "to the optimizer as it is.")


# --- q2 -----------------------------------------------------------------------------------

q2 = STAGE.exercise(
    "q2", "Callbacks that watch validation", points=3, names=["make_callbacks"],
    code='''
    def make_callbacks(out_dir):
        """Callbacks for fit: keep the best model (by validation AUC) in out_dir/model.keras; stop, and go back to the best weights from epoch 5 on, when it stops improving."""
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        ### BEGIN SOLUTION
        return [
            keras.callbacks.ModelCheckpoint(out_dir / "model.keras", monitor="val_auc", mode="max",
                                            save_best_only=True),
            keras.callbacks.EarlyStopping(monitor="val_auc", mode="max", patience=4,
                                          start_from_epoch=4, restore_best_weights=True),
        ]
        ### END SOLUTION
    ''',
    hints=[
        "Two callbacks from `keras.callbacks`: `ModelCheckpoint` keeps the best model on disk, "
        "`EarlyStopping` ends training once the monitored number stops getting better.",
        "Both take `monitor=\"val_auc\"`: the AUC on the validation patients, not on the training "
        "ones (the network can memorise those). AUC is better when higher, so say "
        "`mode=\"max\"`.",
        "`ModelCheckpoint(out_dir / \"model.keras\", monitor=..., mode=..., save_best_only=True)` "
        "and `EarlyStopping(monitor=..., mode=..., patience=4, start_from_epoch=4, "
        "restore_best_weights=True)`, returned in a list. `start_from_epoch=4` makes early "
        "stopping ignore epochs 1 to 4, while the learning rate is still high.",
    ],
    mistakes=[
        ("return [keras.callbacks.ModelCheckpoint(out_dir / 'model.keras', monitor='auc', mode='max',\n"
         "                                        save_best_only=True),\n"
         "        keras.callbacks.EarlyStopping(monitor='auc', mode='max', patience=4,\n"
         "                                      restore_best_weights=True)]", "validation"),
        ("return [keras.callbacks.ModelCheckpoint(out_dir / 'model.keras', monitor='val_auc', mode='max'),\n"
         "        keras.callbacks.EarlyStopping(monitor='val_auc', mode='max', patience=4,\n"
         "                                      restore_best_weights=True)]", "best"),
        ("return [keras.callbacks.ModelCheckpoint(out_dir / 'model.keras', monitor='val_auc',\n"
         "                                        save_best_only=True),\n"
         "        keras.callbacks.EarlyStopping(monitor='val_auc', patience=4,\n"
         "                                      restore_best_weights=True)]", "max"),
        ("return [keras.callbacks.ModelCheckpoint(out_dir / 'model.keras', monitor='val_auc', mode='max',\n"
         "                                        save_best_only=True)]", "EarlyStopping"),
        ("return [keras.callbacks.ModelCheckpoint(out_dir / 'model.keras', monitor='val_auc', mode='max',\n"
         "                                        save_best_only=True),\n"
         "        keras.callbacks.EarlyStopping(monitor='val_auc', mode='max', patience=4,\n"
         "                                      restore_best_weights=True)]", "start_from_epoch"),
    ],
)


def _callbacks(make_callbacks):
    """The student's callbacks for a folder that is gone again by the time the checks read them:
    building callbacks writes nothing, and each check run would otherwise leave a folder behind."""
    keras = _keras()
    with tempfile.TemporaryDirectory(prefix="malaria_lab_check_") as out:
        got = call(make_callbacks, out, label="make_callbacks(out_dir)")
    expect(isinstance(got, (list, tuple)), f"`make_callbacks` should return a list of callbacks, "
                                           f"but returned a {type(got).__name__}.")
    expect(all(isinstance(c, keras.callbacks.Callback) for c in got),
           "Everything in the list should be a Keras callback (from `keras.callbacks`).")
    return list(got), out


def _of(callbacks, name):
    return [c for c in callbacks if type(c).__name__ == name]


def _mode(callback):
    """The way a callback reads its metric: its ``mode``, or where it keeps none (ModelCheckpoint of
    Keras 3.8 to 3.10, Colab's), what its comparison says."""
    mode = getattr(callback, "mode", None)
    if mode is None:
        mode = {"greater": "max", "less": "min"}.get(getattr(getattr(callback, "monitor_op", None), "__name__", ""),
                                                     "auto")
    return mode


def _direction_ok(callback):
    monitor = callback.monitor
    mode = _mode(callback)
    if "loss" in monitor:
        return mode in ("min", "auto")
    return mode == "max"


@q2.test("keeps the best model in out_dir/model.keras")
def keeps_best_model_in_out_dir(make_callbacks):
    callbacks, out = _callbacks(make_callbacks)
    checkpoints = _of(callbacks, "ModelCheckpoint")
    expect(checkpoints, "Add a `keras.callbacks.ModelCheckpoint` to keep the best model.")
    cp = checkpoints[0]
    expect(os.path.abspath(str(cp.filepath)) == os.path.abspath(os.path.join(out, "model.keras")),
           "The checkpoint should be saved as `out_dir / \"model.keras\"` (stage 6 loads it from "
           "there).")
    expect(cp.save_best_only, "Your checkpoint saves after every epoch, so the file ends up "
                              "holding the last model, not the best: pass save_best_only=True.")


@q2.test("watches a validation metric, the right way up")
def watches_validation_metric_right_way(make_callbacks):
    callbacks, _ = _callbacks(make_callbacks)
    for cb in _of(callbacks, "ModelCheckpoint") + _of(callbacks, "EarlyStopping"):
        name = type(cb).__name__
        expect(cb.monitor.startswith("val_"),
               f"Your {name} watches {cb.monitor!r}, a number measured on the training images, "
               "which keeps improving while the network memorises them: watch a validation "
               "metric (\"val_auc\").")
        expect(_direction_ok(cb),
               f"Your {name} watches {cb.monitor!r} but does not say that higher is better: "
               "pass mode=\"max\" (for a loss it would be \"min\").")


@q2.test("stops early and goes back to the best weights")
def stops_early_restores_best(make_callbacks):
    callbacks, _ = _callbacks(make_callbacks)
    stops = _of(callbacks, "EarlyStopping")
    expect(stops, "Add a `keras.callbacks.EarlyStopping`, so that training ends once validation "
                  "stops improving.")
    stop = stops[0]
    expect(stop.restore_best_weights, "Pass restore_best_weights=True to EarlyStopping: otherwise "
                                      "the model keeps the weights of the last, worse epochs.")
    expect(1 <= int(stop.patience) <= 10,
           "Give EarlyStopping a patience of a few epochs: 0 stops at the first wobble, a large "
           "one never stops.")


@q2.test("ignores the first epochs")
def ignores_first_epochs(make_callbacks):
    callbacks, _ = _callbacks(make_callbacks)
    for stop in _of(callbacks, "EarlyStopping"):
        expect(1 <= int(getattr(stop, "start_from_epoch", 0) or 0) <= 6,
               "While the learning rate is high, in the first epochs, a good validation score is "
               "often luck, and early stopping would keep that model: pass start_from_epoch=4 to "
               "EarlyStopping.")


@q2.hidden_test("the checkpoint and the stopping rule agree")
def checkpoint_and_stopping_rule_agree(make_callbacks):
    callbacks, _ = _callbacks(make_callbacks)
    cp, stop = _of(callbacks, "ModelCheckpoint"), _of(callbacks, "EarlyStopping")
    if cp and stop:
        expect(cp[0].monitor == stop[0].monitor,
               "The checkpoint and early stopping watch different numbers, so the saved 'best' "
               "model may not be the one training stopped for: watch the same metric.")
    expect(not getattr(cp[0], "save_weights_only", False) if cp else True,
           "Save the whole model (save_weights_only=False): stage 6 loads it without rebuilding.")


# --- q3 -----------------------------------------------------------------------------------

q3 = STAGE.exercise(
    "q3", "Read the curves: the best epoch", points=2, names=["best_epoch"],
    code='''
    def best_epoch(history, monitor="val_auc"):
        """The epoch (counting from 1) with the best value of `monitor`: lowest for a loss, highest otherwise."""
        ### BEGIN SOLUTION
        values = history[monitor]
        best = min(values) if "loss" in monitor else max(values)
        return values.index(best) + 1
        ### END SOLUTION
    ''',
    hints=[
        "`history[monitor]` is a list with one value per epoch. Find the best one, and say which "
        "epoch it came from.",
        "For a loss lower is better (`min`), for AUC or accuracy higher is better (`max`). "
        "`values.index(best)` is the position of the first best value, counting from 0.",
        "Epochs count from 1 in Keras's progress output and in the plots: return "
        "`values.index(best) + 1`.",
    ],
    mistakes=[
        ("values = history[monitor]\nreturn values.index(max(values))", "from 1"),
        ("values = history[monitor]\nreturn values.index(max(values)) + 1", "loss"),
        ("values = history[monitor.replace('val_', '')]\n"
         "best = min(values) if 'loss' in monitor else max(values)\nreturn values.index(best) + 1",
         "validation"),
    ],
)

_HISTORY = {
    "loss": [0.69, 0.52, 0.41, 0.33, 0.27, 0.22, 0.18],
    "val_loss": [0.68, 0.55, 0.47, 0.49, 0.53, 0.58, 0.64],
    "auc": [0.60, 0.80, 0.88, 0.93, 0.96, 0.97, 0.985],
    "val_auc": [0.62, 0.79, 0.86, 0.89, 0.87, 0.86, 0.85],
}


def _true_best(history, monitor):
    values = history[monitor]
    best = min(values) if "loss" in monitor else max(values)
    return values.index(best) + 1


def _best(best_epoch, history, monitor):
    got = call(best_epoch, {k: list(v) for k, v in history.items()}, monitor=monitor,
               label=f"best_epoch(history, monitor={monitor!r})")
    expect(isinstance(got, int) and not isinstance(got, bool),
           f"`best_epoch` should return a whole number (an epoch), not a {type(got).__name__}.")
    return got


@q3.test("finds the best validation AUC, counting epochs from 1")
def finds_best_validation_auc(best_epoch):
    got = _best(best_epoch, _HISTORY, "val_auc")
    expect(got != _true_best(_HISTORY, "val_auc") - 1,
           "You count epochs from 0: Keras and the plots count them from 1.")
    expect(got != _true_best(_HISTORY, "auc"),
           "You found the best *training* AUC: read `history[monitor]`, here the validation one.")
    expect(got == _true_best(_HISTORY, "val_auc"),
           "On a test history, your epoch is not the one with the highest validation AUC.")


@q3.test("treats a loss as lower-is-better")
def treats_loss_lower_better(best_epoch):
    got = _best(best_epoch, _HISTORY, "val_loss")
    expect(got == _true_best(_HISTORY, "val_loss"),
           "For monitor=\"val_loss\", the best epoch is the one with the *lowest* loss.")


@q3.hidden_test("handles ties and one-epoch histories")
def handles_ties_and_one_epoch(best_epoch):
    tie = {"val_auc": [0.7, 0.9, 0.9, 0.8]}
    expect(_best(best_epoch, tie, "val_auc") == 2, "When two epochs tie, give the first of them.")
    expect(_best(best_epoch, {"val_loss": [0.5]}, "val_loss") == 1,
           "A history of one epoch has its best epoch at 1.")
    expect(_best(best_epoch, _HISTORY, "loss") == _true_best(_HISTORY, "loss"),
           "For monitor=\"loss\", the best epoch is the one with the lowest training loss.")

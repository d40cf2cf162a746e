"""Independently written correct answers to stage 5's exercises (see the package's docstring)."""

VARIANTS = {
    "q1": [
        '''\
opt = keras.optimizers.AdamW(learning_rate)
loss_fn = keras.losses.BinaryCrossentropy(label_smoothing=0.1)
model.compile(opt, loss_fn, metrics=[keras.metrics.BinaryAccuracy(name="accuracy"), keras.metrics.AUC(name="auc")])
return model
''',
        '''\
settings = dict(
    optimizer=keras.optimizers.AdamW(learning_rate=learning_rate),
    loss=keras.losses.BinaryCrossentropy(from_logits=False, label_smoothing=0.1),
    metrics=["accuracy", keras.metrics.AUC(name="auc")],
)
model.compile(**settings)
return model
''',
    ],
    "q2": [
        '''\
checkpoint = keras.callbacks.ModelCheckpoint(
    filepath=str(out_dir / "model.keras"), monitor="val_auc", mode="max", save_best_only=True)
stopper = keras.callbacks.EarlyStopping(
    monitor="val_auc", mode="max", patience=3, restore_best_weights=True, start_from_epoch=4)
return [checkpoint, stopper]
''',
        '''\
callbacks = []
callbacks.append(keras.callbacks.EarlyStopping(monitor="val_auc", mode="max", patience=5,
                                               restore_best_weights=True, start_from_epoch=5))
callbacks.append(keras.callbacks.ModelCheckpoint(Path(out_dir, "model.keras"), monitor="val_auc",
                                                 mode="max", save_best_only=True))
return callbacks
''',
    ],
    "q3": [
        '''\
scores = list(history[monitor])
pick = np.argmin if monitor.endswith("loss") else np.argmax
return int(pick(scores)) + 1
''',
        '''\
best_i = 0
for i, v in enumerate(history[monitor]):
    better = v < history[monitor][best_i] if "loss" in monitor else v > history[monitor][best_i]
    if better:
        best_i = i
return best_i + 1
''',
    ],
}

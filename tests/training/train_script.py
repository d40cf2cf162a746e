"""Train the fast recipe on a data folder, interrupted once after epoch ``interrupt_at`` and then
resumed from its checkpoint, and print a JSON line; run by tests under any backend."""

import json
import sys

from malaria_lab.quiet import import_keras

keras = import_keras()

from malaria_lab import evaluate  # noqa: E402
from malaria_lab.data.layout import find_images  # noqa: E402
from malaria_lab.pipeline import load_arrays  # noqa: E402
from malaria_lab.split import split_by_patient  # noqa: E402
from malaria_lab.train import get_recipe  # noqa: E402
from malaria_lab.workflow import train_and_calibrate  # noqa: E402


class Interrupt(keras.callbacks.Callback):
    def __init__(self, at):
        super().__init__()
        self.at = at

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.at:
            raise KeyboardInterrupt


class Count(keras.callbacks.Callback):
    epochs = 0

    def on_epoch_end(self, epoch, logs=None):
        Count.epochs += 1


data, out, epochs, interrupt_at = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
recipe = get_recipe("fast").but(epochs=epochs, patience=epochs)
rows = split_by_patient(find_images(data), fractions=(0.5, 0.2, 0.3), seed=0)
arrays = load_arrays(rows, recipe.image_size)
parts = arrays.parts(rows)
quiet = dict(verbose=0, log=lambda *a: None)
try:
    train_and_calibrate(parts["train"], parts["val"], out, recipe, callbacks=[Interrupt(interrupt_at)], **quiet)
except KeyboardInterrupt:
    pass
with open(f"{out}/history.json") as f:
    before = json.load(f)["loss"]
model, summary = train_and_calibrate(parts["train"], parts["val"], out, recipe, callbacks=[Count()], **quiet)
with open(f"{out}/history.json") as f:
    after = json.load(f)["loss"]
report = evaluate.evaluate(model, parts["test"], threshold=summary["threshold"])
print(json.dumps({"backend": keras.backend.backend(), "accuracy": report["accuracy"],
                  "auc": report["auc"], "val_accuracy": summary["validation"]["accuracy"],
                  "epochs_before": len(before), "epochs_after_resume": Count.epochs, "epochs": len(after),
                  "kept": after[:len(before)] == before,
                  "threshold_from_returned_val": evaluate.choose_threshold(
                      parts["val"].y, summary["val_probabilities"]) == summary["threshold"]}))

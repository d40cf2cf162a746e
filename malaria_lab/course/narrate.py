"""What a training run did, in words computed from its history, so a stage's text is true in
every mode (two epochs in grading mode, ten in small mode, the full run)."""

import math


def training(history, monitor="val_auc", ignored=4, name="validation AUC"):
    """One or two sentences: how many epochs ran, and which epoch's weights the model holds now
    (Keras' EarlyStopping with ``restore_best_weights`` and ``start_from_epoch=ignored``)."""
    logs = getattr(history, "history", history) or {}
    params = getattr(history, "params", None) or {}
    values = [float(v) for v in logs.get(monitor) or []]
    ran = len(values) or len(logs.get("loss") or [])
    planned = int(params.get("epochs") or ran)
    if not values:
        return (f"{ran} epoch(s) ran without {name}: nothing chose the best epoch, so the model "
                "holds the last epoch's weights. Train with validation data to choose.")
    ended = (f"Early stopping ended the run after epoch {ran} of {planned}" if ran < planned
             else f"All {ran} epoch(s) ran")
    watched = values[ignored:]
    if not watched or all(math.isnan(v) for v in watched):
        return (f"{ended}, no more than the first {ignored} that early stopping ignores, so it never "
                f"chose: the model holds the last epoch's weights ({name} {values[-1]:.3f}). A run of "
                f"more than {ignored} epochs (small or full mode) lets it choose.")
    best = ignored + max(range(len(watched)), key=lambda i: (watched[i], -i)) + 1
    last = "" if best == ran else f" (the last epoch scored {values[-1]:.3f})"
    put = " and put back" if ran < planned else "; early stopping put back"
    return (f"{ended}{put} the weights of epoch {best}, the best {name} from epoch "
            f"{ignored + 1} on: {values[best - 1]:.3f}{last}.")

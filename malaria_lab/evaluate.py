"""Evaluation in clinical terms: sensitivity, specificity and friends at a chosen threshold,
ROC AUC, per-patient results, plots, and a JSON report.

Metrics are plain numpy, so they are the same whatever Keras backend made the predictions. A metric
the data cannot define (AUC on cells of one class) is NaN in memory, ``null`` in the JSON report,
and its reason is said in the report's ``undefined`` and in the summary line.
"""

import math
from pathlib import Path

import numpy as np

from . import palette
from .alt_text import describe, save_png
from .atomic import write_json
from .errors import MalariaLabError


def predict(model, x, batch_size=256, tta=False):
    """P(parasitized) per image; with ``tta``, averaged over the four flips of each image.

    A cell has no up or down, so its flipped copies are as valid as the original and averaging
    over them steadies the prediction.
    """
    views = [lambda b: b]
    if tta:
        views += [lambda b: b[:, :, ::-1], lambda b: b[:, ::-1, :], lambda b: b[:, ::-1, ::-1]]
    out = np.empty(len(x), dtype="float64")
    for start in range(0, len(x), batch_size):
        batch = np.asarray(x[start:start + batch_size], dtype="float32")
        probs = [np.asarray(model.predict_on_batch(np.ascontiguousarray(v(batch)))).reshape(-1)
                 for v in views]
        out[start:start + len(batch)] = np.mean(probs, axis=0)
    return out


def _check(y, p):
    y = np.asarray(y).astype(int).reshape(-1)
    p = np.asarray(p, dtype="float64").reshape(-1)
    if y.shape != p.shape:
        raise MalariaLabError(
            f"{len(y)} labels but {len(p)} predictions.", "Predict every image you have a label for."
        )
    if len(y) == 0:
        raise MalariaLabError("No predictions to evaluate.", "Check that the test data is not empty.")
    return y, p


def confusion(y, p, threshold=0.5):
    """[[tn, fp], [fn, tp]] with parasitized (1) as the positive class."""
    y, p = _check(y, p)
    pred = p >= threshold
    tp = int(np.sum(pred & (y == 1)))
    fp = int(np.sum(pred & (y == 0)))
    fn = int(np.sum(~pred & (y == 1)))
    tn = int(np.sum(~pred & (y == 0)))
    return [[tn, fp], [fn, tp]]


def roc_curve(y, p):
    """False- and true-positive rates at every distinct threshold, from (0, 0) to (1, 1)."""
    y, p = _check(y, p)
    order = np.argsort(-p, kind="mergesort")
    p_sorted, y_sorted = p[order], y[order]
    distinct = np.r_[np.nonzero(np.diff(p_sorted))[0], len(p) - 1]
    tps = np.cumsum(y_sorted)[distinct]
    fps = (distinct + 1) - tps
    pos, neg = max(tps[-1], 1), max(fps[-1], 1)
    fpr = np.r_[0.0, fps / neg]
    tpr = np.r_[0.0, tps / pos]
    thresholds = np.r_[np.inf, p_sorted[distinct]]
    return fpr, tpr, thresholds


def roc_auc(y, p):
    """Area under the ROC curve (ties count half); NaN when only one class is present."""
    y, p = _check(y, p)
    if y.min() == y.max():
        return float("nan")
    fpr, tpr, _ = roc_curve(y, p)
    return float(np.trapezoid(tpr, fpr) if hasattr(np, "trapezoid") else np.trapz(tpr, fpr))


def _ratio(a, b):
    return float(a / b) if b else float("nan")


def metrics(y, p, threshold=0.5):
    """Accuracy, sensitivity (recall on parasitized), specificity, precision, F1, AUC, confusion."""
    (tn, fp), (fn, tp) = confusion(y, p, threshold)
    sensitivity = _ratio(tp, tp + fn)
    precision = _ratio(tp, tp + fp)
    return {
        "accuracy": _ratio(tp + tn, tp + tn + fp + fn),
        "auc": roc_auc(y, p),
        "sensitivity": sensitivity,
        "specificity": _ratio(tn, tn + fp),
        "precision": precision,
        "f1": _ratio(2 * precision * sensitivity, precision + sensitivity),
        "threshold": float(threshold),
        "confusion": [[tn, fp], [fn, tp]],
    }


def undefined(report):
    """``{metric: why it is undefined}`` for the metrics of ``report`` that are NaN."""
    (tn, fp), (fn, tp) = report["confusion"]
    only = "Parasitized" if tn + fp == 0 else "Uninfected" if tp + fn == 0 else None
    why = {
        "auc": f"only {only} cells, and AUC compares the two classes",
        "sensitivity": "no Parasitized cells to find",
        "specificity": "no Uninfected cells to clear",
        "precision": "no cell was called parasitized",
        "f1": "precision or sensitivity is undefined or both are 0",
        "accuracy": "no cells",
    }
    return {key: reason for key, reason in why.items()
            if isinstance(report.get(key), float) and math.isnan(report[key])}


def choose_threshold(y, p, min_sensitivity=None):
    """The threshold to use on new patients, chosen on validation data (never on test data).

    It maximises balanced accuracy (sensitivity + specificity); given ``min_sensitivity``, only
    among thresholds that keep sensitivity at least that high, so the floor costs nothing where
    the balanced choice already meets it.
    """
    y, p = _check(y, p)
    fpr, tpr, thresholds = roc_curve(y, p)
    fpr, tpr, thresholds = fpr[1:], tpr[1:], thresholds[1:]
    ok = tpr >= (min_sensitivity if min_sensitivity is not None else 0.0)
    if not ok.any():
        ok = np.ones_like(ok)
    i = np.flatnonzero(ok)[np.argmax((tpr - fpr)[ok])]
    # Halfway to the next lower score keeps the chosen cut from sitting on a training-set value.
    lower = p[p < thresholds[i]]
    cut = (thresholds[i] + lower.max()) / 2 if lower.size else thresholds[i]
    return float(cut)


def per_patient(y, p, patients, threshold=0.5):
    """One row per patient: cells, parasitized cells, cells called parasitized, accuracy. Cells
    without a patient id (``""``) are left out: they belong to no row."""
    y, p = _check(y, p)
    patients = np.asarray(patients)
    rows = []
    for patient in sorted(set(patients.tolist()) - {""}):
        mask = patients == patient
        pred = p[mask] >= threshold
        rows.append({
            "patient": patient,
            "cells": int(mask.sum()),
            "parasitized": int(y[mask].sum()),
            "called_parasitized": int(pred.sum()),
            "accuracy": float(np.mean(pred == (y[mask] == 1))),
        })
    return rows


def _figure(width=5, height=4):
    from matplotlib.figure import Figure  # matplotlib loads only when a plot is drawn

    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def _pct(value):
    return "undefined" if math.isnan(value) else f"{100 * value:.1f}%"


def _trend(name, values, lower_is_better):
    """'validation loss falls from 0.69 to 0.21, lowest 0.20 at epoch 8', in words."""
    values = [float(v) for v in values]
    if len(values) == 1:
        return f"{name} {values[0]:.3g} (one epoch)"
    first, last = values[0], values[-1]
    verb = "falls" if last < first else "rises" if last > first else "stays"
    best = int(np.nanargmin(values) if lower_is_better else np.nanargmax(values))
    said = f"{name} {verb} from {first:.3g} to {last:.3g}" if verb != "stays" else f"{name} stays at {first:.3g}"
    return said + f", {'lowest' if lower_is_better else 'highest'} {values[best]:.3g} at epoch {best + 1}"


HISTORY_PANELS = ("loss", "accuracy", "auc")


def plot_history(history):
    """Loss and accuracy (and AUC, when trained with it) per epoch, training against validation."""
    from matplotlib.ticker import MaxNLocator  # matplotlib loads only when a plot is drawn

    keys = [k for k in HISTORY_PANELS if k in history or f"val_{k}" in history] or ["loss", "accuracy"]
    fig = _figure(3.3 * len(keys) + 0.4, 3.4)
    epochs = max([len(v) for v in history.values()] or [1])
    said = []
    for ax, key in zip(np.atleast_1d(fig.subplots(1, len(keys))), keys):
        parts = []
        for prefix, series in (("", "training"), ("val_", "validation")):
            if history.get(prefix + key):
                values = history[prefix + key]
                ax.plot(range(1, len(values) + 1), values, ms=4, label=series, **palette.CURVES[series].line())
                parts.append(_trend(series, values, lower_is_better=key == "loss"))
        # Whole epochs from the first: with one or two epochs the default limits give 0.945 ... 1.050.
        ax.set(title=key if key != "auc" else "AUC", xlabel="epoch", xlim=(0.5, epochs + 0.5))
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
        ax.legend()
        if parts:
            said.append(f"{'AUC' if key == 'auc' else key.capitalize()}: {'; '.join(parts)}.")
    return describe(fig, f"Training curves over {epochs} epoch(s), training as a solid line with circles, "
                         f"validation dashed with squares. " + " ".join(said or ["No epochs yet."]))


OUTCOME_NAMES = (("true negatives", "false positives"), ("false negatives", "true positives"))


def plot_confusion(cm, labels=("Uninfected", "Parasitized")):
    """The confusion matrix as a labelled grid of counts, each box named."""
    from matplotlib import colormaps  # matplotlib loads only when a plot is drawn
    from matplotlib.colors import Normalize, to_hex

    fig = _figure(4.2, 3.6)
    ax = fig.subplots()
    cm = np.asarray(cm)
    cmap, norm = colormaps["Blues"], Normalize(0, max(1, int(cm.max())))
    ax.imshow(cm, cmap=cmap, norm=norm)
    for (i, j), n in np.ndenumerate(cm):
        ink = palette.ink_on(to_hex(cmap(norm(n))))
        ax.text(j, i - 0.08, str(n), ha="center", va="center", color=ink, fontsize=14)
        ax.text(j, i + 0.22, OUTCOME_NAMES[i][j], ha="center", va="center", color=ink, fontsize=8)
    ax.set(xticks=[0, 1], yticks=[0, 1], xticklabels=labels, yticklabels=labels,
           xlabel="predicted", ylabel="true")
    (tn, fp), (fn, tp) = cm.tolist()
    return describe(fig, f"Confusion matrix of {tn + fp + fn + tp} cells. Of {tn + fp} truly {labels[0].lower()}: "
                         f"{tn} called {labels[0].lower()} (true negatives), {fp} called {labels[1].lower()} "
                         f"(false positives). Of {fn + tp} truly {labels[1].lower()}: {tp} called "
                         f"{labels[1].lower()} (true positives), {fn} missed (false negatives).")


def plot_roc(y, p, threshold=None):
    """The ROC curve, with the operating point of ``threshold`` marked and named."""
    fpr, tpr, _ = roc_curve(y, p)
    fig = _figure(4, 4)
    ax = fig.subplots()
    auc = roc_auc(y, p)
    ax.plot(fpr, tpr, color=palette.BLUE, linewidth=2,
            label="AUC undefined (one class)" if math.isnan(auc) else f"AUC = {auc:.3f}")
    ax.plot([0, 1], [0, 1], ":", color=palette.GREY, label="chance")
    said = (f"ROC curve of {len(np.asarray(y).reshape(-1))} cells: sensitivity against 1 - specificity at "
            f"every threshold; " + ("AUC undefined (only one class)." if math.isnan(auc) else f"AUC {auc:.3f}."))
    if threshold is not None:
        m = metrics(y, p, threshold)
        ax.plot(1 - m["specificity"], m["sensitivity"], "D", color=palette.VERMILLION, markersize=9,
                markeredgecolor=palette.INK, label=f"threshold {threshold:.2f}")
        said += (f" The marked point, threshold {threshold:.2f}, has sensitivity {_pct(m['sensitivity'])} "
                 f"and specificity {_pct(m['specificity'])}.")
    ax.set(xlabel="1 - specificity", ylabel="sensitivity", xlim=(0, 1), ylim=(0, 1.01))
    ax.legend(loc="lower right")
    return describe(fig, said)


def plot_gallery(x, y, p, threshold=0.5, n=16, title=None):
    """The most confident mistakes: false negatives first (missed parasites), then false positives."""
    y, p = _check(y, p)
    pred = p >= threshold
    fn = np.flatnonzero((y == 1) & ~pred)
    fp = np.flatnonzero((y == 0) & pred)
    fn = fn[np.argsort(p[fn])]
    fp = fp[np.argsort(-p[fp])]
    k = min(len(fn), n // 2)
    picks = list(fn[:k]) + list(fp[: n - k])
    picks += list(fn[k: k + n - len(picks)])
    cols = 8
    rows = max(1, -(-len(picks) // cols))
    fig = _figure(cols * 1.2, rows * 1.45 + 0.4)
    axes = np.atleast_1d(fig.subplots(rows, cols)).reshape(-1)
    for ax in axes:
        ax.axis("off")
    for ax, i in zip(axes, picks):
        ax.imshow(np.asarray(x[i], dtype="uint8"))
        kind = "missed" if y[i] == 1 else "false alarm"
        ax.set_title(f"{kind}\np={p[i]:.2f}", fontsize=7)
    heading = title or f"{len(fn)} missed parasitized, {len(fp)} false alarms"
    fig.suptitle(heading, fontsize=9)
    shown_fn = [i for i in picks if y[i] == 1]
    shown_fp = [i for i in picks if y[i] == 0]

    def span(chosen):
        return f"p {min(p[chosen]):.2f} to {max(p[chosen]):.2f}" if chosen else "none"

    if not picks:
        return describe(fig, f"Gallery of the most confident mistakes at threshold {threshold:.2f}: none, "
                             "every cell is called right.")
    return describe(fig, f"Gallery of the most confident mistakes at threshold {threshold:.2f}: {heading}. "
                         f"Shown: {len(shown_fn)} missed parasitized cells ({span(shown_fn)}), then "
                         f"{len(shown_fp)} false alarms ({span(shown_fp)}), each titled with its "
                         "kind and probability.")


def evaluate(model, arrays, out_dir=None, threshold=0.5, tta=False, history=None, probabilities=None):
    """Predict, score at ``threshold``, and (with ``out_dir``) write report.json and PNG plots."""
    p = predict(model, arrays.x, tta=tta) if probabilities is None else np.asarray(probabilities)
    report = metrics(arrays.y, p, threshold)
    without_id = sum(1 for patient in arrays.patients if not patient)
    report.update(
        n_test=int(len(arrays.y)),
        n_parasitized=int(np.sum(arrays.y)),
        test_patients=None if without_id else len(set(arrays.patients)),
        cells_without_patient=without_id,
        tta=bool(tta),
        per_patient=per_patient(arrays.y, p, arrays.patients, threshold),
        undefined=undefined(report),
    )
    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        figures = {
            "confusion.png": plot_confusion(report["confusion"]),
            "roc.png": plot_roc(arrays.y, p, threshold),
            "mistakes.png": plot_gallery(arrays.x, arrays.y, p, threshold),
        }
        if history:
            figures["curves.png"] = plot_history(history)
        for name, fig in figures.items():
            save_png(fig, out / name)
        report["plots"] = {name: str(out / name) for name in figures}
        np.save(out / "probabilities.npy", p)
        write_json(out / "report.json", report)
    return report


def summary(report):
    """One line for people: the headline metrics of a report; a second says which are undefined, and why."""
    def number(key):
        value = report.get(key)
        return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.3f}"

    patients = report.get("test_patients")
    line = (f"accuracy {number('accuracy')}  AUC {number('auc')}  "
            f"sensitivity {number('sensitivity')}  specificity {number('specificity')}  "
            f"(threshold {report['threshold']:.2f}, {report['n_test']} cells, "
            + (f"{patients} patients)" if patients is not None else
               f"{report.get('cells_without_patient')} without a patient id)"))
    why = report.get("undefined") or undefined(report)
    if why:
        said = "; ".join(f"{'AUC' if k == 'auc' else k} ({reason})" for k, reason in why.items())
        line += f"\nUndefined: {said}."
    return line

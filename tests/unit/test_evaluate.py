"""Clinical metrics, ROC AUC, thresholds and plots, checked against values worked out by hand."""

import itertools

import numpy as np
import pytest

from malaria_lab.evaluate import (
    choose_threshold,
    confusion,
    metrics,
    per_patient,
    plot_gallery,
    roc_auc,
    roc_curve,
)


def _brute_auc(y, p):
    pos, neg = p[y == 1], p[y == 0]
    pairs = list(itertools.product(pos, neg))
    return sum(1.0 if a > b else 0.5 if a == b else 0.0 for a, b in pairs) / len(pairs)


def test_metrics_by_hand():
    y = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0, 0])
    p = np.array([.9, .8, .6, .3, .7, .2, .1, .1, .4, .05])
    m = metrics(y, p, threshold=0.5)
    assert m["confusion"] == [[5, 1], [1, 3]]
    assert m["sensitivity"] == pytest.approx(3 / 4)
    assert m["specificity"] == pytest.approx(5 / 6)
    assert m["precision"] == pytest.approx(3 / 4)
    assert m["accuracy"] == pytest.approx(0.8)
    assert m["f1"] == pytest.approx(0.75)


def test_auc_matches_pairwise_definition_with_ties():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    p = np.round(rng.uniform(size=200) * 0.6 + y * 0.3, 1)  # many ties
    assert roc_auc(y, p) == pytest.approx(_brute_auc(y, p))
    fpr, tpr, _ = roc_curve(y, p)
    assert fpr[0] == tpr[0] == 0 and fpr[-1] == tpr[-1] == 1 and np.all(np.diff(fpr) >= 0)
    assert np.isnan(roc_auc(np.ones(5), np.linspace(0, 1, 5)))


def test_threshold_balances_sensitivity_and_specificity_or_meets_a_floor():
    y = np.array([0] * 50 + [1] * 50)
    p = np.r_[np.linspace(0.0, 0.6, 50), np.linspace(0.4, 1.0, 50)]
    t = choose_threshold(y, p)
    m = metrics(y, p, t)
    assert m["sensitivity"] + m["specificity"] >= max(
        metrics(y, p, c)["sensitivity"] + metrics(y, p, c)["specificity"] for c in np.linspace(0, 1, 101)
    ) - 1e-9
    strict = choose_threshold(y, p, min_sensitivity=0.98)
    assert metrics(y, p, strict)["sensitivity"] >= 0.98 and strict < t
    # A floor the balanced choice already meets changes nothing.
    assert choose_threshold(y, p, min_sensitivity=m["sensitivity"] - 0.01) == t


def test_per_patient_and_confusion_agree():
    y = np.array([1, 0, 1, 0])
    p = np.array([0.9, 0.2, 0.1, 0.8])
    rows = per_patient(y, p, ["A", "A", "B", "B"])
    assert rows == [
        {"patient": "A", "cells": 2, "parasitized": 1, "called_parasitized": 1, "accuracy": 1.0},
        {"patient": "B", "cells": 2, "parasitized": 1, "called_parasitized": 1, "accuracy": 0.0},
    ]
    assert confusion(y, p) == [[1, 1], [1, 1]]


def test_gallery_shows_missed_cells_first(tmp_path):
    x = np.zeros((6, 8, 8, 3), dtype=np.uint8)
    y = np.array([1, 1, 0, 0, 1, 0])
    p = np.array([0.1, 0.3, 0.9, 0.6, 0.8, 0.2])
    fig = plot_gallery(x, y, p, 0.5)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles[:2] == ["missed\np=0.10", "missed\np=0.30"]
    assert titles[2:] == ["false alarm\np=0.90", "false alarm\np=0.60"]
    fig.savefig(tmp_path / "g.png")
    assert (tmp_path / "g.png").stat().st_size > 1000


@pytest.mark.parametrize("epochs", [1, 2, 7, 40])
def test_history_plot_ticks_whole_epochs_from_the_first(epochs):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from malaria_lab.evaluate import plot_history

    values = list(np.linspace(0.9, 0.5, epochs))
    fig = plot_history({"loss": values, "val_loss": values, "accuracy": values, "val_accuracy": values})
    FigureCanvasAgg(fig).draw()
    for ax in fig.axes:
        low, high = ax.get_xlim()
        ticks = [t for t in ax.get_xticks() if low <= t <= high]
        assert ticks and all(float(t).is_integer() and 1 <= t <= epochs for t in ticks), ticks
        assert low > 0 and high < epochs + 1

"""Stage 6, evaluation: clinical metrics, a threshold chosen on validation, and the mistakes."""

import math

import numpy as np

from .engine import Stage, call, expect

STAGE = Stage("06_evaluate", "Evaluate like a clinician", prelude="""
    import numpy as np
""")

# --- q1 -----------------------------------------------------------------------------------

q1 = STAGE.exercise(
    "q1", "Count the four outcomes", points=2, names=["confusion_counts"],
    code='''
    def confusion_counts(y_true, p, threshold=0.5):
        """{"tp", "fp", "tn", "fn"} counts; a cell is called parasitized (1) when p >= threshold."""
        y_true, p = np.asarray(y_true), np.asarray(p)
        ### BEGIN SOLUTION
        called = p >= threshold
        infected = y_true == 1
        return {
            "tp": int(np.sum(called & infected)),
            "fp": int(np.sum(called & ~infected)),
            "tn": int(np.sum(~called & ~infected)),
            "fn": int(np.sum(~called & infected)),
        }
        ### END SOLUTION
    ''',
    hints=[
        "Two yes/no questions per cell: is it parasitized (`y_true == 1`)? Did the model call it "
        "parasitized (`p >= threshold`)? The four outcomes are the four combinations.",
        "A *true positive* is parasitized and called parasitized; a *false negative* is "
        "parasitized but called uninfected (a missed parasite); a *false positive* is uninfected "
        "but called parasitized. With boolean arrays, `a & b` and `~a` combine them, and "
        "`np.sum` counts the True values.",
        "```python\ncalled, infected = p >= threshold, y_true == 1\n"
        "return {\"tp\": int(np.sum(called & infected)), \"fp\": int(np.sum(called & ~infected)),\n"
        "        \"tn\": int(np.sum(~called & ~infected)), \"fn\": int(np.sum(~called & infected))}\n```",
    ],
    mistakes=[
        ("called, infected = p > threshold, y_true == 1\n"
         "return {'tp': int(np.sum(called & infected)), 'fp': int(np.sum(called & ~infected)),\n"
         "        'tn': int(np.sum(~called & ~infected)), 'fn': int(np.sum(~called & infected))}",
         "exactly"),
        ("called, infected = p >= threshold, y_true == 1\n"
         "return {'tp': int(np.sum(called & infected)), 'fn': int(np.sum(called & ~infected)),\n"
         "        'tn': int(np.sum(~called & ~infected)), 'fp': int(np.sum(~called & infected))}",
         "false"),
    ],
)

_Y = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0, 1, 0, 1])
_P = np.array([0.9, 0.7, 0.4, 0.5, 0.1, 0.6, 0.3, 0.2, 0.5, 0.95, 0.05, 0.15])


def _true_counts(y, p, threshold):
    called, infected = np.asarray(p) >= threshold, np.asarray(y) == 1
    return {"tp": int(np.sum(called & infected)), "fp": int(np.sum(called & ~infected)),
            "tn": int(np.sum(~called & ~infected)), "fn": int(np.sum(~called & infected))}


def _counts(confusion_counts, y, p, threshold=None):
    kwargs = {} if threshold is None else {"threshold": threshold}
    got = call(confusion_counts, np.array(y), np.array(p), label="confusion_counts(y_true, p"
               + ("" if threshold is None else f", threshold={threshold}") + ")", **kwargs)
    expect(isinstance(got, dict), f"`confusion_counts` should return a dict, not a "
                                  f"{type(got).__name__}.")
    expect(set(got) == {"tp", "fp", "tn", "fn"},
           "The dict should have exactly the keys \"tp\", \"fp\", \"tn\" and \"fn\".")
    return {k: int(v) for k, v in got.items()}


@q1.test("counts the four outcomes")
def counts_four_outcomes(confusion_counts):
    y, p = _Y[[0, 1, 2, 4, 5, 6, 7, 9, 10, 11]], _P[[0, 1, 2, 4, 5, 6, 7, 9, 10, 11]]
    got = _counts(confusion_counts, y, p)
    want = _true_counts(y, p, 0.5)
    expect(sum(got.values()) == len(y), "The four counts should add up to the number of cells.")
    swapped = dict(want, fp=want["fn"], fn=want["fp"])
    expect(got == want or got != swapped,
           "You swapped false positives and false negatives: a false negative is a parasitized "
           "cell called uninfected.")
    expect(got == want, "On a small test set, your counts are not the four outcomes at threshold 0.5.")


@q1.test("calls a cell parasitized when p is exactly the threshold")
def parasitized_at_exactly_threshold(confusion_counts):
    got = _counts(confusion_counts, _Y, _P)
    expect(got == _true_counts(_Y, _P, 0.5),
           "A probability exactly equal to the threshold counts as parasitized (p >= threshold).")


@q1.hidden_test("follows the threshold argument")
def follows_threshold_argument(confusion_counts):
    for threshold in (0.0, 0.3, 0.99):
        expect(_counts(confusion_counts, _Y, _P, threshold) == _true_counts(_Y, _P, threshold),
               "With another threshold, your counts are off: use the `threshold` argument.")


# --- q2 -----------------------------------------------------------------------------------

q2 = STAGE.exercise(
    "q2", "Clinical metrics", points=2, names=["clinical_metrics"],
    code='''
    def clinical_metrics(counts):
        """Sensitivity, specificity, precision and accuracy from {"tp", "fp", "tn", "fn"}; nan where there is nothing to divide by."""
        tp, fp, tn, fn = counts["tp"], counts["fp"], counts["tn"], counts["fn"]
        ### BEGIN SOLUTION
        def ratio(a, b):
            return a / b if b else float("nan")

        return {
            "sensitivity": ratio(tp, tp + fn),
            "specificity": ratio(tn, tn + fp),
            "precision": ratio(tp, tp + fp),
            "accuracy": ratio(tp + tn, tp + fp + tn + fn),
        }
        ### END SOLUTION
    ''',
    hints=[
        "Sensitivity: of the parasitized cells, the share the model caught. Specificity: of the "
        "uninfected cells, the share it left alone. Precision: of the cells it called "
        "parasitized, the share that were.",
        "Sensitivity = tp / (tp + fn), specificity = tn / (tn + fp), precision = tp / (tp + fp), "
        "accuracy = (tp + tn) / all.",
        "When a denominator is 0 (say the model called no cell parasitized, so tp + fp = 0), "
        "return `float(\"nan\")` for that metric instead of dividing: a small helper "
        "`ratio(a, b)` keeps it short.",
    ],
    mistakes=[
        ("return {'sensitivity': tn / (tn + fp), 'specificity': tp / (tp + fn),\n"
         "        'precision': tp / (tp + fp), 'accuracy': (tp + tn) / (tp + fp + tn + fn)}", "swapped"),
        ("return {'sensitivity': tp / (tp + fn), 'specificity': tn / (tn + fp),\n"
         "        'precision': tp / (tp + fp), 'accuracy': (tp + tn) / (tp + fp + tn + fn)}", "nan"),
        ("return {'sensitivity': tp / (tp + fn), 'specificity': tn / (tn + fp),\n"
         "        'precision': tp / (tp + fn), 'accuracy': (tp + tn) / (tp + fp + tn + fn)}", "precision"),
        # nan whenever the numerator is 0, not only when the denominator is.
        ("def ratio(a, b):\n    return a / b if a else float('nan')\n\n"
         "return {'sensitivity': ratio(tp, tp + fn), 'specificity': ratio(tn, tn + fp),\n"
         "        'precision': ratio(tp, tp + fp), 'accuracy': ratio(tp + tn, tp + fp + tn + fn)}",
         "your sensitivity is nan"),
    ],
)


def _true_metrics(c):
    def ratio(a, b):
        return a / b if b else float("nan")

    return {"sensitivity": ratio(c["tp"], c["tp"] + c["fn"]), "specificity": ratio(c["tn"], c["tn"] + c["fp"]),
            "precision": ratio(c["tp"], c["tp"] + c["fp"]),
            "accuracy": ratio(c["tp"] + c["tn"], sum(c.values()))}


def _same(a, b):
    if isinstance(a, bool) or not isinstance(a, (int, float, np.floating, np.integer)):
        return False
    a, b = float(a), float(b)
    return (math.isnan(a) and math.isnan(b)) or abs(a - b) < 1e-9


def _metrics(clinical_metrics, counts):
    got = call(clinical_metrics, dict(counts), label="clinical_metrics(counts)")
    expect(isinstance(got, dict), f"`clinical_metrics` should return a dict, not a "
                                  f"{type(got).__name__}.")
    missing = {"sensitivity", "specificity", "precision", "accuracy"} - set(got)
    expect(not missing, f"The dict lacks {', '.join(sorted(missing))}.")
    return got


_COUNTS = {"tp": 45, "fp": 6, "tn": 38, "fn": 11}


@q2.test("computes sensitivity and specificity")
def computes_sensitivity_specificity(clinical_metrics):
    got = _metrics(clinical_metrics, _COUNTS)
    want = _true_metrics(_COUNTS)
    expect(not (_same(got["sensitivity"], want["specificity"])
                and _same(got["specificity"], want["sensitivity"])),
           "You swapped sensitivity and specificity: sensitivity is about the parasitized cells "
           "(tp and fn), specificity about the uninfected ones (tn and fp).")
    for name in ("sensitivity", "specificity"):
        expect(_same(got[name], want[name]), f"Your {name} is off for a test set of counts.")


@q2.test("computes precision and accuracy")
def computes_precision_accuracy(clinical_metrics):
    got = _metrics(clinical_metrics, _COUNTS)
    want = _true_metrics(_COUNTS)
    expect(_same(got["precision"], want["precision"]),
           "Your precision is off: of the cells called parasitized (tp + fp), the share that are.")
    expect(_same(got["accuracy"], want["accuracy"]), "Your accuracy is off: (tp + tn) / all cells.")


@q2.hidden_test("gives nan where nothing can be divided")
def gives_nan_where_nothing_to_divide(clinical_metrics):
    counts = {"tp": 0, "fp": 0, "tn": 30, "fn": 5}
    try:
        clinical_metrics(dict(counts))
    except ZeroDivisionError:
        expect(False, "When the model calls no cell parasitized (tp + fp = 0), your code divides "
                      "by zero: give nan for a metric with nothing to divide by.")
    except Exception:
        pass  # reported by the call below
    got = _metrics(clinical_metrics, counts)
    want = _true_metrics(counts)
    expect(_same(got["precision"], want["precision"]),
           "When the model calls no cell parasitized, precision has nothing to divide by "
           "(tp + fp = 0): it should be nan.")
    for name in ("sensitivity", "specificity", "accuracy"):
        expect(not (isinstance(got[name], (float, np.floating)) and math.isnan(got[name])),
               f"When the model calls no cell parasitized, your {name} is nan, but it still has "
               "cells to divide by (only precision has none): give nan only where the denominator "
               "is 0.")
        expect(_same(got[name], want[name]), f"When the model calls no cell parasitized, your {name} is off.")


# --- q3 -----------------------------------------------------------------------------------

q3 = STAGE.exercise(
    "q3", "Choose the threshold on validation", points=3, names=["pick_threshold"],
    code='''
    def pick_threshold(y_val, p_val, min_sensitivity=0.95):
        """The highest threshold among the validation probabilities that keeps sensitivity >= min_sensitivity."""
        y_val, p_val = np.asarray(y_val), np.asarray(p_val)
        ### BEGIN SOLUTION
        positives = p_val[y_val == 1]
        for threshold in sorted(set(p_val.tolist()), reverse=True):
            if np.mean(positives >= threshold) >= min_sensitivity:
                return float(threshold)
        return float(p_val.min())
        ### END SOLUTION
    ''',
    hints=[
        "Raising the threshold calls fewer cells parasitized: fewer false alarms, but more "
        "missed parasites. You want the highest threshold that still catches at least "
        "`min_sensitivity` of the parasitized cells.",
        "The only thresholds worth trying are the validation probabilities themselves. Try them "
        "from the highest down; the sensitivity at a threshold t is the share of parasitized "
        "cells with p >= t.",
        "```python\npositives = p_val[y_val == 1]\n"
        "for t in sorted(set(p_val.tolist()), reverse=True):\n"
        "    if np.mean(positives >= t) >= min_sensitivity:\n        return float(t)\n```",
    ],
    mistakes=[
        ("best, best_acc = 0.5, -1\nfor t in sorted(set(p_val.tolist())):\n"
         "    acc = np.mean((p_val >= t) == (y_val == 1))\n"
         "    if acc > best_acc:\n        best, best_acc = t, acc\nreturn float(best)", "sensitivity"),
        ("return float(p_val.min())", "higher threshold"),
        ("positives = p_val[y_val == 1]\nfor t in sorted(set(p_val.tolist())):\n"
         "    if np.mean(positives >= t) >= min_sensitivity:\n        return float(t)",
         "higher threshold"),
    ],
)


def _val_set(seed=0, n=80):
    rng = np.random.default_rng(seed)
    y = (rng.uniform(size=n) < 0.5).astype(int)
    p = np.clip(rng.normal(0.35 + 0.35 * y, 0.18), 0.001, 0.999).round(4)
    return y, p


def _sensitivity(y, p, t):
    return float(np.mean(p[y == 1] >= t))


def _best_threshold(y, p, target):
    candidates = [t for t in sorted(set(p.tolist()), reverse=True) if _sensitivity(y, p, t) >= target]
    return candidates[0]


def _threshold(pick_threshold, y, p, target=None):
    kwargs = {} if target is None else {"min_sensitivity": target}
    got = call(pick_threshold, y.copy(), p.copy(), label="pick_threshold(y_val, p_val"
               + ("" if target is None else f", min_sensitivity={target}") + ")", **kwargs)
    expect(isinstance(got, (int, float, np.floating)) and not isinstance(got, bool),
           f"`pick_threshold` should return a number, not a {type(got).__name__}.")
    return float(got)


@q3.test("keeps sensitivity at the target")
def keeps_sensitivity_target(pick_threshold):
    y, p = _val_set(0)
    t = _threshold(pick_threshold, y, p)
    expect(_sensitivity(y, p, t) >= 0.95,
           f"At your threshold, only {_sensitivity(y, p, t):.0%} of the parasitized validation "
           "cells are caught; the target was 95% sensitivity. Choose the threshold for "
           "sensitivity, not for accuracy.")


@q3.test("is the highest threshold that does")
def is_highest_threshold_meeting_target(pick_threshold):
    y, p = _val_set(0)
    t = _threshold(pick_threshold, y, p)
    best = _best_threshold(y, p, 0.95)
    expect(t >= best - 1e-9 or _sensitivity(y, p, t) < 0.95,
           "A higher threshold would also keep sensitivity at the target and raise fewer false "
           "alarms: try thresholds from the highest down.")
    expect(abs(t - best) < 1e-9 or t < best,
           "Your threshold does not keep sensitivity at the target.")


@q3.hidden_test("follows min_sensitivity on other data")
def follows_min_sensitivity_on_other_data(pick_threshold):
    for seed, target in ((1, 0.9), (2, 0.8), (3, 1.0)):
        y, p = _val_set(seed, 60)
        t = _threshold(pick_threshold, y, p, target)
        expect(abs(t - _best_threshold(y, p, target)) < 1e-9,
               "For another validation set and another min_sensitivity, your threshold is not "
               "the highest that reaches it.")


# --- q4 -----------------------------------------------------------------------------------

q4 = STAGE.exercise(
    "q4", "Find the worst mistakes", points=2, names=["worst_mistakes"],
    code='''
    def worst_mistakes(y_true, p, threshold, k=8):
        """Indices of at most k wrongly called cells, the most confidently wrong first."""
        y_true, p = np.asarray(y_true), np.asarray(p)
        ### BEGIN SOLUTION
        wrong = np.flatnonzero((p >= threshold) != (y_true == 1))
        confidence = np.abs(p[wrong] - y_true[wrong])
        return wrong[np.argsort(-confidence, kind="stable")][:k].tolist()
        ### END SOLUTION
    ''',
    hints=[
        "A cell is wrongly called when `(p >= threshold)` disagrees with `y_true == 1`. Among "
        "those, the worst are the ones where p is furthest from the truth.",
        "`np.flatnonzero(mask)` gives the indices where a mask is True. How wrong a prediction "
        "is: `abs(p - y_true)` (1 means certain and wrong).",
        "Sort the wrong indices by that number, largest first (`np.argsort(-x)`), and keep the "
        "first k: `wrong[np.argsort(-confidence)][:k]`.",
    ],
    mistakes=[
        ("order = np.argsort(-np.abs(p - y_true))\nreturn order[:k].tolist()", "correctly"),
        ("wrong = np.flatnonzero((p >= threshold) != (y_true == 1))\n"
         "return wrong[np.argsort(np.abs(p[wrong] - y_true[wrong]))][:k].tolist()", "first"),
    ],
)


def _true_worst(y, p, threshold, k):
    wrong = np.flatnonzero((p >= threshold) != (y == 1))
    confidence = np.abs(p[wrong] - y[wrong])
    return wrong[np.argsort(-confidence, kind="stable")][:k].tolist()


def _worst(worst_mistakes, y, p, threshold, k):
    got = call(worst_mistakes, y.copy(), p.copy(), threshold, k=k,
               label=f"worst_mistakes(y_true, p, threshold={threshold}, k={k})")
    try:
        got = [int(i) for i in got]
    except (TypeError, ValueError):
        expect(False, "`worst_mistakes` should return a list of indices (whole numbers).")
    return got


@q4.test("returns only wrongly called cells")
def returns_only_wrongly_called_cells(worst_mistakes):
    got = _worst(worst_mistakes, _Y, _P, 0.3, 4)
    wrong = set(np.flatnonzero((_P >= 0.3) != (_Y == 1)).tolist())
    expect(set(got) <= wrong, "Your list includes cells that were called correctly: keep only "
                              "those where the call disagrees with the truth.")
    expect(len(got) == min(4, len(wrong)), "Return k indices (or all the mistakes, if there are "
                                           "fewer than k).")


@q4.test("puts the most confident mistakes first")
def puts_most_confident_mistakes_first(worst_mistakes):
    got = _worst(worst_mistakes, _Y, _P, 0.3, 4)
    expect(got == _true_worst(_Y, _P, 0.3, 4),
           "The order is off: the most confidently wrong cell (p furthest from the truth) comes first.")


@q4.hidden_test("handles fewer mistakes than k, and none")
def handles_fewer_mistakes_than_k(worst_mistakes):
    y, p = _val_set(4, 50)
    for threshold, k in ((0.5, 100), (0.5, 3)):
        expect(_worst(worst_mistakes, y, p, threshold, k) == _true_worst(y, p, threshold, k),
               "On another set of predictions, your list or its order is off.")
    perfect = np.where(_Y == 1, 0.9, 0.1)
    expect(_worst(worst_mistakes, _Y, perfect, 0.5, 5) == [],
           "When no cell is called wrongly, the list should be empty.")

"""Independently written correct answers to stage 6's exercises (see the package's docstring)."""

VARIANTS = {
    "q1": [
        '''\
pred = (p >= threshold).astype(int)
tp = fp = tn = fn = 0
for t, q in zip(y_true, pred):
    if t == 1 and q == 1:
        tp += 1
    elif t == 0 and q == 1:
        fp += 1
    elif t == 0 and q == 0:
        tn += 1
    else:
        fn += 1
return {"tp": tp, "fp": fp, "tn": tn, "fn": fn}
''',
        '''\
positive = p >= threshold
counts = {}
counts["tp"] = int(np.count_nonzero(positive[y_true == 1]))
counts["fn"] = int(np.count_nonzero(~positive[y_true == 1]))
counts["fp"] = int(np.count_nonzero(positive[y_true == 0]))
counts["tn"] = int(np.count_nonzero(~positive[y_true == 0]))
return counts
''',
        '''\
calls = (p >= threshold).astype(int)
truth = y_true.astype(int)
return dict(
    tp=int(((calls == 1) & (truth == 1)).sum()),
    fp=int(((calls == 1) & (truth == 0)).sum()),
    tn=int(((calls == 0) & (truth == 0)).sum()),
    fn=int(((calls == 0) & (truth == 1)).sum()),
)
''',
    ],
    "q2": [
        '''\
nan = float("nan")
sens = tp / (tp + fn) if (tp + fn) > 0 else nan
spec = tn / (tn + fp) if (tn + fp) > 0 else nan
prec = tp / (tp + fp) if (tp + fp) > 0 else nan
total = tp + tn + fp + fn
acc = (tp + tn) / total if total > 0 else nan
return {"sensitivity": sens, "specificity": spec, "precision": prec, "accuracy": acc}
''',
        '''\
parts = {
    "sensitivity": (tp, tp + fn),
    "specificity": (tn, tn + fp),
    "precision": (tp, tp + fp),
    "accuracy": (tp + tn, tp + tn + fp + fn),
}
result = {}
for name, (top, bottom) in parts.items():
    result[name] = top / bottom if bottom != 0 else np.nan
return result
''',
        '''\
import math
out = dict(sensitivity=math.nan, specificity=math.nan, precision=math.nan, accuracy=math.nan)
if tp + fn:
    out["sensitivity"] = tp / (tp + fn)
if tn + fp:
    out["specificity"] = tn / (tn + fp)
if tp + fp:
    out["precision"] = tp / (tp + fp)
n = tp + fp + tn + fn
if n:
    out["accuracy"] = (tp + tn) / n
return out
''',
    ],
    "q3": [
        '''\
candidates = np.unique(p_val)[::-1]
n_pos = np.sum(y_val == 1)
for t in candidates:
    if np.sum((p_val >= t) & (y_val == 1)) / n_pos >= min_sensitivity:
        return float(t)
return float(candidates[-1])
''',
        '''\
pos = np.sort(p_val[y_val == 1])
chosen = float(np.min(p_val))
for t in sorted(set(p_val.tolist())):
    if (pos >= t).mean() >= min_sensitivity:
        chosen = float(t)
return chosen
''',
    ],
    "q4": [
        '''\
called = (p >= threshold).astype(int)
mistakes = [i for i in range(len(p)) if called[i] != y_true[i]]
mistakes.sort(key=lambda i: abs(float(p[i]) - float(y_true[i])), reverse=True)
return mistakes[:k]
''',
        '''\
idx = np.where((p >= threshold) != (y_true == 1))[0]
how_wrong = np.abs(y_true[idx] - p[idx])
order = np.argsort(how_wrong, kind="stable")[::-1]
return [int(i) for i in idx[order][:k]]
''',
    ],
}

"""Cross-validation by patient: our recipe against the tutorial's, on the same folds, in one run.

    python benchmarks/cross_validate.py --data ../shared/data/nih-cells-sample.zip \\
        ../shared/data/nih-cells-more.zip --out runs/cv

Each fold's patients are the test set; the other patients are split again by patient into
training and validation (early stopping and the decision threshold are chosen on validation,
never on test). Prints mean and standard deviation of every metric over the folds, and wall
times, then the same folds under other threshold rules (sensitivity floors), from the
probabilities each fold keeps, then what one held-out set of a few dozen patients would score
(percentiles over random draws of test patients, and how often every target is met), and the same
at fixed thresholds. Results go to OUT/cv.json after every fold, so an interrupted run picks up
where it was. Each fold keeps its test cells' paths and probabilities, for error_gallery.py.
"""

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from malaria_lab.quiet import import_keras  # noqa: E402

keras = import_keras()

from malaria_lab import evaluate  # noqa: E402
from malaria_lab.atomic import write_json  # noqa: E402
from malaria_lab.pipeline import load_arrays  # noqa: E402
from malaria_lab.split import Row, assign_patients, patient_folds  # noqa: E402
from malaria_lab.train import get_recipe  # noqa: E402
from malaria_lab.workflow import gather_images, train_and_calibrate  # noqa: E402

METRICS = ("accuracy", "auc", "sensitivity", "specificity", "f1")
# The project's targets for the reference recipe on patients it never saw (issue 4).
TARGETS = {"accuracy": 0.965, "auc": 0.992, "sensitivity": 0.96}


def fold_rows(images, folds, fold, seed, validation=0.15):
    """Rows for one fold: its patients are test; the rest split by patient into train and
    ``validation``'s share of validation (none at 0)."""
    rest = [ref for ref in images if folds[ref.patient] != fold]
    inner = assign_patients(rest, (1 - validation, validation), seed=seed + fold) if validation else {}
    return [Row(r.path, r.label, r.patient,
                "test" if folds[r.patient] == fold else ("train", "val")[inner.get(r.patient, 0)])
            for r in images]


def run_fold(arrays, rows, recipe, out, seed):
    parts = arrays.parts(rows)
    model, summary = train_and_calibrate(parts["train"], parts.get("val"), out, recipe, seed=seed, verbose=2)
    start = time.perf_counter()
    p_test = evaluate.predict(model, parts["test"].x, tta=recipe.tta)
    report = evaluate.evaluate(model, parts["test"], threshold=summary["threshold"], tta=recipe.tta,
                               probabilities=p_test)
    report.pop("per_patient")
    # Kept so that other threshold rules can be compared later without training again.
    val = {"y_val": parts["val"].y, "p_val": summary["val_probabilities"]} if "val" in parts else {}
    np.savez_compressed(Path(out) / "probabilities.npz", y_test=parts["test"].y, p_test=p_test,
                        patients_test=np.array(parts["test"].patients), paths_test=np.array(parts["test"].paths),
                        threshold=summary["threshold"], **val)
    report.update(train_seconds=summary["train_seconds"], epochs=summary["epochs_run"],
                  images_per_second=statistics.median(summary["images_per_second"]),
                  predict_seconds=time.perf_counter() - start, n_train=summary["n_train"])
    return report


def mean_sd(values, fmt="{:.3f}"):
    """``mean ± standard deviation`` over folds (0 for a single fold), leaving out folds where the
    metric is undefined (NaN: precision and F1 of a model that never says parasitized)."""
    values = [v for v in values if v is not None and not np.isnan(v)]
    if not values:
        return "n/a"
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{fmt.format(statistics.mean(values))} ± {fmt.format(sd)}"


def table(results):
    lines = ["| recipe | folds | " + " | ".join(METRICS) + " | train time | decode time | images/s |",
             "|---" * (len(METRICS) + 5) + "|"]
    for name, folds in results.items():
        done = [f for f in folds.values() if f]
        if not done:
            continue

        def ms(key, fmt="{:.3f}"):
            return mean_sd([f[key] for f in done], fmt)

        lines.append(f"| {name} | {len(done)} | " + " | ".join(ms(m) for m in METRICS)
                     + f" | {ms('train_seconds', '{:.0f}')} s | {ms('decode_seconds', '{:.0f}')} s"
                     + f" | {ms('images_per_second', '{:.0f}')} |")
    return "\n".join(lines)


def threshold_rules(out, results, floors=(0.95, 0.96)):
    """Each recipe's test scores under other threshold rules, from the probabilities kept per fold:
    the balanced (Youden) choice, and sensitivity floors, all chosen on validation."""
    lines = ["| recipe | threshold rule | folds | accuracy | sensitivity | specificity |", "|---" * 6 + "|"]
    for name in results:
        files = sorted(Path(out).glob(f"{name}-fold*/probabilities.npz"))
        if not files:
            continue
        kept = [z for z in (dict(np.load(f)) for f in files) if "p_val" in z]  # not without validation
        if not kept:
            continue
        for floor in (None, *floors):
            scores = [evaluate.metrics(z["y_test"], z["p_test"],
                                       evaluate.choose_threshold(z["y_val"], z["p_val"], min_sensitivity=floor))
                      for z in kept]
            cells = [mean_sd([s[m] for s in scores]) for m in ("accuracy", "sensitivity", "specificity")]
            rule = "balanced (Youden)" if floor is None else f"sensitivity >= {floor:g}"
            lines.append(f"| {name} | {rule} | {len(kept)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def with_changes(recipe, changes, name=None):
    """``recipe`` with ``FIELD=VALUE`` changes (values read as JSON where they parse), named after
    them unless ``name`` is given, so a variant is one command and keeps its own results."""
    if not changes:
        return recipe.but(name=name) if name else recipe
    fields = {}
    for change in changes:
        key, sep, text = change.partition("=")
        if not sep or key not in recipe.__dataclass_fields__ or key == "name":
            known = ", ".join(f for f in recipe.__dataclass_fields__ if f != "name")
            raise SystemExit(f"--set {change!r}: expected FIELD=VALUE with FIELD one of {known}.")
        try:
            fields[key] = json.loads(text)
        except json.JSONDecodeError:
            fields[key] = text
    return recipe.but(name=name or recipe.name + "+" + ",".join(changes), **fields)


def _kept_with_patients(out, name):
    """The folds' kept test probabilities that name their patients (older runs' do not)."""
    kept = [dict(np.load(f)) for f in sorted(Path(out).glob(f"{name}-fold*/probabilities.npz"))]
    return [z for z in kept if "patients_test" in z]


class _Draws:
    """Random sets of ``n_patients`` test patients pooled from the folds, drawn once, with each set's
    AUC computed once; ``scores`` then calls the cells at any threshold."""

    def __init__(self, kept, n_patients, draws=2000, seed=0):
        rng = np.random.default_rng(seed)
        self.y, self.p = (np.concatenate([z[k] for z in kept]) for k in ("y_test", "p_test"))
        self.cut = np.concatenate([np.full(len(z["p_test"]), float(z["threshold"])) for z in kept])
        patients = np.concatenate([z["patients_test"] for z in kept])
        cells = {pt: np.flatnonzero(patients == pt) for pt in np.unique(patients)}
        self.n_patients, n = len(cells), min(n_patients, len(cells))
        self.picks = [np.concatenate([cells[pt] for pt in rng.choice(sorted(cells), n, replace=False)])
                      for _ in range(draws)]
        self.auc = np.array([evaluate.roc_auc(self.y[pick], self.p[pick]) for pick in self.picks])

    def scores(self, targets, threshold=None):
        """Each target metric over the draws, every cell called at its own fold's threshold (or at
        ``threshold`` for all)."""
        calls = (self.p >= (self.cut if threshold is None else threshold)).astype(float)
        scores = {m: [] for m in targets if m != "auc"}
        for pick in self.picks:
            m = evaluate.metrics(self.y[pick], calls[pick], 0.5)
            for key in scores:
                scores[key].append(m[key])
        return {m: self.auc if m == "auc" else np.array(scores[m]) for m in targets}


def _share_meeting(scores, targets):
    return np.mean(np.all([scores[m] >= t for m, t in targets.items()], axis=0))


def heldout_spread(out, results, n_patients, targets=TARGETS, draws=2000, seed=0):
    """What one held-out set of ``n_patients`` other patients would score: patients drawn at random
    from all folds' test patients, each cell judged by its own fold's model and threshold.

    Pooling folds' models makes AUC a little pessimistic. A set of a few dozen patients swings by
    which patients it holds, so the spread says more than the mean about meeting a target on one.
    """
    lines = [f"| recipe | patients drawn | {' | '.join(f'{m} 10/50/90th percentile' for m in targets)} "
             "| draws meeting every target |", "|---" * (len(targets) + 3) + "|"]
    for name in results:
        kept = _kept_with_patients(out, name)
        if not kept:
            continue
        drawn = _Draws(kept, n_patients, draws, seed)
        scores = drawn.scores(targets)
        spread = [" / ".join(f"{v:.3f}" for v in np.percentile(scores[m], [10, 50, 90])) for m in targets]
        lines.append(f"| {name} | {min(n_patients, drawn.n_patients)} of {drawn.n_patients} | " + " | ".join(spread)
                     + f" | {_share_meeting(scores, targets):.0%} |")
    return "\n".join(lines)


def threshold_sweep(out, results, n_patients, thresholds=(0.3, 0.35, 0.4, 0.45, 0.5), targets=TARGETS,
                    draws=2000, seed=0):
    """Each recipe's folds called at fixed thresholds: mean ± sd over folds, and how often a held-out
    set of ``n_patients`` would meet every target. It shows what sensitivity costs in specificity;
    choosing a threshold from it is choosing on these folds' test patients, as the reference recipe's was."""
    lines = ["| recipe | threshold | accuracy | sensitivity | specificity | draws meeting every target |",
             "|---" * 6 + "|"]
    for name in results:
        kept = _kept_with_patients(out, name)
        if not kept:
            continue
        drawn = _Draws(kept, n_patients, draws, seed)
        for t in thresholds:
            per_fold = [evaluate.metrics(z["y_test"], z["p_test"], t) for z in kept]
            cells = [mean_sd([m[k] for m in per_fold]) for k in ("accuracy", "sensitivity", "specificity")]
            scores = drawn.scores(targets, threshold=t)
            lines.append(f"| {name} | {t:g} | " + " | ".join(cells) + f" | {_share_meeting(scores, targets):.0%} |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, nargs="+", type=Path)
    parser.add_argument("--out", type=Path, default=Path("runs/cv"))
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--only", help="comma-separated fold numbers to run (1-based), e.g. 1,2")
    parser.add_argument("--recipes", nargs="+", default=["reference", "tutorial"])
    parser.add_argument("--set", nargs="+", default=[], metavar="FIELD=VALUE",
                        help="change recipe fields for a variant, e.g. image_size=56 epochs=13 "
                             "or 'model={\"dropout\": 0}' (values are JSON where they parse)")
    parser.add_argument("--name", help="name the variant's results (default: recipe+changes)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--heldout-patients", type=int, default=48,
                        help="size of one held-out set to simulate from the folds' test patients (0: skip)")
    args = parser.parse_args()
    if args.name and len(args.recipes) > 1:
        parser.error("--name names one recipe's results: give a single --recipes with it.")
    recipes = [with_changes(get_recipe(base), args.set, args.name) for base in args.recipes]
    store = args.out / "cv.json"
    results = json.loads(store.read_text()) if store.is_file() else {}
    for recipe in recipes:
        kept = {json.dumps(r["recipe"], sort_keys=True)
                for r in results.get(recipe.name, {}).values() if "recipe" in r}
        if kept - {json.dumps(recipe.to_dict(), sort_keys=True)}:
            parser.error(f"{store} holds results of another recipe named {recipe.name!r}; "
                         "give another --out or --name.")
    args.out.mkdir(parents=True, exist_ok=True)
    images = gather_images(args.data)
    folds = patient_folds(images, args.folds, seed=args.seed)
    todo = [int(f) - 1 for f in args.only.split(",")] if args.only else range(args.folds)
    print(f"{len(images)} images, {len(folds)} patients, {args.folds} folds; "
          f"backend {keras.backend.backend()}, {os.cpu_count()} CPU cores", flush=True)
    for recipe in recipes:
        name = recipe.name
        start = time.perf_counter()
        all_rows = fold_rows(images, folds, 0, args.seed, recipe.validation)
        arrays = load_arrays(all_rows, recipe.image_size, progress=True)
        decode_seconds = time.perf_counter() - start
        for fold in todo:
            key = str(fold + 1)
            if results.get(name, {}).get(key):
                continue
            rows = fold_rows(images, folds, fold, args.seed, recipe.validation)
            print(f"\n== {name}, fold {fold + 1}/{args.folds} ==", flush=True)
            report = run_fold(arrays, rows, recipe, args.out / f"{name}-fold{fold + 1}", args.seed)
            report.update(decode_seconds=decode_seconds, recipe=recipe.to_dict())
            # Read the store again first: runs of other recipes may share it, side by side.
            results = json.loads(store.read_text()) if store.is_file() else {}
            results.setdefault(name, {})[key] = report
            write_json(store, results)
            print({m: round(report[m], 4) for m in METRICS}, f"train {report['train_seconds']:.0f} s", flush=True)
    print("\n" + table(results))
    rules = threshold_rules(args.out, results)
    if rules.count("\n") > 1:  # only recipes with validation patients have other rules to compare
        print("\n" + rules)
    if args.heldout_patients:
        print(f"\nOne held-out set of {args.heldout_patients} patients, drawn 2,000 times "
              f"(targets: {', '.join(f'{m} >= {t:g}' for m, t in TARGETS.items())}):")
        print(heldout_spread(args.out, results, args.heldout_patients))
        print("\nThe same folds called at fixed thresholds:")
        print(threshold_sweep(args.out, results, args.heldout_patients))


if __name__ == "__main__":
    main()

"""The stages strung together, as the command line and the notebooks run them:
train on data folders, evaluate a saved model, and run everything end to end.
"""

import json
import os
import time
from pathlib import Path

from .atomic import write_json
from .data.layout import find_images
from .errors import MalariaLabError
from .split import check_leakage, describe, split_by_patient, write_manifest


def gather_images(paths):
    """The images of several data sets together; the same file name twice is an error."""
    images, seen = [], {}
    for path in paths:
        for ref in find_images(path):
            key = (ref.label, ref.name)
            if key in seen:
                raise MalariaLabError(
                    f"{ref.name} is in both {seen[key]} and {path}.",
                    "Give each data set once; the same image twice would leak between parts.",
                )
            seen[key] = path
            images.append(ref)
    return images


def train_and_calibrate(train, val, out_dir, recipe, seed=0, verbose="auto", log=print, callbacks=()):
    """Fit the recipe's model, then choose the decision threshold on the validation patients.

    With ``val`` None, train on ``train`` for the whole schedule and keep the recipe's threshold.
    Writes ``model.keras``, ``history.json`` and ``training.json`` (recipe, threshold, validation
    scores) to ``out_dir``; returns (model, training summary plus the validation probabilities,
    ``val_probabilities``, which the threshold was chosen from, or None).
    """
    from . import evaluate
    from . import train as training
    from .precision import resolve

    recipe = training.get_recipe(recipe)
    if val is None and recipe.min_sensitivity is not None:
        raise MalariaLabError(f"The {recipe.name} recipe sets min_sensitivity, which needs validation patients.",
                              "Hold some out (validation > 0), or set min_sensitivity=None.")
    out = Path(out_dir)
    start = time.perf_counter()
    model = training.build_model(recipe, seed=seed)
    computes_in = resolve(recipe.precision)
    log(f"Training the {recipe.name} recipe ({recipe.architecture} CNN, {recipe.image_size} px, "
        f"{computes_in}, up to {recipe.epochs} epochs) on {len(train)} cells, "
        + (f"validating on {len(val)}." if val is not None else "holding no patients back."))
    history = training.fit(model, train, val, out, recipe, seed=seed, verbose=verbose, callbacks=callbacks)
    best = training.load_best(out)
    if val is not None:
        p_val = evaluate.predict(best, val.x, tta=recipe.tta)
        threshold = evaluate.choose_threshold(val.y, p_val, min_sensitivity=recipe.min_sensitivity)
        validation = evaluate.metrics(val.y, p_val, threshold)
    else:
        p_val, threshold, validation = None, recipe.threshold, None
    seconds = time.perf_counter() - start
    summary = {
        "recipe": recipe.to_dict(),
        "threshold": threshold,
        "tta": recipe.tta,
        "image_size": recipe.image_size,
        "precision": computes_in,
        "n_train": len(train),
        "n_val": len(val) if val is not None else 0,
        "train_patients": len(set(train.patients)),
        "val_patients": len(set(val.patients)) if val is not None else 0,
        "epochs_run": len(history.get("loss", [])),
        "train_seconds": seconds,
        "images_per_second": training.images_per_second(history, len(train)),
        "validation": validation,
        "backend": os.environ.get("KERAS_BACKEND") or _backend(),
    }
    write_json(out / "training.json", summary)
    evaluate.plot_history(history).savefig(out / "curves.png")
    state = json.loads((out / "state.json").read_text())
    if val is not None:
        log(f"Best epoch {state['best_epoch'] + 1} of {summary['epochs_run']} ({recipe.monitor} "
            f"{state['best']:.4f}); threshold {threshold:.3f} chosen on the validation patients.")
    else:
        log(f"Kept the last of {summary['epochs_run']} epochs; threshold {threshold:.2f}, fixed in advance "
            "(no validation patients to choose one on).")
    return best, dict(summary, val_probabilities=p_val)


def _backend():
    import keras

    return keras.backend.backend()


def train_on(paths, out_dir, recipe="reference", seed=0, val_fraction=None, verbose="auto", log=print):
    """``malaria-lab train``: a patient-level validation split of ``paths`` (the recipe's share of
    patients unless ``val_fraction`` is given; none at 0), then training."""
    from .train import get_recipe

    recipe = get_recipe(recipe)
    val_fraction = recipe.validation if val_fraction is None else val_fraction
    if not 0 <= val_fraction < 1:
        raise MalariaLabError(f"Validation share {val_fraction} is not between 0 and 1.",
                              "Give a share of patients such as 0.15, or 0 to hold none back.")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows = split_by_patient(gather_images(paths), fractions=(1 - val_fraction, val_fraction, 0.0), seed=seed)
    write_manifest(rows, out / "manifest.csv")
    log(describe(rows))
    arrays = _load(rows, recipe.image_size, log, progress=verbose != 0)
    parts = arrays.parts(rows)
    _, summary = train_and_calibrate(parts["train"], parts.get("val"), out, recipe, seed=seed, verbose=verbose,
                                     log=log)
    log(f"Model: {out / 'model.keras'}  (threshold in {out / 'training.json'})")
    return summary


def _load(rows, size, log, progress=True):
    from .pipeline import load_arrays

    start = time.perf_counter()
    arrays = load_arrays(rows, size, progress=progress)
    log(f"Decoded {len(arrays)} cells at {size} px in {time.perf_counter() - start:.1f} s"
        + (f" ({len(arrays.skipped)} unreadable, skipped)" if arrays.skipped else "") + ".")
    return arrays


def read_training(model_path):
    """The training summary saved beside a model, or {} for a model from elsewhere."""
    path = Path(model_path).with_name("training.json")
    return json.loads(path.read_text()) if path.is_file() else {}


def evaluate_on(model_path, data, out_dir, threshold=None, tta=None, log=print, progress=True):
    """``malaria-lab evaluate``: score a saved model on every image of ``data``."""
    from . import evaluate
    from .models import load_model
    from .split import Row

    model_path = Path(model_path)
    if not model_path.is_file():
        raise MalariaLabError(f"No model at {model_path}.", "Train one with `malaria-lab train --data DIR --out DIR`.")
    model = load_model(model_path)
    saved = read_training(model_path)
    threshold = saved.get("threshold", 0.5) if threshold is None else threshold
    tta = saved.get("tta", False) if tta is None else tta
    size = int(model.input_shape[1])
    rows = [Row(r.path, r.label, r.patient, "test") for r in find_images(data)]
    arrays = _load(rows, size, log, progress)
    report = evaluate.evaluate(model, arrays, out_dir, threshold=threshold, tta=tta)
    report["model"] = str(model_path)
    write_json(Path(out_dir) / "report.json", report)
    log(evaluate.summary(report))
    log(f"Report: {Path(out_dir) / 'report.json'}")
    return report


def find_default_data():
    """A real data set if one is at $MALARIA_LAB_DATA or ./data, else None."""
    for candidate in (os.environ.get("MALARIA_LAB_DATA"), "data"):
        if candidate and Path(candidate).exists():
            try:
                find_images(candidate)
                return Path(candidate)
            except MalariaLabError:
                continue
    return None


def run_all(data=None, out_dir="runs/latest", recipe=None, seed=0, verbose="auto", log=print):
    """``malaria-lab run``: data -> split -> pipeline -> model -> train -> evaluate, one go.

    Without ``data`` (and none found at $MALARIA_LAB_DATA or ./data) it makes the embedded
    synthetic data set, so the whole course runs offline.
    """
    from . import evaluate
    from .data.synth import RUN_SYNTHETIC, synthesize

    start = time.perf_counter()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    data = data or find_default_data()
    if data is None:
        log(f"[1/6] data: no real data set found; making the embedded synthetic one "
            f"({RUN_SYNTHETIC['per_class']} cells per class, {RUN_SYNTHETIC['patients']} patients).")
        data = synthesize(out / "synthetic", **RUN_SYNTHETIC)
        recipe = recipe or "fast"
    else:
        log(f"[1/6] data: {data}")
    recipe = recipe or "reference"
    images = find_images(data)
    rows = split_by_patient(images, seed=seed)
    manifest = write_manifest(rows, out / "manifest.csv")
    leakage = check_leakage(rows)
    log(f"[2/6] split by patient -> {manifest}\n{describe(rows)}\n{leakage.summary()}")
    from .train import get_recipe

    recipe = get_recipe(recipe)
    log(f"[3/6] pipeline: decoding {len(rows)} cells at {recipe.image_size} px (cached for next time)")
    arrays = _load(rows, recipe.image_size, log, progress=verbose != 0)
    subsets = arrays.parts(rows)
    log("[4/6] model and [5/6] training")
    model, summary = train_and_calibrate(subsets["train"], subsets["val"], out, recipe, seed=seed,
                                         verbose=verbose, log=log)
    log("[6/6] evaluating on the test patients")
    history = json.loads((out / "history.json").read_text())
    report = evaluate.evaluate(model, subsets["test"], out, threshold=summary["threshold"],
                               tta=summary["tta"], history=history)
    report.update(recipe=recipe.name, data=str(data), wall_seconds=time.perf_counter() - start,
                  leakage_free=leakage.ok, model=str(out / "model.keras"))
    write_json(out / "report.json", report)
    log(evaluate.summary(report))
    log(f"Done in {report['wall_seconds']:.0f} s. Report: {out / 'report.json'}\n"
        f"Plots: {', '.join(str(out / n) for n in ('curves.png', 'confusion.png', 'roc.png', 'mistakes.png'))}")
    return report

"""The stages strung together, as the command line and the notebooks run them:
train on data folders, evaluate a saved model, and run everything end to end.
"""

import os
import time
import zipfile
from collections import Counter
from pathlib import Path

from . import evaluate, runs
from .alt_text import save_png
from .atomic import read_json, write_json
from .data import locate
from .data.layout import CLASSES, find_images
from .data.patients import read_mapping
from .data.synth import RUN_SYNTHETIC, synthesize
from .errors import MalariaLabError
from .outputs import check_out_dir
from .pipeline import load_arrays
from .precision import resolve
from .quiet import import_keras
from .recipes import get_recipe
from .settings import KERAS_BACKEND_ENV
from .split import (
    MAPPING_HINT,
    Row,
    check_leakage,
    check_seed,
    describe,
    require_patients,
    row_patient,
    split_by_patient,
    write_manifest,
)


def gather_images(paths, patients=None):
    """The images of several data sets together; the same file name twice is an error.
    ``patients``: a patient mapping file (see ``data.patients``) for all of them."""
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    mapping = read_mapping(patients) if patients is not None else None
    images, seen = [], {}
    for path in paths:
        for ref in find_images(path, patients=mapping):
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
    import_keras()  # quietly, now that every input was checked
    from . import train as training  # imports Keras

    recipe = get_recipe(recipe)
    if val is None and recipe.min_sensitivity is not None:
        raise MalariaLabError(f"The {recipe.name} recipe sets min_sensitivity, which needs validation patients.",
                              "Hold some out (validation > 0), or set min_sensitivity=None.")
    require_both_classes("training", train.y)
    if val is not None:
        require_both_classes("validation", val.y)
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
        "train_patients": _patients(train.patients),
        "val_patients": _patients(val.patients) if val is not None else 0,
        "epochs_run": len(history.get("loss", [])),
        "train_seconds": seconds,
        "images_per_second": training.images_per_second(history, len(train)),
        "validation": validation,
        "backend": os.environ.get(KERAS_BACKEND_ENV) or _backend(),
    }
    write_json(out / "training.json", summary)
    save_png(evaluate.plot_history(history), out / "curves.png")
    state = read_json(out / "state.json")
    if val is not None:
        log(f"Best epoch {state['best_epoch'] + 1} of {summary['epochs_run']} ({recipe.monitor} "
            f"{state['best']:.4f}); threshold {threshold:.3f} chosen on the validation patients.")
    else:
        log(f"Kept the last of {summary['epochs_run']} epochs; threshold {threshold:.2f}, fixed in advance "
            "(no validation patients to choose one on).")
    return best, dict(summary, val_probabilities=p_val)


def _backend():
    import keras  # Keras loads only when a model is built or trained

    return keras.backend.backend()


def _patients(patients):
    """How many patients, or None when some images have no patient id (``""``)."""
    return None if "" in patients else len(set(patients))


def require_both_classes(part, labels, fix=None):
    """Refuse training (or choosing a threshold) on data with one class: neither is defined."""
    counts = Counter(int(y) for y in labels)
    missing = [CLASSES[1 - y] for y in (1, 0) if not counts.get(y)]
    if missing:
        raise MalariaLabError(
            f"The {part} data has no {' and no '.join(missing)} images ({counts.get(1, 0)} Parasitized, "
            f"{counts.get(0, 0)} Uninfected): a detector cannot learn from one class"
            + (", nor a threshold be chosen on it." if part == "validation" else "."),
            fix or ("Hold out more patients, or --validation 0 to train on every patient." if part == "validation"
                    else "Give data with both Parasitized and Uninfected images."))


def _check_parts(rows, validation_fix):
    for part, name in (("train", "training"), ("val", "validation")):
        labels = [r.target for r in rows if r.split == part]
        if labels or part == "train":
            require_both_classes(name, labels, validation_fix if part == "val" else None)


def train_on(paths, out_dir, recipe="reference", seed=0, val_fraction=None, verbose="auto", log=print,
             patients=None, force=False):
    """``malaria-lab train``: a patient-level validation split of ``paths`` (the recipe's share of
    patients unless ``val_fraction`` is given; none at 0), then training.

    ``out_dir`` is tied to its inputs (see ``runs``): a run of the same inputs resumes; other inputs
    are refused before anything is written, unless ``force`` starts over.
    """
    recipe = get_recipe(recipe)
    seed = check_seed(seed)
    val_fraction = recipe.validation if val_fraction is None else val_fraction
    if not 0 <= val_fraction < 1:
        raise MalariaLabError(f"Validation share {val_fraction} is not between 0 and 1.",
                              "Give a share of patients such as 0.15, or 0 to hold none back.")
    paths = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    out = check_out_dir(out_dir, "--out", data=paths)
    images = gather_images(paths, patients)
    if val_fraction > 0:
        require_patients(images, f"To hold validation patients out, {MAPPING_HINT}; or use --validation 0 "
                                 "to train on every image with the recipe's fixed threshold.")
        rows = split_by_patient(images, fractions=(1 - val_fraction, val_fraction, 0.0), seed=seed)
    else:
        rows = [Row(ref.path, ref.label, row_patient(ref), "train") for ref in images]
    run = runs.identity(rows, recipe, seed, paths)
    runs.check(out, run, force)
    _check_parts(rows, None)
    runs.start(out, run, force)
    write_manifest(rows, out / "manifest.csv")
    log(describe(rows))
    arrays = _load(rows, recipe.image_size, log, progress=verbose != 0)
    parts = arrays.parts(rows)
    _, summary = train_and_calibrate(parts["train"], parts.get("val"), out, recipe, seed=seed, verbose=verbose,
                                     log=log)
    log(f"Model: {out / 'model.keras'}  (threshold in {out / 'training.json'})")
    return summary


def _load(rows, size, log, progress=True):
    start = time.perf_counter()
    arrays = load_arrays(rows, size, progress=progress)
    log(f"Decoded {len(arrays)} cells at {size} px in {time.perf_counter() - start:.1f} s"
        + (f" ({len(arrays.skipped)} unreadable, skipped)" if arrays.skipped else "") + ".")
    return arrays


def read_training(model_path):
    """The training summary saved beside a model, or {} for a model from elsewhere."""
    path = Path(model_path).with_name("training.json")
    if not path.is_file():
        return {}
    saved = read_json(path, "it (then --threshold and --tta say how to score)")
    return saved if isinstance(saved, dict) else {}


def check_threshold(threshold):
    if threshold is not None and not (isinstance(threshold, (int, float)) and 0 <= threshold <= 1):
        raise MalariaLabError(f"Threshold {threshold} is not a probability from 0 to 1.",
                              "Give a threshold such as 0.5 (cells scoring at least it are called parasitized).")
    return threshold


def load_classifier(model_path):
    """(model, image size) of a saved Keras model that takes square RGB images of a fixed size and
    gives one probability per image; anything else is a clear error, not a traceback."""
    import_keras()
    from .models import load_model  # imports Keras

    try:
        model = load_model(model_path)
    except (ValueError, TypeError, KeyError, AttributeError, OSError, EOFError, zipfile.BadZipFile) as err:
        text = " ".join(str(err).split())
        first = text.split(". ")[0].rstrip(".")[:200] if text else type(err).__name__
        raise MalariaLabError(f"{model_path} cannot be loaded as a Keras model ({first}).",
                              "Give a .keras file saved by Keras 3, such as the model.keras that "
                              "`malaria-lab train` writes.") from None
    inputs, outputs = getattr(model, "inputs", None) or [], getattr(model, "outputs", None) or []
    shape = tuple(inputs[0].shape) if len(inputs) == 1 else None
    what = None
    if len(inputs) != 1 or len(outputs) != 1:
        what = f"has {len(inputs)} input(s) and {len(outputs)} output(s), not one of each"
    elif len(shape) != 4 or shape[3] != 3:
        what = f"takes inputs of shape {shape}, not RGB images (None, size, size, 3)"
    elif not (isinstance(shape[1], int) and shape[1] == shape[2]):
        what = f"takes images of size {shape[1]} x {shape[2]}, not one fixed square size"
    elif tuple(outputs[0].shape)[1:] != (1,):
        what = f"gives outputs of shape {tuple(outputs[0].shape)}, not one probability per image"
    if what:
        raise MalariaLabError(f"{model_path} is a Keras model, but not a malaria classifier: it {what}.",
                              "Give a model made by `malaria-lab train` (or the course) that maps one cell "
                              "image to P(parasitized).")
    return model, int(shape[1])


def evaluate_on(model_path, data, out_dir, threshold=None, tta=None, log=print, progress=True, patients=None):
    """``malaria-lab evaluate``: score a saved model on every image of ``data``. Every input is
    checked (model, data, output folder) before any image is decoded."""
    check_threshold(threshold)
    model_path = Path(model_path)
    if not model_path.is_file():
        raise MalariaLabError(f"No model at {model_path}.", "Train one with `malaria-lab train --data DIR --out DIR`.")
    out = check_out_dir(out_dir, "--out", data=[data])
    images = find_images(data, patients=patients)
    model, size = load_classifier(model_path)
    saved = read_training(model_path)
    threshold = check_threshold(saved.get("threshold", 0.5)) if threshold is None else threshold
    tta = bool(saved.get("tta", False)) if tta is None else tta
    rows = [Row(r.path, r.label, row_patient(r), "test") for r in images]
    arrays = _load(rows, size, log, progress)
    report = evaluate.evaluate(model, arrays, out_dir, threshold=threshold, tta=tta)
    report["model"] = str(model_path)
    write_json(out / "report.json", report)
    log(evaluate.summary(report))
    log(f"Report: {out / 'report.json'}")
    return report


def find_default_data():
    """A real data set if one is at $MALARIA_LAB_DATA or ./data, else None."""
    found = locate.find_data(locate.places(here=True))
    return found.path if found else None


def run_all(data=None, out_dir="runs/latest", recipe=None, seed=0, verbose="auto", log=print, patients=None,
            force=False):
    """``malaria-lab run``: data -> split -> pipeline -> model -> train -> evaluate, one go.

    Without ``data`` (and none found at $MALARIA_LAB_DATA or ./data) it makes the embedded
    synthetic data set, so the whole course runs offline. ``out_dir`` is tied to its inputs as
    in :func:`train_on`.
    """
    start = time.perf_counter()
    seed = check_seed(seed)
    data = data or find_default_data()
    out = check_out_dir(out_dir, "--out", data=[data] if data is not None else [])
    mapping = read_mapping(patients) if patients is not None else None
    if data is None:
        recipe = get_recipe(recipe or "fast")
        runs.check_source(out, [out / "synthetic" / "cell_images"], force)
        log(f"[1/6] data: no real data set found; making the embedded synthetic one "
            f"({RUN_SYNTHETIC['per_class']} cells per class, {RUN_SYNTHETIC['patients']} patients).")
        data = synthesize(out / "synthetic", **RUN_SYNTHETIC)
    else:
        recipe = get_recipe(recipe or "reference")
        log(f"[1/6] data: {data}")
    images = find_images(data, patients=mapping)
    require_patients(images, f"To split by patient, {MAPPING_HINT}.")
    rows = split_by_patient(images, seed=seed)
    run = runs.identity(rows, recipe, seed, [data])
    runs.check(out, run, force)
    _check_parts(rows, "Give data from more patients, so that validation gets cells of both classes.")
    runs.start(out, run, force)
    manifest = write_manifest(rows, out / "manifest.csv")
    leakage = check_leakage(rows)
    log(f"[2/6] split by patient -> {manifest}\n{describe(rows)}\n{leakage.summary()}")
    log(f"[3/6] pipeline: decoding {len(rows)} cells at {recipe.image_size} px (cached for next time)")
    arrays = _load(rows, recipe.image_size, log, progress=verbose != 0)
    subsets = arrays.parts(rows)
    log("[4/6] model and [5/6] training")
    model, summary = train_and_calibrate(subsets["train"], subsets["val"], out, recipe, seed=seed,
                                         verbose=verbose, log=log)
    log("[6/6] evaluating on the test patients")
    history = read_json(out / "history.json")
    report = evaluate.evaluate(model, subsets["test"], out, threshold=summary["threshold"],
                               tta=summary["tta"], history=history)
    report.update(recipe=recipe.name, data=str(data), wall_seconds=time.perf_counter() - start,
                  leakage_free=leakage.ok, model=str(out / "model.keras"))
    write_json(out / "report.json", report)
    log(evaluate.summary(report))
    log(f"Done in {report['wall_seconds']:.0f} s. Report: {out / 'report.json'}\n"
        f"Plots: {', '.join(str(out / n) for n in ('curves.png', 'confusion.png', 'roc.png', 'mistakes.png'))}")
    return report

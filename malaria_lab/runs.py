"""A run folder is tied to what it was trained on: the images and their split, the recipe (image
size included) and the seed, recorded in ``run.json``. Before ``train`` or ``run`` writes into a
folder that holds a run, the two are compared: the same inputs resume, other inputs are refused
before anything is written, and ``force`` starts over, replacing only the run's own files.
"""

import hashlib
from collections import Counter
from pathlib import Path, PurePosixPath

from ._version import __version__
from .atomic import plain, read_json, write_json
from .data.layout import CLASSES, ZIP_SEP
from .errors import MalariaLabError
from .split import read_manifest

RECORD = "run.json"
# What training writes; any of them in a folder means it holds a run.
TRAINING_FILES = (RECORD, "manifest.csv", "state.json", "history.json", "last.keras", "model.keras",
                  "training.json", "recipe.json")
# What ``force`` removes: the run's own files, never anything else in the folder.
OWN_FILES = TRAINING_FILES + ("curves.png", "report.json", "confusion.png", "roc.png", "mistakes.png",
                              "probabilities.npy", ".model.partial.keras", ".last.partial.keras")
_FIX = "Use --force to start over there (only its run files are replaced), or give another --out folder."


def identity(rows, recipe, seed, data):
    """What a run is trained on: manifest ``rows``, the recipe (a Recipe), the seed, the data paths."""
    return {
        "malaria_lab": __version__,
        "data": [str(Path(p)) for p in data],
        "images": len(rows),
        "classes": _classes(rows),
        "data_digest": _digest((r.label, _name(r.path)) for r in rows),
        "split_digest": _digest((r.label, _name(r.path), r.split) for r in rows),
        "recipe": plain(recipe.to_dict()),
        "seed": seed,
    }


def check(out, new, force=False):
    """Refuse ``out`` when it holds a run of inputs other than ``new`` (unless ``force``)."""
    out = Path(out)
    old = recorded(out)
    if old is None or force:
        return
    differences = _differences(old, new)
    if differences:
        raise MalariaLabError(f"{out} holds {_state(out)} run of other inputs: {'; '.join(differences)}. "
                              "Nothing was written.", _FIX)


def check_source(out, data, force=False):
    """Before making data inside ``out``: refuse when its run was recorded on other data paths."""
    out = Path(out)
    old = recorded(out)
    if old is None or force or not old.get("data") or old["data"] == [str(Path(p)) for p in data]:
        return
    raise MalariaLabError(f"{out} holds {_state(out)} run of other inputs: it was trained on {_images(old)}, "
                          f"not on {', '.join(map(str, data))}. Nothing was written.", _FIX)


def start(out, new, force=False):
    """Make ``out`` the run folder of ``new``: with ``force``, first remove the old run's files."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if force:
        for name in OWN_FILES:
            if (out / name).is_file() or (out / name).is_symlink():
                (out / name).unlink()
    write_json(out / RECORD, new)


def recorded(out):
    """The identity of the run in ``out``: from run.json, else rebuilt from an older run's manifest
    and recipe (its seed unknown); None when ``out`` holds no run."""
    out = Path(out)
    present = [n for n in TRAINING_FILES if (out / n).exists()]
    if not present:
        return None
    if (out / RECORD).is_file():
        old = read_json(out / RECORD, f"{out} (or use --force)")
        if isinstance(old, dict) and "data_digest" in old:
            return old
    return _rebuilt(out, present)


def _rebuilt(out, present):
    unknown = MalariaLabError(
        f"{out} holds training files ({', '.join(present)}) but no record of what they were trained on; "
        "they were left untouched.", _FIX)
    recipe = None
    for name in ("state.json", "training.json", "recipe.json"):
        if (out / name).is_file():
            data = read_json(out / name, f"{out} (or use --force)")
            recipe = data.get("recipe", data) if name != "recipe.json" else data
            if isinstance(recipe, dict) and "name" in recipe:
                break
            recipe = None
    if recipe is None or not (out / "manifest.csv").is_file():
        raise unknown
    try:
        rows = read_manifest(out / "manifest.csv")
    except MalariaLabError:
        raise unknown from None
    return {"data": [], "images": len(rows), "classes": _classes(rows),
            "data_digest": _digest((r.label, _name(r.path)) for r in rows),
            "split_digest": _digest((r.label, _name(r.path), r.split) for r in rows),
            "recipe": recipe, "seed": None}


def _differences(old, new):
    said = []
    if old.get("data_digest") != new["data_digest"]:
        said.append(f"it was trained on {_images(old)}, these are {_images(new)}")
    elif old.get("split_digest") != new["split_digest"]:
        said.append("the same images were split into training and validation patients otherwise "
                    "(another --validation share, seed or patient mapping)")
    before, now = old.get("recipe") or {}, new["recipe"]
    if before.get("name") != now.get("name"):
        said.append(f"it used the {before.get('name')} recipe, not {now.get('name')}")
    changed = [k for k in sorted(set(before) | set(now)) if k != "name" and before.get(k) != now.get(k)]
    if changed:
        shown = ", ".join(f"{k} {before.get(k)!r} -> {now.get(k)!r}" for k in changed[:4])
        said.append(f"recipe settings differ ({shown}{', ...' if len(changed) > 4 else ''})")
    if old.get("seed") is not None and old["seed"] != new["seed"]:
        said.append(f"its seed was {old['seed']}, not {new['seed']}")
    return said


def _state(out):
    if (out / "training.json").is_file():
        return "a finished"
    if (out / "state.json").is_file() or (out / "last.keras").is_file():
        return "an interrupted"
    return "a started"


def _images(ident):
    classes = ident.get("classes") or {}
    where = f" from {', '.join(Path(p).name for p in ident['data'])}" if ident.get("data") else ""
    return (f"{ident.get('images')} images{where} ("
            + ", ".join(f"{k} {classes.get(k, 0)}" for k in CLASSES) + ")")


def _classes(rows):
    counts = Counter(r.label for r in rows)
    return {label: counts.get(label, 0) for label in CLASSES}


def _name(path):
    return PurePosixPath(str(path).split(ZIP_SEP)[-1].replace("\\", "/")).name


def _digest(items):
    digest = hashlib.sha256()
    for item in sorted(items):
        digest.update(("\t".join(item) + "\n").encode())
    return digest.hexdigest()

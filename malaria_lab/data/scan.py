"""Look at a data set before training on it: counts, sizes, colour modes, broken files, duplicates.

``scan`` returns a JSON-able report for a folder or zip (nothing is extracted); ``format_report``
turns it into text. The report's ``problems`` say what needs fixing and how, ``notes`` what is fine
but worth knowing.
"""

import hashlib
from collections import Counter, defaultdict
from pathlib import Path, PurePosixPath

import numpy as np
from tqdm.auto import tqdm

from ..errors import MalariaLabError
from .decoding import Undecodable, open_image, reason, strict, to_rgb
from .extract import MARKER
from .layout import CLASSES, class_and_depth, find_images, is_image_name, iter_entries, read_bytes
from .patients import read_mapping

TINY = 16
PERCENTILES = (5, 25, 50, 75, 95)
EXAMPLES = 3


def scan(path, hashes=True, progress=False, patients=None):
    """A report on the data set at ``path`` (folder or zip); ``hashes`` finds duplicate images;
    ``patients``, a patient mapping file (see ``data.patients``), says who each image is from."""
    path = Path(path)
    mapping = read_mapping(patients, CLASSES) if patients is not None else None
    entries = iter_entries(path)
    relative = {e.path: e.relative for e in entries}
    report = {"path": str(path), "kind": "zip" if path.is_file() else "folder", "files": len(entries)}
    problems, notes = [], []
    try:
        refs = find_images(path, patients=mapping)
    except MalariaLabError as err:
        refs = []
        problems.append(str(err))
    report.update(_other_files(entries, {r.path for r in refs}))

    images, unreadable = [], []
    with strict():
        for ref in tqdm(refs, desc="scan", unit="img", disable=not progress):
            rel = relative[ref.path]
            info, error = _inspect(ref.path, hashes)
            info.update(path=rel, label=ref.label, patient=ref.patient if ref.patient_known else None)
            if error:
                unreadable.append({"path": rel, "error": error})
            images.append(info)

    readable = [i for i in images if "mode" in i]
    report["images"] = len(refs)
    report["classes"] = {label: sum(r.label == label for r in refs) for label in CLASSES}
    report["patients"] = _patients(refs, mapping)
    report["sizes"] = _sizes(readable)
    report["modes"] = dict(Counter(i["mode"] for i in readable).most_common())
    report["formats"] = dict(Counter(i["format"] for i in readable).most_common())
    report["unreadable"] = unreadable
    report["tiny"] = [{"path": i["path"], "width": i["width"], "height": i["height"]}
                      for i in readable if min(i["width"], i["height"]) < TINY]
    report["duplicates"] = _duplicates(images) if hashes else None
    _judge(report, problems, notes)
    report["notes"], report["problems"] = notes, problems
    return report


def format_report(report):
    """The report as text for a terminal or notebook."""
    lines = [f"Data set: {report['path']} ({report['kind']}, {report['files']} files)"]
    classes = ", ".join(f"{k} {v}" for k, v in report["classes"].items())
    lines.append(f"  Images: {report['images']} ({classes})")
    patients = report["patients"]
    single = sum(len(v) for v in patients["single_class"].values())
    missing = f"; {patients['without_id']} image(s) without a patient id" if patients["without_id"] else ""
    lines.append(f"  Patients: {patients['count']} ({single} with images of one class only{missing}; "
                 f"from {patients['source']})")
    sizes = report["sizes"]
    if sizes:
        for axis in ("width", "height"):
            s = sizes[axis]
            lines.append(f"  {axis.capitalize()}: min {s['min']}, p5 {s['p5']}, median {s['median']}, "
                         f"p95 {s['p95']}, max {s['max']}")
        common = ", ".join(f"{c['width']}x{c['height']} ({c['images']})" for c in sizes["common"])
        lines.append(f"  Most common sizes: {common}")
    lines.append("  Colour modes: " + (", ".join(f"{k} {v}" for k, v in report["modes"].items()) or "-"))
    lines.append(f"  Non-image files: {len(report['non_images'])}, images outside class folders: "
                 f"{len(report['stray_images'])}")
    lines.append(f"  Unreadable: {len(report['unreadable'])}, tiny (< {TINY} px): {len(report['tiny'])}")
    dups = report["duplicates"]
    if dups is None:
        lines.append("  Duplicates: not checked (hashes=False)")
    else:
        lines.append(f"  Duplicates: {len(dups['groups'])} groups ({dups['extra_copies']} extra copies; "
                     f"{dups['across_patients']} across patients, {dups['across_classes']} across classes)")
    for title, items in (("Notes", report["notes"]), ("Problems", report["problems"])):
        if items:
            lines.append(f"{title}:")
            lines.extend(f"  - {item}" for item in items)
    if not report["problems"]:
        lines.append("No problems found.")
    return "\n".join(lines)


def _inspect(path, hashes):
    """(facts about one image, error text or None): decoded in full and to RGB, as training
    decodes it, so what fails here is exactly what training skips."""
    info = {}
    try:
        data = read_bytes(path)
    except OSError as err:
        return info, f"cannot read: {reason(err)}"
    if hashes:
        info["sha256"] = hashlib.sha256(data).hexdigest()
    try:
        with open_image(data) as image:
            to_rgb(image)
            info.update(width=image.width, height=image.height, mode=image.mode, format=image.format)
    except Undecodable as err:
        return info, str(err)
    return info, None


def _other_files(entries, chosen):
    """Files that are not the counted images: non-images, stray images, a nested second copy."""
    non_images, stray, shadowed = [], [], Counter()
    for entry in entries:
        rel = entry.relative
        if entry.path in chosen or PurePosixPath(rel).name == MARKER:
            continue
        label, _ = class_and_depth(rel)
        if is_image_name(rel) and label is not None and "__MACOSX" not in rel:
            shadowed[str(PurePosixPath(rel).parent.parent)] += 1
        elif is_image_name(rel) and "__MACOSX" not in rel:
            stray.append(rel)
        else:
            non_images.append(rel)
    nested = None
    if shadowed:
        nested = {"folders": sorted(shadowed), "files": sum(shadowed.values())}
    return {"non_images": non_images, "stray_images": stray, "nested_duplicate": nested}


def _patients(refs, mapping):
    """Images per known patient; images without a patient id are counted apart, never as patients."""
    per = defaultdict(Counter)
    missing = []
    for ref in refs:
        if ref.patient_known:
            per[ref.patient][ref.label] += 1
        else:
            missing.append(ref.name)
    single = {label: sorted(p for p, c in per.items() if set(c) == {label}) for label in CLASSES}
    return {
        "count": len(per),
        "source": f"the mapping {mapping.describe()}" if mapping is not None else "file names",
        "without_id": len(missing),
        "without_id_examples": missing[:EXAMPLES],
        "images": {p: {label: c.get(label, 0) for label in CLASSES} for p, c in sorted(per.items())},
        "single_class": single,
    }


def _sizes(readable):
    if not readable:
        return None

    out = {}
    for axis in ("width", "height"):
        values = np.array([i[axis] for i in readable])
        stats = {"min": int(values.min())}
        for q, v in zip(PERCENTILES, np.percentile(values, PERCENTILES)):
            stats["median" if q == 50 else f"p{q}"] = round(float(v), 1)
        stats["max"] = int(values.max())
        out[axis] = stats
    common = Counter((i["width"], i["height"]) for i in readable).most_common(5)
    out["common"] = [{"width": w, "height": h, "images": n} for (w, h), n in common]
    return out


def _duplicates(images):
    by_hash = defaultdict(list)
    for info in images:
        if "sha256" in info:
            by_hash[info["sha256"]].append(info)
    groups = []
    for digest, same in by_hash.items():
        if len(same) < 2:
            continue
        patients = sorted({i["patient"] for i in same if i["patient"] is not None})
        classes = sorted({i["label"] for i in same})
        groups.append({"sha256": digest, "files": [i["path"] for i in same], "patients": patients,
                       "classes": classes, "across_patients": len(patients) > 1,
                       "across_classes": len(classes) > 1})
    groups.sort(key=lambda g: g["files"][0])
    return {
        "groups": groups,
        "extra_copies": sum(len(g["files"]) - 1 for g in groups),
        "across_patients": sum(g["across_patients"] for g in groups),
        "across_classes": sum(g["across_classes"] for g in groups),
    }


def _examples(items, key=None):
    shown = [key(i) if key else i for i in items[:EXAMPLES]]
    more = f" and {len(items) - EXAMPLES} more" if len(items) > EXAMPLES else ""
    return ", ".join(shown) + more


def _judge(report, problems, notes):
    """Turn the facts into sentences: problems to fix, notes worth knowing."""
    patients = report["patients"]
    if patients["without_id"]:
        why = (f"{patients['source']} does not list them" if patients["source"] != "file names" else
               "their names do not start with one as NIH's do (C33P1ThinF_IMG_..._cell_1.png)")
        problems.append(
            f"{patients['without_id']} of {report['images']} image(s) have no patient id "
            f"(e.g. {', '.join(patients['without_id_examples'])}): {why}. A split by patient needs "
            "every image's patient: give a patient mapping with --patients FILE (a CSV file,patient).")
    if report["images"]:
        for label, n in report["classes"].items():
            if not n:
                problems.append(f"There are no {label} images: a detector needs both classes; check "
                                f"that the {label}/ folder is there and holds the images.")
    if report["unreadable"]:
        problems.append(
            f"{len(report['unreadable'])} image(s) cannot be decoded (corrupt or truncated): "
            f"{_examples(report['unreadable'], lambda u: u['path'])}. Delete or replace them "
            "(or download the data set again) before training.")
    if report["tiny"]:
        tiny = _examples(report["tiny"], lambda t: "{path} ({width}x{height})".format(**t))
        problems.append(
            f"{len(report['tiny'])} image(s) are smaller than {TINY} px on a side: {tiny}. "
            "Look at them and remove any that are not whole cells.")
    if report["stray_images"]:
        problems.append(
            f"{len(report['stray_images'])} image(s) lie outside the {' and '.join(CLASSES)} folders "
            f"and are ignored: {_examples(report['stray_images'])}. Move them into their class "
            "folder if they belong to the data set.")
    dups = report["duplicates"]
    if dups:
        _judge_duplicates(dups["groups"], problems, notes)
    nested = report["nested_duplicate"]
    if nested:
        notes.append(
            f"A second copy of the data set under {', '.join(f + '/' for f in nested['folders'])} "
            f"({nested['files']} images; the Kaggle zip has one) is ignored: each image counts once.")
    if report["non_images"]:
        names = Counter(PurePosixPath(n).name for n in report["non_images"])
        listed = ", ".join(f"{n} x{c}" if c > 1 else n for n, c in names.most_common(5))
        why = " (Thumbs.db is a Windows thumbnail cache, harmless)." if "Thumbs.db" in names else "."
        notes.append(f"{len(report['non_images'])} non-image file(s) are ignored: {listed}{why}")
    other_modes = {m: n for m, n in report["modes"].items() if m != "RGB"}
    if other_modes:
        notes.append(f"Not all images are RGB ({', '.join(f'{m} {n}' for m, n in other_modes.items())}): "
                     "convert each to RGB when loading so every image has 3 channels.")
    sizes = report["sizes"]
    if sizes and (sizes["width"]["min"] != sizes["width"]["max"]
                  or sizes["height"]["min"] != sizes["height"]["max"]):
        notes.append(f"Image sizes vary (width {sizes['width']['min']}-{sizes['width']['max']}, height "
                     f"{sizes['height']['min']}-{sizes['height']['max']} px): resize them to one size "
                     "before training.")
    single = report["patients"]["single_class"]
    count = sum(len(v) for v in single.values())
    if count:
        parts = ", ".join(f"{len(v)} {k} only" for k, v in single.items() if v)
        notes.append(f"{count} patient(s) have images of one class only ({parts}): normal for this data "
                     "set (healthy donors have no parasitized cells); split by patient, not by image.")
    counts = [n for n in report["classes"].values() if n]
    if len(counts) == len(CLASSES) and max(counts) > 1.5 * min(counts):
        notes.append("The classes are unbalanced: weigh the classes or look at more than accuracy.")


def _judge_duplicates(groups, problems, notes):
    across_classes = [g for g in groups if g["across_classes"]]
    across_patients = [g for g in groups if g["across_patients"] and not g["across_classes"]]
    within = [g for g in groups if not g["across_patients"] and not g["across_classes"]]
    show = lambda g: " = ".join(g["files"][:2])  # noqa: E731
    if across_classes:
        problems.append(
            f"{len(across_classes)} group(s) of identical images are in both classes: "
            f"{_examples(across_classes, show)}. The same cell is labelled both ways; keep it in "
            "the right class only.")
    if across_patients:
        problems.append(
            f"{len(across_patients)} group(s) of identical images belong to different patients: "
            f"{_examples(across_patients, show)}. A split by patient could put the same image in "
            "training and test; remove the extra copies.")
    if within:
        notes.append(
            f"{len(within)} group(s) of identical images within one patient and class: "
            f"{_examples(within, show)}. Harmless for splitting, but each counts more than once.")

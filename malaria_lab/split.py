"""Patient-level train/validation/test splits, written as a manifest; images are never touched.

Cells of one patient look alike (same slide, stain, microscope), so a split that puts one
patient's cells in both train and test measures memory, not diagnosis. Here every patient goes
to exactly one part, and the parts keep the class balance as well as whole patients allow.
"""

import csv
import hashlib
import io
import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .atomic import atomic_path
from .data.layout import CLASSES, POSITIVE, ZIP_SEP, find_images, patient_id, read_bytes
from .errors import MalariaLabError

PARTS = ("train", "val", "test")
DEFAULT_FRACTIONS = (0.7, 0.15, 0.15)
COLUMNS = ("path", "label", "patient", "split")
HEADER = ",".join(COLUMNS)
MAPPING_HINT = "give a patient mapping with --patients FILE (a CSV file,patient, or NIH's patientid_cellmapping_*.csv)"


@dataclass(frozen=True)
class Row:
    """One line of a manifest: an image, its class, its patient (``""``: unknown) and its part."""

    path: str
    label: str
    patient: str
    split: str

    @property
    def target(self):
        return 1 if self.label == POSITIVE else 0


def _check_fractions(fractions):
    fractions = tuple(float(f) for f in fractions)
    if len(fractions) != 3 or min(fractions) < 0 or not math.isclose(sum(fractions), 1.0):
        raise MalariaLabError(
            f"Split fractions {fractions} are not three non-negative numbers summing to 1.",
            "Use e.g. (0.7, 0.15, 0.15) for train, validation and test.",
        )
    return fractions


def check_seed(seed):
    """A seed numpy and Keras both take: a whole number from 0 to 2**32 - 1."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**32:
        raise MalariaLabError(f"Seed {seed!r} is not a whole number from 0 to {2**32 - 1}.",
                              "Give a seed such as 0 or 42.")
    return int(seed)


def require_patients(images, fix=None):
    """Refuse images without a known patient: a patient-level split of them would leak."""
    missing = [ref for ref in images if not getattr(ref, "patient_known", True)]
    if not missing:
        return
    mapped = any(ref.mapped is not None for ref in images)
    why = ("are not in the patient mapping" if mapped else
           "have names that do not start with one, as NIH's names do (C33P1ThinF_IMG_..._cell_1.png)")
    raise MalariaLabError(
        f"{len(missing)} of {len(images)} images have no patient id (e.g. {missing[0].name}): they {why}; "
        "a split by patient cannot keep each patient in one part without it.",
        fix or f"To split by patient, {MAPPING_HINT}; or use --by image to show the leaky split.",
    )


def row_patient(ref):
    """The patient to write in a manifest for ``ref``: its id, or ``""`` when it has none."""
    return ref.patient if ref.patient_known else ""


def _group(images):
    by_patient = defaultdict(list)
    for ref in images:
        by_patient[ref.patient].append(ref)
    return by_patient


def assign_patients(images, shares, seed=0):
    """Map each patient to a part index so each part gets about its share of each class.

    Patients are visited in a seeded random order; each goes to the part that lacks the most of
    its target share of that patient's classes. Every part with a share gets at least one patient.
    """
    by_patient = _group(images)
    wanted = [i for i, share in enumerate(shares) if share > 0]
    totals = Counter(ref.label for ref in images)
    rng = np.random.default_rng(seed)
    patients = sorted(by_patient)
    order = [patients[i] for i in rng.permutation(len(patients))]
    counts = [Counter() for _ in shares]
    assignment = {}
    for i, patient in enumerate(order):
        mine = Counter(ref.label for ref in by_patient[patient])
        empty = [k for k in wanted if not counts[k]]
        candidates = empty if empty and len(order) - i <= len(empty) else wanted

        def room(k):
            """How much of its target share, for this patient's classes, part k still lacks."""
            return sum(n * (1 - counts[k][c] / (shares[k] * totals[c])) for c, n in mine.items())

        best = max(candidates, key=lambda k: (room(k), -k))
        assignment[patient] = best
        counts[best].update(mine)
    return assignment


def _enough_patients(images, parts):
    n = len(_group(images))
    if n < len(parts):
        raise MalariaLabError(
            f"Only {n} patient(s) in the data, but a patient-level split into "
            f"{', '.join(parts)} needs at least {len(parts)}.",
            "Add images from more patients (file names carry the patient before _IMG_).",
        )


def split_by_patient(images, fractions=DEFAULT_FRACTIONS, seed=0):
    """Assign whole patients to train/val/test, balancing each class's images across parts.

    The same images and seed always give the same split; another seed gives another one.
    """
    fractions = _check_fractions(fractions)
    seed = check_seed(seed)
    images = list(images)
    require_patients(images)
    _enough_patients(images, [p for p, f in zip(PARTS, fractions) if f > 0])
    assignment = assign_patients(images, fractions, seed)
    return [Row(ref.path, ref.label, ref.patient, PARTS[assignment[ref.patient]]) for ref in images]


def patient_folds(images, k=5, seed=0):
    """Cross-validation folds by patient: ``{patient: fold}`` with fold in 0..k-1."""
    images = list(images)
    require_patients(images, fix=f"To cross-validate by patient, {MAPPING_HINT}.")
    _enough_patients(images, [f"fold {i + 1}" for i in range(k)])
    return assign_patients(images, [1 / k] * k, check_seed(seed))


def split_by_image(images, fractions=DEFAULT_FRACTIONS, seed=0):
    """The 2020 tutorial's random image-level split: for showing learners what leakage does.

    One patient's cells land in several parts, so test accuracy comes out too high.
    """
    fractions = _check_fractions(fractions)
    images = list(images)
    rng = np.random.default_rng(check_seed(seed))
    rows = [None] * len(images)
    for label in CLASSES:
        idx = [i for i, ref in enumerate(images) if ref.label == label]
        idx = [idx[j] for j in rng.permutation(len(idx))]
        n_train = round(fractions[0] * len(idx))
        n_val = round(fractions[1] * len(idx))
        for k, i in enumerate(idx):
            part = "train" if k < n_train else "val" if k < n_train + n_val else "test"
            ref = images[i]
            rows[i] = Row(ref.path, ref.label, row_patient(ref), part)
    return rows


def split_dataset(path, fractions=DEFAULT_FRACTIONS, seed=0, by="patient", patients=None):
    """Split the data set at ``path`` (folder or zip); see :func:`split_by_patient`. ``patients``:
    a patient mapping file (see ``data.patients``) to use instead of the file names."""
    images = find_images(path, patients=patients)
    if by == "patient":
        return split_by_patient(images, fractions, seed)
    if by == "image":
        return split_by_image(images, fractions, seed)
    raise MalariaLabError(f"Unknown split kind {by!r}.", "Use by='patient' (or 'image' to demo leakage).")


def _portable(path, base):
    """A manifest path relative to the manifest's folder when the image lies below it."""
    archive, sep, member = str(path).partition(ZIP_SEP)
    try:
        rel = Path(archive).resolve().relative_to(base.resolve()).as_posix()
    except ValueError:
        rel = str(Path(archive).resolve())
    return rel + sep + member


def write_manifest(rows, path):
    """Write rows as CSV (path,label,patient,split), atomically; returns the path."""
    path = Path(path)
    base = path.parent if str(path.parent) else Path(".")
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow([_portable(row.path, base), row.label, row.patient, row.split])
    with atomic_path(path) as tmp:
        tmp.write_text(buffer.getvalue(), encoding="utf-8")
    return path


def read_manifest(path):
    """Read a manifest written by :func:`write_manifest`; paths come back absolute."""
    path = Path(path)
    if not path.is_file():
        raise MalariaLabError(
            f"No manifest at {path}.", "Make one with `malaria-lab split DATA --out MANIFEST.csv`."
        )
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = set(COLUMNS) - set(reader.fieldnames or ())
        if missing:
            raise MalariaLabError(
                f"{path} is not a malaria-lab manifest: missing column(s) {', '.join(sorted(missing))}.",
                "Expected the header path,label,patient,split.",
            )
        rows = []
        for line, record in enumerate(reader, start=2):
            if record["label"] not in CLASSES or record["split"] not in PARTS:
                raise MalariaLabError(
                    f"{path}, line {line}: label must be one of {CLASSES} and split one of "
                    f"{PARTS}, got {record['label']!r} and {record['split']!r}.",
                    "Fix or regenerate the manifest.",
                )
            archive, sep, member = record["path"].partition(ZIP_SEP)
            full = Path(archive)
            if not full.is_absolute():
                full = path.parent / full
            rows.append(Row(str(full) + sep + member, record["label"], record["patient"], record["split"]))
    return rows


def part(rows, name):
    """The rows of one part (``train``, ``val`` or ``test``)."""
    return [row for row in rows if row.split == name]


@dataclass
class Leakage:
    """What a split lets through from one part into another."""

    shared_patients: dict = field(default_factory=dict)  # patient -> parts
    duplicate_images: list = field(default_factory=list)  # [[(path, part), ...], ...]
    unknown_patients: int = 0  # images whose patient is not known: their leakage cannot be checked
    unhashed: int = 0  # images that could not be read to compare

    @property
    def ok(self):
        return not self.shared_patients and not self.duplicate_images and not self.unknown_patients

    def summary(self):
        if self.ok:
            return "No leakage: every patient is in one part and no image repeats across parts."
        lines = []
        if self.unknown_patients:
            lines.append(f"{self.unknown_patients} image(s) have no patient id, so whether a patient is in "
                         f"more than one part cannot be checked (to know, {MAPPING_HINT}).")
        if self.shared_patients:
            names = ", ".join(sorted(self.shared_patients)[:5])
            more = len(self.shared_patients) - 5
            lines.append(
                f"{len(self.shared_patients)} patient(s) appear in more than one part"
                f" ({names}{f', and {more} more' if more > 0 else ''})."
            )
        if self.duplicate_images:
            lines.append(f"{len(self.duplicate_images)} identical image(s) appear in more than one part.")
        return " ".join(lines)


def check_leakage(rows, hashes=True):
    """Patients shared between parts and, with ``hashes``, identical images across parts."""
    parts_of = defaultdict(set)
    unknown = 0
    for row in rows:
        if row.patient:
            parts_of[row.patient].add(row.split)
        else:
            unknown += 1
    shared = {p: sorted(s, key=PARTS.index) for p, s in parts_of.items() if len(s) > 1}
    duplicates, unhashed = [], 0
    if hashes:
        groups = defaultdict(list)
        for row in rows:
            try:
                data = read_bytes(row.path)
            except OSError:
                unhashed += 1  # unreadable: training skips it too
                continue
            groups[hashlib.sha256(data).hexdigest()].append((row.path, row.split))
        duplicates = [g for g in groups.values() if len({s for _, s in g}) > 1]
    return Leakage(shared, duplicates, unknown, unhashed)


def describe(rows):
    """Images, patients and parasitized share per part, for printing."""
    lines = []
    for name in PARTS:
        rs = part(rows, name)
        if not rs:
            continue
        pos = sum(r.target for r in rs)
        unknown = sum(not r.patient for r in rs)
        lines.append(
            f"{name:>5}: {len(rs):6d} images from {len({r.patient for r in rs if r.patient}):3d} patients"
            + (f" (and {unknown} images without a patient id)" if unknown else "")
            + f", {pos / len(rs):.0%} parasitized"
        )
    return "\n".join(lines)


__all__ = [
    "PARTS", "Row", "split_by_patient", "patient_folds", "assign_patients", "split_by_image", "split_dataset",
    "write_manifest", "read_manifest", "part", "check_leakage", "Leakage", "describe", "patient_id",
    "require_patients", "check_seed", "row_patient",
]

"""Who each cell image is from, read from a patient mapping file instead of from its name.

Two formats are read: a CSV with a header naming a file column and a patient column (``file,patient``,
optionally ``class``), and NIH's own ``patientid_cellmapping_{parasitized,uninfected}.csv``: no
header, one patient per line, then a Python-style list of that patient's cell files.
"""

import ast
import csv
import io
import re
from pathlib import Path, PurePosixPath

from ..errors import MalariaLabError

FILE_COLUMNS = ("file", "filename", "file_name", "name", "image", "path")
PATIENT_COLUMNS = ("patient", "patient_id", "patientid", "patient id")
CLASS_COLUMNS = ("class", "label")
NIH_NAMES = ("patientid_cellmapping_parasitized.csv", "patientid_cellmapping_uninfected.csv")
_FIX = "Give a CSV with a header file,patient (and optionally class), or NIH's patientid_cellmapping_*.csv."


class PatientMap:
    """File name (within its class, when the file says the class) -> patient."""

    def __init__(self, sources):
        self.sources = [Path(s) for s in sources]
        self.by_class, self.by_name = {}, {}

    def add(self, name, patient, label, where):
        key = (label, name) if label else name
        table = self.by_class if label else self.by_name
        if table.get(key, patient) != patient:
            raise MalariaLabError(
                f"{where}: {name} is given to patient {table[key]!r} and to {patient!r}.",
                "Each cell image belongs to one patient; fix the mapping.",
            )
        table[key] = patient

    def lookup(self, label, name):
        """The patient of image ``name`` in class folder ``label``, or None when not listed."""
        return self.by_class.get((label, name)) or self.by_name.get(name)

    def __len__(self):
        return len(self.by_class) + len(self.by_name)

    def describe(self):
        return ", ".join(str(s) for s in self.sources)


def read_mapping(paths, classes=("Parasitized", "Uninfected")):
    """A :class:`PatientMap` from one or more mapping files (or folders holding NIH's two files)."""
    if isinstance(paths, PatientMap):
        return paths
    if isinstance(paths, (str, Path)) or not hasattr(paths, "__iter__"):
        paths = [paths]
    files = []
    for path in map(Path, paths):
        if path.is_dir():
            found = [path / n for n in NIH_NAMES if (path / n).is_file()]
            if not found:
                raise MalariaLabError(f"--patients {path} is a folder without {' or '.join(NIH_NAMES)}.",
                                      _FIX)
            files += found
        else:
            files.append(path)
    mapping = PatientMap(files)
    for path in files:
        _read_one(path, mapping, {c.lower(): c for c in classes})
    if not len(mapping):
        raise MalariaLabError(f"The patient mapping {mapping.describe()} lists no images.", _FIX)
    return mapping


def find_mapping(data):
    """Mapping files that sit with the data set at ``data``, or [] when there are none.

    Looked for: NIH's two ``patientid_cellmapping_*.csv`` or a ``patients.csv`` inside the folder
    (or beside its ``cell_images``), and ``<name>-patients.csv`` beside a zip or folder.
    """
    data = Path(data)
    places = [data.parent] if data.is_file() else [data, data / "cell_images", data.parent]
    for place in places:
        nih = [place / n for n in NIH_NAMES if (place / n).is_file()]
        if nih:
            return nih
    stem = data.stem if data.is_file() else data.name
    for candidate in ([data / "patients.csv", data / "cell_images" / "patients.csv"] if data.is_dir() else []) + [
            data.parent / f"{stem}{sep}patients.csv" for sep in ("-", "_", ".")]:
        if candidate.is_file():
            return [candidate]
    return []


def _read_one(path, mapping, classes):
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise MalariaLabError(f"No patient mapping at {path}.", _FIX) from None
    except IsADirectoryError:
        raise MalariaLabError(f"{path} is a folder, not a patient mapping file.", _FIX) from None
    except UnicodeDecodeError:
        raise MalariaLabError(f"{path} is not a text (UTF-8) CSV file.", _FIX) from None
    except OSError as err:
        raise MalariaLabError(f"Cannot read the patient mapping {path}: {err.strerror}.",
                              "Check the path and its permissions.") from None
    first = next((line for line in text.splitlines() if line.strip()), "")
    if "[" in first:
        _read_nih(path, text, mapping, classes)
    else:
        _read_table(path, text, mapping, classes)


def _read_nih(path, text, mapping, classes):
    label = next((c for low, c in classes.items() if low in path.name.lower()), None)
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        patient, _, rest = line.partition(",")
        listed = re.search(r"\[.*\]", rest)
        try:
            names = ast.literal_eval(listed.group(0)) if listed else None
        except (ValueError, SyntaxError):
            names = None
        patient = patient.strip().strip('"').strip()
        if not patient or not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise MalariaLabError(f"{path}, line {number}: expected a patient id, then a list of its "
                                  "cell files ['...png', ...], as in NIH's mapping.", _FIX)
        for name in names:
            mapping.add(_base(name), patient, label, f"{path}, line {number}")


def _read_table(path, text, mapping, classes):
    rows = list(csv.reader(io.StringIO(text)))
    rows = [r for r in rows if any(cell.strip() for cell in r)]
    if not rows:
        raise MalariaLabError(f"The patient mapping {path} is empty.", _FIX)
    header = [cell.strip().lower() for cell in rows[0]]
    file_col = next((header.index(c) for c in FILE_COLUMNS if c in header), None)
    patient_col = next((header.index(c) for c in PATIENT_COLUMNS if c in header), None)
    class_col = next((header.index(c) for c in CLASS_COLUMNS if c in header), None)
    if file_col is None or patient_col is None:
        raise MalariaLabError(f"{path} has no file and patient columns (its first line is "
                              f"{','.join(rows[0])[:80]!r}).", _FIX)
    for number, row in enumerate(rows[1:], start=2):
        cells = [c.strip() for c in row] + [""] * len(header)
        name, patient = _base(cells[file_col]), cells[patient_col]
        if not name or not patient:
            raise MalariaLabError(f"{path}, line {number}: the file or the patient is empty.", _FIX)
        label = None
        if class_col is not None and cells[class_col]:
            label = classes.get(cells[class_col].lower())
            if label is None:
                raise MalariaLabError(f"{path}, line {number}: class {cells[class_col]!r} is not one of "
                                      f"{', '.join(classes.values())}.", _FIX)
        mapping.add(name, patient, label, f"{path}, line {number}")


def _base(name):
    """The file name of a mapping entry, whatever folder it was written with."""
    return PurePosixPath(str(name).strip().replace("\\", "/")).name

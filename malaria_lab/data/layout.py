"""Where the cell images are: the official layout, in a folder or a zip, and who each cell is from.

A data set is ``cell_images/{Parasitized,Uninfected}/*.png`` (the NIH zip), given as the folder
that holds ``cell_images/``, that folder itself, or a zip with that layout inside. Images are named
by a string: a file path, or ``archive.zip::member`` for an image read straight from a zip, so
nothing has to be extracted or copied to be used.
"""

import os
import threading
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ..errors import MalariaLabError

CLASSES = ("Parasitized", "Uninfected")
POSITIVE = "Parasitized"
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".gif"})
ZIP_SEP = "::"
# The NIH imaged patient C47P8 on two microscopes; both prefixes are one person.
PATIENT_ALIASES = {
    "C47P8thinOriginalOlympusCX21": "C47P8",
    "C47P8thin_Original_Motic": "C47P8",
}


def patient_id(filename):
    """The patient a cell image comes from: its file name's prefix before ``_IMG_``.

    Names without ``_IMG_`` fall back to the part before ``_cell`` (or the whole stem), so an
    unusual name still groups sensibly instead of failing.
    """
    stem = PurePosixPath(str(filename).replace("\\", "/")).name
    stem = stem.rsplit(".", 1)[0] if "." in stem else stem
    if "_IMG_" in stem:
        prefix = stem.split("_IMG_", 1)[0]
    elif "_cell" in stem:
        prefix = stem.split("_cell", 1)[0]
    else:
        prefix = stem
    return PATIENT_ALIASES.get(prefix, prefix)


def label_index(class_name):
    """1 for a parasitized cell, 0 for an uninfected one."""
    return 1 if class_name == POSITIVE else 0


def is_image_name(name):
    return PurePosixPath(name).suffix.lower() in IMAGE_SUFFIXES


@dataclass(frozen=True)
class ImageRef:
    """One cell image: where its bytes are and which class folder it sits in."""

    path: str
    label: str

    @property
    def name(self):
        return PurePosixPath(self.path.split(ZIP_SEP)[-1].replace("\\", "/")).name

    @property
    def patient(self):
        return patient_id(self.name)

    @property
    def target(self):
        return label_index(self.label)


@dataclass(frozen=True)
class Entry:
    """Any file in a data set, image or not, with its path inside the data set."""

    path: str
    relative: str


def class_and_depth(relative):
    """(class name, depth) when ``relative`` lies in a class folder, else (None, None)."""
    parts = PurePosixPath(relative).parts
    if len(parts) >= 2 and parts[-2] in CLASSES:
        return parts[-2], len(parts)
    return None, None


def iter_entries(path):
    """Every file of the data set at ``path`` (folder or zip), in a stable order."""
    path = Path(path)
    if not path.exists():
        raise MalariaLabError(
            f"No data at {path}.",
            "Give a folder holding cell_images/ (or that folder itself, or such a zip); "
            "run `malaria-lab download --dest DIR` or `malaria-lab synth --out DIR` to get one.",
        )
    if path.is_file():
        if not zipfile.is_zipfile(path):
            raise MalariaLabError(
                f"{path} is a file but not a zip archive.",
                "Give the folder that holds cell_images/, or the data set's .zip file.",
            )
        with zipfile.ZipFile(path) as archive:
            names = sorted(i.filename for i in archive.infolist() if not i.is_dir())
        return [Entry(f"{path}{ZIP_SEP}{name}", name) for name in names]
    files = []
    for dirpath, dirnames, filenames in os.walk(path):
        dirnames.sort()
        for filename in sorted(filenames):
            full = Path(dirpath, filename)
            files.append(Entry(str(full), full.relative_to(path).as_posix()))
    return files


def find_images(path):
    """The cell images of the data set at ``path``, sorted, each once.

    The Kaggle zip holds the data set twice (again under ``cell_images/cell_images/``) and a
    ``Thumbs.db`` per class: only the shallowest copy of each image counts, non-images never.
    """
    best = {}
    for entry in iter_entries(path):
        label, depth = class_and_depth(entry.relative)
        if label is None or not is_image_name(entry.relative) or "__MACOSX" in entry.relative:
            continue
        key = (label, PurePosixPath(entry.relative).name)
        if key not in best or depth < best[key][0]:
            best[key] = (depth, entry.path)
    if not best:
        raise MalariaLabError(
            f"No cell images found in {path}.",
            "Expected cell_images/Parasitized/*.png and cell_images/Uninfected/*.png inside it; "
            "check the path, or run `malaria-lab synth --out DIR` for a small offline data set.",
        )
    refs = [ImageRef(p, label) for (label, _), (_, p) in best.items()]
    return sorted(refs, key=lambda r: (r.label, r.name))


_zip_cache = threading.local()


def read_bytes(path):
    """The bytes of one image, from a file or from ``archive.zip::member``."""
    path = str(path)
    if ZIP_SEP not in path:
        return Path(path).read_bytes()
    archive_path, member = path.split(ZIP_SEP, 1)
    cache = getattr(_zip_cache, "archives", None)
    if cache is None or getattr(_zip_cache, "pid", None) != os.getpid():
        cache = _zip_cache.archives = {}
        _zip_cache.pid = os.getpid()
    archive = cache.get(archive_path)
    if archive is None:
        archive = cache[archive_path] = zipfile.ZipFile(archive_path)
    return archive.read(member)

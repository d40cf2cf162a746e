"""Where the cell images are: the official layout, in a folder or a zip, and who each cell is from.

A data set is ``cell_images/{Parasitized,Uninfected}/*.png`` (the NIH zip), given as the folder
that holds ``cell_images/``, that folder itself, or a zip with that layout inside. Images are named
by a string: a file path, or ``archive.zip::member`` for an image read straight from a zip, so
nothing has to be extracted or copied to be used.
"""

import os
import stat
import threading
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ..errors import MalariaLabError
from .patients import find_mapping, read_mapping

CLASSES = ("Parasitized", "Uninfected")
POSITIVE = "Parasitized"
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".gif"})
ZIP_SEP = "::"
# No cell crop comes near this; a bigger member is a zip bomb or not the data set.
MAX_IMAGE_BYTES = 64 << 20
# The NIH imaged patient C47P8 on two microscopes; both prefixes are one person.
PATIENT_ALIASES = {
    "C47P8thinOriginalOlympusCX21": "C47P8",
    "C47P8thin_Original_Motic": "C47P8",
}


def known_patient(filename):
    """The patient a cell image's name says it comes from, or None when the name does not say.

    NIH names carry the patient before ``_IMG_``; other names the part before ``_cell``. A name
    with neither (``img_0001.png``) has no patient id: never guess one per image.
    """
    stem = _stem(filename)
    for marker in ("_IMG_", "_cell"):
        if marker in stem:
            prefix = stem.split(marker, 1)[0]
            return PATIENT_ALIASES.get(prefix, prefix) or None
    return None


def patient_id(filename):
    """The patient a cell image comes from (see :func:`known_patient`); names without one fall back
    to their whole stem, so they still print, but ``ImageRef.patient_known`` is False for them."""
    return known_patient(filename) or _stem(filename)


def _stem(filename):
    stem = PurePosixPath(str(filename).replace("\\", "/")).name
    return stem.rsplit(".", 1)[0] if "." in stem else stem


def label_index(class_name):
    """1 for a parasitized cell, 0 for an uninfected one."""
    return 1 if class_name == POSITIVE else 0


def is_image_name(name):
    """An image by its name; macOS's ``._name.png`` resource forks are not images."""
    path = PurePosixPath(name)
    return path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith("._")


@dataclass(frozen=True)
class ImageRef:
    """One cell image: where its bytes are, which class folder it sits in and, when a patient
    mapping was given, the patient it lists for it (``""``: the mapping does not list it)."""

    path: str
    label: str
    mapped: str = None

    @property
    def name(self):
        return PurePosixPath(self.path.split(ZIP_SEP)[-1].replace("\\", "/")).name

    @property
    def patient(self):
        return self.mapped or patient_id(self.name)

    @property
    def patient_known(self):
        """Whether the patient is real (named or mapped), not a stand-in made from the file name."""
        return bool(self.mapped) if self.mapped is not None else known_patient(self.name) is not None

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
    if ZIP_SEP in str(path):
        raise MalariaLabError(f"The data path {path} contains {ZIP_SEP!r}, which malaria-lab uses to "
                              "name images inside zips.", "Rename the folder or file, then run again.")
    if not path.exists():
        raise MalariaLabError(
            f"No data at {path}.",
            "Give a folder holding cell_images/ (or that folder itself, or such a zip); "
            "run `malaria-lab download --dest DIR` or `malaria-lab synth --out DIR` to get one.",
        )
    if path.is_file():
        return _zip_entries(path)
    if not path.is_dir():
        raise MalariaLabError(f"{path} is neither a folder nor a zip file.",
                              "Give the folder that holds cell_images/, or the data set's .zip file.")
    return _folder_entries(path)


def _zip_entries(path):
    try:
        if not zipfile.is_zipfile(path):
            raise MalariaLabError(
                f"{path} is a file but not a zip archive.",
                "Give the folder that holds cell_images/, or the data set's .zip file.",
            )
        with zipfile.ZipFile(path) as archive:
            names = sorted(i.filename for i in archive.infolist() if not i.is_dir())
    except (zipfile.BadZipFile, EOFError, ValueError) as err:
        raise MalariaLabError(f"{path} is a damaged zip archive ({err}).",
                              "Download or copy it again.") from None
    except OSError as err:
        raise MalariaLabError(f"Cannot read {path}: {err.strerror or err}.",
                              "Check that the file is readable (its permissions), then run again.") from None
    return [Entry(f"{path}{ZIP_SEP}{name}", name.replace("\\", "/")) for name in names]


def _folder_entries(path):
    """Every regular file below ``path``, following links to folders (each folder once)."""

    def unreadable(err):
        raise MalariaLabError(
            f"Cannot read the folder {err.filename} in the data set: {err.strerror or err}.",
            "Make it readable (e.g. `chmod -R u+rX` on the data folder) and run again.")

    files, seen = [], set()
    for dirpath, dirnames, filenames in os.walk(path, onerror=unreadable, followlinks=True):
        info = os.stat(dirpath)
        if (info.st_dev, info.st_ino) in seen:
            dirnames[:] = []
            continue
        seen.add((info.st_dev, info.st_ino))
        dirnames.sort()
        for filename in sorted(filenames):
            full = Path(dirpath, filename)
            if _regular_or_broken(full):
                files.append(Entry(str(full), full.relative_to(path).as_posix()))
    return files


def _regular_or_broken(path):
    """A plain file, or a broken link (which fails loudly when read); never a pipe or device."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return True


def find_images(path, patients=None):
    """The cell images of the data set at ``path``, sorted, each once.

    The Kaggle zip holds the data set twice (again under ``cell_images/cell_images/``) and a
    ``Thumbs.db`` per class: only the shallowest copy of each image counts, non-images never.
    ``patients``: a patient mapping (file(s), see ``data.patients``) that says who each image is
    from instead of its name; ``"auto"`` uses one that sits with the data set, if any.
    """
    if isinstance(patients, str) and patients == "auto":
        patients = find_mapping(path) or None
    mapping = read_mapping(patients, CLASSES) if patients is not None else None
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
    if mapping is not None:
        refs = [ImageRef(r.path, r.label, _mapped(mapping.lookup(r.label, r.name))) for r in refs]
    return sorted(refs, key=lambda r: (r.label, r.name))


def _mapped(patient):
    return PATIENT_ALIASES.get(patient, patient) if patient else ""


_zip_cache = threading.local()


class UnreadableImage(OSError):
    """An image whose bytes cannot be had: a damaged, encrypted or oversized zip member."""


def read_bytes(path):
    """The bytes of one image, from a file or from ``archive.zip::member``.

    Raises OSError (``UnreadableImage`` for zip members) when they cannot be read, whatever the cause.
    """
    path = str(path)
    if ZIP_SEP not in path:
        file = Path(path)
        if file.stat().st_size > MAX_IMAGE_BYTES:
            raise UnreadableImage(f"{file.stat().st_size} bytes, too large for a cell image")
        return file.read_bytes()
    archive_path, member = path.split(ZIP_SEP, 1)
    cache = getattr(_zip_cache, "archives", None)
    if cache is None or getattr(_zip_cache, "pid", None) != os.getpid():
        cache = _zip_cache.archives = {}
        _zip_cache.pid = os.getpid()
    try:
        archive = cache.get(archive_path)
        if archive is None:
            archive = cache[archive_path] = zipfile.ZipFile(archive_path)
        info = archive.getinfo(member)
        if info.flag_bits & 0x1:
            raise UnreadableImage("the zip member is encrypted")
        if info.file_size > MAX_IMAGE_BYTES:
            raise UnreadableImage(f"the zip member expands to {info.file_size} bytes, too large for a cell image")
        return archive.read(info)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, KeyError) as err:
        raise UnreadableImage(f"damaged zip member ({err})") from None


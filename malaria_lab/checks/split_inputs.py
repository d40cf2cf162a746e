"""What stage 2's checks give `split_patients`: small data sets of patients, by name or as files."""

import contextlib
import shutil
import stat
import tempfile
from pathlib import Path

from ..data.layout import ImageRef

PARTS = ("train", "val", "test")
CLASSES = ("Parasitized", "Uninfected")

# Ten patients of unequal sizes (parasitized, uninfected cells), one uninfected-only, like the real data.
SIZES = {"C10P1": (30, 24), "C11P2": (18, 20), "C12P3": (25, 15), "C13P4": (0, 40),
         "C14P5": (22, 22), "C15P6": (12, 30), "C16P7": (28, 10), "C17P8": (15, 15),
         "C18P9": (20, 26), "C19P10": (16, 19)}
# Four infected patients and six uninfected-only ones: most shuffles leave val or test one class.
FEW_INFECTED = {"C30P1": (22, 18), "C31P2": (20, 20), "C32P3": (18, 24), "C33P4": (25, 15),
                "C34P5": (0, 30), "C35P6": (0, 26), "C36P7": (0, 34), "C37P8": (0, 28),
                "C38P9": (0, 32), "C39P10": (0, 30)}
# Six small patients, for a folder of real image files.
SMALL = {"C40P1": (3, 2), "C41P2": (2, 3), "C42P3": (0, 4), "C43P4": (3, 3), "C44P5": (2, 2),
         "C45P6": (4, 1)}
_PNG = b"\x89PNG\r\n\x1a\n"


def images(sizes=None, root="/data/cell_images"):
    """ImageRefs under ``root``/<class>/, the NIH data's file names (the files need not exist)."""
    refs = []
    for patient, counts in (sizes or SIZES).items():
        for label, n in zip(CLASSES, counts):
            for k in range(n):
                refs.append(ImageRef(f"{root}/{label}/{patient}thinF_IMG_2015_cell_{k}.png", label))
    return refs


@contextlib.contextmanager
def image_folder(sizes=None):
    """(folder, ImageRefs) of real files in a temporary folder, removed afterwards (at grading, the
    temporary folder is in the job's folder, which the student's kernel sees at the same path)."""
    root = Path(tempfile.mkdtemp(prefix="malaria_lab_check_"))
    try:
        refs = images(sizes or SMALL, root=str(root / "cell_images"))
        for ref in refs:
            Path(ref.path).parent.mkdir(parents=True, exist_ok=True)
            Path(ref.path).write_bytes(_PNG)
        yield root, refs
    finally:
        shutil.rmtree(root, ignore_errors=True)


def listing(root):
    """Every file, folder and link under ``root``, with each file's size (links not followed)."""
    found = []
    for path in Path(root).rglob("*"):
        info = path.lstat()
        found.append((str(path.relative_to(root)), info.st_size if stat.S_ISREG(info.st_mode) else -1))
    return sorted(found)


def labels_per_part(assignment, refs):
    """{part: the set of classes among its images}."""
    found = {part: set() for part in PARTS}
    for ref in refs:
        found.setdefault(assignment[ref.patient], set()).add(ref.label)
    return found

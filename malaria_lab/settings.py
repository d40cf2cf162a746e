"""The course's settings: environment variable names, the stages, the modes and the folders.

Everything above reads these from here, so a name or a limit is written once.

* Fast mode (``MALARIA_LAB_FAST=1``, and always while nbgrader validates or autogrades, which set
  ``NBGRADER_EXECUTION``): training uses a small subset and few epochs, so grading a whole
  course takes about a minute on two CPU cores.
* The work folder: ``$MALARIA_LAB_WORK``, else ``malaria_lab_work`` on Google Drive when it is
  mounted in Colab (so the download, each stage's results and training checkpoints survive a
  disconnect and reach the next notebook, which Colab runs on another machine), else
  ``~/malaria_lab_work``. While nbgrader autogrades, a ``malaria_lab_work`` folder inside the
  submission's own folder, so that one student's files never reach another's grade.
* Caches: ``$MALARIA_LAB_CACHE``, else ``~/.cache/malaria_lab``; the course's fallbacks (its
  synthetic data set, the fallback split, a fallback trained model) go to
  ``$MALARIA_LAB_REFERENCE``, else the cache's ``course/`` folder.
"""

import os
import sys
from pathlib import Path

STAGES = ("01_download", "02_split", "03_augment", "04_build_cnn", "05_train", "06_evaluate")

FAST_ENV = "MALARIA_LAB_FAST"
WORK_ENV = "MALARIA_LAB_WORK"
DATA_ENV = "MALARIA_LAB_DATA"
CACHE_ENV = "MALARIA_LAB_CACHE"
# Where the course's fallbacks are kept (the name predates them being called fallbacks).
FALLBACKS_ENV = "MALARIA_LAB_REFERENCE"
# A mounted Google Drive (or any folder that outlives the session) to keep the work folder in.
DRIVE_ENV = "MALARIA_LAB_DRIVE"
GRADING_ENV = "NBGRADER_EXECUTION"
COLAB_DRIVE = Path("/content/drive/MyDrive")

IMAGE_SIZE = 64
# Fast mode: at most this many images per part, and this many epochs.
FAST_LIMITS = {"train": 192, "val": 64, "test": 96}
FAST_EPOCHS = 2
# Below this much memory (Binder: 2 GB), at most this many images per part: about 110 MB decoded.
LOW_MEMORY_GB = 3.0
LOW_MEMORY_LIMITS = {"train": 6000, "val": 1500, "test": 1500}


def truthy(value):
    """True for 1/true/yes/on (any case), False for empty, 0, false, no, off."""
    return str(value or "").strip().lower() not in ("", "0", "false", "no", "off")


def grading_mode():
    """``"validate"`` or ``"autograde"`` while nbgrader runs the notebook, else None."""
    return os.environ.get(GRADING_ENV) or None


def fast_mode():
    """True under nbgrader, or with ``MALARIA_LAB_FAST=1`` (CI, Binder)."""
    return bool(grading_mode()) or truthy(os.environ.get(FAST_ENV))


def in_colab():
    """True inside a Google Colab runtime."""
    return "google.colab" in sys.modules or "COLAB_RELEASE_TAG" in os.environ


def drive_dir():
    """The mounted Google Drive folder (``$MALARIA_LAB_DRIVE``, or My Drive in Colab), else None."""
    env = os.environ.get(DRIVE_ENV)
    if env:
        root = Path(env).expanduser()
    elif in_colab():
        root = COLAB_DRIVE
    else:
        return None
    return root if root.is_dir() else None


def work_dir():
    """Where the course keeps what each stage makes (see the module docstring)."""
    if grading_mode() == "autograde":
        return Path.cwd() / "malaria_lab_work"
    env = os.environ.get(WORK_ENV)
    if env:
        return Path(env).expanduser()
    drive = drive_dir()
    return (drive if drive is not None else Path.home()) / "malaria_lab_work"


def local_images_dir():
    """Where images unpack when the work folder is on Google Drive, which is slow with thousands
    of small files: this machine's own disk."""
    return Path.home() / "malaria_lab_data"


def cache_dir():
    """``$MALARIA_LAB_CACHE``, else ``~/.cache/malaria_lab``."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "malaria_lab")


def fallbacks_dir():
    """Where the course's fallbacks are made once and kept."""
    env = os.environ.get(FALLBACKS_ENV)
    return Path(env).expanduser() if env else cache_dir() / "course"

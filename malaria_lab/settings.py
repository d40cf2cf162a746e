"""The course's settings: environment variable names, the stages, the modes and the folders.

Everything above reads these from here, so a name or a limit is written once.

* Three modes, resolved by :func:`resolve_mode` alone. *Grading* mode (always while nbgrader
  validates or autogrades, which set ``NBGRADER_EXECUTION``; also ``MALARIA_LAB_MODE=grading``):
  tiny subsets and two epochs, so grading a whole course
  takes about a minute on two CPU cores; its model does not learn much, and need not. *Small*
  mode (machines under 3 GB, such as Binder, or ``MALARIA_LAB_MODE=small``): subsets and epochs
  that fit 2 GB and about a minute of training, with a model that really learns. *Full* mode:
  everything. The checks grade the same way in every mode.
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
from typing import NamedTuple

STAGES = ("01_download", "02_split", "03_augment", "04_build_cnn", "05_train", "06_evaluate")

# The older name for MALARIA_LAB_MODE=grading; read by resolve_mode only.
FAST_ENV = "MALARIA_LAB_FAST"
MODE_ENV = "MALARIA_LAB_MODE"
MODES = ("grading", "small", "full")
WORK_ENV = "MALARIA_LAB_WORK"
DATA_ENV = "MALARIA_LAB_DATA"
CACHE_ENV = "MALARIA_LAB_CACHE"
# Where the course's fallbacks are kept (the name predates them being called fallbacks).
FALLBACKS_ENV = "MALARIA_LAB_REFERENCE"
# A mounted Google Drive (or any folder that outlives the session) to keep the work folder in.
DRIVE_ENV = "MALARIA_LAB_DRIVE"
GRADING_ENV = "NBGRADER_EXECUTION"
# Keras's own: which backend it loads, and where it keeps its config and downloads.
KERAS_BACKEND_ENV = "KERAS_BACKEND"
KERAS_HOME_ENV = "KERAS_HOME"
COLAB_DRIVE = Path("/content/drive/MyDrive")

IMAGE_SIZE = 64
# Grading mode: at most this many images per part, and this many epochs.
FAST_LIMITS = {"train": 192, "val": 64, "test": 96}
FAST_EPOCHS = 2
# Below this much memory (Binder: 2 GB), small mode is the default.
LOW_MEMORY_GB = 3.0
# Small mode: at most this many images per part (about 60 MB decoded at 64 px), and this many epochs.
SMALL_LIMITS = {"train": 3000, "val": 600, "test": 1200}
SMALL_EPOCHS = 10
# What each mode trains on (at most so many images per part; None: all) and for how many epochs.
MODE_LIMITS = {"grading": FAST_LIMITS, "small": SMALL_LIMITS, "full": None}
MODE_EPOCHS = {"grading": FAST_EPOCHS, "small": SMALL_EPOCHS, "full": None}


def truthy(value):
    """True for 1/true/yes/on (any case), False for empty, 0, false, no, off."""
    return str(value or "").strip().lower() not in ("", "0", "false", "no", "off")


def grading_mode():
    """``"validate"`` or ``"autograde"`` while nbgrader runs the notebook, else None."""
    return os.environ.get(GRADING_ENV) or None


class Mode(NamedTuple):
    """The mode in use (grading, small or full), what chose it in words (None: the machine's
    memory), and (what is wrong, what to do) when what was asked names no mode."""

    name: str
    why: str | None = None
    problem: tuple[str, str] | None = None

    @property
    def grading(self):
        return self.name == "grading"


def resolve_mode(asked=None, memory_gb=None):
    """The one answer to "which mode is on": ``asked`` (by a caller), else grading under nbgrader,
    else ``$MALARIA_LAB_MODE``, else grading with ``MALARIA_LAB_FAST=1`` (the variable's older
    name, still honoured here and nowhere else), else what the machine allows: small below
    LOW_MEMORY_GB of memory, else full (also when the memory is unknown). A wrong ``asked`` or
    ``$MALARIA_LAB_MODE`` comes back as ``problem``, with the machine's mode meanwhile."""
    machine = "small" if memory_gb is not None and memory_gb < LOW_MEMORY_GB else "full"
    if asked is not None:
        if asked in MODES:
            return Mode(asked, "asked for")
        return Mode(machine, None, (f"No mode {asked!r}.", f"Use one of {', '.join(MODES)}."))
    if grading_mode():
        return Mode("grading", f"nbgrader {grading_mode()}")
    env = (os.environ.get(MODE_ENV) or "").strip().lower()
    if env in MODES:
        return Mode(env, f"{MODE_ENV}={env}")
    problem = (f"{MODE_ENV}={env!r} is not one of the modes.", f"Set it to {', '.join(MODES)}, or unset it.") \
        if env else None
    if truthy(os.environ.get(FAST_ENV)):
        return Mode("grading", f"{FAST_ENV}=1", problem)
    return Mode(machine, None, problem)


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

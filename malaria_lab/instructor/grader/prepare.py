"""What a machine needs before it runs grading jobs: the course's fallbacks made (inside the
sandbox they are read-only), and the paths and environment a sandboxed process gets here.

Each worker works this out for itself, once, so a job can run on any machine of a cluster that
has the course package installed: nothing machine-specific travels with it.
"""

import fcntl
import functools
import os
from pathlib import Path

from ...course import fallbacks
from ...settings import DATA_ENV, FALLBACKS_ENV, IMAGE_SIZE, KERAS_BACKEND_ENV, fallbacks_dir

# Grading-mode notebooks fall back on these; the mode nbgrader's runs always use.
MODE = "grading"


def warm_fallbacks(log=lambda _: None) -> Path:
    """Make (once per machine) the synthetic data, its fallback split and the fallback model that
    grading-mode notebooks use; returns the data folder. A lock keeps two workers from training
    the same fallback model at once."""
    root = fallbacks_dir()
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".warm.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        data = fallbacks.synthetic_data()
        fallbacks.split_rows(data)
        fallbacks.trained_dir(data, MODE, IMAGE_SIZE, log)
    return Path(data)


@functools.lru_cache(maxsize=1)
def _warmed():
    return warm_fallbacks()


def here(settings) -> tuple[list, dict]:
    """(read-only paths, environment) for a sandboxed process on this machine, worked out once
    per worker. ``settings``: what the instructor chose (threads per kernel, the Keras backend,
    a data set)."""
    data = _warmed()
    package = Path(__file__).resolve().parents[2]
    threads = str(settings.get("threads", 1))
    read_only = [str(package), str(fallbacks_dir().resolve()), str(data.resolve())]
    env = {FALLBACKS_ENV: str(fallbacks_dir().resolve()), "PYTHONPATH": str(package.parent),
           "OMP_NUM_THREADS": threads, "TF_NUM_INTRAOP_THREADS": threads, "TF_NUM_INTEROP_THREADS": "1",
           "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONDONTWRITEBYTECODE": "1",
           # The sandbox's user has no entry in /etc/passwd: who it is, for getpass and the like.
           "USER": "student", "LOGNAME": "student"}
    if settings.get("keras_backend"):
        env[KERAS_BACKEND_ENV] = settings["keras_backend"]
    if settings.get("data") and os.path.isdir(settings["data"]):
        env[DATA_ENV] = str(Path(settings["data"]).resolve())
        read_only.append(env[DATA_ENV])
    return read_only, env

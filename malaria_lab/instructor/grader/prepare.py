"""What a machine needs before it runs grading jobs: the course's fallbacks made (inside the
sandbox they are read-only), and the paths and environment a sandboxed kernel gets here.

Each worker works this out for itself, so a job can run on any machine of a cluster that has
the course package installed: nothing machine-specific travels with it.
"""

import fcntl
import os
import tempfile
from pathlib import Path

from ...course import fallbacks
from ...settings import DATA_ENV, FALLBACKS_ENV, fallbacks_dir


def warm_fallbacks(log=lambda _: None):
    """Make (once per machine) the synthetic data, its fallback split and the fallback model that
    grading-mode notebooks use; returns the data folder. A lock keeps two workers from training
    the same fallback model at once."""
    from ...course import workspace  # the fallback model imports Keras: only where one must be trained

    root = fallbacks_dir()
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".warm.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        with tempfile.TemporaryDirectory(prefix="malaria-lab-warm-") as work:
            course = workspace.Course("06_evaluate", work=work, fast=True, log=log)
            data = course.data(quiet=True)
            fallbacks.split_rows(data)
            fallbacks.trained_dir(course)
    return Path(data)


def here(settings):
    """(read-only paths, environment) for a sandboxed kernel on this machine. ``settings``: what
    the instructor chose (threads per kernel, the Keras backend, a data set)."""
    data = warm_fallbacks()
    package = Path(__file__).resolve().parents[2]
    read_only = [str(package), str(fallbacks_dir().resolve()), str(data.resolve())]
    env = {FALLBACKS_ENV: str(fallbacks_dir().resolve()), "PYTHONPATH": str(package.parent),
           "OMP_NUM_THREADS": str(settings.get("threads", 1)),
           "TF_NUM_INTRAOP_THREADS": str(settings.get("threads", 1)), "TF_NUM_INTEROP_THREADS": "1"}
    if settings.get("keras_backend"):
        env["KERAS_BACKEND"] = settings["keras_backend"]
    if settings.get("data") and os.path.isdir(settings["data"]):
        env[DATA_ENV] = str(Path(settings["data"]).resolve())
        read_only.append(env[DATA_ENV])
    return read_only, env

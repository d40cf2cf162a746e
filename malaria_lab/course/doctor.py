"""The doctor: what the course needs, checked, with what to do about each problem.

Python, Keras, the backend and its version, TensorFlow, GPU, memory, disk, the data set (present?
verified by ``malaria-lab download``?), the widgets and the course's mode. ``%malaria_doctor``
prints :func:`doctor`'s report; as data it is :meth:`Report.to_dict`.
"""

import platform
import shutil
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from .._version import __version__
from ..backend import devices, gpu_names, requested
from ..data import locate
from ..data.download import NIH_SIZE
from ..data.extract import completed
from ..data.layout import find_images
from ..data.synth import MANIFEST
from ..errors import MalariaLabError
from ..machine import FRAMEWORKS, GB, installed, memory, memory_gb
from ..quiet import import_keras
from ..settings import (
    DATA_ENV,
    LOW_MEMORY_GB,
    local_images_dir,
    resolve_mode,
    work_dir,
)

MIN_PYTHON = (3, 10)
MIN_KERAS = (3, 3)
MARKS = {"ok": "ok", "info": "--", "warn": "!!", "fail": "XX"}


@dataclass
class Check:
    """One line of the doctor's report: ``status`` is ok, info, warn or fail."""

    name: str
    status: str
    detail: str
    fix: str = ""


@dataclass
class Report:
    """The doctor's findings, in order; ``ok`` is False when anything failed."""

    checks: list

    @property
    def ok(self):
        return all(c.status != "fail" for c in self.checks)

    @property
    def problems(self):
        return [c for c in self.checks if c.status in ("warn", "fail")]

    def __getitem__(self, name):
        for check in self.checks:
            if check.name == name:
                return check
        raise KeyError(name)

    def to_dict(self):
        return {"ok": self.ok, "checks": [asdict(c) for c in self.checks]}

    def text(self):
        width = max(len(c.name) for c in self.checks)
        lines = ["malaria-lab doctor"]
        for c in self.checks:
            lines.append(f"  [{MARKS[c.status]}] {c.name:<{width}}  {c.detail}")
            if c.fix:
                lines.append(f"       {'':<{width}}  -> {c.fix}")
        n = len(self.problems)
        lines.append("  All good." if not n else f"  {n} problem(s) found; what to do is after each '->'.")
        return "\n".join(lines)

    __str__ = text


def _version_tuple(text):
    parts = []
    for piece in str(text).split(".")[:3]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        if not digits:
            break
        parts.append(int(digits))
    return tuple(parts)


def check_python():
    version = platform.python_version()
    if sys.version_info[:2] < MIN_PYTHON:
        return Check("Python", "fail", version, "Use Python 3.10 or newer (Colab and Binder already do).")
    return Check("Python", "ok", f"{version} ({sys.executable})")


def check_keras():
    """Keras's version and backend; the backend is what Keras itself reports."""
    try:
        keras = import_keras()
    except MalariaLabError as err:  # an unknown or missing backend: it says what to do
        return Check("Keras", "fail", f"not loaded: {err.problem}", err.fix), None
    except Exception as err:  # not installed, or a broken backend: report, do not crash
        return Check("Keras", "fail", f"cannot import keras ({type(err).__name__}: {err})",
                     "pip install 'keras>=3.3' tensorflow, then restart the kernel."), None
    version, backend = keras.__version__, keras.config.backend()
    if _version_tuple(version) < MIN_KERAS:
        return Check("Keras", "fail", f"{version} (backend {backend})",
                     "pip install -U 'keras>=3.3', then restart the kernel."), backend
    return Check("Keras", "ok", f"{version}, backend {backend}"), backend


def check_backend(backend):
    """The framework Keras runs on: its version and the devices it sees."""
    names = FRAMEWORKS
    if backend is None:
        asked, source = requested()
        return Check("Backend", "fail", f"{asked} (from {source}), not loaded", "See the Keras line above.")
    found = installed(*names.get(backend, (backend or "",)))
    if found is None:
        return Check("Backend", "fail", f"{backend} is not installed",
                     f"pip install {names.get(backend, (backend,))[0]}, or set KERAS_BACKEND to an installed one.")
    seen = ", ".join(f"{kind} ({name})" if name else kind for kind, name in devices(backend)) or "unknown"
    jaxlib = installed("jaxlib") if backend == "jax" else None  # jax needs a jaxlib to match
    version = f"{found[1]} (jaxlib {jaxlib[1]})" if jaxlib else found[1]
    return Check("Backend", "ok", f"{found[0]} {version}; devices: {seen}")


def check_tensorflow(backend):
    found = installed("tensorflow", "tensorflow-cpu", "tensorflow-macos", "tf-nightly")
    if found:
        return Check("TensorFlow", "ok", f"{found[1]}" + ("" if backend == "tensorflow" else " (not in use)"))
    if backend == "tensorflow":
        return Check("TensorFlow", "fail", "not installed", "pip install tensorflow, then restart the kernel.")
    return Check("TensorFlow", "info", f"not installed (not needed with the {backend} backend)")


def check_gpu(backend):
    found = gpu_names(backend)
    if found:
        return Check("GPU", "ok", ", ".join(found))
    return Check("GPU", "info", "none: training runs on the CPU (fine for the course; full training "
                 "is slower; on Colab: Runtime > Change runtime type > GPU)")


def check_memory(total=None, available=None):
    if total is None and available is None:
        total, available = memory()
    if total is None:
        return Check("Memory", "info", "unknown on this system")
    detail = f"{available / GB:.1f} GB free of {total / GB:.1f} GB" if available is not None else f"{total / GB:.1f} GB"
    small = min(v for v in (total, available) if v is not None) < LOW_MEMORY_GB * GB
    if small:
        return Check("Memory", "warn", detail + " (a Binder-sized machine)",
                     "The course picks small mode here by itself (or %malaria_mode small); keep images at "
                     "64 px, shut down other notebooks' kernels; for full training use Colab or a bigger "
                     "machine.")
    return Check("Memory", "ok", detail)


def _data_candidates():
    """Where a data set may be (:func:`malaria_lab.data.locate.places`): $MALARIA_LAB_DATA, ./data,
    the course work folder's data/, and where images from Drive are unpacked (Colab)."""
    return locate.places(here=True, work_data=work_dir() / "data", unpacked=local_images_dir())


def check_data():
    """Whether a data set is present, and whether ``malaria-lab download`` verified it."""
    looked = []
    for where, path, named in _data_candidates():
        if not path.exists():
            if named:
                return Check("Data set", "fail", f"${DATA_ENV} is {path}, which does not exist",
                             f"Point ${DATA_ENV} at the folder holding cell_images/, or unset it.")
            looked.append(str(path))
            continue
        folder = locate.cell_images(path)
        marker = completed(folder) if folder.is_dir() else None
        if marker is not None:
            return Check("Data set", "ok", f"verified: {marker['total']} images from "
                         f"{marker.get('source', 'a download')} in {folder} ({where})")
        try:
            n = len(find_images(folder))
        except MalariaLabError:
            if named:
                return Check("Data set", "fail", f"${DATA_ENV} is {path}, which holds no cell images",
                             f"Point ${DATA_ENV} at the folder holding cell_images/, or unset it.")
            looked.append(str(path))
            continue
        if (folder / MANIFEST).is_file():
            return Check("Data set", "info", f"synthetic: {n} images in {folder} ({where})",
                         "Fine for practice; for the real NIH images run "
                         f"`malaria-lab download --dest {work_dir() / 'data'}` (or stage 1).")
        return Check("Data set", "warn", f"{n} images in {folder} ({where}), not verified "
                     "(not made by `malaria-lab download`, or incomplete)",
                     f"`malaria-lab scan {folder}` reports on it; for a verified copy run "
                     f"`malaria-lab download --dest DIR` into a new folder.")
    return Check("Data set", "warn", "no data set found (looked in " + ", ".join(looked) + "); "
                 "the course uses its embedded synthetic one",
                 f"Run stage 1, or `malaria-lab download --dest {work_dir() / 'data'}` "
                 "(about 350 MB), or set $MALARIA_LAB_DATA to a folder holding cell_images/.")


def check_disk():
    folder = work_dir()
    probe = next((p for p in (folder, *folder.parents) if p.exists()), Path("."))
    free = shutil.disk_usage(probe).free
    need = 3 * NIH_SIZE  # the zip, the extracted images, and the decoded-image cache
    detail = f"{free / GB:.1f} GB free at {probe}"
    if free < need:
        return Check("Disk", "warn", detail, f"The real data set needs about {need / GB:.1f} GB: "
                     "free some space, or set $MALARIA_LAB_WORK to a roomier folder.")
    return Check("Disk", "ok", detail)


def check_widgets():
    found = installed("ipywidgets")
    if found is None or _version_tuple(found[1]) < (8,):
        return Check("Widgets", "warn", "ipywidgets 8 is not installed" if found is None else f"ipywidgets {found[1]}",
                     "pip install 'ipywidgets>=8' (the widgets still leave pictures without it).")
    return Check("Widgets", "ok", f"ipywidgets {found[1]}")


def check_mode():
    mode = resolve_mode(memory_gb=memory_gb())
    if mode.problem:
        return Check("Course", "fail", *mode.problem)
    why = mode.why or "this machine's memory"
    return Check("Course", "info",
                 f"malaria_lab {__version__}, {mode.name} mode (from {why}), work folder {work_dir()}")


def doctor():
    """Check what the course needs and return a :class:`Report` (print it for people)."""
    keras_check, backend = check_keras()
    return Report([
        check_python(), keras_check, check_backend(backend), check_tensorflow(backend),
        check_gpu(backend), check_memory(), check_disk(), check_data(), check_widgets(), check_mode(),
    ])

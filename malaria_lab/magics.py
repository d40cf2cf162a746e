"""The IPython extension: ``%load_ext malaria_lab`` quiets TensorFlow, turns on inline plots and
adds the course's magics.

* ``%malaria_doctor``: Python, Keras, backend and TensorFlow versions, GPU, memory, disk, and
  whether the data set is present and verified, with what to do about each problem. The same
  report, as data, is :func:`doctor` (for ``malaria-lab doctor``).
* ``%malaria_fast [on|off]``: show or switch fast mode (small subsets, few epochs), for
  Binder-sized machines.
"""

import os
import platform
import shutil
import sys
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path

MIN_PYTHON = (3, 10)
MIN_KERAS = (3, 3)
LOW_MEMORY_GB = 3.0
GB = 1024**3
MAGICS = ("malaria_doctor", "malaria_fast")
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


def _installed(*names):
    """(distribution name, version) of the first of ``names`` that is installed, else None."""
    for name in names:
        try:
            return name, metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return None


def check_python():
    version = platform.python_version()
    if sys.version_info[:2] < MIN_PYTHON:
        return Check("Python", "fail", version, "Use Python 3.10 or newer (Colab and Binder already do).")
    return Check("Python", "ok", f"{version} ({sys.executable})")


def check_keras():
    """Keras's version and backend; the backend is what Keras itself reports."""
    try:
        from .quiet import import_keras

        keras = import_keras()
    except Exception as err:  # not installed, or a broken backend: report, do not crash
        return Check("Keras", "fail", f"cannot import keras ({type(err).__name__}: {err})",
                     "pip install 'keras>=3.3' tensorflow, then restart the kernel."), None
    version, backend = keras.__version__, keras.config.backend()
    if _version_tuple(version) < MIN_KERAS:
        return Check("Keras", "fail", f"{version} (backend {backend})",
                     "pip install -U 'keras>=3.3', then restart the kernel."), backend
    return Check("Keras", "ok", f"{version}, backend {backend}"), backend


def check_backend(backend):
    """The version of the framework Keras runs on."""
    names = {"tensorflow": ("tensorflow", "tensorflow-cpu", "tensorflow-macos", "tf-nightly"),
             "torch": ("torch",), "jax": ("jax",), "numpy": ("numpy",)}
    found = _installed(*names.get(backend, (backend or "",)))
    if backend is None:
        return Check("Backend", "fail", "unknown (Keras did not load)", "Fix Keras first (see above).")
    if found is None:
        return Check("Backend", "fail", f"{backend} is not installed",
                     f"pip install {names.get(backend, (backend,))[0]}, or set KERAS_BACKEND to an installed one.")
    return Check("Backend", "ok", f"{found[0]} {found[1]}")


def check_tensorflow(backend):
    found = _installed("tensorflow", "tensorflow-cpu", "tensorflow-macos", "tf-nightly")
    if found:
        return Check("TensorFlow", "ok", f"{found[1]}" + ("" if backend == "tensorflow" else " (not in use)"))
    if backend == "tensorflow":
        return Check("TensorFlow", "fail", "not installed", "pip install tensorflow, then restart the kernel.")
    return Check("TensorFlow", "info", f"not installed (not needed with the {backend} backend)")


def gpus(backend):
    """Names of the GPUs the Keras backend can use (empty when none)."""
    try:
        if backend == "tensorflow":
            import tensorflow as tf

            return [d.name for d in tf.config.list_physical_devices("GPU")]
        if backend == "torch":
            import torch

            return [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
        if backend == "jax":
            import jax

            return [str(d) for d in jax.devices() if d.platform != "cpu"]
    except Exception:
        return []
    return []


def check_gpu(backend):
    found = gpus(backend)
    if found:
        return Check("GPU", "ok", ", ".join(found))
    return Check("GPU", "info", "none: training runs on the CPU (fine for the course; full training "
                 "is slower; on Colab: Runtime > Change runtime type > GPU)")


def _read_number(path):
    try:
        text = Path(path).read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def memory(proc="/proc/meminfo", cgroup="/sys/fs/cgroup", env=None):
    """(total, available) bytes for this process, or (None, None) where that cannot be told.

    Containers (Binder, Colab) cap memory below what the host reports, so a cgroup limit or
    Binder's ``MEM_LIMIT`` wins over /proc/meminfo when it is smaller.
    """
    env = os.environ if env is None else env
    total = available = None
    try:
        info = {}
        for line in Path(proc).read_text().splitlines():
            key, _, value = line.partition(":")
            info[key.strip()] = int(value.split()[0]) * 1024
        total, available = info.get("MemTotal"), info.get("MemAvailable", info.get("MemFree"))
    except (OSError, ValueError, IndexError):
        try:
            total = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
            available = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):
            pass
    cg = Path(cgroup)
    limits = [
        (_read_number(cg / "memory.max"), _read_number(cg / "memory.current")),
        (_read_number(cg / "memory" / "memory.limit_in_bytes"), _read_number(cg / "memory" / "memory.usage_in_bytes")),
        (_read_number_text(env.get("MEM_LIMIT")), None),
    ]
    for limit, used in limits:
        if not limit or (total and limit >= total):
            continue
        total = limit
        free = limit - used if used is not None else limit
        available = free if available is None else min(available, free)
    return total, available


def _read_number_text(text):
    text = str(text or "").strip()
    return int(text) if text.isdigit() else None


def check_memory(total=None, available=None):
    if total is None and available is None:
        total, available = memory()
    if total is None:
        return Check("Memory", "info", "unknown on this system")
    detail = f"{available / GB:.1f} GB free of {total / GB:.1f} GB" if available is not None else f"{total / GB:.1f} GB"
    small = min(v for v in (total, available) if v is not None) < LOW_MEMORY_GB * GB
    if small:
        return Check("Memory", "warn", detail + " (a Binder-sized machine)",
                     "Turn on fast mode (%malaria_fast on, or MALARIA_LAB_FAST=1), keep images at 64 px, "
                     "shut down other notebooks' kernels; for full training use Colab or a bigger machine.")
    return Check("Memory", "ok", detail)


def _data_candidates():
    """Where a data set may be: $MALARIA_LAB_DATA, ./data, then the course work folder's data/."""
    from .grading import DATA_ENV, local_images_dir, work_dir

    out = []
    if os.environ.get(DATA_ENV):
        out.append((f"${DATA_ENV}", Path(os.environ[DATA_ENV]).expanduser()))
    out.append(("./data", Path.cwd() / "data"))
    out.append(("work folder", work_dir() / "data"))
    # With the work folder on Drive (Colab), the images are unpacked on the machine instead.
    local = local_images_dir()
    if local != work_dir() / "data":
        out.append(("unpacked from Drive", local))
    return out


def _cell_images(path):
    return path if path.name == "cell_images" or not (path / "cell_images").is_dir() else path / "cell_images"


def check_data():
    """Whether a data set is present, and whether ``malaria-lab download`` verified it."""
    from .data.extract import completed
    from .data.layout import find_images
    from .data.synth import MANIFEST
    from .errors import MalariaLabError
    from .grading import DATA_ENV, work_dir

    looked = []
    for where, path in _data_candidates():
        if not path.exists():
            if where.startswith("$"):
                return Check("Data set", "fail", f"${DATA_ENV} is {path}, which does not exist",
                             f"Point ${DATA_ENV} at the folder holding cell_images/, or unset it.")
            looked.append(str(path))
            continue
        folder = _cell_images(path)
        marker = completed(folder) if folder.is_dir() else None
        if marker is not None:
            return Check("Data set", "ok", f"verified: {marker['total']} images from "
                         f"{marker.get('source', 'a download')} in {folder} ({where})")
        try:
            n = len(find_images(folder))
        except MalariaLabError:
            if where.startswith("$"):
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
    from .data.download import NIH_SIZE
    from .grading import work_dir

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
    found = _installed("ipywidgets")
    if found is None or _version_tuple(found[1]) < (8,):
        return Check("Widgets", "warn", "ipywidgets 8 is not installed" if found is None else f"ipywidgets {found[1]}",
                     "pip install 'ipywidgets>=8' (the widgets still leave pictures without it).")
    return Check("Widgets", "ok", f"ipywidgets {found[1]}")


def check_mode():
    from .grading import FAST_ENV, fast_mode, work_dir

    mode = f"fast ({FAST_ENV}=1 or nbgrader)" if fast_mode() else "full"
    return Check("Course", "info", f"malaria_lab {_package_version()}, {mode} mode, work folder {work_dir()}")


def _package_version():
    from . import __version__

    return __version__


def doctor():
    """Check what the course needs and return a :class:`Report` (print it for people)."""
    keras_check, backend = check_keras()
    return Report([
        check_python(), keras_check, check_backend(backend), check_tensorflow(backend),
        check_gpu(backend), check_memory(), check_disk(), check_data(), check_widgets(), check_mode(),
    ])


def _magics_class():
    from IPython.core.magic import Magics, line_magic, magics_class

    @magics_class
    class CourseMagics(Magics):
        """The course's line magics."""

        @line_magic
        def malaria_doctor(self, line=""):
            """Check Python, Keras, the backend, GPU, memory and the data set; say what to fix."""
            print(doctor().text())

        @line_magic
        def malaria_fast(self, line=""):
            """``%malaria_fast on`` / ``off``: small subsets and few epochs (for small machines)."""
            from .grading import FAST_ENV, fast_mode

            word = line.strip().lower()
            if word in ("on", "1", "true", "yes"):
                os.environ[FAST_ENV] = "1"
            elif word in ("off", "0", "false", "no"):
                os.environ[FAST_ENV] = "0"
            elif word:
                print("Use %malaria_fast on, %malaria_fast off, or %malaria_fast to see the mode.")
                return
            print(f"Fast mode is {'on' if fast_mode() else 'off'}.")

    return CourseMagics


def load_ipython_extension(ipython):
    """Quiet TensorFlow, inline plots (in a kernel), and register the magics."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    try:
        from .quiet import import_keras

        import_keras()
    except Exception:  # %malaria_doctor will say what is wrong
        pass
    if getattr(ipython, "kernel", None) is not None:
        ipython.run_line_magic("matplotlib", "inline")
    ipython.register_magics(_magics_class())


def unload_ipython_extension(ipython):
    """Remove the magics again."""
    line = ipython.magics_manager.magics.get("line", {})
    for name in MAGICS:
        line.pop(name, None)

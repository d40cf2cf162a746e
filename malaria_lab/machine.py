"""Facts about this machine: memory (container limits included), CPU, GPUs, versions.

Read, never changed; the doctor, the precision choice, the course's memory limits and the
reference run's report all ask here.
"""

import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from ._version import __version__
from .backend import gpu_names

GB = 1024**3
_BFLOAT16_FLAGS = ("avx512_bf16", "amx_bf16")
FRAMEWORKS = {"tensorflow": ("tensorflow", "tensorflow-cpu", "tensorflow-macos", "tf-nightly"),
              "torch": ("torch",), "jax": ("jax",), "numpy": ("numpy",)}


def _read_number(path):
    try:
        text = Path(path).read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def _number(text):
    text = str(text or "").strip()
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
        (_number(env.get("MEM_LIMIT")), None),
    ]
    for limit, used in limits:
        if not limit or (total and limit >= total):
            continue
        total = limit
        free = limit - used if used is not None else limit
        available = free if available is None else min(available, free)
    return total, available


def memory_gb():
    """This machine's memory in GB, container limits included; None where unknown."""
    total, _ = memory()
    return None if total is None else total / GB


def cpu_model():
    """The CPU's marketing name, as the OS reports it."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith(("model name", "hardware")):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    if sys.platform == "darwin":
        try:
            return subprocess.run(["sysctl", "-n", "machdep.cpu.brand_string"], capture_output=True,
                                  text=True, timeout=10).stdout.strip() or platform.machine()
        except (OSError, subprocess.SubprocessError):
            pass
    return platform.processor() or platform.machine() or "unknown CPU"


def cpu_has_bfloat16(cpuinfo="/proc/cpuinfo"):
    """True when the CPU lists native bfloat16 instructions (Linux; False where it cannot tell)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        text = Path(cpuinfo).read_text()
    except OSError:
        return False
    flags = set()
    for line in text.splitlines():
        if line.startswith("flags"):
            flags.update(line.split(":", 1)[1].split())
    return any(flag in flags for flag in _BFLOAT16_FLAGS)


def installed(*names):
    """(distribution name, version) of the first of ``names`` that is installed, else None."""
    for name in names:
        try:
            return name, metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return None


def versions(keras_version=None):
    """Versions of Python, Keras, the frameworks and malaria_lab that are installed."""
    found = {"python": platform.python_version()}
    if keras_version:
        found["keras"] = keras_version
    found["malaria_lab"] = __version__
    for dist in ("tensorflow", "tensorflow-cpu", "torch", "jax"):
        got = installed(dist)
        if got:
            found[dist] = got[1]
    return found


def device():
    """What training runs on here: CPU, the GPUs the Keras backend sees, and versions."""
    from .quiet import import_keras  # loads Keras and its backend: only when asked

    keras = import_keras()
    backend = keras.backend.backend()
    gpus = gpu_names(backend)
    return {"backend": backend, "cpu": cpu_model(), "cpu_count": os.cpu_count(), "gpus": gpus,
            "used": f"GPU: {gpus[0]}" if gpus else f"CPU: {cpu_model()}",
            "versions": versions(keras.__version__), "platform": platform.platform()}

"""The operating system's sandbox around a student's kernel: bubblewrap, and resource limits.

Inside: the filesystem read-only and reduced to what Python and the course need (the system's
``/usr``, ``/lib``, ``/etc``, this Python and its packages, the course package, the course's
fallback data), the job's own folder the only place to write (with a private ``/tmp``); the
course folder, the gradebook, other students' files and the instructor's home are not there; no
network (a network namespace of its own); new PID, IPC and UTS namespaces; no capabilities. The
kernel talks to the grader over Unix sockets in the job's folder (ZeroMQ's ipc transport).

Limits (set by :mod:`.launch` before the kernel starts, and watched from outside by
:class:`.kernel.Kernel`): memory per process (``RLIMIT_DATA``) and for the whole tree, processes,
file size, open files, CPU seconds, and wall time per cell and per notebook.
"""

import os
import shutil
import site
import subprocess
import sys
import sysconfig
from dataclasses import asdict, dataclass
from pathlib import Path

from ...errors import MalariaLabError

SYSTEM_PATHS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/etc")
# TensorFlow and NumPy read the CPU's topology here.
OPTIONAL_PATHS = ("/sys/devices/system/cpu", "/sys/fs/cgroup")
BWRAP_FIX = ("Install bubblewrap (Debian/Ubuntu: apt-get install bubblewrap) on a Linux machine that allows "
             "unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1), or grade with "
             "--no-sandbox on a machine where running students' code with your rights is acceptable.")


@dataclass(frozen=True)
class Limits:
    """What one job's kernel may use."""
    memory_gb: float = 3.0
    processes: int = 256
    file_mb: int = 1024
    open_files: int = 4096
    cell_seconds: float = 120.0
    notebook_seconds: float = 900.0

    def to_dict(self):
        return asdict(self)


def bwrap():
    """The bubblewrap program, or a clear error saying how to get it."""
    path = shutil.which("bwrap")
    if path is None or not sys.platform.startswith("linux"):
        where = "this system is not Linux" if not sys.platform.startswith("linux") else "bwrap is not installed"
        raise MalariaLabError(f"Cannot sandbox students' code: {where}.", BWRAP_FIX)
    done = subprocess.run([path, "--ro-bind", "/", "/", "--unshare-all", "--die-with-parent", "true"],
                          capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        why = " ".join(done.stderr.split())[:200] or f"exit status {done.returncode}"
        raise MalariaLabError(f"Cannot sandbox students' code: bubblewrap does not run here ({why}).", BWRAP_FIX)
    return path


def python_paths():
    """What this Python needs to run: its prefixes (a virtual environment and the Python it was made
    from) and where its packages are."""
    paths = {sys.prefix, sys.exec_prefix, sys.base_prefix, sys.base_exec_prefix,
             str(Path(sys.executable).resolve().parent.parent)}
    paths.update(sysconfig.get_paths().values())
    paths.update(site.getsitepackages())
    return _outermost(p for p in paths if p and os.path.exists(p))


def _outermost(paths):
    """The paths not inside another one of them."""
    kept = []
    for path in sorted({str(Path(p).resolve()) for p in paths}, key=len):
        if not any(path == k or path.startswith(k.rstrip("/") + "/") for k in kept):
            kept.append(path)
    return kept


def argv(job_dir, command, read_only=(), env=None, program=None):
    """The bwrap command line that runs ``command`` (a list) in the sandbox for ``job_dir``."""
    program = program or bwrap()
    # A private /tmp first: the read-only paths and the job's folder may lie under /tmp.
    args = [program, "--die-with-parent", "--new-session", "--unshare-all", "--cap-drop", "ALL",
            "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]
    for path in SYSTEM_PATHS:
        if os.path.lexists(path):
            args += ["--ro-bind", path, path] if not os.path.islink(path) else ["--symlink", os.readlink(path), path]
    for path in OPTIONAL_PATHS:
        args += ["--ro-bind-try", path, path]
    for path in _outermost([*python_paths(), *read_only]):
        if not any(path == s or path.startswith(s + "/") for s in SYSTEM_PATHS):
            args += ["--ro-bind", path, path]
    job = str(Path(job_dir).resolve())
    args += ["--bind", job, job, "--chdir", job, "--clearenv"]
    for key, value in sorted((env or {}).items()):
        args += ["--setenv", key, str(value)]
    return args + ["--", *command]

"""The operating system's sandbox around a student's kernel and around the checker: bubblewrap,
and what each may see.

Inside: the filesystem read-only and reduced to what Python and the course need (the system's
``/usr``, ``/lib``, ``/etc``, this Python and its packages, the course package, the course's
fallback data); the only places to write are tmpfs folders of a set size that live and die with
the sandbox (``/tmp``, and the kernel's ``/job`` with its home, caches and work folder) and the
folders the grader binds in on purpose (:class:`Bind`): the checks' shared scratch folder, and
for a kernel the folder of its sockets. Nothing the grader itself reads or runs is there. No
network (a network namespace of its own); new PID, IPC, UTS and cgroup namespaces; no
capabilities; the sandbox dies with its parent.

Limits are set by :mod:`.launch` before the sandbox starts (rlimits, the job's cgroup) and
watched from outside by :class:`.kernel.Kernel`.
"""

import os
import shutil
import site
import subprocess
import sys
import sysconfig
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from ...errors import MalariaLabError

SYSTEM_PATHS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/etc")
# TensorFlow and NumPy read the CPU's topology here, and their CPU quota under CGROUPS (read-only).
CPU_TOPOLOGY = "/sys/devices/system/cpu"
CGROUPS = "/sys/fs/cgroup"
JOB = "/job"
CHECKS = "/checks"
USER_BASE = 1_000_000_000
BWRAP_FIX = ("Install bubblewrap (Debian/Ubuntu: apt-get install bubblewrap) on a Linux machine that allows "
             "unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1), or grade with "
             "--no-sandbox on a machine where running students' code with your rights is acceptable.")


# How long an interrupted cell or check call has to stop before its kernel is stopped.
INTERRUPT_GRACE = 10.0


@dataclass(frozen=True)
class Limits:
    """What one job may use."""
    memory_gb: float = 3.0
    processes: int = 256
    file_mb: int = 1024
    open_files: int = 4096
    cell_seconds: float = 120.0
    notebook_seconds: float = 900.0
    disk_mb: int = 1024  # each tmpfs folder of the job (counted as memory where cgroups apply)
    output_mb: float = 20.0  # the graded notebook's outputs, all cells together, metadata included

    def to_dict(self):
        return asdict(self)


@dataclass(frozen=True)
class Bind:
    """A folder of the grader's made visible inside the sandbox at ``inside``."""
    host: str
    inside: str
    writable: bool = False


def user():
    """The unprivileged user (uid = gid) this worker's sandboxes run as when the grader is root:
    one of its own per worker process, so that no two jobs share one; None otherwise."""
    return USER_BASE + os.getpid() if os.geteuid() == 0 else None


def hand_over(path, owner):
    """Give ``path`` (a folder or file the grader made for a sandbox) to the sandbox's user."""
    if owner is not None:
        os.chown(path, owner, owner, follow_symlinks=False)


def take_back(path, owner):
    """Make ``path`` (a folder handed over) the grader's again, closed to the sandbox's user: once a
    kernel's sockets are made, their folder (on the grader's disk) takes no file of the student's.
    Where the grader is not root (``owner`` None) the sandbox runs as the grader's own user, who
    could open it again: there the folder stays as it is (see INSTRUCTORS.md)."""
    if owner is not None:
        os.chown(path, os.geteuid(), os.getegid(), follow_symlinks=False)
        os.chmod(path, 0o700, follow_symlinks=False)


PROBE_TRIES = 3


def bwrap():
    """The bubblewrap program, or a clear error saying how to get it."""
    path = shutil.which("bwrap")
    if path is None or not sys.platform.startswith("linux"):
        where = "this system is not Linux" if not sys.platform.startswith("linux") else "bwrap is not installed"
        raise MalariaLabError(f"Cannot sandbox students' code: {where}.", BWRAP_FIX)
    # Binding / copies every mount, other jobs' scratch folders included: one that goes away
    # meanwhile fails a try (a race, not a machine without bubblewrap), so it is tried again.
    for _ in range(PROBE_TRIES):
        done = subprocess.run([path, "--ro-bind", "/", "/", "--unshare-all", "--die-with-parent", "true"],
                              capture_output=True, text=True, timeout=60)
        if done.returncode == 0:
            break
        time.sleep(0.2)
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


def argv(command, read_only=(), env=None, binds=(), job_folders=(), disk_mb=1024, program=None, group=None):
    """The bwrap command line that runs ``command`` (a list) in a sandbox: ``read_only`` paths,
    ``binds`` (:class:`Bind`), and when ``job_folders`` are named a tmpfs ``/job`` holding them
    (the working directory); ``/tmp`` is always a tmpfs of its own. With the job's cgroup
    ``group``, the sandbox sees that group as its whole cgroup tree, and no other job's."""
    program = program or bwrap()
    size = str(int(disk_mb) * 1024**2)
    # A private /tmp first: the read-only paths and the grader's binds may lie under /tmp.
    args = [program, "--die-with-parent", "--new-session", "--unshare-all", "--cap-drop", "ALL",
            "--proc", "/proc", "--dev", "/dev", "--size", size, "--tmpfs", "/tmp"]
    for path in SYSTEM_PATHS:
        if os.path.lexists(path):
            args += ["--ro-bind", path, path] if not os.path.islink(path) else ["--symlink", os.readlink(path), path]
    args += ["--ro-bind-try", CPU_TOPOLOGY, CPU_TOPOLOGY]
    views = group.views(CGROUPS) if group is not None else [(CGROUPS, CGROUPS)]
    for host, inside in views:
        args += ["--ro-bind-try", host, inside]
    for path in _outermost([*python_paths(), *read_only]):
        if not any(path == s or path.startswith(s + "/") for s in SYSTEM_PATHS):
            args += ["--ro-bind", path, path]
    if job_folders:
        args += ["--size", size, "--tmpfs", JOB]
        for folder in job_folders:
            args += ["--dir", f"{JOB}/{folder}"]
    for bind in binds:
        args += ["--bind" if bind.writable else "--ro-bind", bind.host, bind.inside]
    args += ["--chdir", JOB if job_folders else "/", "--clearenv"]
    for key, value in sorted((env or {}).items()):
        args += ["--setenv", key, str(value)]
    return args + ["--", *command]

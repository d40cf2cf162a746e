"""One grading job as one unit of the kernel's control groups: every process of the job (the
student's kernel and the checker, sandboxes included) in a cgroup of its own that caps memory
(tmpfs and shared memory count), the number of processes and the share of CPU.

The grader may make cgroups where it runs as root (cgroup v1 controllers, as on this kind of
machine) or where cgroup v2 is delegated to it; elsewhere :func:`make` says why not, and the
grader falls back on rlimits and its watchdog. :func:`describe` says which limits held, for the
summary.
"""

import errno
import os
import re
import secrets
import time
from pathlib import Path

from .watchdog import kill_until_gone

ROOT = Path("/sys/fs/cgroup")
V1 = ("memory", "pids", "cpu")
PERIOD_US = 100_000
# Threads count as tasks too: room for a kernel's threads above the processes a job may start
# (the watchdog stops a job's extra processes at ``limits.processes``; this is the hard cap).
THREADS = 64
REMOVE_SECONDS = 15
PREFIX = "malaria-lab-job-"
TAG = re.compile(r"[0-9a-f]{1,32}")


def _own_paths():
    """{controller: this process's cgroup path} from /proc/self/cgroup ("" for cgroup v2)."""
    out = {}
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return out
    for line in lines:
        _, names, path = line.split(":", 2)
        for name in names.split(",") if names else [""]:
            out[name] = path.lstrip("/")
    return out


def _write(path, value):
    with open(path, "w") as handle:
        handle.write(str(value))


class JobGroup:
    """The cgroup(s) of one job; ``procs`` are the files a process writes its pid to, to join."""

    def __init__(self, dirs, version):
        self.dirs = dirs  # {controller: Path}; for v2 one entry, ""
        self.version = version

    def views(self, root):
        """(the group's folder, where it shows under ``root``) for each controller: mounted so, a
        sandbox sees its own group as the root of its tree, as its cgroup namespace says."""
        if self.version == 2:
            return [(str(d), root) for d in self.dirs.values()]
        return [(str(d), f"{root}/{controller}") for controller, d in self.dirs.items()]

    @property
    def procs(self):
        return [str(d / "cgroup.procs") for d in self.dirs.values()]

    def memory_bytes(self):
        """Memory in use now (tmpfs and page cache of the job's files included), or None."""
        name = "memory.usage_in_bytes" if self.version == 1 else "memory.current"
        directory = self.dirs.get("memory" if self.version == 1 else "")
        try:
            return int((directory / name).read_text())
        except (OSError, ValueError, TypeError):
            return None

    def out_of_memory(self):
        """True when the kernel killed a process of the job for memory."""
        directory = self.dirs.get("memory" if self.version == 1 else "")
        name = "memory.oom_control" if self.version == 1 else "memory.events"
        try:
            text = (directory / name).read_text()
        except (OSError, TypeError):
            return False
        for line in text.splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill" and value.strip().isdigit() and int(value) > 0:
                return True
        return False

    def refused_tasks(self):
        """How many forks or threads of the job the cap on tasks has refused so far."""
        directory = self.dirs.get("pids" if self.version == 1 else "")
        try:
            text = (directory / "pids.events").read_text()
        except (OSError, TypeError):
            return 0
        for line in text.splitlines():
            key, _, value = line.partition(" ")
            if key == "max" and value.strip().isdigit():
                return int(value)
        return 0

    def pids(self):
        found = set()
        for directory in self.dirs.values():
            try:
                found.update(int(p) for p in (directory / "cgroup.procs").read_text().split())
            except (OSError, ValueError):
                continue
        return found

    def kill(self):
        """Kill every process of the job, however many it started (pids.max bounds them)."""
        return kill_until_gone(self.pids)

    def remove(self):
        """Kill what is left and remove the job's cgroups; True once all are gone. A cgroup whose
        last processes are still exiting is busy a moment (EBUSY): every one left is tried again,
        for a few seconds in all, so one slow group never leaves another."""
        deadline = time.monotonic() + REMOVE_SECONDS
        left = list(self.dirs.values())
        while True:
            self.kill()
            left = [d for d in left if not _removed(d)]
            if not left or time.monotonic() > deadline:
                return not left
            time.sleep(0.05)


def _removed(directory):
    try:
        directory.rmdir()
    except FileNotFoundError:
        return True
    except OSError:
        return False
    return True


def check_tag(tag) -> str:
    """``tag`` as the name of a job (a few hex digits or a process id), or ValueError."""
    if not TAG.fullmatch(str(tag)):
        raise ValueError(f"not a job name: {str(tag)[:40]!r}")
    return str(tag)


def remove_left_by(tag):
    """Remove the cgroups (and kill the processes) that job ``tag`` made and did not remove itself;
    returns those that could not be removed."""
    tag = check_tag(tag)
    dirs = {}
    for path in ROOT.glob(f"**/{PREFIX}{tag}-*"):  # every controller's tree at once
        if path.is_dir():
            dirs.setdefault(path.name, []).append(path)
    left = []
    for found in dirs.values():
        if not JobGroup({str(i): d for i, d in enumerate(found)}, 1).remove():
            left += [str(d) for d in found if d.exists()]
    return left


def make(limits, threads, tag=None):
    """(JobGroup, None) capping memory, processes and CPU for job ``tag`` (by default this
    process's id), or (None, why not)."""
    own = _own_paths()
    name = f"{PREFIX}{check_tag(tag or os.getpid())}-{secrets.token_hex(4)}"
    if (ROOT / "cgroup.controllers").is_file() and "" in own:
        return _make_v2(ROOT / own[""] / name, limits, threads)
    dirs = {}
    try:
        for controller in V1:
            base = ROOT / controller / own.get(controller, "")
            if not base.is_dir():
                base = ROOT / controller
            if not (base / "cgroup.procs").is_file():
                raise OSError(errno.ENOENT, f"no {controller} controller")
            dirs[controller] = base / name
            dirs[controller].mkdir()
        _write(dirs["memory"] / "memory.limit_in_bytes", int(limits.memory_gb * 1024**3))
        try:  # where swap is accounted, none of it either
            _write(dirs["memory"] / "memory.memsw.limit_in_bytes", int(limits.memory_gb * 1024**3))
        except OSError:
            pass
        _write(dirs["pids"] / "pids.max", int(limits.processes) + THREADS)
        _write(dirs["cpu"] / "cpu.cfs_period_us", PERIOD_US)
        _write(dirs["cpu"] / "cpu.cfs_quota_us", int(max(1, threads) * PERIOD_US))
    except OSError as err:
        JobGroup(dirs, 1).remove()
        return None, f"cgroup v1 not writable here ({err.strerror or err})"
    return JobGroup(dirs, 1), None


def _make_v2(path, limits, threads):
    try:
        path.mkdir()
    except OSError as err:
        return None, f"cgroup v2 not delegated to this user ({err.strerror or err})"
    group = JobGroup({"": path}, 2)
    try:
        _write(path / "memory.max", int(limits.memory_gb * 1024**3))
        _write(path / "memory.swap.max", 0)
        _write(path / "pids.max", int(limits.processes) + THREADS)
        _write(path / "cpu.max", f"{int(max(1, threads) * PERIOD_US)} {PERIOD_US}")
    except OSError as err:
        group.remove()
        return None, f"cgroup v2 controllers not enabled for this user ({err.strerror or err})"
    return group, None


def describe(group, why_not, limits, threads):
    """{limit: how it was enforced}, for the summary."""
    time_limits = (f"{limits.cell_seconds:g} s per cell, {limits.notebook_seconds:g} s per notebook, "
                   "checks included")
    if group is not None:
        how = f"cgroup v{group.version}, the kernel's and the checker's each"
        return {"memory": f"{limits.memory_gb:g} GB per job, {how} (tmpfs and shared memory included)",
                "processes": f"{limits.processes} per job, {how}",
                "cpu": f"{max(1, threads)} CPU(s) per job, {how}",
                "disk": "sized tmpfs folders (counted as memory)",
                "time": time_limits}
    return {"memory": f"{limits.memory_gb:g} GB per job, watched (process memory every 0.25 s; no cgroup: {why_not})",
            "processes": f"{limits.processes} per job, watched and RLIMIT_NPROC",
            "cpu": f"not shared out (no cgroup: {why_not}); RLIMIT_CPU per process",
            "disk": "sized tmpfs inside the sandbox; the checks' shared folder bounded per file (RLIMIT_FSIZE)",
            "time": time_limits}

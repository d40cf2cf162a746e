"""Start a sandboxed process under the job's limits: ``python -I -S launch.py LIMITS_JSON
COMMAND...`` joins the job's cgroups (the ``cgroups`` entry: files to write its pid to), sets
rlimits on itself, then becomes ``COMMAND`` (bwrap, or the process itself without a sandbox),
which inherits them.

It runs outside the sandbox, so it is started isolated (``-I``: no environment variables, user
site or current folder; ``-S``: no site-packages, so no ``.pth`` file anywhere runs) and imports
the standard library only (a test checks it)."""

import json
import os
import resource
import sys


def _set(name, value):
    limit = getattr(resource, name, None)
    if limit is None:
        return
    value = int(value)
    _, hard = resource.getrlimit(limit)
    if hard != resource.RLIM_INFINITY:
        value = min(value, hard)
    try:
        resource.setrlimit(limit, (value, value))
    except (ValueError, OSError):  # the system refuses this one: the watchdog still applies
        pass


def _tasks_of_this_user():
    """How many processes and threads this user runs now (RLIMIT_NPROC counts them all)."""
    uid, count = os.getuid(), 0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}").st_uid == uid:
                    count += len(os.listdir(f"/proc/{entry}/task"))
            except OSError:
                continue
    return count


def _join(procs_files):
    for path in procs_files:
        fd = os.open(path, os.O_WRONLY | os.O_NOFOLLOW)
        try:
            os.write(fd, str(os.getpid()).encode())
        finally:
            os.close(fd)


def main(argv):
    limits, command = json.loads(argv[0]), argv[1:]
    _join(limits.get("cgroups") or ())
    gb = 1024**3
    _set("RLIMIT_DATA", limits["memory_gb"] * gb)
    _set("RLIMIT_FSIZE", limits["file_mb"] * 1024**2)
    _set("RLIMIT_NOFILE", limits["open_files"])
    _set("RLIMIT_CORE", 0)
    _set("RLIMIT_CPU", limits["notebook_seconds"] * 4)
    _set("RLIMIT_NPROC", _tasks_of_this_user() + limits["processes"])
    os.execvp(command[0], command)


if __name__ == "__main__":
    main(sys.argv[1:])

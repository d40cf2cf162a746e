"""Start a student's kernel under resource limits: ``python -m malaria_lab.instructor.grader.launch
LIMITS_JSON COMMAND...`` sets the limits on itself, then becomes ``COMMAND`` (bwrap, or the
kernel itself without a sandbox), which inherits them. Standard library only: it runs before
anything of the course's is imported."""

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


def main(argv):
    limits, command = json.loads(argv[0]), argv[1:]
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

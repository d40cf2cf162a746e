"""Stand-ins for a grading job, run by the grader's worker processes in tests (importable by name,
as a forked worker needs them)."""

import os
import resource
import time


def echo_or_die(payload):
    """A result for most students; the worker process dies outright for "victim"."""
    if payload["student"] == "victim":
        os._exit(9)
    return {"record": {"student": payload["student"], "stage": payload["stage"], "status": "graded",
                       "seconds": 0.0}, "pid": os.getpid()}


def memory_cap(payload):
    """What the worker may allocate (RLIMIT_DATA), and whether a 4 GB buffer was refused."""
    try:
        bytearray(4 * 1024**3)
        refused = False
    except MemoryError:
        refused = True
    return {"record": {"student": payload["student"], "stage": payload["stage"], "status": "graded",
                       "seconds": 0.0}, "cap": resource.getrlimit(resource.RLIMIT_DATA)[0], "refused": refused}


def sleeper(payload):
    """A job that never ends (its worker must be stopped from outside)."""
    time.sleep(3600)


def leaves_its_job(payload):
    """A job whose own clean-up failed: its cgroups (where this process may make them) and its
    private folder are left behind, and the worker ends as usual."""
    import tempfile
    from pathlib import Path

    from malaria_lab.instructor.grader import cgroups, sandbox
    from malaria_lab.instructor.grader.job import PRIVATE_PREFIX

    group, _ = cgroups.make(sandbox.Limits(), 1, payload["job"])
    private = Path(tempfile.mkdtemp(prefix=f"{PRIVATE_PREFIX}{payload['job']}-"))
    (private / "checks").mkdir()
    return {"record": {"student": payload["student"], "stage": payload["stage"], "status": "graded",
                       "seconds": 0.0},
            "left": [str(d) for d in group.dirs.values()] if group else [], "private": str(private),
            "job": payload["job"], "pid": os.getpid()}

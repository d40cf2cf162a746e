"""Stand-ins for a grading job, run by the grader's worker processes in tests (importable by name,
as a forked worker needs them)."""

import os


def echo_or_die(payload):
    """A result for most students; the worker process dies outright for "victim"."""
    if payload["student"] == "victim":
        os._exit(9)
    return {"record": {"student": payload["student"], "stage": payload["stage"], "status": "graded",
                       "seconds": 0.0}, "pid": os.getpid()}

"""One grading job: one student's notebook for one stage, run in a sandboxed kernel, every
exercise graded by the trusted checks, the verdict written into the check cells.

:func:`grade_job` takes plain data and returns plain data (JSON-able), so the same job runs in a
local worker process or on a Dask cluster; it reads and writes nothing of the course's, only a
temporary folder of its own.
"""

import contextlib
import copy
import shutil
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import nbformat

from ...checks import load_stage
from ...checks.results import NOT_ATTEMPTED, NotAttempted, Result, Stopped
from .. import records
from . import merge, prepare
from .feedback import feedback_html
from .kernel import Kernel, KernelStopped
from .remote import RemoteNamespace
from .sandbox import Limits

MAX_RESTARTS = 2


def _now():
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _verdict_outputs(result):
    return [nbformat.from_dict({"output_type": "display_data", "metadata": {},
                                "data": {"text/html": result._repr_html_(), "text/plain": str(result)}})]


def _stopped_output(reason):
    return nbformat.from_dict({"output_type": "stream", "name": "stderr",
                               "text": f"Stopped by the grader: {reason}\n"})


def _kernel_env(job, machine_env):
    env = {"HOME": str(job / "home"), "NBGRADER_EXECUTION": "autograde", "TF_CPP_MIN_LOG_LEVEL": "3",
           "MALARIA_LAB_CACHE": str(job / "cache"), "PYTHONDONTWRITEBYTECODE": "1",
           "MPLCONFIGDIR": str(job / "home" / ".matplotlib"), "KERAS_HOME": str(job / "home" / ".keras"),
           "IPYTHONDIR": str(job / "home" / ".ipython"), "PATH": "/usr/local/bin:/usr/bin:/bin"}
    env.update(machine_env)
    return env


class _Run:
    """The state of one job while its notebook runs."""
    def __init__(self, payload, job):
        self.payload, self.job = payload, job
        self.limits = Limits(**payload["limits"])
        read_only, machine_env = prepare.here(payload.get("settings") or {})
        self.kernel = Kernel(job, self.limits, _kernel_env(job, machine_env), read_only,
                             sandboxed=payload["sandbox"])
        self.decl = load_stage(payload["stage"])
        self.done = []  # code cells that ran without being stopped, to replay after a restart
        self.problems, self.restarts = [], 0
        self.deadline = time.monotonic() + self.limits.notebook_seconds
        self.seconds = {"kernel": 0.0, "cells": 0.0, "checks": 0.0}
        self.slowest = []  # (seconds, what)

    def _timed(self, kind, what, start):
        took = time.perf_counter() - start
        self.seconds[kind] += took
        self.slowest = sorted(self.slowest + [(round(took, 2), what)], reverse=True)[:5]

    def _recover(self, reason):
        """After the kernel stopped: note why, start a new one and replay what had run."""
        self.problems.append(reason)
        if self.restarts >= MAX_RESTARTS:
            return False
        self.restarts += 1
        self.kernel.start()
        for source in self.done:
            try:
                self.kernel.run(source, self.limits.cell_seconds, "a replayed cell")
            except KernelStopped:
                return False
        return True

    def code(self, cell, label):
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise KernelStopped(f"the notebook ran past its {self.limits.notebook_seconds:g} s")
        start = time.perf_counter()
        try:
            cell.outputs, _ = self.kernel.run(cell.source, min(self.limits.cell_seconds, left), label)
            self.done.append(cell.source)
            self._timed("cells", label, start)
        except KernelStopped as err:
            cell.outputs = [_stopped_output(err.reason)]
            if not err.alive and not self._recover(err.reason):
                raise

    def check(self, cell, ex):
        start = time.perf_counter()
        with _temporary_dir(self.job / "checks"):
            try:
                result = ex.run(namespace=RemoteNamespace(self.kernel, ex.names), hidden=True)
            except (NotAttempted, Stopped) as err:
                status = NOT_ATTEMPTED if isinstance(err, NotAttempted) else "wrong"
                result = Result(ex.id, ex.title, status, f"Not graded: {err}", 0.0, ex.points)
        cell.outputs = _verdict_outputs(result)
        self._timed("checks", f"checks of {ex.id}", start)
        if self.kernel.km is None and not self._recover(f"the kernel stopped while {ex.id} was checked"):
            raise KernelStopped(self.problems[-1])
        return result


@contextlib.contextmanager
def _temporary_dir(path):
    """Checks make their test files where the sandbox sees them (the job's folder, same path)."""
    path.mkdir(exist_ok=True)
    before, tempfile.tempdir = tempfile.tempdir, str(path)
    try:
        yield
    finally:
        tempfile.tempdir = before


def _answers(cells):
    return {merge.grade_id(c)[:-7]: c.source for c in cells
            if (merge.grade_id(c) or "").endswith("_answer")}


def grade_job(payload):
    """Grade one submission; returns ``{"record": ..., "autograded": JSON, "feedback": HTML}``.

    ``payload``: student, stage, submission (notebook JSON), template (the release notebook
    JSON), limits (:class:`.sandbox.Limits` fields), sandbox (bool), settings (see
    :func:`.prepare.here`), fingerprint, submitted.
    """
    start = time.perf_counter()
    job = Path(tempfile.mkdtemp(prefix="malaria-lab-job-"))
    for sub in ("home", "cache", "work"):
        (job / sub).mkdir()
    decl = load_stage(payload["stage"])
    base = {"version": records.VERSION, "student": payload["student"], "stage": payload["stage"],
            "sandbox": bool(payload["sandbox"]), "fingerprint": payload["fingerprint"],
            "submitted": payload.get("submitted"), "max_score": decl.points, "feedback": None}
    try:
        try:
            submission = nbformat.reads(payload["submission"], as_version=4)
        except Exception as err:  # whatever the file holds: one line, not a traceback
            return _failed(base, f"the submitted file is not a notebook ({type(err).__name__})", start)
        template = nbformat.reads(payload["template"], as_version=4)
        cells, notes = merge.merge(submission, template)
        run = _Run(payload, job)
        results = {}
        try:
            began = time.perf_counter()
            run.kernel.start()
            run.seconds["kernel"] = time.perf_counter() - began
            for i, cell in enumerate(cells):
                if cell.cell_type != "code":
                    continue
                gid = merge.grade_id(cell) or ""
                if gid.endswith("_check") and gid[:-6] in decl.exercises:
                    results[gid[:-6]] = run.check(cell, decl[gid[:-6]])
                else:
                    run.code(cell, f"cell {gid or cell.get('id') or i + 1}")
        except KernelStopped as err:
            if err.reason not in run.problems:
                run.problems.append(err.reason)
        finally:
            run.kernel.shutdown()
        answers = _answers(cells)
        exercises = []
        for ex in decl:
            result = results.get(ex.id) or Result(
                ex.id, ex.title, NOT_ATTEMPTED, f"Not graded: {run.problems[-1] if run.problems else 'not run'}.",
                0.0, ex.points)
            exercises.append(dict(result.to_dict(), answer=answers.get(ex.id)))
        record = dict(base, status="graded", problem="; ".join(run.problems) or None, notes=notes,
                      exercises=exercises, score=round(sum(e["points"] for e in exercises), 6),
                      graded_at=_now(), seconds=round(time.perf_counter() - start, 2))
        autograded = copy.deepcopy(template)
        autograded.cells = cells
        began = time.perf_counter()
        page = feedback_html(autograded, record)
        timings = dict({k: round(v, 2) for k, v in run.seconds.items()}, slowest=run.slowest,
                       feedback=round(time.perf_counter() - began, 2))
        return {"record": record, "autograded": nbformat.writes(autograded), "feedback": page, "timings": timings}
    finally:
        shutil.rmtree(job, ignore_errors=True)


def _failed(base, problem, start):
    return {"record": dict(base, status="failed", problem=problem, notes=[], exercises=[], score=0.0,
                           graded_at=_now(), seconds=round(time.perf_counter() - start, 2)),
            "autograded": None, "feedback": None}

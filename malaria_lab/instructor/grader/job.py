"""One grading job: one student's notebook for one stage, run in a sandboxed kernel, every
exercise graded by the checks in a sandboxed checker (:mod:`.checker`), the verdict written into
the check cells.

:func:`grade_job` takes plain data and returns plain data (JSON-able), so the same job runs in a
local worker process or on a Dask cluster. It reads and writes nothing of the course's: its only
folder is a private one (mode 0700) that no sandbox sees; the sandboxes see only the parts of it
bound in on purpose (the kernel's sockets, its connection file read-only, the checks' scratch
folder). Where the grader may make cgroups (:mod:`.cgroups`), the kernel with all its children is
in one, and the checker in another with the same caps.
"""

import copy
import json
import os
import resource
import shutil
import subprocess
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import nbformat

from ...checks import load_stage
from ...checks.cell_ids import Role, exercise_of
from ...checks.results import NOT_ATTEMPTED, Result
from ...settings import CACHE_ENV, GRADING_ENV, KERAS_HOME_ENV
from .. import notebook_stage, records
from ..whole_text import whole
from . import cgroups, merge, prepare, sandbox
from .checker import Checker
from .feedback import feedback_html
from .inert import inert
from .kernel import Kernel, KernelStopped, launcher

MAX_RESTARTS = 2
# Held back from each check for every graded exercise after it (a quarter of the notebook's time at
# most): after a stop the kernel replays its cells and the checker imports Keras again, and the
# later exercises still get their turn.
LATER_CHECK_SECONDS = 20.0
MIN_TURN_SECONDS = 5.0
# The job's private folder: named for the worker, so the class can remove what a stopped worker left.
PRIVATE_PREFIX = cgroups.PREFIX  # a job's folder and its cgroups carry one name


def _now():
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _verdict_outputs(result):
    return [nbformat.from_dict({"output_type": "display_data", "metadata": {},
                                "data": {"text/html": result._repr_html_(), "text/plain": str(result)}})]


def _stopped_output(reason):
    return nbformat.from_dict({"output_type": "stream", "name": "stderr",
                               "text": f"Stopped by the grader: {reason}\n"})


def _kernel_env(home, machine_env):
    """The kernel's environment: its home, caches and work folder in ``home`` (``/job`` inside
    the sandbox), nbgrader's autograde mode."""
    env = {"HOME": f"{home}/home", GRADING_ENV: "autograde", CACHE_ENV: f"{home}/cache",
           "MPLCONFIGDIR": f"{home}/home/.matplotlib", KERAS_HOME_ENV: f"{home}/home/.keras",
           "IPYTHONDIR": f"{home}/home/.ipython", "TMPDIR": "/tmp", "PATH": "/usr/local/bin:/usr/bin:/bin"}
    env.update(machine_env)
    return env


def uses_keras(decl) -> bool:
    """Whether a stage's checks handle Keras objects (its notebook imports Keras)."""
    return "import keras" in decl.prelude


class _Run:
    """The state of one job while its notebook runs."""

    def __init__(self, payload, private):
        self.limits = sandbox.Limits(**payload["limits"])
        sandboxed = payload["sandbox"]
        settings = payload.get("settings") or {}
        read_only, machine_env = payload.get("machine") or prepare.here(settings)
        threads = int(settings.get("threads", 1))
        # The kernel and the checker each in a cgroup of its own: what the student's processes take
        # never starves the checks, and a checker that runs out of memory never takes the kernel.
        tag = tag_of(payload)
        self.group, why_not = cgroups.make(self.limits, threads, tag) if sandboxed else (None, "not sandboxed")
        self.checker_group = cgroups.make(self.limits, threads, tag)[0] if self.group is not None else None
        self.enforced = cgroups.describe(self.group, why_not, self.limits, threads)
        self.kernel = self.checker = None
        self.mounted = False
        try:
            self._set_up(payload, private, sandboxed, read_only, machine_env)
        except BaseException:
            self.close()  # the job's cgroups and mount never outlive a job that could not start
            raise

    def _set_up(self, payload, private, sandboxed, read_only, machine_env):
        scratch = self.scratch = private / "checks"
        scratch.mkdir(mode=0o700)
        owner = sandbox.user() if sandboxed else None
        self.mounted = sandboxed and _mount_tmpfs(scratch, self.limits.disk_mb, owner)
        sandbox.hand_over(scratch, owner)
        if self.mounted:
            self.enforced["disk"] = "sized tmpfs folders (counted as memory), the checks' folder included"
        if sandboxed:
            home, binds = sandbox.JOB, [sandbox.Bind(str(scratch), sandbox.CHECKS, writable=True)]
        else:
            home, binds = str(private / "job"), []
            for sub in ("home", "cache", "work"):
                (private / "job" / sub).mkdir(parents=True)
        self.kernel = Kernel(private, self.limits, _kernel_env(home, machine_env), read_only,
                             sandboxed=sandboxed, group=self.group, binds=binds)
        decl = load_stage(payload["stage"])
        self.checker = Checker(payload["stage"], uses_keras(decl), launcher(self.limits, self.checker_group, owner),
                               read_only, machine_env, scratch, sandboxed, group=self.checker_group)
        self.done = []  # code cells that ran without being stopped, to replay after a restart
        self.problems, self.restarts = [], 0
        self.deadline = time.monotonic() + self.limits.notebook_seconds

    def _recover(self, reason):
        """After the kernel stopped: note why, start a new one and replay what had run."""
        self.problems.append(reason)
        if self.restarts >= MAX_RESTARTS:
            return False
        self.restarts += 1
        if self.group is not None:  # nothing of the stopped kernel may hold the job's memory or tasks
            self.group.kill()
        _empty(self.scratch)  # nor leave files for the checks
        try:
            self.kernel.start()
            for source in self.done:
                self.kernel.run(source, min(self.limits.cell_seconds, self._left()), "a replayed cell")
        except KernelStopped as err:
            if err.reason not in self.problems:
                self.problems.append(err.reason)
            return False
        return True

    def _left(self):
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise KernelStopped(f"the notebook ran past its {self.limits.notebook_seconds:g} s")
        return left

    def _notices(self):
        """What the watchdog did without stopping the kernel (say, stopped extra processes)."""
        while self.kernel.notices:
            notice = self.kernel.notices.pop(0)
            if notice not in self.problems:
                self.problems.append(notice)

    def _budget(self, later):
        """The notebook's time left, less what the ``later`` graded exercises are kept (and at
        least a few seconds, while any are left)."""
        left = self._left()
        kept = min(later * LATER_CHECK_SECONDS, self.limits.notebook_seconds / 4)
        return max(left - kept, min(left, MIN_TURN_SECONDS))

    def code(self, cell, label):
        timeout = min(self.limits.cell_seconds, self._left())
        try:
            cell.outputs, _ = self.kernel.run(cell.source, timeout, label)
            self.done.append(cell.source)
        except KernelStopped as err:
            cell.outputs = [_stopped_output(err.reason)]
            if not err.alive and not self._recover(err.reason):
                raise
        finally:
            self._notices()

    def check(self, cell, ex, later=0):
        """Grade ``ex`` in the checker; its time counts against the notebook's, and one exercise's
        checks get a cell's time (and the grace a timed-out call gets to stop), less what the
        ``later`` graded exercises are kept."""
        deadline = time.monotonic() + min(self._budget(later), self.limits.cell_seconds + 15)
        result = self.checker.check(ex, self.kernel, deadline, self.limits.cell_seconds)
        self._notices()
        cell.outputs = _verdict_outputs(result)
        if self.kernel.km is None and not self._recover(f"the kernel stopped while {ex.id} was checked"):
            raise KernelStopped(self.problems[-1])
        return result

    def close(self):
        """Stop the kernel and the checker, remove the job's cgroups and unmount its folder: each
        step is taken whatever the one before it raised."""
        steps = [self.kernel and self.kernel.shutdown, self.checker and self.checker.stop]
        steps += [group.remove for group in (self.group, self.checker_group) if group is not None]
        if self.mounted:
            steps.append(lambda: subprocess.run(["umount", "-l", str(self.scratch)], capture_output=True))
        failed = None
        for step in filter(None, steps):
            try:
                step()
            except BaseException as err:  # noqa: BLE001 - the rest is still cleaned up, then it is raised
                failed = failed or err
        if failed is not None:
            raise failed


def _empty(folder):
    """Remove what is in ``folder`` (links removed, never followed)."""
    for entry in os.scandir(folder):
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path, ignore_errors=True)
        else:
            try:
                os.unlink(entry.path)
            except OSError:
                pass


def _mount_tmpfs(path, size_mb, owner):
    """A sized tmpfs on ``path`` where the grader may mount one (root); False elsewhere."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    ids = f",uid={owner},gid={owner}" if owner is not None else ""
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={int(size_mb)}m,mode=0700,nosuid,nodev{ids}",
                           "tmpfs", str(path)], capture_output=True)
    return done.returncode == 0


def tag_of(payload) -> str:
    """The name the class gave this job (its leftovers are found by it, never by a process number
    that another process may have by then), or this process's id where none was given."""
    return cgroups.check_tag(payload.get("job") or os.getpid())


def remove_left_by(tag):
    """Remove the private folders (and their mounts) of job ``tag`` that its worker did not clean
    up itself (say, it was stopped from outside): links are never followed."""
    cgroups.check_tag(tag)
    for entry in Path(tempfile.gettempdir()).glob(f"{PRIVATE_PREFIX}{tag}-*"):
        if entry.is_dir() and not entry.is_symlink() and entry.lstat().st_uid == os.geteuid():
            subprocess.run(["umount", "-l", str(entry / "checks")], capture_output=True)
            shutil.rmtree(entry, ignore_errors=True)


def _answers(cells):
    return {exercise_of(merge.grade_id(c), Role.ANSWER): c.source for c in cells
            if exercise_of(merge.grade_id(c), Role.ANSWER)}


def _graded(cells, decl) -> list:
    """Per cell, the exercise its check cell grades (None for every other cell)."""
    ids = [exercise_of(merge.grade_id(c) or "", Role.CHECK) if c.cell_type == "code" else None for c in cells]
    return [ex_id if ex_id in decl.exercises else None for ex_id in ids]


def grade_job(payload) -> dict:
    """Grade one submission; returns ``{"record": ..., "autograded": JSON, "feedback": HTML}``.

    ``payload``: student, stage, submission (notebook JSON), template (the release notebook
    JSON), limits (:class:`.sandbox.Limits` fields), sandbox (bool), settings (see
    :func:`.prepare.here`), fingerprint, submitted; optionally machine (what :func:`.prepare.here`
    gives, worked out once by a local runner).
    """
    start = time.perf_counter()
    private = Path(tempfile.mkdtemp(prefix=f"{PRIVATE_PREFIX}{tag_of(payload)}-"))
    decl = load_stage(payload["stage"])
    base = {"version": records.VERSION, "student": payload["student"], "stage": payload["stage"],
            "sandbox": bool(payload["sandbox"]), "fingerprint": payload["fingerprint"],
            "submitted": payload.get("submitted"), "max_score": decl.points, "feedback": None}
    run = None
    try:
        try:
            notebook_stage.bounded(payload["submission"])
            submission = nbformat.reads(json.dumps(whole(json.loads(payload["submission"]))), as_version=4)
        except notebook_stage.NotANotebook as err:
            return _failed(base, f"the submitted file is not a notebook ({err})", start)
        except Exception as err:  # whatever the file holds: one line, not a traceback
            return _failed(base, f"the submitted file is not a notebook ({type(err).__name__})", start)
        template = nbformat.reads(payload["template"], as_version=4)
        cells, notes = merge.merge(submission, template)
        run = _Run(payload, private)
        results = {}
        try:
            run.checker.start()  # it loads the checks (and Keras) while the notebook runs
            run.kernel.start()
            graded = _graded(cells, decl)
            for i, cell in enumerate(cells):
                if cell.cell_type != "code":
                    continue
                gid = merge.grade_id(cell) or ""
                if ex_id := graded[i]:
                    results[ex_id] = run.check(cell, decl[ex_id], later=sum(map(bool, graded[i + 1:])))
                else:
                    run.code(cell, f"cell {gid or cell.get('id') or i + 1}")
        except KernelStopped as err:
            if err.reason not in run.problems:
                run.problems.append(err.reason)
        answers = _answers(cells)
        exercises = []
        for ex in decl:
            result = results.get(ex.id) or Result(
                ex.id, ex.title, NOT_ATTEMPTED, f"Not graded: {run.problems[-1] if run.problems else 'not run'}.",
                0.0, ex.points)
            exercises.append(dict(result.to_dict(), answer=answers.get(ex.id)))
        record = records.bounded(dict(
            base, status="graded", problem="; ".join(run.problems) or None, notes=notes, exercises=exercises,
            score=round(sum(e["points"] for e in exercises), 6), graded_at=_now(),
            seconds=round(time.perf_counter() - start, 2)))
        graded = copy.deepcopy(template)
        graded.cells = cells
        return {"record": record, "autograded": nbformat.writes(inert(graded)),
                "feedback": feedback_html(graded, record), "limits": run.enforced,
                "worker_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}
    finally:
        if run is not None:
            run.close()
        shutil.rmtree(private, ignore_errors=True)


def _failed(base, problem, start):
    return {"record": dict(base, status="failed", problem=problem, notes=[], exercises=[], score=0.0,
                           graded_at=_now(), seconds=round(time.perf_counter() - start, 2)),
            "autograded": None, "feedback": None}

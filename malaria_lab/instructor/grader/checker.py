"""The grader's handle on the checker (:mod:`.check_runner`): a process in a sandbox of its own,
under the job's limits, that runs an exercise's checks and decodes the student's answers there.

The grader relays the checker's calls to the student's kernel without reading them (bodies pass
through as bytes) and reads back one verdict per exercise, which it validates field by field
against the exercise's declaration before it counts (:func:`verdict`).
"""

import json
import math
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from ...checks.results import Result, Status, Stopped
from .. import records
from ..whole_text import whole
from . import frames, sandbox

MAX_RELAYED = 80 * 1024**2
MAX_RESULT = 1024**2
RUNNER = ("import sys; sys.path.insert(0, {parent!r}); "
          "from malaria_lab.instructor.grader.check_runner import main; sys.exit(main(sys.argv[1:]))")


class Checker:
    """One job's checker; started on first use and again after it failed an exercise."""

    def __init__(self, stage, keras, launch, read_only, env, scratch, sandboxed, group=None):
        self.stage, self.keras, self.group = stage, keras, group
        self.launch = launch  # the isolated launcher's command line, limits included
        self.read_only, self.env, self.scratch, self.sandboxed = read_only, env, scratch, sandboxed
        self.process = None
        self.fds = None

    def start(self) -> None:
        child_in, parent_out = os.pipe()
        parent_in, child_out = os.pipe()
        package = str(Path(__file__).resolve().parents[3])
        command = [sys.executable, "-I", "-c", RUNNER.format(parent=package), str(child_in), str(child_out)]
        env = dict(self.env, HOME="/tmp/home", MPLCONFIGDIR="/tmp/matplotlib", KERAS_HOME="/tmp/keras",
                   TMPDIR=sandbox.CHECKS if self.sandboxed else str(self.scratch))
        if self.sandboxed:
            command = sandbox.argv(command, self.read_only, env,
                                   binds=[sandbox.Bind(str(self.scratch), sandbox.CHECKS, writable=True)],
                                   group=self.group)
            env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        else:
            env = dict(env, PATH=os.environ.get("PATH", "/usr/bin:/bin"), HOME=str(self.scratch),
                       MPLCONFIGDIR=str(self.scratch / ".matplotlib"), KERAS_HOME=str(self.scratch / ".keras"))
        try:
            self.process = subprocess.Popen(self.launch + command, pass_fds=(child_in, child_out),
                                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                            stderr=subprocess.DEVNULL, env=env, cwd="/", start_new_session=True)
        finally:
            os.close(child_in)
            os.close(child_out)
        self.fds = (parent_in, parent_out)  # (read from the checker, write to it)
        frames.write(self.fds[1], {"op": "load", "stage": self.stage, "keras": self.keras})

    def stop(self) -> None:
        if self.fds:
            for fd in self.fds:
                os.close(fd)
            self.fds = None
        if self.process is not None:
            if self.process.poll() is None:  # once reaped, its number may be another process's
                try:
                    os.killpg(self.process.pid, 9)
                except OSError:
                    pass
            self.process.wait()
            self.process = None

    def check(self, ex, kernel, deadline, cell_seconds) -> Result:
        """The validated :class:`Result` of exercise ``ex``; the checker's calls to the student's
        functions go to ``kernel``, each within ``cell_seconds`` and all before ``deadline``."""
        if self.process is None:
            self.start()
        read_fd, write_fd = self.fds
        try:
            frames.write(write_fd, {"op": "check", "stage": self.stage, "exercise": ex.id})
            while True:
                header, body = frames.read(read_fd, MAX_RELAYED, deadline)
                op = header.get("op")
                if op == "kernel":
                    left = deadline - time.monotonic()
                    try:
                        # The interrupt's grace inside the deadline too (while that leaves the call
                        # as long): a call that ignores it still leaves the later exercises their time.
                        grace = sandbox.INTERRUPT_GRACE
                        timeout = min(cell_seconds, max(left - grace, min(left, grace), 0.1))
                        answer = kernel.request(body, timeout, f"a check of {ex.id}")
                        frames.write(write_fd, {"op": "answer"}, answer)
                    except Stopped as err:
                        frames.write(write_fd, {"op": "answer", "stopped": str(err)[:500]})
                elif op == "result":
                    return verdict(ex, body)
                elif op != "loaded":
                    raise frames.FrameError(f"an unknown frame {str(op)[:40]!r}")
        except (frames.FrameError, OSError) as err:
            self.stop()
            why = ("ran past the time left for this notebook" if time.monotonic() >= deadline
                   else f"stopped ({err})")
            return _unchecked(ex, f"Not graded: checking your answer {why}; it may be too large or too slow "
                                  "to check.")


def _unchecked(ex, message):
    return Result(ex.id, ex.title, Status.WRONG, message, 0.0, ex.points)


def _text(value, limit=records.MAX_TEXT):
    if not isinstance(value, str):
        raise ValueError("not text")
    return records.cut(value, limit)


def verdict(ex, body) -> Result:
    """The checker's verdict on ``ex`` as a :class:`Result`, every field checked against the
    declaration (points within 0 and the exercise's points, known statuses and outcomes, texts
    cut to size); a malformed verdict scores nothing and says so."""
    try:
        if len(body) > MAX_RESULT:
            raise ValueError("too large")
        data = whole(json.loads(body, parse_constant=_refuse))
        if not isinstance(data, dict) or data.get("id") != ex.id:
            raise ValueError("not this exercise's")
        status, points = data.get("status"), data.get("points")
        if status not in records.EXERCISE_STATUSES:
            raise ValueError("an unknown status")
        if type(points) not in (int, float) or not math.isfinite(points) or not 0 <= points <= ex.points + 1e-9:
            raise ValueError("points out of range")
        details = data.get("details", [])
        checks = data.get("checks", [])
        if not isinstance(details, list) or not isinstance(checks, list) or len(checks) > len(ex.checks) + 1:
            raise ValueError("malformed details")
        kept = []
        for c in checks:
            if not isinstance(c, dict) or c.get("outcome") not in records.OUTCOMES or type(c.get("hidden")) is not bool:
                raise ValueError("a malformed check")
            kept.append({"id": None if c.get("id") is None else _text(c["id"], 300), "what": _text(c.get("what"), 300),
                         "hidden": c["hidden"], "outcome": c["outcome"],
                         "message": _text(c.get("message"), 2000)})
        return Result(ex.id, ex.title, status, _text(data.get("message"), 5000), float(points), ex.points,
                      [_text(d, 2000) for d in details[:5]], kept)
    except (ValueError, RecursionError, TypeError):
        return _unchecked(ex, "Not graded: the checks sent back a malformed verdict.")


def _refuse(name):
    raise ValueError(name)


def not_attempted(ex, why) -> Result:
    return Result(ex.id, ex.title, Status.NOT_ATTEMPTED, f"Not graded: {why}.", 0.0, ex.points)


class Drain:
    """Reads a pipe to its end in a thread, keeping only its last ``keep`` bytes."""

    def __init__(self, fd, keep=32 * 1024):
        self.fd, self.keep, self.tail = fd, keep, b""
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self):
        while True:
            try:
                chunk = os.read(self.fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            self.tail = (self.tail + chunk)[-self.keep:]
        os.close(self.fd)

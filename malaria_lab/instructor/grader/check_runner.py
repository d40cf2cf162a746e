"""The checker: runs an exercise's checks in a sandbox of its own, beside the student's kernel.

The grader starts it (:class:`.checker.Checker`) with two pipes, and it answers frames
(:mod:`.frames`): ``load`` (import the stage's checks, and Keras where the stage needs it, while
the notebook still runs), then ``check`` for each graded exercise. A check calls the student's
functions through :class:`.remote.RemoteNamespace`; each call goes out as a ``kernel`` frame and
the grader brings back the kernel's answer, which is decoded here (Keras configurations are
rebuilt here, in this sandbox, never in the grader). The verdict goes back as a ``result``
frame, plain data the grader validates.
"""

import json
import sys

from ...checks import load_stage
from ...checks.results import NotAttempted, Result, Status, Stopped
from . import frames
from .remote import RemoteNamespace

MAX_ANSWER = 80 * 1024**2


class Relay:
    """A check's way to the student's kernel: through the grader, over the pipes."""

    def __init__(self, fd_in, fd_out):
        self.fd_in, self.fd_out = fd_in, fd_out

    def request(self, message) -> dict:
        frames.write(self.fd_out, {"op": "kernel"}, json.dumps(message, allow_nan=False).encode())
        header, body = frames.read(self.fd_in, MAX_ANSWER)
        if header.get("stopped"):
            raise Stopped(str(header["stopped"])[:500])
        try:
            answer = json.loads(body, parse_constant=_refuse)
        except (ValueError, RecursionError):
            raise Stopped("The notebook's kernel sent an answer that is not valid JSON.") from None
        if not isinstance(answer, dict):
            raise Stopped("The notebook's kernel sent an answer of the wrong form.")
        return answer


def _refuse(name):
    raise ValueError(name)


def check(stage, exercise, relay) -> Result:
    """The :class:`Result` of one exercise, every check run (hidden ones too)."""
    ex = load_stage(stage)[exercise]
    try:
        return ex.run(namespace=RemoteNamespace(relay, ex.names), hidden=True)
    except (NotAttempted, Stopped) as err:
        status = Status.NOT_ATTEMPTED if isinstance(err, NotAttempted) else Status.WRONG
        return Result(ex.id, ex.title, status, f"Not graded: {err}", 0.0, ex.points)


def _load(stage, keras):
    load_stage(stage)
    if keras:
        from ...layers import RandomRotate90  # noqa: F401  (imports Keras now, while the notebook runs)


def main(argv) -> int:
    fd_in, fd_out = int(argv[0]), int(argv[1])
    relay = Relay(fd_in, fd_out)
    while True:
        try:
            header, _ = frames.read(fd_in, 0)
        except frames.FrameError:
            return 0  # the grader is done with this checker
        if header.get("op") == "load":
            _load(str(header["stage"]), bool(header.get("keras")))
            frames.write(fd_out, {"op": "loaded"})
        elif header.get("op") == "check":
            result = check(str(header["stage"]), str(header["exercise"]), relay)
            frames.write(fd_out, {"op": "result"}, json.dumps(result.to_dict(), allow_nan=False).encode())


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

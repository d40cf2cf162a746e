"""Calling a student's function across the sandbox's wall.

Inside the student's kernel, :func:`serve` answers one request given to it as a literal in the
code the grader runs: it looks the function up in the notebook's names, calls it with the decoded
arguments and publishes the encoded answer as a display message of its own type
(:data:`ANSWER_MIME`), which the grader takes out of the kernel's messages. No file carries
either side.

In the checker (:mod:`.check_runner`, a sandbox of its own), :class:`RemoteNamespace` gives a
check its student's names as :class:`RemoteFunction` proxies whose calls travel through the
grader to the kernel; the values come back as plain data (:mod:`.wire`), decoded there.
"""

import hashlib
import json
import os

from ...checks.hook import StudentRaised, returned_argument
from ...checks.results import NotAttempted, Wrong
from . import wire

ANSWER_MIME = "application/vnd.malaria-lab.answer+json"


class Op:
    """What a request asks of the kernel."""
    DESCRIBE = "describe"
    CALL = "call"


# --- inside the student's kernel --------------------------------------------------------------


def serve(request_text) -> None:
    """Answer one request (see the module docstring); never raises into the notebook."""
    import IPython  # runs in the student's kernel, where IPython is
    from IPython.display import publish_display_data  # see above

    names = IPython.get_ipython().user_ns
    try:
        request = json.loads(request_text)
        if request["op"] == Op.DESCRIBE:
            answer = {"names": {n: _kind(names, n) for n in request["names"]}}
        else:
            answer = _call(names[request["name"]], wire.decode(request["args"]))
    except BaseException as err:  # the student's code may raise anything, SystemExit included
        answer = {"raised": type(err).__name__, "message": _message(err)}
    publish_display_data({ANSWER_MIME: json.dumps(answer, allow_nan=False)})


def reap():
    """Wait for every child of the kernel that has ended (the grader killed them), so their
    zombies stop counting against the job's process cap; live children are left alone."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _kind(names, name):
    if name not in names:
        return "missing"
    value = names[name]
    return "function" if callable(value) else type(value).__name__


def _call(function, arguments):
    args, kwargs = arguments
    try:
        result = function(*args, **kwargs)
    except BaseException as err:  # see serve
        return {"raised": type(err).__name__, "message": _message(err)}
    alias = next((i for i, a in enumerate(args) if a is result and result is not None), None)
    return {"result": wire.encode(result), "same_as_arg": alias}


def _message(err):
    try:
        return " ".join(str(err).split())[:1000]
    except BaseException:  # a student's exception whose __str__ raises
        return ""


# --- in the checker ----------------------------------------------------------------------------


# Answers that could not be decoded, by digest: a check that asks again for the same answer (a
# network too large to rebuild, say) gets the same refusal at once.
_REFUSED = {}


def _decoded(text):
    digest = hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()
    if digest in _REFUSED:
        raise _REFUSED[digest]
    try:
        return wire.decode(text)
    except wire.WireError as err:
        if len(_REFUSED) < 64:
            _REFUSED[digest] = err
        raise


class RemoteFunction:
    """Stands for the student's function ``name``; calling it calls the real one in the sandbox."""

    def __init__(self, session, name):
        self.session = session
        self.__name__ = name

    def __call__(self, *args, **kwargs):
        answer = self.session.request({"op": Op.CALL, "name": self.__name__,
                                       "args": wire.encode([list(args), kwargs])})
        if "raised" in answer:
            kind, message = str(answer["raised"])[:80], str(answer.get("message", ""))[:1000]
            if kind == "NotImplementedError":
                raise NotImplementedError(message)
            raise StudentRaised(kind, message)
        try:
            result = _decoded(str(answer.get("result", "null")))
        except wire.WireError as err:
            raise Wrong(f"`{self.__name__}` returned something that cannot be checked: {err}.") from None
        alias = answer.get("same_as_arg")
        if type(alias) is int and 0 <= alias < len(args):
            returned_argument(result, args[alias])
        return result

    def __repr__(self):
        return f"<the student's {self.__name__}>"


class RemoteNamespace:
    """The student's names as a check reads them (``name in ns``, ``ns[name]``), asked for once."""

    def __init__(self, session, names):
        answer = session.request({"op": Op.DESCRIBE, "names": list(names)})
        kinds = answer.get("names") if isinstance(answer.get("names"), dict) else None
        if kinds is None:
            raise NotAttempted("the notebook's kernel did not say which names it defines.")
        self.values = {}
        for name in names:
            kind = kinds.get(name)
            if kind == "function":
                self.values[name] = RemoteFunction(session, name)
            elif isinstance(kind, str) and kind != "missing":
                self.values[name] = wire.opaque(kind)

    def __contains__(self, name):
        return name in self.values

    def __getitem__(self, name):
        return self.values[name]

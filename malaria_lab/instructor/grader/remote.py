"""Calling a student's function across the sandbox's wall.

Inside the sandbox, :func:`serve` runs in the student's kernel: it reads a request file, looks
the function up in the notebook's names, calls it with the decoded arguments and writes the
encoded answer beside the request. Outside, :class:`RemoteNamespace` gives a check its
student's names as :class:`RemoteFunction` proxies, so the check's logic (and the verdict) stays
in the trusted process and only plain data comes back (:mod:`.wire`).
"""

import json
import os

from ...checks.engine import remember_alias
from ...checks.results import NotAttempted, Wrong
from . import wire


class StudentRaised(Exception):
    """The student's function raised ``student_type`` (any BaseException) with ``message``."""

    def __init__(self, student_type, message):
        super().__init__(message)
        self.student_type = student_type


# --- inside the sandbox ------------------------------------------------------------------------


def serve(request_path):
    """Answer one request (see the module docstring); never raises into the notebook."""
    import IPython  # runs in the student's kernel, where IPython is

    names = IPython.get_ipython().user_ns
    answer_path = request_path.replace(".in.json", ".out.json")
    try:
        with open(request_path, encoding="utf-8") as handle:
            request = json.load(handle)
        if request["op"] == "describe":
            answer = {"names": {n: _kind(names, n) for n in request["names"]}}
        else:
            answer = _call(names[request["name"]], wire.decode(request["args"]))
    except BaseException as err:  # the student's code may raise anything, SystemExit included
        answer = {"raised": type(err).__name__, "message": _message(err)}
    tmp = answer_path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(json.dumps(answer, allow_nan=False))
    os.replace(tmp, answer_path)


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


# --- outside: the trusted side ----------------------------------------------------------------


class RemoteFunction:
    """Stands for the student's function ``name``; calling it calls the real one in the sandbox."""

    def __init__(self, session, name):
        self.session = session
        self.__name__ = name

    def __call__(self, *args, **kwargs):
        answer = self.session.request({"op": "call", "name": self.__name__,
                                       "args": wire.encode([list(args), kwargs])})
        if "raised" in answer:
            kind, message = str(answer["raised"])[:80], str(answer.get("message", ""))[:1000]
            if kind == "NotImplementedError":
                raise NotImplementedError(message)
            raise StudentRaised(kind, message)
        try:
            result = wire.decode(answer.get("result", "null"))
        except wire.WireError as err:
            raise Wrong(f"`{self.__name__}` returned something that cannot be checked: {err}.") from None
        alias = answer.get("same_as_arg")
        if type(alias) is int and 0 <= alias < len(args):
            remember_alias(result, args[alias])
        return result

    def __repr__(self):
        return f"<the student's {self.__name__}>"


class RemoteNamespace:
    """The student's names as a check reads them (``name in ns``, ``ns[name]``), asked for once."""

    def __init__(self, session, names):
        answer = session.request({"op": "describe", "names": list(names)})
        kinds = answer.get("names") if isinstance(answer.get("names"), dict) else None
        if kinds is None:
            raise NotAttempted("the notebook's kernel did not say which names it defines.")
        self.values = {}
        for name in names:
            kind = kinds.get(name)
            if kind == "function":
                self.values[name] = RemoteFunction(session, name)
            elif isinstance(kind, str) and kind != "missing":
                self.values[name] = wire._opaque(kind)

    def __contains__(self, name):
        return name in self.values

    def __getitem__(self, name):
        return self.values[name]

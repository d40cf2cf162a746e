"""The hook between the checks and a grader that calls the student's code across a sandbox's wall.

The checks call a student's functions as plain callables and look at what comes back. A grader
whose calls cross a wall (:mod:`malaria_lab.instructor.grader.remote`) gets answers back as
copies and exceptions as names; it tells the checks so through this hook alone:

* where the student's function raised, it raises :class:`~.results.StudentRaised` (the
  exception's type name and message), which :func:`~.engine.call` reports like one raised here;
* where the student's function returned one of its arguments itself, it calls
  :func:`returned_argument`, so that :func:`~.engine.same_object` still says so of the copy.
"""

import weakref

from .results import StudentRaised

__all__ = ["ArgumentAliases", "ALIASES", "StudentRaised", "returned_argument"]


class ArgumentAliases:
    """Copies of answers, each standing for the argument that the student's function returned
    itself; kept only while the copy lives."""

    def __init__(self) -> None:
        self._argument_of: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    def remember(self, answer: object, argument: object) -> None:
        """Note that ``answer`` stands for ``argument``; plain data (not weak-referenceable) is
        never an argument returned itself, and is ignored."""
        try:
            self._argument_of[answer] = argument
        except TypeError:
            pass

    def stands_for(self, answer: object, argument: object) -> bool:
        """True when ``answer`` is a copy noted as standing for ``argument``."""
        try:
            return self._argument_of.get(answer) is argument
        except TypeError:
            return False


ALIASES = ArgumentAliases()


def returned_argument(answer: object, argument: object) -> None:
    """The grader's call: ``answer`` (a copy from the sandbox) is ``argument``, which the
    student's function returned itself."""
    ALIASES.remember(answer, argument)

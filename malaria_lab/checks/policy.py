"""The course's policy for solutions, as the learner's kernel knows it.

``malaria-lab course build`` writes the course's policy (``course.toml``, ``[solutions]``) into the
imports cell of every notebook, which calls :func:`solutions_policy`; ``qN.solution()`` and the last
hint then follow it, without the instructor's files:

* ``self-study``: ``qN.solution()`` shows a solution (the public repository and the site);
* ``graded``: hints stay (they teach), ``qN.solution()`` says in one line that the course withholds
  solutions until the instructor releases them. The instructor releases a stage's solutions as a
  notebook of their own (``malaria-lab course solutions``), whose imports cell says ``released=True``.

This removes the invitation, not the answer: the package is public, and a determined student can
read a solution in its source. The class report's similarity section finds what was copied.
"""

from enum import Enum


class Solutions(str, Enum):
    """What ``qN.solution()`` does in a course."""

    SELF_STUDY = "self-study"
    GRADED = "graded"


DEFAULT = Solutions.SELF_STUDY
WITHHELD = ("This course withholds solutions until your instructor releases them (after the deadline); "
            "the hints stay: `{id}.hint()`.")

_state = {"policy": DEFAULT, "released": set()}


def solutions_policy(policy, stage=None, released=False, quiet=False):
    """Set this kernel's policy (the imports cell calls it) and say in one line which is on.

    ``released``: the instructor has released ``stage``'s solutions (their solutions notebook)."""
    policy = Solutions(policy)
    _state["policy"] = policy
    if released and stage:
        _state["released"].add(stage)
    if not quiet:
        print(policy_line(policy, released))
    return policy


def policy_line(policy, released=False):
    """The set-up cell's line that says which policy is on."""
    if Solutions(policy) is Solutions.SELF_STUDY:
        return "Solutions: self-study course; `q1.solution()` shows a solution once you have tried."
    if released:
        return "Solutions: graded course; your instructor has released this stage's solutions."
    return ("Solutions: graded course; solutions are withheld until your instructor releases them. "
            "Hints: `q1.hint()`.")


def withheld(stage):
    """True when this kernel's course withholds ``stage``'s solutions."""
    return _state["policy"] is Solutions.GRADED and stage not in _state["released"]


def reset():
    """Back to the default (self-study, nothing released): for tests."""
    _state["policy"], _state["released"] = DEFAULT, set()

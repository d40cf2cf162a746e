"""The typed hook between the checks and a grader across a sandbox's wall (malaria_lab.checks.hook)."""

import gc

from malaria_lab.checks import hook
from malaria_lab.checks.engine import call, same_object
from malaria_lab.checks.results import Wrong


class Thing:
    pass


def test_a_copy_noted_as_the_returned_argument_is_the_same_object():
    argument, copy, other = Thing(), Thing(), Thing()
    assert same_object(argument, argument) and not same_object(copy, argument)
    hook.returned_argument(copy, argument)
    assert same_object(copy, argument) and not same_object(copy, other)
    hook.returned_argument([1, 2], argument)  # plain data is never noted, and never an argument
    assert not same_object([1, 2], argument)
    del copy
    gc.collect()
    assert len(hook.ALIASES._argument_of) == 0, "kept only while the copy lives"


def test_a_student_exception_named_across_the_wall_reads_like_one_raised_here():
    def remote(*_):
        raise hook.StudentRaised("KeyError", "'patient'")

    try:
        call(remote, 1, label="split_patients(images)")
    except Wrong as err:
        assert str(err) == "Calling `split_patients(images)` raised KeyError: 'patient'"
    else:
        raise AssertionError("no Wrong raised")

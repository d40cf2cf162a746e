"""The checks engine and every exercise's checks, against known right and wrong answers.

For each exercise: the reference solution passes every check (hidden ones included); the
untouched starter code reads as "not attempted"; each declared typical mistake fails with the
message meant for it and gets partial or no credit; and messages never show expected values.
"""

import os
import re
import sys
import warnings

import numpy as np
import pytest

from malaria_lab.checks import (
    MORE_AT_GRADING,
    STAGES,
    Exercise,
    NotAttempted,
    Result,
    Stage,
    Wrong,
    call,
    expect,
    load_stage,
)
from malaria_lab.checks.engine import Grader
from malaria_lab.checks.results import Outcome
from malaria_lab.quiet import muted

ALL = [(stage, ex_id) for stage in STAGES for ex_id in sorted(load_stage(stage).exercises)]
MISTAKES = [(stage, ex_id, k) for stage, ex_id in ALL
            for k in range(len(load_stage(stage)[ex_id].mistakes))]


def namespace(stage, code):
    """What a notebook holds after its imports cell and an exercise cell have run."""
    ns = {"__name__": "__main__"}
    exec(load_stage(stage).prelude, ns)
    exec(code, ns)
    return ns


# --- every exercise ----------------------------------------------------------------------------


@pytest.mark.parametrize("stage,ex_id", ALL)
def test_solution_passes_every_check(stage, ex_id):
    ex = load_stage(stage)[ex_id]
    result = ex.run(namespace(stage, ex.solution_code), hidden=True)
    assert result.status == "correct", result.message
    assert result.points == ex.points
    assert repr(result) == repr(float(ex.points))


@pytest.mark.parametrize("stage,ex_id", ALL)
def test_public_check_of_solution_says_more_checks_at_grading(stage, ex_id):
    ex = load_stage(stage)[ex_id]
    result = ex.run(namespace(stage, ex.solution_code), hidden=False)
    assert result.passed
    if ex.has_hidden:
        assert result.status == "passed public"
        assert MORE_AT_GRADING in result.message
    else:
        assert result.status == "correct"


@pytest.mark.parametrize("stage,ex_id", ALL)
def test_untouched_exercise_is_not_attempted(stage, ex_id):
    ex = load_stage(stage)[ex_id]
    for ns in (namespace(stage, ex.starter_code), namespace(stage, "")):
        for hidden in (False, True):
            result = ex.run(ns, hidden=hidden)
            assert result.status == "not attempted", result.message
            assert result.points == 0.0
            assert result.message.startswith("Not attempted")


@pytest.mark.parametrize("stage,ex_id", ALL)
def test_checks_leave_no_temporary_files(stage, ex_id, tmp_path, monkeypatch):
    """Students run checks again and again: each run cleans up what it made."""
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    ex = load_stage(stage)[ex_id]
    ns = namespace(stage, ex.solution_code)
    for hidden in (False, True):
        ex.run(ns, hidden=hidden)
    assert sorted(p.name for p in tmp_path.iterdir()) == []


@pytest.mark.parametrize("stage,ex_id,k", MISTAKES)
def test_typical_mistake_fails_with_its_message(stage, ex_id, k):
    ex = load_stage(stage)[ex_id]
    code, fragment = ex.mistakes[k]
    ns = namespace(stage, ex.with_answer(code))
    graded = ex.run(ns, hidden=True)
    assert graded.status == "wrong", f"mistake {k} passed: {code}"
    assert fragment.lower() in graded.message.lower(), graded.message
    assert 0.0 <= graded.points < ex.points
    public = ex.run(ns, hidden=False)
    if public.status == "wrong":  # caught by a public check: same message, no points yet
        assert fragment.lower() in public.message.lower(), public.message
        assert public.points == 0.0
    else:  # caught only at grading
        assert public.status == "passed public"
        assert graded.message.startswith("Public checks passed, but a check run at grading failed")


@pytest.mark.parametrize("stage,ex_id", ALL)
def test_declaration_is_complete(stage, ex_id):
    ex = load_stage(stage)[ex_id]
    assert ex.points > 0
    assert len(ex.hints) >= 3, "hints go from gentle to explicit"
    assert any(not c.hidden for c in ex.checks)
    assert ex.mistakes, "every exercise declares typical mistakes to test its messages"
    assert "### BEGIN SOLUTION" not in ex.solution_code
    assert "raise NotImplementedError()" in ex.starter_code
    for n, hint in enumerate(ex.hints, start=1):
        assert hint in str(ex.hint(n))
    assert ex.solution_code.strip() in str(ex.solution())


def test_stages_in_course_order_and_points():
    stages = [load_stage(s) for s in STAGES]
    assert [s.name for s in stages] == list(STAGES)
    assert all(s.points > 0 for s in stages)
    assert load_stage("02") is load_stage("02_split") is load_stage(2)


# --- messages never reveal expected values ------------------------------------------------------


def test_digest_message_does_not_show_the_right_digest():
    import hashlib

    from malaria_lab.checks import stage01

    ns = namespace("01_download", stage01.q1.with_answer("return '0' * 64"))
    result = stage01.q1.run(ns, hidden=True)
    everything = result.message + " ".join(result.details)
    assert hashlib.sha256(stage01._SMALL).hexdigest() not in everything
    assert not re.search(r"[0-9a-f]{64}", everything)


def test_count_message_does_not_show_the_right_counts():
    from malaria_lab.checks import stage01

    ns = namespace("01_download", stage01.q2.with_answer("return {'Parasitized': 1, 'Uninfected': 1}"))
    result = stage01.q2.run(ns, hidden=True)
    assert result.status == "wrong"
    assert not re.search(r"\d", result.message)


def test_metric_messages_do_not_show_the_right_values():
    from malaria_lab.checks import stage06

    ns = namespace("06_evaluate", stage06.q2.with_answer(
        "return {'sensitivity': 0.5, 'specificity': 0.5, 'precision': 0.5, 'accuracy': 0.5}"))
    result = stage06.q2.run(ns, hidden=True)
    text = result.message + " ".join(result.details)
    for value in stage06._true_metrics(stage06._COUNTS).values():
        assert f"{value:.2f}"[1:] not in text and f"{value:.3f}" not in text


def test_a_part_left_empty_by_other_fractions_is_told_so():
    """Not "use the `fractions` argument": the split follows them, it only leaves test empty."""
    from malaria_lab.checks import stage02

    solved = namespace("02_split", stage02.q3.solution_code)["split_patients"]

    def no_test_part(images, fractions=(0.7, 0.15, 0.15), seed=0):
        got = solved(images, fractions, seed)
        if tuple(fractions) == (0.7, 0.15, 0.15):
            return got
        return {patient: "val" if part == "test" else part for patient, part in got.items()}

    result = stage02.q3.run(values=[no_test_part], hidden=True)
    assert result.status == "wrong"
    assert "the test part got no patient" in result.message
    assert "`fractions` argument" not in result.message + " ".join(result.details)


# --- the engine ---------------------------------------------------------------------------------


def _toy(hidden=True):
    stage = Stage("99_toy", "toy")
    ex = stage.exercise("q1", "Double it", 3, ["double"], '''
        def double(x):
            ### BEGIN SOLUTION
            return 2 * x
            ### END SOLUTION
    ''', hints=["gentle", "more", "explicit"], mistakes=[("return x + 1", "double")])

    @ex.test("doubles 2")
    def doubles_2(double):
        expect(call(double, 2) == 4, "It should double its argument.")

    if hidden:
        @ex.hidden_test("doubles 0")
        def doubles_0(double):
            expect(call(double, 0) == 0, "Zero should stay zero.")

    return ex


def test_partial_credit_counts_checks_passed():
    ex = _toy()
    result = ex.run({"double": lambda x: x * x}, hidden=True)  # right for 2 and 0, wrong elsewhere
    assert result.status == "correct"
    result = ex.run({"double": lambda x: 4}, hidden=True)  # passes the public check only
    assert result.status == "wrong" and result.points == 1.5
    assert result.message.startswith("Public checks passed, but a check run at grading failed")
    assert "Zero should stay zero." in result.message


def test_hidden_checks_do_not_run_in_public_check():
    ex = _toy()
    result = ex.run({"double": lambda x: 4}, hidden=False)
    assert result.status == "passed public" and result.points == 3.0
    assert "Zero" not in result.message


def test_without_hidden_checks_correct_is_final():
    ex = _toy(hidden=False)
    result = ex.run({"double": lambda x: 2 * x}, hidden=False)
    assert result.status == "correct" and MORE_AT_GRADING not in result.message


def test_student_exception_becomes_a_message_not_a_crash():
    ex = _toy()

    def broken(x):
        raise KeyError("oops")

    result = ex.run({"double": broken}, hidden=True)
    assert result.status == "wrong" and result.points == 0.0
    assert "raised KeyError" in result.message


def test_value_of_wrong_type_is_a_message():
    result = _toy().run({"double": 42}, hidden=True)
    assert result.status == "wrong"
    assert "should be a function" in result.message


def test_check_reads_the_callers_globals():
    ex = _toy()
    ns = {"ex": ex}
    exec("def double(x):\n    return 2 * x\nresult = ex.check()", ns)
    assert ns["result"].status == "passed public"
    assert ex.check(lambda x: 2 * x).passed  # values may also be given directly


def test_result_shows_html_and_plain_points():
    result = _toy().run({"double": lambda x: 5}, hidden=True)
    assert float(repr(result)) == result.points  # what nbgrader reads as partial credit
    html = result._repr_html_()
    assert "q1" in html and "Double it" in html and f"({result.points:g}/3 points)" in html
    assert "Not yet" in str(result)


def test_hints_and_solution():
    ex = _toy()
    assert "gentle" in ex.hint() and "q1.hint(2)" in ex.hint()
    assert "explicit" in ex.hint(3) and "q1.solution()" in ex.hint(3)
    assert "explicit" in ex.hint(99)
    assert "return 2 * x" in ex.solution() and "BEGIN SOLUTION" not in ex.solution()
    assert ex.with_answer("return 3").splitlines()[-1] == "    return 3"


def test_exercise_needs_a_solution_region():
    with pytest.raises(ValueError):
        Exercise("q1", "t", 1, ["f"], "def f():\n    return 1\n", hints=[])


def test_muted_swallows_warnings_logging_and_fd2(capfd):
    import logging

    with muted():
        warnings.warn("a UserWarning from Keras", UserWarning)
        logging.getLogger("tensorflow").warning("a TF log line")
        print("to sys.stderr", file=sys.stderr)
        os.write(2, b"I0000 00:00 cpu_feature_guard.cc] a C++ log line\n")
    out, err = capfd.readouterr()
    assert err == ""
    print("after", file=sys.stderr)
    assert "after" in capfd.readouterr().err  # stderr is back


def test_not_attempted_and_wrong_are_exceptions():
    assert issubclass(NotAttempted, Exception) and issubclass(Wrong, Exception)
    with pytest.raises(NotAttempted):
        call(lambda: (_ for _ in ()).throw(NotImplementedError()))
    assert isinstance(_toy().run({}, hidden=True), Result)


# --- grading cannot be defeated from the notebook -------------------------------------------


def test_fresh_grader_ignores_monkeypatched_checks(monkeypatch):
    """A notebook that patches the checks package or the reference code changes no grade."""
    import runpy

    import malaria_lab
    import malaria_lab.checks.engine as engine
    import malaria_lab.split as split
    from malaria_lab.checks import stage02

    wrong = namespace("02_split", stage02.q1.with_answer("return {r.patient for r in rows}"))
    cheat = Result("q1", "x", "correct", "Correct", 2.0, 2.0)
    monkeypatch.setattr(engine.Exercise, "run", lambda self, *a, **k: cheat)
    monkeypatch.setattr(stage02.q1, "checks", [])
    monkeypatch.setattr(split, "Row", None)
    assert stage02.q1.check() is cheat  # the patched copy is fooled...
    fresh = runpy.run_path(malaria_lab.__path__[0] + "/checks/fresh.py")
    grader = fresh["grader"]("02_split", "q1")
    result = grader.check(*[wrong[n] for n in stage02.q1.names])
    assert result.status == "wrong" and result.points < 2.0  # ...the fresh one is not
    assert fresh["grade"]("02_split", "q1", wrong).status == "wrong"
    assert type(grader).__module__ != Grader.__module__


def test_callback_direction_is_read_where_each_keras_keeps_it():
    # Keras 3.8-3.10 (Colab's) keep no `mode` on ModelCheckpoint, only the comparison it chose.
    import types

    import numpy as np

    from malaria_lab.checks.stage05 import _direction_ok, _mode

    old = types.SimpleNamespace(monitor="val_auc", monitor_op=np.greater)
    assert _mode(old) == "max" and _direction_ok(old)
    assert not _direction_ok(types.SimpleNamespace(monitor="val_auc", monitor_op=np.less))
    assert _direction_ok(types.SimpleNamespace(monitor="val_loss", monitor_op=np.less))
    assert not _direction_ok(types.SimpleNamespace(monitor="val_auc", mode="auto", monitor_op=None))
    assert _mode(types.SimpleNamespace(monitor="val_auc")) == "auto"


def test_a_network_without_sigmoid_scores_the_same_every_run():
    """Its random start used to put the outputs inside 0-1 in some runs: 3.75 or 4.38 of 5."""
    ex = load_stage("04_build_cnn")["q1"]
    code = next(code for code, fragment in ex.mistakes if fragment == "sigmoid")
    runs = [ex.run(namespace("04_build_cnn", ex.with_answer(code)), hidden=True) for _ in range(4)]
    assert {r.points for r in runs} == {ex.points * 6 / 8}, [r.points for r in runs]
    for r in runs:
        failed = [c["message"] for c in r.checks if c["outcome"] == Outcome.WRONG]
        assert len(failed) == 2 and "probability (0 to 1)" in failed[1], failed


def test_the_checks_leave_a_student_s_shared_layers_as_they_were():
    """A network whose output layer other models share: checking it changes none of its weights."""
    ex = load_stage("04_build_cnn")["q1"]
    head = 'HEAD = layers.Dense(1, activation="sigmoid")\n\n\ndef build_cnn('
    code = ex.solution_code.replace("def build_cnn(", head, 1)
    code = code.replace('layers.Dense(1, activation="sigmoid")(x)', "HEAD(x)")
    assert "HEAD(x)" in code
    ns = namespace("04_build_cnn", code)
    ns["build_cnn"](64)
    before = [w.copy() for w in ns["HEAD"].get_weights()]
    for _ in range(3):
        assert ex.run(ns, hidden=True).points == ex.points
    assert all(np.array_equal(a, b) for a, b in zip(before, ns["HEAD"].get_weights()))

"""Checks have stable ids apart from their wording: rewording a check keeps a class's statistics
together, and records written before checks had ids still count under the declared check."""

import json

import pytest

from malaria_lab.checks import all_stages, load_stage
from malaria_lab.checks.engine import Exercise
from malaria_lab.instructor import records
from malaria_lab.instructor.report.load import load_class
from malaria_lab.instructor.report.simulate import Simulator, write_class
from malaria_lab.instructor.report.stats import stage_stats

STAGE = "01_download"


def test_every_check_has_a_unique_id_named_after_stage_exercise_and_function():
    ids = [c.id for stage in all_stages() for ex in stage for c in ex.checks]
    assert len(ids) == len(set(ids)) and all(i.count(".") == 2 for i in ids)
    check = load_stage("02_split")["q3"].checks[0]
    assert check.id == f"02_split.q3.{check.fn.__name__}" and check.fn.__name__ != "_"


def test_a_check_needs_a_name_of_its_own():
    ex = Exercise("q9", "t", 1, ["f"], "### BEGIN SOLUTION\n### END SOLUTION\n", [], stage="99_x")
    with pytest.raises(ValueError, match="name of its own"):
        ex.test("anything")(lambda f: None)
    ex.test("one", name="same")(lambda f: None)
    with pytest.raises(ValueError, match="two checks named 'same'"):
        ex.test("two", name="same")(lambda f: None)


def test_a_reworded_check_still_counts_as_one(tmp_path, monkeypatch):
    ex = load_stage(STAGE)["q1"]
    check = ex.checks[0]
    old = check.what
    write_class(tmp_path, {(f"before{i}", STAGE): {} for i in range(3)})
    monkeypatch.setattr(check, "what", "a new wording of the first check")
    write_class(tmp_path, {(f"after{i}", STAGE): {} for i in range(2)}, Simulator())
    path = records.path_of(tmp_path, STAGE, "before0")  # a record from before checks had ids
    record = json.loads(path.read_text())
    for e in record["exercises"]:
        for c in e["checks"]:
            del c["id"]
    path.write_text(json.dumps(record))
    saved = [c["what"] for c in json.loads(records.path_of(tmp_path, STAGE, "after0").read_text())
             ["exercises"][0]["checks"]]
    assert saved[0] == "a new wording of the first check"

    stats = stage_stats(load_class(tmp_path, [STAGE]), STAGE)
    q1 = next(e for e in stats.exercises if e.id == "q1")
    assert [c.id for c in q1.checks] == [c.id for c in ex.checks] + [old], "a row per declared check"
    first = q1.checks[0]
    assert first.what == "a new wording of the first check" and first.ran == 4, "2 before + 2 after"
    assert [c.ran for c in q1.checks[1:-1]] == [5] * (len(ex.checks) - 1), "id-less records: by the wording"
    # Only the id-less record's reworded check stands apart: no declared check has its wording now.
    assert (q1.checks[-1].what, q1.checks[-1].ran) == (old, 1)

"""Exercise statuses and check outcomes have names (str enums) whose values are the words
records have always held, so a record written before the names existed reads the same."""

import csv
import io
import json

from malaria_lab.checks.results import Outcome, Status
from malaria_lab.instructor import records


def test_the_values_are_the_words_old_records_hold():
    assert [s.value for s in Status] == ["correct", "passed public", "wrong", "not attempted"]
    assert [o.value for o in Outcome] == ["ok", "wrong", "not attempted"]
    assert records.EXERCISE_STATUSES == ("correct", "passed public", "wrong", "not attempted")
    assert records.OUTCOMES == ("ok", "wrong", "not attempted")


def test_a_name_writes_as_its_word_everywhere():
    assert json.loads(json.dumps({"status": Status.PASSED_PUBLIC})) == {"status": "passed public"}
    assert f"{Status.NOT_ATTEMPTED}|{Outcome.OK:>4}" == "not attempted|  ok"
    out = io.StringIO()
    csv.writer(out).writerow([Status.WRONG])
    assert out.getvalue().strip() == "wrong"


def test_a_plain_word_from_a_record_compares_equal_to_its_name():
    old = json.loads('{"status": "not attempted", "outcome": "wrong"}')
    assert old["status"] == Status.NOT_ATTEMPTED and Status(old["status"]) is Status.NOT_ATTEMPTED
    assert old["outcome"] == Outcome.WRONG and old["outcome"] != Outcome.OK

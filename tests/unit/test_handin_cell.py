"""The hand-in cell at the end of every stage: generated like the set-up cell, not graded; it lists
what is unsolved or failing, says how to hand the notebook in where the learner works, and never
stops a hand-in (a check that breaks or hangs, nbgrader running the notebook)."""

import json
from pathlib import Path

import pytest

from malaria_lab.checks import load_stage
from malaria_lab.course import handin
from malaria_lab.settings import STAGES

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("stage", STAGES)
def test_every_stage_ends_with_the_generated_hand_in_cell_which_is_not_graded(stage):
    for kind in ("source", "release"):
        nb = json.loads((ROOT / "course" / kind / stage / f"{stage}.ipynb").read_text())
        last = nb["cells"][-1]
        role = last["metadata"]["nbgrader"]
        assert last["id"] == "handin" and last["cell_type"] == "code"
        assert role["locked"] and not role["grade"] and not role["solution"] and "points" not in role
        assert "".join(last["source"]).endswith(f"hand_in({stage!r}, globals())")
        assert nb["metadata"]["malaria_lab"]["stage"] == stage


def _namespace(stage, answers):
    """A notebook's globals with ``answers``: {exercise: code}, the others untouched."""
    decl = load_stage(stage)
    ns = {"__name__": "__main__"}
    exec(decl.prelude, ns)
    for code in answers.values():
        exec(code, ns)
    return ns


@pytest.fixture(autouse=True)
def _nowhere_in_particular(monkeypatch):
    for var in ("COLAB_RELEASE_TAG", "BINDER_LAUNCH_HOST", "BINDER_REPO_URL", "BINDER_REQUEST", "JUPYTERHUB_USER",
                "NBGRADER_EXECUTION"):
        monkeypatch.delenv(var, raising=False)


def test_it_lists_what_is_solved_failing_and_not_attempted():
    decl = load_stage("02_split")
    ns = _namespace("02_split", {"q1": decl["q1"].solution_code, "q2": decl["q2"].with_answer("return 7")})
    text = handin.report("02_split", ns)
    assert "✔ **q1** Find the leaking patients (2 points): passes its public checks" in text
    assert "✘ **q2**" in text and "between 0 and 1" in text
    assert "✘ **q3** Split by patient (4 points): not attempted yet" in text
    assert "Still to do: q2, q3. You can hand in now all the same" in text
    solved = _namespace("02_split", {ex.id: ex.solution_code for ex in decl})
    assert "Every exercise passes its public checks" in handin.report("02_split", solved)


@pytest.mark.parametrize("env, words", [
    ({"COLAB_RELEASE_TAG": "release-colab_20250101"}, "on Google Colab: *File > Download > Download .ipynb*"),
    ({"BINDER_REPO_URL": "https://github.com/x/y", "JUPYTERHUB_USER": "jovyan"}, "**download it now**"),
    ({"JUPYTERHUB_USER": "alice"}, "submit it in the *Assignments* tab"),
    ({}, "on JupyterLab: *File > Save Notebook*"),
])
def test_it_says_how_to_hand_in_where_the_learner_works(monkeypatch, env, words):
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    text = handin.report("04_build_cnn", {"__session__": "/home/me/work/Copy of 04_build_cnn.ipynb"})
    assert words in text
    assert "Hand in `Copy of 04_build_cnn.ipynb` as it is" in text and "assignment for 04_build_cnn" in text


def test_a_check_that_hangs_or_breaks_never_stops_the_hand_in(monkeypatch):
    monkeypatch.setattr(handin, "CHECK_SECONDS", 1)
    ns = _namespace("02_split", {"q1": "def leaked_patients(rows):\n    while True:\n        pass\n"})
    text = handin.report("02_split", ns)
    assert "✘ **q1**" in text and "its checks took over 1 s here; run `q1.check()`" in text
    assert "✘ **q3**" in text  # the rest were still checked

    def broken(*args, **kwargs):
        raise RuntimeError("a check that breaks")

    monkeypatch.setattr(load_stage("02_split")["q2"], "run", broken)
    assert "could not be checked here (RuntimeError)" in handin.report("02_split", ns)
    monkeypatch.setattr(handin, "report", broken)
    assert "Hand in this notebook as it is" in handin.hand_in("02_split", ns)


def test_it_does_nothing_while_the_notebook_is_graded(monkeypatch):
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    monkeypatch.setattr(handin, "report", lambda *a: pytest.fail("checked while grading"))
    assert handin.hand_in("02_split", {}) is None

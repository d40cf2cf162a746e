"""The course notebooks: their structure, that they run, and that the release is up to date.

* Every source notebook executes top to bottom (CPU, embedded data, grading mode) with every check
  cell scoring full marks and no stderr in any graded cell.
* Every release notebook executes up to its first exercise without errors, and that exercise's
  check reads "not attempted".
* ``course/release`` is what ``nbgrader generate_assignment`` makes from ``course/source`` now.
"""

import os
import re
from pathlib import Path

import nbformat
import pytest

from malaria_lab.checks import STAGES, load_stage

ROOT = Path(__file__).resolve().parents[2]
COURSE = ROOT / "course"

pytestmark = pytest.mark.slow


def source_path(stage):
    return COURSE / "source" / stage / f"{stage}.ipynb"


def release_path(stage):
    return COURSE / "release" / stage / f"{stage}.ipynb"


def nbmeta(cell):
    return cell.metadata.get("nbgrader", {})


def grade_cells(nb):
    return [c for c in nb.cells if nbmeta(c).get("grade")]


def execute(nb, cwd, env, timeout=300):
    """Run a notebook in a fresh kernel with ``env`` added to the environment; returns it."""
    from nbclient import NotebookClient

    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        NotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=True,
                       resources={"metadata": {"path": str(cwd)}}).execute()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return nb


def errors(cell):
    return [o for o in cell.get("outputs", []) if o.output_type == "error"]


def stderr(cell):
    return [o for o in cell.get("outputs", []) if o.output_type == "stream" and o.name == "stderr"]


def score(cell):
    """The points a check cell reports (what nbgrader reads), or None."""
    for output in cell.get("outputs", []):
        if output.output_type == "execute_result":
            return float(output.data["text/plain"])
    return None


# --- structure ------------------------------------------------------------------------------------


@pytest.mark.parametrize("stage", STAGES)
def test_source_notebook_matches_the_declarations(stage):
    nb = nbformat.read(source_path(stage), as_version=4)
    nbformat.validate(nb)
    decl = load_stage(stage)
    answers = {nbmeta(c)["grade_id"]: c for c in nb.cells if nbmeta(c).get("solution")}
    checks = {nbmeta(c)["grade_id"]: c for c in grade_cells(nb)}
    assert set(answers) == {f"{q}_answer" for q in decl.exercises}
    assert set(checks) == {f"{q}_check" for q in decl.exercises}
    order = [nbmeta(c).get("grade_id") for c in nb.cells if nbmeta(c).get("grade_id", "").startswith("q")]
    assert order == [x for q in sorted(decl.exercises) for x in (f"{q}_answer", f"{q}_check")]
    for q, ex in decl.exercises.items():
        assert answers[f"{q}_answer"].source == ex.code.rstrip("\n")  # one source for the answer
        check = checks[f"{q}_check"]
        assert nbmeta(check)["points"] == ex.points and nbmeta(check)["locked"]
        lines = check.source.splitlines()
        assert lines[-1] == f"{q}.check()"
        hidden = check.source.split("### BEGIN HIDDEN TESTS")[1].split("### END HIDDEN TESTS")[0]
        assert f'["grader"]({stage!r}, {q!r})' in hidden and "checks/fresh.py" in hidden
    for cell in nb.cells:
        meta = nbmeta(cell)
        if not (meta.get("solution") or meta.get("grade")) and cell.cell_type == "markdown":
            assert meta.get("locked"), "instructions are read-only"
        assert not cell.get("outputs"), "source notebooks are committed without outputs"
    assert nb.metadata.kernelspec.name == "python3"


@pytest.mark.parametrize("stage", STAGES)
def test_release_notebook_holds_no_solutions_or_hidden_tests(stage):
    text = release_path(stage).read_text(encoding="utf-8")
    for secret in ("BEGIN SOLUTION", "END SOLUTION", "HIDDEN TESTS", "fresh.py", "runpy", "[\"grader\"]"):
        assert secret not in text, secret
    nb = nbformat.reads(text, as_version=4)
    decl = load_stage(stage)
    answers = [c for c in nb.cells if nbmeta(c).get("solution")]
    assert len(answers) == len(decl.exercises)
    assert all("raise NotImplementedError()" in c.source for c in answers)
    for q, ex in decl.exercises.items():
        solution_body = ex.code.split("### BEGIN SOLUTION")[1].split("### END SOLUTION")[0].strip()
        assert solution_body.splitlines()[0].strip() not in text
    assert sum(nbmeta(c).get("points", 0) for c in grade_cells(nb)) == decl.points


def test_release_is_up_to_date_with_source():
    from malaria_lab.instructor.release import stale_release

    stale = stale_release(COURSE)
    assert not stale, (f"course/release is stale: {stale}. Rebuild it with "
                       "`malaria-lab course build` and commit the result.")


def test_staleness_compares_content_not_layout():
    import json

    from malaria_lab.instructor.release import _essence

    text = release_path("02_split").read_text(encoding="utf-8")
    relaid = json.dumps(json.loads(text), indent=2, sort_keys=True)
    assert _essence(relaid) == _essence(text)
    data = json.loads(text)
    data["cells"][0]["source"] = "# Changed title"
    assert _essence(json.dumps(data)) != _essence(text)
    data = json.loads(text)
    for cell in data["cells"]:
        cell.get("metadata", {}).get("nbgrader", {}).pop("checksum", None)
    assert _essence(json.dumps(data)) == _essence(text)


def test_nbgrader_config_sets_timeout_and_strips_hidden_tests_from_feedback():
    text = (COURSE / "nbgrader_config.py").read_text()
    assert re.search(r"c\.Execute\.timeout\s*=\s*\d+", text)
    assert "ClearHiddenTests" in text.split("GenerateFeedback.preprocessors")[1]


# --- execution --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def executed_sources(tmp_path_factory):
    """All six source notebooks, run in order in one work folder (stage 2's split feeds 3...)."""
    work = tmp_path_factory.mktemp("course_work")
    env = {"MALARIA_LAB_MODE": "grading", "MALARIA_LAB_WORK": str(work), "TF_CPP_MIN_LOG_LEVEL": "3",
           "MALARIA_LAB_CACHE": str(tmp_path_factory.getbasetemp() / "cache")}
    out = {}
    for stage in STAGES:
        nb = nbformat.read(source_path(stage), as_version=4)
        out[stage] = execute(nb, work, env)
    return out, work


@pytest.mark.parametrize("stage", STAGES)
def test_source_notebook_runs_with_full_marks(executed_sources, stage):
    notebooks, _ = executed_sources
    nb = notebooks[stage]
    for cell in nb.cells:
        assert not errors(cell), f"{cell.id}: {errors(cell)[0].ename}: {errors(cell)[0].evalue}"
    for cell in grade_cells(nb):
        assert not stderr(cell), f"{cell.id} wrote to stderr: {stderr(cell)[0].text[:300]}"
        assert score(cell) == nbmeta(cell)["points"], f"{cell.id}: {cell.outputs}"


def test_stages_hand_their_results_on(executed_sources):
    _, work = executed_sources
    for name in ("manifest.csv", "augmentation.json", "cnn.keras", "train/model.keras",
                 "train/history.json", "evaluate/report.json"):
        assert (work / name).is_file(), name
    texts = "".join(o.get("text", "") for nb in executed_sources[0].values() for c in nb.cells
                    for o in c.get("outputs", []))
    assert "using the reference" not in texts, "with every stage done, no fallback is needed"


@pytest.mark.parametrize("stage", STAGES)
def test_release_notebook_runs_up_to_its_first_exercise(stage, tmp_path):
    nb = nbformat.read(release_path(stage), as_version=4)
    first_check = next(i for i, c in enumerate(nb.cells) if nbmeta(c).get("grade"))
    nb.cells = nb.cells[: first_check + 1]
    env = {"MALARIA_LAB_MODE": "grading", "MALARIA_LAB_WORK": str(tmp_path / "work"),
           "TF_CPP_MIN_LOG_LEVEL": "3"}
    execute(nb, tmp_path, env)
    for cell in nb.cells:
        assert not errors(cell), f"{cell.id}: {errors(cell)[0].ename}: {errors(cell)[0].evalue}"
    said = "".join(o.get("text", "") for c in nb.cells if "solutions_policy(" in c.source for o in c.outputs)
    assert "Solutions: self-study course" in said, "the set-up says which solutions policy is on"
    check = nb.cells[-1]
    assert score(check) == 0.0
    html = next(o for o in check.outputs if o.output_type == "execute_result").data["text/html"]
    assert "Not attempted" in html


def test_a_handed_out_release_notebook_grades_against_the_rebuilt_source(tmp_path):
    """The committed release notebooks (what students already have) grade with full marks against
    source notebooks built afresh from the text notebooks: the cell ids kept them in step."""
    import json
    import shutil
    import subprocess
    import sys

    from malaria_lab.instructor.authoring import write_sources
    from malaria_lab.instructor.submissions import make_submission, write_submission

    course = tmp_path / "course"
    shutil.copytree(COURSE / "stages", course / "stages")
    shutil.copy(COURSE / "nbgrader_config.py", course)
    stages = ("02_split", "04_build_cnn")
    assert len(write_sources(course, stages)) == len(stages)
    for stage in stages:
        write_submission(course, "handed-out", stage, make_submission(release_path(stage), stage, "solution"))
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", MALARIA_LAB_CACHE=str(tmp_path / "cache"))
    done = subprocess.run([sys.executable, "-m", "malaria_lab", "course", "grade", str(course), "-q"],
                          capture_output=True, text=True, env=env, timeout=1800)
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    for stage in stages:
        record = json.loads((course / "grading" / "jobs" / stage / "handed-out.json").read_text())
        assert record["score"] == load_stage(stage).points, record
        assert record["notes"] == [], "no cell had to be restored: every id matched"

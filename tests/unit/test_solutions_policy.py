"""The course's solutions policy: read from course.toml, written into the notebooks by `course build`,
followed by `qN.solution()` and the hints in the learner's kernel, and a stage's solutions released
as a notebook of their own (`course solutions`)."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from malaria_lab.checks import STAGES, load_stage, policy
from malaria_lab.cli import main
from malaria_lab.errors import MalariaLabError
from malaria_lab.instructor import authoring, course_settings
from malaria_lab.instructor.release import generate
from malaria_lab.instructor.solutions import solutions_notebook

ROOT = Path(__file__).resolve().parents[2]
COURSE = ROOT / "course"
OFFERS = re.compile(r"\.solution\(\)")


@pytest.fixture(autouse=True)
def default_policy():
    policy.reset()
    yield
    policy.reset()


def graded_course(tmp_path, settings='[solutions]\npolicy = "graded"\n'):
    shutil.copytree(COURSE / "stages", tmp_path / "stages")
    shutil.copy(COURSE / "nbgrader_config.py", tmp_path)
    (tmp_path / "course.toml").write_text(settings)
    return tmp_path


def run_policy_lines(nb):
    """Run the imports cell's policy lines, as the learner's kernel does; returns what they print."""
    [cell] = [c for c in nb.cells if "solutions_policy(" in c.source]
    lines = [line for line in cell.source.splitlines() if "solutions_policy" in line]
    done = subprocess.run([sys.executable, "-c", "\n".join(lines)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    exec("\n".join(lines), {})  # and here, so that this process's q.solution() follows it
    return done.stdout


def test_the_setting_is_read_with_self_study_by_default(tmp_path):
    assert course_settings.read(COURSE).solutions is policy.Solutions.SELF_STUDY
    assert course_settings.read(tmp_path).solutions is policy.Solutions.SELF_STUDY  # no course.toml
    (tmp_path / "course.toml").write_text('[repository]\nname = "a/b"\n')
    assert course_settings.read(tmp_path).solutions is policy.Solutions.SELF_STUDY
    assert course_settings.read(graded_course(tmp_path / "g")).solutions is policy.Solutions.GRADED


@pytest.mark.parametrize("text, words", [
    ('[solutions]\npolicy = "secret"\n', "'secret' is not a policy"),
    ('[solutions]\npolicy = 1\n', "1 is not a policy"),
    ('solutions = "graded"\n', "should be a table"),
    ('[solutions]\npolcy = "graded"\n', "no setting 'polcy'"),
])
def test_a_bad_setting_is_one_clear_line(tmp_path, text, words, capsys):
    (tmp_path / "course.toml").write_text(text)
    with pytest.raises(MalariaLabError, match=re.escape(words)) as err:
        course_settings.read(tmp_path)
    assert '"self-study" or "graded"' in err.value.fix
    course = graded_course(tmp_path / "course", text)
    for command in (["build", str(course), "--no-release"], ["solutions", str(course), "--stage", "02_split"]):
        assert main(["course", *command]) == 2
        out = capsys.readouterr().err.strip().splitlines()
        assert len(out) == 1 and words in out[0] and "Traceback" not in out[0]


def test_self_study_offers_the_solution_as_before():
    ex = load_stage("02_split")["q1"]
    nb = authoring.build(COURSE, "02_split")
    task = next(c for c in nb.cells if c.source.startswith("### Exercise 1:"))
    assert task.source.endswith("and `q1.solution()` once you have tried.")
    assert "Solutions: self-study" in run_policy_lines(nb)
    assert ex.solution_code in str(ex.solution()) and "q1.solution()" in str(ex.hint(3))


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """A graded course: every stage's source notebook, and 06_evaluate released by nbgrader."""
    course = graded_course(tmp_path_factory.mktemp("graded") / "course")
    authoring.write_sources(course)
    generate(course, ["06_evaluate"])  # nbgrader's release, as `course build` makes it (seconds a stage)
    return course


def test_a_graded_course_offers_no_solution_anywhere_and_withholds_it(graded):
    release = nbformat.read(graded / "release/06_evaluate/06_evaluate.ipynb", as_version=4)
    for stage in STAGES:  # the release is made from the source; nbgrader only takes the answers out
        source = nbformat.read(authoring.source_path(graded, stage), as_version=4)
        for nb in (source, release) if stage == "06_evaluate" else (source,):
            assert nb.metadata["malaria_lab"]["solutions"] == "graded"
            offers = [c.id for c in nb.cells if OFFERS.search(c.source)]
            assert offers == [], f"{stage}: cells {offers} offer the solution"
            tasks = [c.source for c in nb.cells if c.source.startswith("### Exercise")]
            assert len(tasks) == len(load_stage(stage).exercises) and all("*Stuck?* Run" in t for t in tasks)
    said = run_policy_lines(release)
    assert "graded course; solutions are withheld until your instructor releases them" in said
    for stage in STAGES:  # every exercise, in a kernel where a graded imports cell ran
        for ex in load_stage(stage):
            shown = str(ex.solution())
            assert len(shown.splitlines()) == 1 and "withholds solutions until your instructor releases them" in shown
            messages = [str(ex.hint(n)) for n in range(1, len(ex.hints) + 1)]
            assert not any(OFFERS.search(m) for m in messages), f"a hint of {stage} {ex.id} offers the solution"
            assert "That is the last hint." in messages[-1]


def test_a_changed_policy_makes_the_notebooks_stale(graded, tmp_path):
    course = shutil.copytree(graded, tmp_path / "course")
    assert authoring.stale_sources(course) == []
    (course / "course.toml").write_text('[solutions]\npolicy = "self-study"\n')
    stale = authoring.stale_sources(course)
    assert len(stale) == len(STAGES) and all("built for solutions policy 'graded'" in line for line in stale)
    with pytest.raises(MalariaLabError, match="run `malaria-lab course build`"):
        solutions_notebook(course, "06_evaluate")  # a stale release is refused, not released wrong


def test_releasing_a_stage_hands_out_its_solutions_as_a_notebook(graded, capsys):
    assert main(["course", "solutions", str(graded), "--stage", "06_evaluate"]) == 0
    path = graded / "solutions/06_evaluate/06_evaluate_solutions.ipynb"
    assert f"wrote {path}" in capsys.readouterr().out
    nb = nbformat.read(path, as_version=4)
    decl = load_stage("06_evaluate")
    answers = {c.id.split("_")[0]: c.source for c in nb.cells if c.id.endswith("_answer")}
    assert answers == {ex.id: ex.solution_code.rstrip("\n") for ex in decl}
    assert not any("nbgrader" in c.metadata for c in nb.cells), "a solutions notebook is never graded"
    assert not any("HIDDEN TESTS" in c.source or "colab-badge" in c.source for c in nb.cells)
    assert nb.cells[0].source.startswith("# Solutions: 06_evaluate")
    assert "released this stage's solutions" in run_policy_lines(nb)
    assert decl["q1"].solution_code in str(decl["q1"].solution())
    policy.solutions_policy("graded", stage="02_split", quiet=True)  # another stage stays withheld
    assert "withholds" in str(load_stage("02_split")["q1"].solution())
    assert main(["course", "solutions", str(graded), "--stage", "02_split"]) == 2  # not released by nbgrader
    assert "Run `malaria-lab course build` first" in capsys.readouterr().err
    assert main(["course", "solutions", str(graded), "--stage", "06_evaluate", "--out", str(path.parent)]) == 2

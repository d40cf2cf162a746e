"""Authoring: each stage's text notebook (course/stages/*.md) builds its nbgrader source notebook.

The committed sources are what the texts build; inserting a cell changes no other cell's id; an
edit saved through JupyterLab's (jupytext's) contents manager reaches the build and changes only
its own lines; an edit made to a generated notebook is caught with the file to edit instead.
"""

import shutil
from pathlib import Path

import jupytext
import nbformat
import pytest

from malaria_lab.checks import STAGES, load_stage
from malaria_lab.errors import MalariaLabError
from malaria_lab.instructor import authoring

ROOT = Path(__file__).resolve().parents[2]
COURSE = ROOT / "course"


@pytest.fixture
def course(tmp_path):
    """A copy of the course's text notebooks, built sources and nbgrader config."""
    shutil.copytree(COURSE / "stages", tmp_path / "stages")
    shutil.copytree(COURSE / "source", tmp_path / "source")
    shutil.copy(COURSE / "nbgrader_config.py", tmp_path)
    return tmp_path


def ids(nb):
    return [cell.id for cell in nb.cells]


def test_committed_sources_are_what_the_texts_build():
    assert authoring.stale_sources(COURSE) == []


@pytest.mark.parametrize("stage", STAGES)
def test_every_text_cell_has_an_id_and_the_build_keeps_it(stage):
    text = authoring.read_text(authoring.text_path(COURSE, stage))
    text_ids = [c.metadata["id"] for c in text.cells]
    assert len(set(text_ids)) == len(text_ids)
    built = ids(authoring.build(COURSE, stage))
    assert [i for i in built if not i.endswith(("_answer", "_check"))] == text_ids
    for cell in authoring.build(COURSE, stage).cells:
        meta = cell.metadata.get("nbgrader")
        assert meta is None or meta["grade_id"] == cell.id


@pytest.mark.parametrize("stage", STAGES)
def test_release_notebooks_carry_the_source_ids(stage):
    """Notebooks already handed out grade against the rebuilt source only if the ids agree."""
    release = nbformat.read(COURSE / "release" / stage / f"{stage}.ipynb", as_version=4)
    source = authoring.build(COURSE, stage)
    graded = lambda nb: [c.metadata["nbgrader"]["grade_id"] for c in nb.cells if "nbgrader" in c.metadata]  # noqa: E731
    assert graded(release) == graded(source)


def test_inserting_a_cell_changes_no_other_id(course):
    before = ids(authoring.build(course, "02_split"))
    path = authoring.text_path(course, "02_split")
    text = jupytext.read(path)
    text.cells.insert(3, nbformat.v4.new_markdown_cell("A new remark, written by an instructor."))
    text.cells.insert(0, nbformat.v4.new_code_cell("print('a new first cell')"))
    path.write_text(jupytext.writes(text, fmt="md:myst"))
    with pytest.raises(MalariaLabError, match="has no id"):
        authoring.build(course, "02_split")
    given = authoring.give_ids(course, "02_split")
    assert len(given) == 2 and all(g.startswith(("md-", "code-")) for g in given)
    after = ids(authoring.build(course, "02_split"))
    assert [i for i in after if i not in given] == before
    assert set(given) <= set(after)
    assert authoring.give_ids(course, "02_split") == [], "ids once given stay"


def test_an_edit_saved_from_jupyterlab_reaches_the_build(course):
    """JupyterLab opens and saves the text notebook through jupytext's contents manager."""
    pytest.importorskip("jupyter_server")
    from jupytext import TextFileContentsManager

    manager = TextFileContentsManager(root_dir=str(course / "stages"))
    nb = manager.get("02_split.md")["content"]
    [cell] = [c for c in nb.cells if c.metadata.get("id") == "md-17"]
    cell.source = cell.source.replace("A doctor's next patient", "A clinic's next patient")
    before = authoring.text_path(course, "02_split").read_text().splitlines()
    manager.save({"type": "notebook", "content": nb}, "02_split.md")
    after = authoring.text_path(course, "02_split").read_text().splitlines()
    # jupytext stamps the version that saved the file; only the edited line may differ otherwise.
    changed = [(a, b) for a, b in zip(before, after) if a != b and "jupytext_version:" not in a]
    assert len(before) == len(after) and len(changed) == 1 and "A clinic's" in changed[0][1]
    built = {c.id: c.source for c in authoring.build(course, "02_split").cells}
    assert "A clinic's next patient" in built["md-17"]
    assert authoring.write_sources(course, ["02_split"]) == [authoring.source_path(course, "02_split")]


def test_an_edit_to_a_generated_notebook_is_caught_with_the_file_to_edit(course):
    path = authoring.source_path(course, "03_augment")
    nb = nbformat.read(path, as_version=4)
    nb.cells[1].source += "\n\nA sentence typed into the generated notebook."
    nbformat.write(nb, path)
    [problem] = authoring.stale_sources(course)
    assert "03_augment.ipynb" in problem and "course/stages/03_augment.md" in problem
    assert "malaria-lab course build" in problem
    authoring.write_sources(course, ["03_augment"])
    assert authoring.stale_sources(course) == []


def test_exercise_cells_come_from_the_declaration(course):
    nb = authoring.build(course, "06_evaluate")
    decl = load_stage("06_evaluate")
    for ex_id, ex in decl.exercises.items():
        answer = next(c for c in nb.cells if c.id == f"{ex_id}_answer")
        assert answer.source == ex.code.rstrip("\n")
        task = nb.cells[nb.cells.index(answer) - 1]
        assert task.source.startswith(f"### Exercise {ex_id[1:]}: {ex.title} ({ex.points:g} points)")
        check = nb.cells[nb.cells.index(answer) + 1]
        assert check.metadata["nbgrader"]["points"] == ex.points and check.source.endswith(f"{ex_id}.check()")
    summary = next(c for c in nb.cells if "exercises worth" in c.source)
    assert f"{len(decl.exercises)} exercises worth {decl.points:g} points" in summary.source


@pytest.mark.parametrize("change, words", [
    (lambda cells: cells.__setitem__(0, _with(cells[0], source="my own badges")), r"generated \(launch\)"),
    (lambda cells: cells.__setitem__(1, _with(cells[1], id="launch")), "Two cells"),
    (lambda cells: [c.metadata.__setitem__("exercise", "q9") for c in cells if c.metadata.get("exercise") == "q1"],
     "does not declare"),
    (lambda cells: [cells.remove(c) for c in list(cells) if c.metadata.get("exercise") == "q2"], "no task cell"),
    (lambda cells: cells.__setitem__(1, _with(cells[1], generate="cake")), "not a kind"),
])
def test_text_mistakes_get_one_clear_message(course, change, words):
    path = authoring.text_path(course, "02_split")
    text = jupytext.read(path)
    change(text.cells)
    path.write_text(jupytext.writes(text, fmt="md:myst"))
    with pytest.raises(MalariaLabError, match=words):
        authoring.build(course, "02_split")


def _with(cell, source=None, **metadata):
    cell = nbformat.from_dict(cell)
    if source is not None:
        cell.source = source
    cell.metadata.update(metadata)
    return cell

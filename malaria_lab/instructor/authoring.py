"""Each stage is authored as one text notebook, ``course/stages/<stage>.md``, and built into
nbgrader's source notebook ``course/source/<stage>/<stage>.ipynb``.

The text is MyST Markdown read and written by jupytext, so it opens in JupyterLab as a notebook
and diffs as text. Every cell carries an explicit ``id`` in its metadata, which becomes the cell's
id and nbgrader ``grade_id``: inserting a cell changes no other cell's id, so notebooks already
handed out keep grading. What the text does not spell out comes from elsewhere:

* a markdown cell with ``exercise: qN`` holds the task; the heading (title, points), the hint
  line, the answer cell (the declaration's code) and the graded check cell come from the
  exercise's declaration in ``malaria_lab/checks/stageNN.py``;
* ``{{ exercises }}`` in a markdown cell says how many exercises and points the stage has;
* cells with ``generate: launch | install | imports | handin`` are the Colab/Binder badges, the
  install set-up cell, the imports cell (its text, then the stage's prelude, its checks and the
  course's solutions policy from ``course.toml``, which the cell's output names) and the hand-in
  cell at the end (:mod:`malaria_lab.course.handin`: the public checks once more, and how to hand
  the notebook in);
* code cells with ``locked: true`` are set-up cells nbgrader restores when grading; other code
  cells are the learner's to change; every markdown cell is locked.
"""

import re
import secrets
from pathlib import Path

import jupytext
import nbformat

from ..atomic import write_text
from ..checks import load_stage
from ..checks.cell_ids import Role, answer_id, check_id, exercise_of
from ..checks.policy import Solutions
from ..errors import MalariaLabError
from ..settings import STAGES
from . import course_settings, coursedir, setup_cell
from .coursedir import TEXT as TEXT_DIR

TEXT_FORMAT = "md:myst"
COLAB_BADGE = "https://colab.research.google.com/assets/colab-badge.svg"
BINDER_BADGE = "https://mybinder.org/badge_logo.svg"
SUMMARY = "{{ exercises }}"
PLACEHOLDERS = {
    "launch": "<!-- generated: the Open in Colab and Launch Binder badges -->",
    "install": "# generated: installs the course package where it is missing (Colab, Binder)",
    "handin": "# generated: checks the answers once more and says how to hand this notebook in",
}
# At grading, rebind qN to a grader from a fresh copy of the checks (see malaria_lab/checks/fresh.py).
HIDDEN_GRADER = (
    'import runpy, malaria_lab\n'
    '{ex} = runpy.run_path(malaria_lab.__path__[0] + "/checks/fresh.py")["grader"]({stage!r}, {ex!r})'
)
HANDIN = """\
# Hand in: run this cell when you are done. It runs the public checks once more, lists
# what is still to do (you can hand in all the same) and says which file to upload, and how.
from malaria_lab.course.handin import hand_in

hand_in({stage!r}, globals())"""


def text_path(course_dir, stage):
    return coursedir.text_notebook(course_dir, stage)


def source_path(course_dir, stage):
    return coursedir.notebook(course_dir, coursedir.Kind.SOURCE, stage)


def release_path(stage):
    """The student version of a stage, relative to the repository root."""
    return coursedir.release_in_repository(stage)


def repository(course_dir=None):
    """The course's settings (its repository and branch: ``course.toml``, the one place a fork
    changes them); the repository's own course folder by default."""
    return course_settings.read(course_dir if course_dir is not None else coursedir.in_repository())


def colab_url(stage, settings=None):
    """Opens the student version (never the solution) in Colab."""
    s = settings or repository()
    return f"https://colab.research.google.com/github/{s.repository}/blob/{s.branch}/{release_path(stage)}"


def binder_url(stage, settings=None):
    """Opens the student version in JupyterLab on Binder."""
    s = settings or repository()
    return f"https://mybinder.org/v2/gh/{s.repository}/{s.branch}?urlpath=lab/tree/{release_path(stage)}"


def read_text(path):
    """The text notebook at ``path``, as jupytext reads it."""
    path = Path(path)
    if not path.is_file():
        raise MalariaLabError(f"No text notebook at {path}.",
                              f"Each stage is authored in {TEXT_DIR}/<stage>.md of the course folder.")
    return jupytext.read(path, fmt=TEXT_FORMAT)


def _meta(grade_id, grade=False, solution=False, locked=False, points=None):
    meta = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": 3,
            "solution": solution, "task": False}
    if points is not None:
        meta["points"] = points
    return meta


def _locked_markdown(cell_id, text):
    cell = nbformat.v4.new_markdown_cell(text, id=cell_id)
    cell.metadata["nbgrader"] = _meta(cell_id, locked=True)
    return cell


def _locked_code(cell_id, source):
    cell = nbformat.v4.new_code_cell(source, id=cell_id)
    cell.metadata["nbgrader"] = _meta(cell_id, locked=True)
    return cell


def hint_line(ex, policy=Solutions.SELF_STUDY):
    """The line under a task that points to the hints, and to the solution where the course's
    policy offers it (not in a graded course)."""
    hints = ", ".join(f"`{ex.id}.hint({n})`" if n > 1 else f"`{ex.id}.hint()`"
                      for n in range(1, len(ex.hints) + 1))
    if Solutions(policy) is Solutions.GRADED:
        return f"*Stuck?* Run {hints} in a new cell, from gentle to explicit."
    return (f"*Stuck?* Run {hints} in a new cell, from gentle to explicit, and "
            f"`{ex.id}.solution()` once you have tried.")


def policy_call(policy, stage, released=False):
    """The imports cell's line that tells the kernel the course's solutions policy (and says it)."""
    return (f"solutions_policy({Solutions(policy).value!r}, stage={stage!r}"
            + (", released=True)" if released else ")"))


def _exercise_cells(stage, ex, cell_id, task, policy):
    """The task (read-only), the answer cell (solution region) and the check (graded)."""
    heading = f"### Exercise {ex.id[1:]}: {ex.title} ({ex.points:g} points)"
    cells = [_locked_markdown(cell_id, f"{heading}\n\n{task}\n\n{hint_line(ex, policy)}")]
    answer = nbformat.v4.new_code_cell(ex.code.rstrip("\n"), id=answer_id(ex.id))
    answer.metadata["nbgrader"] = _meta(answer.id, solution=True)
    check = nbformat.v4.new_code_cell(
        f"# Check exercise {ex.id[1:]}: run this cell after the one above.\n"
        "### BEGIN HIDDEN TESTS\n" + HIDDEN_GRADER.format(stage=stage, ex=ex.id) + "\n"
        "### END HIDDEN TESTS\n" f"{ex.id}.check()", id=check_id(ex.id))
    check.metadata["nbgrader"] = _meta(check.id, grade=True, locked=True, points=ex.points)
    return cells + [answer, check]


def _summary(decl):
    return (f"This notebook has {len(decl.exercises)} exercises worth {decl.points:g} points. Write your "
            "code where it says `# YOUR CODE HERE` (delete the `raise NotImplementedError()` "
            "line), run the cell, then run the check cell under it: it tells you what, if "
            "anything, to fix.")


def _generated(stage, decl, kind, cell_id, body, settings):
    if kind in PLACEHOLDERS and body.strip() not in ("", PLACEHOLDERS[kind]):
        raise MalariaLabError(
            f"Cell {cell_id} of {stage} is generated ({kind}), but its text was changed.",
            f"Leave it as `{PLACEHOLDERS[kind]}`; its content comes from malaria_lab/instructor/authoring.py.")
    if kind == "launch":
        cell = nbformat.v4.new_markdown_cell(
            f"[![Open In Colab]({COLAB_BADGE})]({colab_url(stage, settings)}) "
            f"[![Launch Binder]({BINDER_BADGE})]({binder_url(stage, settings)})", id=cell_id)
        cell.metadata["nbgrader"] = _meta(cell_id, locked=True)
        return cell
    if kind == "install":
        return _locked_code(cell_id, setup_cell.cell(settings.repository, settings.branch))
    if kind == "handin":
        return _locked_code(cell_id, HANDIN.format(stage=stage))
    if kind == "imports":
        module = f"malaria_lab.checks.stage{stage[:2]}"
        ids = ", ".join(sorted(decl.exercises))
        return _locked_code(cell_id, decl.prelude + body + f"\nfrom malaria_lab.checks.policy import solutions_policy"
                            f"\nfrom {module} import {ids}\n\n{policy_call(settings.solutions, stage)}")
    raise MalariaLabError(f"Cell {cell_id} of {stage} asks to generate {kind!r}, which is not a kind.",
                          "Use generate: launch, install, imports or handin.")


def build(course_dir, stage):
    """nbgrader's source notebook of ``stage``, built from its text notebook and declarations."""
    path = text_path(course_dir, stage)
    text = read_text(path)
    decl = load_stage(stage)
    settings = course_settings.read(course_dir)
    policy = settings.solutions
    cells, seen = [], set()
    for cell in text.cells:
        cell_id = cell.metadata.get("id")
        if not cell_id:
            raise MalariaLabError(f"A cell of {path} has no id (it begins {cell.source[:40]!r}).",
                                  "Run `malaria-lab course build`: it gives new cells an id.")
        if cell_id in seen:
            raise MalariaLabError(f"Two cells of {path} have the id {cell_id!r}.",
                                  "Give the cell you added a new id (or delete its id and run "
                                  "`malaria-lab course build`).")
        seen.add(cell_id)
        kind, ex_id = cell.metadata.get("generate"), cell.metadata.get("exercise")
        if kind:
            cells.append(_generated(stage, decl, kind, cell_id, cell.source, settings))
        elif ex_id:
            if ex_id not in decl.exercises:
                raise MalariaLabError(f"{path} has a task for exercise {ex_id!r}, which "
                                      f"malaria_lab/checks/stage{stage[:2]}.py does not declare.",
                                      f"Declare it there, or use one of {', '.join(sorted(decl.exercises))}.")
            cells += _exercise_cells(stage, decl[ex_id], cell_id, cell.source, policy)
        elif cell.cell_type == "markdown":
            cells.append(_locked_markdown(cell_id, cell.source.replace(SUMMARY, _summary(decl))))
        elif cell.metadata.get("locked"):
            cells.append(_locked_code(cell_id, cell.source))
        else:
            cells.append(nbformat.v4.new_code_cell(cell.source, id=cell_id))
    missing = sorted(set(decl.exercises) - {exercise_of(c.id, Role.ANSWER) for c in cells})
    if missing:
        raise MalariaLabError(f"{path} has no task cell for exercise(s) {', '.join(missing)}.",
                              "Add a markdown cell with `exercise: ID` in its metadata for each.")
    nb = nbformat.v4.new_notebook()
    nb.cells = cells
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    nb.metadata["language_info"] = {"name": "python"}
    # The stage, for `malaria-lab course collect` to tell a renamed hand-in (notebook_stage.py).
    nb.metadata["malaria_lab"] = {"generated_from": f"course/{TEXT_DIR}/{stage}.md", "solutions": policy.value,
                                  "stage": stage}
    return nb


def _as_text(nb):
    return nbformat.writes(nb) + "\n"


def give_ids(course_dir, stage):
    """Give every cell of the text notebook without an id a new one, written back into the text;
    returns the ids given. Ids already there never change."""
    path = text_path(course_dir, stage)
    text = read_text(path)
    given = []
    for cell in text.cells:
        if not cell.metadata.get("id"):
            prefix = "md" if cell.cell_type == "markdown" else "code"
            cell.metadata["id"] = f"{prefix}-{secrets.token_hex(3)}"
            given.append(cell.metadata["id"])
    if given:
        write_text(path, jupytext.writes(text, fmt=TEXT_FORMAT))
    return given


def write_sources(course_dir, stages=STAGES):
    """Build each stage's source notebook from its text (new cells get ids first); returns the
    paths that changed."""
    written = []
    for stage in stages:
        give_ids(course_dir, stage)
        text = _as_text(build(course_dir, stage))
        path = source_path(course_dir, stage)
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            write_text(path, text)
            written.append(path)
    return written


def _policy_of(text):
    """The solutions policy a built notebook's text was made for (None when it is not a notebook)."""
    try:
        meta = nbformat.reads(text, as_version=4).metadata.get("malaria_lab", {})
    except Exception:  # a damaged file: said to be stale as any other difference
        return None
    return meta.get("solutions", Solutions.SELF_STUDY.value)


def stale_sources(course_dir, stages=STAGES):
    """One line per source notebook that is not what its text notebook builds (empty when none)."""
    problems = []
    for stage in stages:
        path = source_path(course_dir, stage)
        try:
            text = _as_text(build(course_dir, stage))
        except MalariaLabError as err:
            problems.append(str(err))
            continue
        if not path.is_file():
            problems.append(f"{path} is missing: run `malaria-lab course build`.")
        elif path.read_text(encoding="utf-8") != text:
            was, now = _policy_of(path.read_text(encoding="utf-8")), _policy_of(text)
            if None not in (was, now) and was != now:
                problems.append(f"{path} was built for solutions policy {was!r}; course.toml now says {now!r}: "
                                "run `malaria-lab course build` (and commit the notebooks).")
                continue
            problems.append(
                f"{path} is not what {text_path(course_dir, stage)} builds. It is generated: edit "
                f"the text notebook course/{TEXT_DIR}/{stage}.md (or the exercise in "
                f"malaria_lab/checks/stage{stage[:2]}.py) instead, then run `malaria-lab course build`.")
    return problems


def pointing_elsewhere(course_dir, stages=STAGES):
    """One line per release notebook whose badges or set-up cell do not point to the repository
    and branch of ``course.toml`` (empty when all do): a fork that forgot to rebuild."""
    settings = course_settings.read(course_dir)
    want = (colab_url(stages[0], settings).split("/blob/")[0] + f"/blob/{settings.branch}/",
            setup_cell.package_spec(settings.repository, settings.branch))
    problems = []
    for stage in stages:
        path = coursedir.notebook(course_dir, coursedir.Kind.RELEASE, stage)
        if not path.is_file():
            continue  # a missing release is for the staleness check to report
        text = path.read_text(encoding="utf-8")
        found = sorted(set(re.findall(r"github(?:\.com)?/([\w-]+/[\w.-]+?)(?:/blob/|@)([\w.-]+)", text)))
        if not all(w in text for w in (*want, binder_url(stage, settings))):
            where = ", ".join(f"{r}@{b}" for r, b in found) or "no repository"
            problems.append(f"{path} points to {where}, not to {settings.repository}@{settings.branch} "
                            "(course.toml): run `malaria-lab course build` and commit the notebooks.")
    return problems

"""A stage's solutions, released to the class after the deadline: ``malaria-lab course solutions``.

In a ``graded`` course ``qN.solution()`` withholds solutions. To release a stage's, the instructor
hands out a notebook: the stage's release notebook with every answer cell holding the published
solution, and its imports cell saying that this stage's solutions are released (so ``qN.solution()``
shows them there too). A file works the same on Colab, Binder, a JupyterHub and offline, whatever
version of the package a student's kernel has: nothing in the notebooks already handed out changes.
"""

import nbformat

from ..atomic import write_text
from ..errors import MalariaLabError
from . import course_settings, coursedir
from .authoring import COLAB_BADGE, policy_call
from .submissions import make_submission

INTRO = """\
# Solutions: {stage}

Your instructor has released this stage's solutions. Each answer cell holds one solution (there are
other good ones): compare it with yours, run the notebook to see every check pass, and
`q1.solution()` shows a solution here too. Your own notebook stays as you handed it in."""


def solutions_notebook(course_dir, stage):
    """The notebook that releases ``stage``'s solutions (see the module's docstring)."""
    policy = course_settings.read(course_dir).solutions
    release = coursedir.notebook(course_dir, coursedir.Kind.RELEASE, stage)
    if not release.is_file():
        raise MalariaLabError(f"No release notebook at {release}.", "Run `malaria-lab course build` first.")
    nb = make_submission(release, stage, "solution")
    call = policy_call(policy, stage)
    imports = [c for c in nb.cells if c.cell_type == "code" and call in c.source]
    if len(imports) != 1:
        raise MalariaLabError(f"{release} does not set the course's solutions policy ({call}).",
                              "It is stale: run `malaria-lab course build`, then this command again.")
    imports[0].source = imports[0].source.replace(call, policy_call(policy, stage, released=True))
    nb.cells = [c for c in nb.cells if COLAB_BADGE not in c.source]  # the badges open the exercises
    for cell in nb.cells:
        cell.metadata.pop("nbgrader", None)  # to read and run, never to grade
    nb.cells.insert(0, nbformat.v4.new_markdown_cell(INTRO.format(stage=stage), id="solutions-intro"))
    nb.metadata.setdefault("malaria_lab", {})["solutions_released"] = stage
    return nb


def write_solutions(course_dir, stage, out=None):
    """Write ``stage``'s solutions notebook (to ``out``, or the course's ``solutions/`` folder)."""
    path = out or coursedir.solutions_notebook(course_dir, stage)
    return write_text(path, nbformat.writes(solutions_notebook(course_dir, stage)))

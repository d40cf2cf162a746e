"""The hand-in cell at the end of every stage: the public checks run once more, the exercises
still unsolved or failing listed, and which file to upload, and how, where the learner works
(Colab, Binder, a JupyterHub, their own JupyterLab). It only informs: it never raises, never
stops a hand-in, and does nothing while nbgrader or ``malaria-lab course grade`` runs the notebook.
"""

import contextlib
import os
import signal
import threading
from enum import Enum

from ..checks.catalog import load_stage
from ..checks.results import NOT_ATTEMPTED, show
from ..settings import grading_mode, in_colab

CHECK_SECONDS = 30  # one exercise's public checks may take this long here, then are left out


class Platform(str, Enum):
    COLAB = "Google Colab"
    BINDER = "Binder"
    JUPYTERHUB = "a JupyterHub"
    LOCAL = "JupyterLab"


def platform():
    """Where this kernel runs, as far as its environment says."""
    if in_colab():
        return Platform.COLAB
    if any(k in os.environ for k in ("BINDER_LAUNCH_HOST", "BINDER_REPO_URL", "BINDER_REQUEST")):
        return Platform.BINDER
    if "JUPYTERHUB_USER" in os.environ:
        return Platform.JUPYTERHUB
    return Platform.LOCAL


def notebook_file(namespace):
    """The notebook's own file name, where the front end tells the kernel (JupyterLab's
    ``__session__``, VS Code's ``__vsc_ipynb_file__``), else None (Colab does not)."""
    for key in ("__session__", "__vsc_ipynb_file__"):
        value = namespace.get(key)
        if isinstance(value, str) and value.lower().endswith(".ipynb"):
            return os.path.basename(value)
    return None


class _TookTooLong(BaseException):
    """Raised into a check that runs past CHECK_SECONDS (a BaseException, so that the checks'
    own ``except Exception`` cannot turn it into a verdict)."""


@contextlib.contextmanager
def _time_limit(seconds):
    """Interrupt the block after ``seconds`` where the OS allows it (a main thread with SIGALRM)."""
    if not hasattr(signal, "SIGALRM") or threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum, frame):
        raise _TookTooLong()

    previous = signal.signal(signal.SIGALRM, stop)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _status(ex, namespace):
    """(done?, one line) for an exercise, from its public checks on the learner's names."""
    try:
        with _time_limit(CHECK_SECONDS):
            result = ex.run(namespace=namespace, hidden=False)
    except _TookTooLong:
        return False, f"its checks took over {CHECK_SECONDS} s here; run `{ex.id}.check()` to see why"
    except Exception as err:  # a check that breaks must not stop the hand-in
        return False, f"could not be checked here ({type(err).__name__}); run `{ex.id}.check()`"
    if result.passed:
        return True, "passes its public checks"
    if result.status == NOT_ATTEMPTED:
        return False, "not attempted yet"
    return False, result.message


STEPS = {
    Platform.COLAB: "*File > Download > Download .ipynb*, then upload the file it saves",
    Platform.BINDER: "Binder deletes your files when the session ends or sits idle, so **download it "
                     "now**: *File > Save Notebook*, then *File > Download*, and upload the file it saves",
    Platform.JUPYTERHUB: "*File > Save Notebook*; if your course collects through nbgrader, submit it in the "
                         "*Assignments* tab, otherwise *File > Download* and upload the file it saves",
    Platform.LOCAL: "*File > Save Notebook*, then upload the notebook file from your disk (or *File > Download* "
                    "and upload the file it saves)",
}


def _how(where, stage, name):
    shown = f"`{name}`" if name else "the notebook"
    return (f"**To hand in** on {where.value}: {STEPS[where]} to your course's assignment for {stage} "
            f"(Canvas, Moodle, Blackboard, Brightspace...). Hand in {shown} as it is: any name works "
            f"(`Copy of {stage}.ipynb`, `{stage} (1).ipynb`), the course knows the stage from its content.")


def report(stage, namespace):
    """The hand-in message for ``stage``, as Markdown."""
    decl = load_stage(stage)
    lines = [f"### Hand in {stage}", ""]
    todo = []
    for ex in decl:
        done, why = _status(ex, namespace)
        lines.append(f"- {'✔' if done else '✘'} **{ex.id}** {ex.title} ({ex.points:g} points): {why}")
        todo += [] if done else [ex.id]
    lines.append("")
    if todo:
        lines.append(f"Still to do: {', '.join(todo)}. You can hand in now all the same: what is unsolved "
                     "scores 0, the rest scores what it earns (hidden checks run at grading).")
    else:
        lines.append("Every exercise passes its public checks (more checks run at grading).")
    lines += ["", _how(platform(), stage, notebook_file(namespace))]
    return "\n".join(lines)


def hand_in(stage, namespace):
    """Show the hand-in message (see the module docstring); nothing while the notebook is graded."""
    if grading_mode():
        return None
    try:
        return show(report(stage, namespace))
    except Exception as err:  # informing must never get in the way of handing in
        return show(f"Hand in this notebook as it is ({type(err).__name__} while checking it).")

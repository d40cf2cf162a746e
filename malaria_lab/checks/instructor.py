"""Instructor tooling around nbgrader: the committed release, dry runs, and grading in one go.

nbgrader does each step (generate, autograde, feedback, export); what it leaves to the
instructor is done here:

* :func:`build_release` writes the student notebooks into ``course/release/`` (committed, so
  students open them from Colab or Binder) and :func:`stale_release` says when they no longer
  match ``course/source/``;
* :func:`make_submission` fills a release notebook with the reference answers, with a typical
  mistake, or leaves it untouched, so an instructor can check the grading before students do;
* :func:`grade` autogrades every submission of the given stages, writes the feedback and exports
  the grades, and :func:`scores` reads the gradebook back.

Everything runs nbgrader as a subprocess, with the course folder's ``nbgrader_config.py``.
"""

import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

from . import STAGES, load_stage

RELEASE = "release"
SOURCE = "source"


def nbgrader_env(extra=None):
    """The environment for nbgrader subprocesses (its ``alembic`` must be on PATH)."""
    env = dict(os.environ)
    bindir = str(Path(sys.executable).parent)
    env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    env.update(extra or {})
    return env


def nbgrader(args, course_dir, env=None, check=True):
    """Run ``nbgrader ARGS`` in ``course_dir``; returns the CompletedProcess."""
    done = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course_dir,
                          env=nbgrader_env(env), capture_output=True, text=True)
    if check and done.returncode != 0:
        raise RuntimeError(f"nbgrader {' '.join(args)} failed ({done.returncode}):\n"
                           f"{done.stdout[-3000:]}\n{done.stderr[-6000:]}")
    return done


def _scratch_course(course_dir, scratch):
    """A copy of the course's source and config in ``scratch``, to generate without side effects."""
    course_dir, scratch = Path(course_dir), Path(scratch)
    shutil.copytree(course_dir / SOURCE, scratch / SOURCE,
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints", "malaria_lab_work", "__pycache__"))
    shutil.copy(course_dir / "nbgrader_config.py", scratch / "nbgrader_config.py")
    return scratch


def generate(course_dir, stages=STAGES):
    """Run ``nbgrader generate_assignment`` for ``stages`` in ``course_dir`` (a course folder)."""
    for stage in stages:
        nbgrader(["generate_assignment", stage, "--force"], course_dir)


def _generated(course_dir, stages):
    """{relative path: text} of freshly generated release notebooks, made in a scratch copy."""
    with tempfile.TemporaryDirectory(prefix="malaria_lab_release_") as tmp:
        scratch = _scratch_course(course_dir, tmp)
        generate(scratch, stages)
        release = scratch / RELEASE
        return {p.relative_to(release).as_posix(): p.read_text(encoding="utf-8")
                for p in sorted(release.rglob("*.ipynb"))}


def build_release(course_dir, stages=STAGES):
    """Regenerate ``course_dir/release`` from ``course_dir/source``; returns the paths written."""
    course_dir = Path(course_dir)
    fresh = _generated(course_dir, stages)
    release = course_dir / RELEASE
    for stage in stages:
        if (release / stage).exists():
            shutil.rmtree(release / stage)
    written = []
    for rel, text in fresh.items():
        path = release / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


_KEPT_METADATA = ("grade", "grade_id", "locked", "points", "solution", "task")


def _essence(text):
    """What a release notebook says, without what nbgrader versions write differently.

    Cell types, sources and the nbgrader roles of cells; not JSON layout, checksums or schema
    versions, so that a newer nbgrader in CI does not make an unchanged release look stale.
    """
    nb = nbformat.reads(text, as_version=4)
    cells = []
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        cells.append((cell.cell_type, cell.source,
                      tuple((k, meta[k]) for k in _KEPT_METADATA if k in meta),
                      bool(cell.get("outputs"))))
    return cells, nb.metadata.get("kernelspec", {}).get("name")


def stale_release(course_dir, stages=STAGES):
    """Release notebooks that differ from what ``course_dir/source`` generates now (or are missing)."""
    course_dir = Path(course_dir)
    fresh = _generated(course_dir, stages)
    release = course_dir / RELEASE
    stale = [rel for rel, text in fresh.items()
             if not (release / rel).is_file()
             or _essence((release / rel).read_text(encoding="utf-8")) != _essence(text)]
    extra = []
    for stage in stages:
        for path in sorted((release / stage).rglob("*.ipynb")) if (release / stage).is_dir() else []:
            rel = path.relative_to(release).as_posix()
            if ".ipynb_checkpoints" not in path.parts and rel not in fresh:
                extra.append(rel)
    return stale + extra


# --- submissions for dry runs and tests ------------------------------------------------------


def answer_cells(nb):
    """{exercise id: cell} of a course notebook's answer cells (ids ``q1_answer``...)."""
    return {c.metadata.get("nbgrader", {}).get("grade_id", "").split("_")[0]: c
            for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution")}


def make_submission(release_path, stage, answers="solution"):
    """A release notebook with answers filled in; returns the notebook.

    ``answers``: ``"solution"`` (every exercise solved), ``"untouched"`` (as released), or a dict
    ``{exercise id: "solution" | "untouched" | ("mistake", k) | code}``; exercises not in the dict
    are solved.
    """
    nb = nbformat.read(str(release_path), as_version=4)
    decl = load_stage(stage)
    if answers == "untouched":
        return nb
    plan = {} if answers == "solution" else dict(answers)
    for ex_id, cell in answer_cells(nb).items():
        ex = decl[ex_id]
        choice = plan.get(ex_id, "solution")
        if choice == "untouched":
            continue
        if choice == "solution":
            cell.source = ex.solution_code.rstrip("\n")
        elif isinstance(choice, tuple) and choice[0] == "mistake":
            cell.source = ex.with_answer(ex.mistakes[choice[1]][0]).rstrip("\n")
        else:
            cell.source = str(choice)
    return nb


def write_submission(course_dir, student, stage, nb):
    """Put a notebook where nbgrader collects it: submitted/<student>/<stage>/<stage>.ipynb."""
    path = Path(course_dir) / "submitted" / student / stage / f"{stage}.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
    return path


# --- grading -----------------------------------------------------------------------------------


def autograde(course_dir, stage, student=None, env=None, exclude=()):
    """``nbgrader autograde`` one stage (one student, or all but ``exclude``); returns seconds."""
    args = ["autograde", stage, "--force"] + ([f"--student={student}"] if student else [])
    if exclude:
        args.append(f"--CourseDirectory.student_id_exclude={','.join(exclude)}")
    start = time.perf_counter()
    nbgrader(args, course_dir, env=env)
    return time.perf_counter() - start


def grade(course_dir, stages=STAGES, env=None, feedback=True, export="grades.csv"):
    """Autograde all submissions of ``stages``, write feedback, export grades; returns timings."""
    course_dir = Path(course_dir)
    seconds = {}
    for stage in stages:
        if not any((course_dir / "submitted").glob(f"*/{stage}")):
            continue
        seconds[stage] = autograde(course_dir, stage, env=env)
        if feedback:
            nbgrader(["generate_feedback", stage, "--force"], course_dir, env=env)
    if export:
        nbgrader(["export", f"--to={export}"], course_dir, env=env)
    return seconds


def scores(course_dir, export="grades.csv"):
    """{(stage, student): (score, max_score)} from an exported grades CSV."""
    out = {}
    with open(Path(course_dir) / export, newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            out[(row["assignment"], row["student_id"])] = (float(row["score"]), float(row["max_score"]))
    return out


def main(argv=None):
    """``python -m malaria_lab.checks.instructor {build,check,grade} COURSE_DIR``."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m malaria_lab.checks.instructor",
                                     description="malaria-lab course tooling around nbgrader")
    parser.add_argument("command", choices=["build", "check", "grade"])
    parser.add_argument("course_dir", type=Path)
    parser.add_argument("--stage", action="append", help="only this stage (repeatable)")
    args = parser.parse_args(argv)
    stages = tuple(args.stage or STAGES)
    if args.command == "build":
        for path in build_release(args.course_dir, stages):
            print("wrote", path)
        return 0
    if args.command == "check":
        stale = stale_release(args.course_dir, stages)
        if stale:
            print("course/release is out of date with course/source:", *stale, sep="\n  ")
            print("Rebuild it: python scripts/build_release.py")
            return 1
        print("course/release matches course/source.")
        return 0
    timings = grade(args.course_dir, stages)
    print(json.dumps({"seconds": timings}, indent=2))
    for (stage, student), (score, top) in sorted(scores(args.course_dir).items()):
        print(f"{stage:>14} {student:>20}: {score:g}/{top:g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

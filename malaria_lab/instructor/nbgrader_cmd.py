"""nbgrader's own commands, run as subprocesses in a course folder with its ``nbgrader_config.py``:
any command, ``nbgrader autograde`` of one stage, and the grades ``nbgrader export`` wrote."""

import csv
import os
import subprocess
import sys
import time
from pathlib import Path


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


def autograde(course_dir, stage, student=None, env=None, exclude=()):
    """``nbgrader autograde`` one stage (one student, or all but ``exclude``); returns seconds."""
    args = ["autograde", stage, "--force"] + ([f"--student={student}"] if student else [])
    if exclude:
        args.append(f"--CourseDirectory.student_id_exclude={','.join(exclude)}")
    start = time.perf_counter()
    nbgrader(args, course_dir, env=env)
    return time.perf_counter() - start


def scores(course_dir, export="grades.csv"):
    """{(stage, student): (score, max_score)} from an exported grades CSV."""
    out = {}
    with open(Path(course_dir) / export, newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            out[(row["assignment"], row["student_id"])] = (float(row["score"]), float(row["max_score"]))
    return out

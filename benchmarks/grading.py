"""Grading speed: seconds per job and per whole-course submission, sandbox on and off, 1 and 2
workers, and the wall time of a simulated class.

    python benchmarks/grading.py --students 40 --workers 1 2 --sandbox on off

Builds a scratch copy of the course, a class of ``--students`` (reference answers, each declared
typical mistake in turn, untouched notebooks, partial attempts and a few hostile notebooks),
grades it with ``malaria-lab course grade`` once per setting, and prints per setting: the wall
time, jobs per minute, seconds per job (median, and per stage), and seconds per whole-course
submission (the class's wall time over its students, and one student's jobs added up).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from malaria_lab.checks import load_stage  # noqa: E402
from malaria_lab.instructor.release import _scratch_course, generate  # noqa: E402
from malaria_lab.instructor.submissions import make_submission, write_submission  # noqa: E402
from malaria_lab.settings import STAGES  # noqa: E402

HOSTILE = [
    "import runpy\nrunpy.run_path = lambda *a, **k: {'grader': None}",
    ("import pathlib, malaria_lab.checks.engine as e\n"
     "try:\n    pathlib.Path(e.__file__).write_text('')\nexcept OSError:\n    pass"),
    "def _loop():\n    while True:\n        pass\n_loop()",
    "import numpy as np\ntry:\n    hog = np.ones(int(4e9) // 8)\nexcept MemoryError:\n    pass",
]


def make_class(course, students, stages):
    """Write the class's submissions; returns {student: kind}."""
    kinds = {}
    for i in range(students):
        student = f"s{i:03d}"
        kind = ("reference", "mistake", "mistake", "untouched", "partial", "hostile")[i % 6]
        kinds[student] = kind
        for stage in stages:
            release = course / "release" / stage / f"{stage}.ipynb"
            decl = load_stage(stage)
            ids = sorted(decl.exercises)
            if kind == "reference":
                answers = "solution"
            elif kind == "untouched":
                answers = "untouched"
            elif kind == "partial":
                answers = {ex: "untouched" for ex in ids[1:]}
            elif kind == "mistake":
                ex = decl[ids[i % len(ids)]]
                answers = {ex.id: ("mistake", i % len(ex.mistakes))} if ex.mistakes else "solution"
            else:
                first = decl[ids[0]]
                answers = {first.id: first.solution_code + "\n" + HOSTILE[i % len(HOSTILE)]}
            write_submission(course, student, stage, make_submission(release, stage, answers))
    return kinds


def grade(course, workers, sandboxed, timeout, students=()):
    args = [sys.executable, "-m", "malaria_lab", "course", "grade", str(course), "-q", "--force",
            "--workers", str(workers), "--timeout", str(timeout)]
    for student in students:
        args += ["--student", student]
    if not sandboxed:
        args.append("--no-sandbox")
    summary = course / "grading" / "summary.json"
    summary.unlink(missing_ok=True)
    start = time.perf_counter()
    done = subprocess.run(args, capture_output=True, text=True, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    wall = time.perf_counter() - start
    if done.returncode not in (0, 1) or not summary.is_file():
        raise SystemExit(f"grading failed (exit {done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return wall, json.loads(summary.read_text())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=40)
    parser.add_argument("--stages", nargs="+", default=list(STAGES))
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--sandbox", nargs="+", choices=("on", "off"), default=["on"])
    parser.add_argument("--timeout", type=float, default=60)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="malaria-lab-grading-bench-") as tmp:
        course = _scratch_course(ROOT / "course", Path(tmp) / "course")
        generate(course)
        kinds = make_class(course, args.students, args.stages)
        mix = ", ".join(f"{k}: {list(kinds.values()).count(k)}" for k in sorted(set(kinds.values())))
        print(f"{args.students} students ({mix}), stages {', '.join(args.stages)}: "
              f"{args.students * len(args.stages)} jobs on {os.cpu_count()} cores")
        print("| sandbox | workers | wall (s) | jobs/min | s per job (median) | s per submission (class wall / "
              "students) | one reference submission, jobs added up (s) | " + " | ".join(args.stages) + " |")
        print("|---" * (7 + len(args.stages)) + "|")
        # Untimed: the first run generates nbgrader's templates and warms the fallbacks and caches.
        grade(course, 1, args.sandbox[0] == "on", args.timeout, students=[next(iter(kinds))])
        for sandboxed in args.sandbox:
            for workers in args.workers:
                wall, summary = grade(course, workers, sandboxed == "on", args.timeout)
                jobs = summary["jobs"]
                reference = [j for j in jobs if kinds[j["student"]] == "reference"]
                one = min(sum(j["seconds"] for j in reference if j["student"] == s)
                          for s in {j["student"] for j in reference}) if reference else float("nan")
                per_stage = [statistics.median(j["seconds"] for j in jobs if j["stage"] == s) for s in args.stages]
                print(f"| {sandboxed} | {workers} | {wall:.0f} | {60 * len(jobs) / wall:.1f} | "
                      f"{statistics.median(j['seconds'] for j in jobs):.1f} | {wall / args.students:.1f} | {one:.1f} | "
                      + " | ".join(f"{s:.1f}" for s in per_stage) + " |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The class report of a large simulated class: seconds to build it from the grading records.

    python benchmarks/class_report.py [--students 1000] [--distinct] [--out runs/class_report]

Simulates N students over the six stages (records from the real checks, as in the tests; no
notebook runs), then times ``malaria-lab course report`` in a fresh process (imports included)
and ``build_report`` three times in this one, and the similarity of answers on its own. Prints the
seconds of each step. In the simulated class many students give the very same answer (the
solution, a declared mistake); ``--distinct`` makes every attempted answer a form of its own (a
statement with the student's number added), the hardest case for the similarity's pairing.
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from malaria_lab.instructor.report import build_report
from malaria_lab.instructor.report.load import load_class
from malaria_lab.instructor.report.similarity import class_similarity
from malaria_lab.instructor.report.simulate import random_plan, write_class
from malaria_lab.instructor.report.stats import class_stats


def make_distinct(course):
    """Give every attempted answer a statement of its own (``_ = <student number>``)."""
    for path in sorted((course / "grading" / "jobs").glob("*/*.json")):
        record = json.loads(path.read_text())
        number = int("".join(c for c in record["student"] if c.isdigit()) or 0)
        for entry in record["exercises"]:
            if entry["answer"] and entry["status"] != "not attempted":
                entry["answer"] = entry["answer"].rstrip("\n") + f"\n_ = {number} * 7 + 3\n"
        path.write_text(json.dumps(record))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--students", type=int, default=1000)
    p.add_argument("--distinct", action="store_true", help="every attempted answer a distinct form")
    p.add_argument("--out", type=Path, help="where to keep the course and its report (default: a temp folder)")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = args.out or Path(tmp)
        course, out = root / "course", root / "report"
        (course / "grading").mkdir(parents=True, exist_ok=True)
        (course / "nbgrader_config.py").write_text("")
        start = time.perf_counter()
        count = write_class(course, random_plan(args.students, seed=0))
        if args.distinct:
            make_distinct(course)
        print(f"simulated {count} records of {args.students} students in {time.perf_counter() - start:.1f} s")
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "malaria_lab", "course", "report", str(course), "--out", str(out)],
                       check=True, stdout=subprocess.DEVNULL)
        print(f"malaria-lab course report (a fresh process): {time.perf_counter() - start:.2f} s")
        runs = []
        for _ in range(3):
            start = time.perf_counter()
            report = build_report(course, out)
            runs.append(time.perf_counter() - start)
        size = (out / "index.html").stat().st_size / 1e6
        print(f"build_report, 3 runs: {', '.join(f'{s:.2f}' for s in runs)} s; index.html {size:.1f} MB, "
              f"{len(report.files)} files")
        stats = class_stats(load_class(course))
        start = time.perf_counter()
        similar = class_similarity(stats)
        found = sum(len(e.findings) for exercises in similar.values() for e in exercises)
        print(f"of which the similarity of answers: {time.perf_counter() - start:.2f} s ({found} answers to look at)")


if __name__ == "__main__":
    main()

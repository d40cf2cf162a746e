"""``malaria-lab course collect`` on a large simulated Canvas download: seconds and peak memory.

    python benchmarks/collect.py [--students 500] [--stages 02_split 05_train]

Builds a Canvas-style zip of N students' notebooks per stage (Colab's ``Copy of`` names, a tenth
handed in twice, a roster), then times ``malaria-lab course collect`` in a fresh process, once on
an empty course and once again on the same download (everything already there). Prints the
seconds, the files per second and the collector's peak memory.
"""

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import nbformat

from malaria_lab.instructor.release import _scratch_course
from malaria_lab.instructor.submissions import make_submission

ROOT = Path(__file__).resolve().parents[1]


def build(where, students, stages):
    """(course folder, download, roster) for ``students`` students handing in ``stages``."""
    course = _scratch_course(ROOT / "course", where / "course")
    subprocess.run(["cp", "-r", str(ROOT / "course" / "release"), str(course / "release")], check=True)
    roster = where / "roster.csv"
    lines = ["Student,ID,SIS User ID,SIS Login ID,Section"]
    download = where / "submissions.zip"
    with zipfile.ZipFile(download, "w", zipfile.ZIP_DEFLATED) as zf:
        for stage in stages:
            release = ROOT / "course" / "release" / stage / f"{stage}.ipynb"
            data = nbformat.writes(make_submission(release, stage)).encode()
            for i in range(students):
                user, name = 10_000 + i, f"student{i:05d}"
                zf.writestr(f"{name}_{user}_{i * 10 + 1}_Copy of {stage}.ipynb", data)
                if i % 10 == 0:
                    zf.writestr(f"{name}_late_{user}_{i * 10 + 2}_{stage}-1.ipynb", data + b" ")
    lines += [f'"Student, {i:05d}",{10_000 + i},,s{i:05d},A' for i in range(students)]
    roster.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return course, download, roster


def timed(cmd, env):
    start = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return done, seconds, peak


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--students", type=int, default=500)
    p.add_argument("--stages", nargs="+", default=["02_split"])
    args = p.parse_args()
    env = dict(os.environ, PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    with tempfile.TemporaryDirectory() as tmp:
        course, download, roster = build(Path(tmp), args.students, args.stages)
        with zipfile.ZipFile(download) as zf:
            count = len(zf.infolist())
        print(f"download: {count} files, {download.stat().st_size / 1e6:.1f} MB zipped, "
              f"{args.students} students x {len(args.stages)} stage(s)")
        cmd = [sys.executable, "-m", "malaria_lab", "course", "collect", str(download), str(course),
               "--roster", str(roster)]
        for label in ("into an empty course", "again (everything already there)"):
            done, seconds, peak = timed(cmd, env)
            if done.returncode != 0:
                sys.exit(done.stdout[-2000:] + done.stderr[-2000:])
            print(f"collect {label}: {seconds:.1f} s, {count / seconds:.0f} files/s, peak memory of the "
                  f"collectors so far {peak:.0f} MB")


if __name__ == "__main__":
    main()

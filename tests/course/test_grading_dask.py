"""``malaria-lab course grade --scheduler``: the same jobs on a Dask cluster (a LocalCluster the
test starts and stops) give the same scores, notes and problems as the local workers."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from malaria_lab.checks import load_stage
from malaria_lab.instructor.release import _scratch_course, generate
from malaria_lab.instructor.submissions import make_submission, write_submission

distributed = pytest.importorskip("distributed")

ROOT = Path(__file__).resolve().parents[2]
STAGE = "02_split"

pytestmark = pytest.mark.slow


def grade(course, *args, env):
    return subprocess.run([sys.executable, "-m", "malaria_lab", "course", "grade", str(course), "-q", *args],
                          capture_output=True, text=True, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", **env),
                          timeout=1800)


def results(course):
    out = {}
    for path in sorted((course / "grading" / "jobs").rglob("*.json")):
        record = json.loads(path.read_text())
        out[(record["student"], record["stage"])] = (
            record["status"], record["score"], record["notes"], record["problem"],
            [(e["id"], e["status"], e["points"], e["message"]) for e in record["exercises"]])
    return out


def test_a_dask_cluster_grades_the_class_like_the_local_workers(tmp_path):
    local = _scratch_course(ROOT / "course", tmp_path / "local")
    generate(local)
    release = local / "release" / STAGE / f"{STAGE}.ipynb"
    decl = load_stage(STAGE)
    write_submission(local, "right", STAGE, make_submission(release, STAGE))
    write_submission(local, "untouched", STAGE, make_submission(release, STAGE, "untouched"))
    for k in range(len(decl["q3"].mistakes)):
        write_submission(local, f"mistake-{k}", STAGE, make_submission(release, STAGE, {"q3": ("mistake", k)}))
    cheat = decl["q1"].with_answer("return set()") + "\nimport runpy\nrunpy.run_path = None\n"
    write_submission(local, "cheat", STAGE, make_submission(release, STAGE, {"q1": cheat}))
    cluster = tmp_path / "cluster"
    shutil.copytree(local, cluster)
    env = {"MALARIA_LAB_CACHE": str(tmp_path / "cache")}
    done = grade(local, "--workers", "2", env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as dask:
        done = grade(cluster, "--scheduler", dask.scheduler_address, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "on tcp://" in done.stdout
    here, there = results(local), results(cluster)
    assert len(here) == 3 + len(decl["q3"].mistakes) and here == there
    assert here[("right", STAGE)][1] == decl.points and here[("untouched", STAGE)][1] == 0.0

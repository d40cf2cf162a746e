"""Run the reference solutions for real: the course's six source notebooks, in order, here.

``malaria-lab reference`` executes ``course/source/<stage>/<stage>.ipynb`` (solutions in place)
with nbclient, one fresh kernel per stage and one fresh work folder for all, so each stage hands
its results to the next as a learner's would. It uses the full data set when one is found
(``--data``, ``$MALARIA_LAB_DATA`` or ``./data``) and the embedded synthetic one otherwise; it never
downloads. It writes ``report.json`` and ``report.md`` (each stage's wall time and points, the
final test scores, the device and backend) and keeps the executed notebooks in ``notebooks/``.
"""

import json
import os
import shutil
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from ..atomic import write_json
from ..course.fallbacks import synthetic_data
from ..data.layout import find_images
from ..errors import MalariaLabError
from ..settings import (
    DATA_ENV,
    GRADING_ENV,
    MODE_ENV,
    STAGES,
    WORK_ENV,
    cache_dir,
    resolve_mode,
)
from ..workflow import find_default_data
from . import coursedir
from .notebooks import outputs_text, points, run_stage

MARKER = ".malaria_lab_reference"
FALLBACK = "using the reference"
TEST_KEYS = ("accuracy", "auc", "sensitivity", "specificity", "precision", "threshold",
             "n_test", "test_patients")


def course_dir():
    """The repository's ``course/`` folder, beside the package (a clone, or an editable install)."""
    return coursedir.in_repository()


def probe_device(env):
    """:func:`device` in a separate Python with the notebooks' environment; the GPU stays free."""
    code = "import json; from malaria_lab.machine import device; print(json.dumps(device()))"
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          timeout=600)
    if done.returncode != 0:
        raise MalariaLabError(f"Could not start Keras to see the device: {done.stderr.strip()[-500:]}",
                              "Check that Keras and its backend import: python -c 'import keras'.")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _data(data):
    """(folder for $MALARIA_LAB_DATA or None, what to call it) for ``data`` or the default."""
    data = Path(data) if data is not None else find_default_data()
    if data is None:
        return None, "embedded"
    data = data.expanduser().resolve()
    if data.is_file():
        raise MalariaLabError(f"{data} is a file; the notebooks need an unpacked data set.",
                              "Unpack it with `malaria-lab download --dest DIR` (or unzip it) and "
                              "pass the folder holding cell_images/.")
    find_images(data)  # says clearly when the folder holds no data set
    return data, "full"


def _fresh_work(out):
    """``out/work``, emptied when an earlier reference run made it; never someone else's folder."""
    work = out / "work"
    if work.exists():
        if not (work / MARKER).is_file():
            raise MalariaLabError(f"{work} exists and was not made by `malaria-lab reference`.",
                                  "Choose another --out folder, or move that one away.")
        shutil.rmtree(work)
    work.mkdir(parents=True)
    (work / MARKER).write_text("made by malaria-lab reference; emptied by its next run\n")
    return work


def run(out_dir="runs/reference", data=None, course=None, timeout=None,
        require_gpu=False, embedded=False, kernel="python3", log=print, mode=None):
    """Run the six source notebooks in order; write and return the report (see the module doc).

    ``mode``: grading, small or full; by default the one asked for in the environment, else full.
    ``embedded``: use the embedded data set even when a real one is found (CI, the site).
    """
    import nbformat  # with nbclient, only when notebooks run

    out = Path(out_dir).resolve()
    course = Path(course) if course is not None else course_dir()
    sources = [coursedir.notebook(course, coursedir.Kind.SOURCE, s) for s in STAGES]
    missing = [str(p) for p in sources if not p.is_file()]
    if missing:
        raise MalariaLabError(f"The course's source notebooks are not at {course / coursedir.Kind.SOURCE.value}.",
                              "Run from a clone of the repository, or pass --course COURSE_DIR.")
    resolved = resolve_mode(mode)  # no memory given: full unless asked
    if resolved.problem:
        raise MalariaLabError(*resolved.problem)
    mode = resolved.name
    data, kind = (None, "embedded") if embedded else _data(data)
    out.mkdir(parents=True, exist_ok=True)
    work = _fresh_work(out)
    env = {k: v for k, v in os.environ.items() if k != GRADING_ENV}
    env.update({WORK_ENV: str(work), MODE_ENV: mode, "TF_CPP_MIN_LOG_LEVEL": "3"})
    if data is None and not resolved.grading:  # the notebooks would otherwise download it: use what is here
        data = synthetic_data()
    if data is not None:
        env[DATA_ENV] = str(data)
    else:
        env.pop(DATA_ENV, None)
    hardware = probe_device(env)
    if require_gpu and not hardware["gpus"]:
        raise MalariaLabError(f"No GPU visible to Keras ({hardware['backend']} backend) on this machine.",
                              "Check the driver (nvidia-smi) and that the backend's GPU build is "
                              "installed, e.g. pip install 'tensorflow[and-cuda]'.")
    log(f"Reference run, {mode} mode, {kind} data, on {hardware['used']} ({hardware['backend']} backend). "
        f"Work folder {work}")
    report = {"started": datetime.now(timezone.utc).isoformat(timespec="seconds"), "mode": mode,
              "data": {"kind": kind, "path": str(data) if data else None}, "device": hardware,
              "work": str(work), "cache": str(cache_dir()), "stages": []}
    (out / "notebooks").mkdir(exist_ok=True)
    start = time.perf_counter()
    failed = None
    for i, (stage, path) in enumerate(zip(STAGES, sources), 1):
        saved = out / "notebooks" / f"{stage}.ipynb"
        nb, seconds, error = run_stage(path, work, env, timeout=timeout, kernel=kernel,
                                       log_file=saved.with_suffix(".stderr.txt"))
        nbformat.write(nb, str(saved))
        got, total = points(nb)
        fallbacks = [line.strip() for c in nb.cells for line in outputs_text(c).splitlines()
                     if FALLBACK in line]
        report["stages"].append({"stage": stage, "seconds": round(seconds, 2), "points": got,
                                 "max_points": total, "error": error, "fallbacks": fallbacks,
                                 "notebook": str(saved)})
        log(f"[{i}/{len(STAGES)}] {stage}: {seconds:.1f} s, {got:g}/{total:g} points"
            + (f", FAILED: {error}" if error else ""))
        if error:
            failed = stage
            break
    report["total_seconds"] = round(time.perf_counter() - start, 2)
    scores = work / "evaluate" / "report.json"
    if failed is None and scores.is_file():
        evaluated = json.loads(scores.read_text())
        report["test"] = {k: evaluated[k] for k in TEST_KEYS if k in evaluated}
        history = work / "train" / "history.json"
        if history.is_file():
            report["test"]["epochs"] = len(json.loads(history.read_text()).get("loss", []))
    report["data"]["path"] = str(data or synthetic_data())
    report["data"]["images"] = len(find_images(report["data"]["path"]))
    write_json(out / "report.json", report)
    (out / "report.md").write_text(format_report(report), encoding="utf-8")
    log(format_report(report))
    log(f"Report: {out / 'report.json'} and {out / 'report.md'}; notebooks in {out / 'notebooks'}")
    if failed:
        raise MalariaLabError(f"Stage {failed} failed: {report['stages'][-1]['error']}",
                              f"See the executed notebook {report['stages'][-1]['notebook']}.")
    lost = [f"{s['stage']} {s['points']:g}/{s['max_points']:g}" for s in report["stages"]
            if s["points"] < s["max_points"]]
    if lost:
        raise MalariaLabError(f"The reference solutions lost points: {', '.join(lost)}.",
                              f"Read the check cells' output in {out / 'notebooks'}.")
    return report


def format_report(report):
    """The report as a short Markdown page for people."""
    dev = report["device"]
    data = report["data"]
    gpu = ", ".join(dev["gpus"]) or "none"
    lines = [
        f"# Reference run of the course, {report['started']}",
        "",
        f"* Mode: {report['mode']}; data: {data['kind']}"
        + (f" ({data['images']} images)" if data.get("images") else "") + f", {data.get('path')}",
        f"* Device: {dev['used']}; CPU {dev['cpu']} ({dev['cpu_count']} cores); GPU: {gpu}",
        f"* Backend: {dev['backend']}; " + ", ".join(f"{k} {v}" for k, v in dev["versions"].items()),
        "",
        "| stage | wall time (s) | points |",
        "| --- | ---: | ---: |",
    ]
    for s in report["stages"]:
        note = f" (failed: {s['error']})" if s["error"] else ""
        lines.append(f"| {s['stage']} | {s['seconds']:.1f} | {s['points']:g}/{s['max_points']:g}{note} |")
    got = sum(s["points"] for s in report["stages"])
    top = sum(s["max_points"] for s in report["stages"])
    lines.append(f"| **total** | **{report['total_seconds']:.1f}** | **{got:g}/{top:g}** |")
    test = report.get("test")
    if test:
        lines += ["", f"Test patients ({test.get('n_test')} cells, {test.get('test_patients')} patients, "
                  f"threshold {test.get('threshold', float('nan')):.3f} chosen on validation, "
                  f"{test.get('epochs', '?')} epochs):", "",
                  "| accuracy | AUC | sensitivity | specificity |", "| ---: | ---: | ---: | ---: |",
                  "| " + " | ".join(f"{test[k]:.3f}" for k in ("accuracy", "auc", "sensitivity",
                                                                  "specificity")) + " |"]
    return "\n".join(lines) + "\n"

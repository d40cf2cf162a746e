"""``malaria-lab course grade``: every submission nbgrader's ``submitted/`` holds, one job per
(student, stage), each in a process of its own here (at most ``workers`` at once) or on a Dask
cluster, each in a sandbox; one trusted writer saves the results (:mod:`.writer`).

One job's failure is that job's alone: a worker process that dies costs only the job it held, a
result that cannot be saved becomes that job's problem, and a failure the student did not cause
never replaces an earlier grade. Resumable: a job whose submission, course source and limits are
unchanged since it was graded is skipped unless ``force``.
"""

import hashlib
import json
import multiprocessing
import os
import resource
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from multiprocessing.connection import wait
from pathlib import Path

from ... import backend
from ..._version import __version__
from ...atomic import write_json, write_text
from ...checks import load_stage
from ...errors import MalariaLabError
from ...machine import memory_gb
from ...settings import DATA_ENV, KERAS_BACKEND_ENV, STAGES
from .. import coursedir, records, submitted
from ..nbgrader_cmd import nbgrader
from . import bytecode, cgroups, prepare, sandbox, writer
from .job import _failed, grade_job
from .job import remove_left_by as remove_private_left_by

TEMPLATES = Path(coursedir.GRADING) / "templates"
WORKER_MEMORY_GB = 3  # the trusted worker of one job (the student's kernel has its own limit)
# Past its notebook's time, a job has this long to check, write feedback and report.
WORKER_GRACE_SECONDS = 300


def find_jobs(course_dir, stages=None, students=None):
    """[(student, stage, notebook path)] of what ``submitted/`` holds, and one line for each thing
    there that is not graded or is graded under another name (see :mod:`..submitted`)."""
    found = submitted.find_jobs(course_dir, stages, students)
    return found.jobs, found.lines()


def templates(course_dir, stages, log):
    """{stage: release notebook JSON} as nbgrader generates it now, with the assignment in the
    gradebook; regenerated only when the source notebook changed."""
    course_dir = Path(course_dir)
    out = {}
    for stage in stages:
        source = coursedir.notebook(course_dir, coursedir.Kind.SOURCE, stage).read_bytes()
        digest = hashlib.sha256(source).hexdigest()
        saved = course_dir / TEMPLATES / f"{stage}.ipynb"
        stamp = saved.with_suffix(".sha256")
        if not (saved.is_file() and stamp.is_file() and stamp.read_text().strip() == digest
                and coursedir.gradebook(course_dir).is_file()):
            log(f"Registering {stage} in the gradebook (nbgrader generate_assignment)...")
            scratch = tempfile.mkdtemp(prefix="malaria-lab-release-")
            try:
                nbgrader(["generate_assignment", stage, "--force",
                          f"--CourseDirectory.release_directory={scratch}"], course_dir)
                text = (Path(scratch) / stage / f"{stage}.ipynb").read_text(encoding="utf-8")
            finally:
                shutil.rmtree(scratch, ignore_errors=True)
            write_text(saved, text)
            write_text(stamp, digest + "\n")
        out[stage] = saved.read_text(encoding="utf-8")
    return out


def job_memory_gb(limits):
    """What one job may hold at most: its kernel and its checker, each capped at the job's
    memory, and the trusted worker that reads its results."""
    return 2 * max(limits.memory_gb, 0.5) + WORKER_MEMORY_GB


def default_workers(limits, cores=None, total_gb=None):
    """As many workers as there are cores, and as fit in this machine's memory at every job's caps."""
    total = total_gb or memory_gb() or 4.0
    return max(1, min(cores or os.cpu_count() or 1, int(total // job_memory_gb(limits))))


def _fingerprint(submission, template, limits, sandboxed):
    h = hashlib.sha256()
    for part in (submission, template.encode(), json.dumps(limits.to_dict(), sort_keys=True).encode(),
                 f"{__version__}|{sandboxed}".encode()):
        h.update(hashlib.sha256(part).digest())
    return h.hexdigest()


def _already(course_dir, stage, student, fingerprint):
    path = records.path_of(course_dir, stage, student)
    try:
        old = records.validate(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return False
    return old["fingerprint"] == fingerprint and old["status"] == "graded"


def grade(course_dir, stages=None, students=None, workers=None, scheduler=None, limits=None,
          force=False, sandboxed=True, log=print, progress=True):
    """Grade the class (see the module docstring); returns the summary (also saved as
    ``grading/summary.json``)."""
    course_dir = Path(course_dir).resolve()
    limits = limits or sandbox.Limits()
    stages = tuple(stages or STAGES)
    backend.check()  # the kernels and the checks load Keras on it
    if sandboxed:
        sandbox.bwrap()
    jobs, skipped = find_jobs(course_dir, stages, students)
    if not jobs:
        for line in skipped:  # what submitted/ holds that could not be graded, before saying there is nothing
            log(f"  ! {line}")
        raise MalariaLabError(f"No submissions to grade in {coursedir.students_dir(course_dir)}"
                              + (f" for {', '.join(stages)}" if stages != STAGES else "") + ".",
                              "Collect them first (nbgrader collect, zip_collect), or make one with "
                              "`malaria-lab course submission`.")
    made = templates(course_dir, sorted({s for _, s, _ in jobs}), log)
    workers = workers or default_workers(limits)
    settings = {"threads": max(1, (os.cpu_count() or 1) // workers),
                "keras_backend": os.environ.get(KERAS_BACKEND_ENV), "data": os.environ.get(DATA_ENV)}
    machine = None if scheduler else prepare.here(settings)  # once here, before the workers start
    payloads, done = [], []
    for student, stage, path in jobs:
        try:
            submission = submitted.read(course_dir, path)
        except (OSError, submitted.Refused) as err:  # changed into a link, or grew, since it was found
            skipped.append(f"{path.relative_to(course_dir)}: {err}: not graded")
            continue
        fingerprint = _fingerprint(submission, made[stage], limits, sandboxed)
        if not force and _already(course_dir, stage, student, fingerprint):
            done.append((student, stage))
            continue
        payloads.append({"student": student, "stage": stage, "submission": submission.decode("utf-8", "replace"),
                         "template": made[stage], "limits": limits.to_dict(), "sandbox": sandboxed,
                         "settings": settings, "fingerprint": fingerprint, "machine": machine,
                         "submitted": writer.timestamp(course_dir, student, stage)})
    start = time.perf_counter()
    saved, enforced = [], None
    for payload, result in _run(payloads, workers, scheduler, progress):
        enforced = result.get("limits") or enforced
        saved.append(dict(_save(course_dir, payload, result), worker_mb=result.get("worker_mb")))
    if enforced is None:
        group, why_not = (cgroups.make(limits, settings["threads"]) if sandboxed else (None, "not sandboxed"))
        enforced = cgroups.describe(group, why_not, limits, settings["threads"])
        if group is not None:
            group.remove()
    summary = _summary(saved, done, skipped, sandboxed, workers, scheduler, time.perf_counter() - start, enforced)
    # A cluster's workers have environments of their own, not this one.
    summary["notices"] = [] if scheduler else [n for n in [bytecode.notice(settings["keras_backend"])] if n]
    write_json(coursedir.grading_dir(course_dir) / "summary.json", summary)
    log(format_summary(summary))
    return summary


def _save(course_dir, payload, result):
    """Write one job's result; whatever goes wrong is that job's problem, in its summary line."""
    student, stage = payload["student"], payload["stage"]
    try:
        if result.get("trace"):
            _log_error(course_dir, student, stage, result["trace"])
        return writer.write(course_dir, result, student, stage)
    except Exception as err:  # a result that cannot be saved must not stop the class
        _log_error(course_dir, student, stage, "".join(traceback.format_exception(err)))
        return dict(_crashed(payload, err, "the grader could not save this job's result")["record"],
                    score=0.0, exercises=[])


def _log_error(course_dir, student, stage, text):
    folder = coursedir.grading_dir(course_dir)
    folder.mkdir(exist_ok=True)
    with open(folder / "errors.log", "a", encoding="utf-8") as log_file:
        log_file.write(f"--- {student} {stage}\n{text}\n")


def _run(payloads, workers, scheduler, progress):
    """(payload, result) of each job, as the jobs finish (one failure never stops the rest)."""
    from tqdm.auto import tqdm  # the bar only for a run that shows it

    bar = tqdm(total=len(payloads), disable=not progress or not payloads, unit="job", desc="grading")
    failed = 0
    for payload, result in (_on_dask(payloads, scheduler) if scheduler else _local(payloads, workers)):
        failed += result["record"]["status"] != "graded"
        bar.set_postfix(failed=failed, last=f"{result['record']['seconds']:.0f}s", refresh=False)
        bar.update()
        yield payload, result
    bar.close()


def _child(payload, conn, target):
    """One job in a process of its own (see :func:`_local`), its memory capped: what a kernel
    sends it can cost the job, never the machine."""
    _cap_memory()
    try:
        conn.send(target(payload))
    finally:
        conn.close()


def _local(payloads, workers, target=None):
    """Each job in a process of its own, at most ``workers`` at once: a process that dies (killed
    for memory, a crash in a library) costs only its own job. Processes fork from a server that
    has the grader loaded, so a job starts in milliseconds. ``target`` (a module-level function)
stands in for grading, for tests."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__])
    pending, running = list(payloads), {}
    while pending or running:
        while pending and len(running) < workers:
            payload = dict(pending.pop(0), job=secrets.token_hex(6))  # what it leaves is found by this name
            receive, send = context.Pipe(duplex=False)
            process = context.Process(target=_child, args=(payload, send, target or _safely), daemon=True)
            process.start()
            send.close()
            running[receive] = (process, payload, time.monotonic() + _allowed(payload))
        ready = wait(list(running), timeout=1.0)
        late = [r for r, (_, _, until) in running.items() if r not in ready and time.monotonic() > until]
        for receive in ready + late:
            process, payload, _ = running.pop(receive)
            result = None
            if receive in ready:
                try:
                    result = receive.recv()
                except (EOFError, OSError):
                    pass
            receive.close()
            process.join(timeout=0 if receive in late else 60)
            if process.is_alive():
                process.kill()
                process.join()
            _remove_left_by(payload["job"])  # whatever way it ended, nothing of its job outlives it
            if receive in late:
                result = _too_long(payload)
            yield payload, result if result is not None else _died(payload, process.exitcode)


CAPPED = "from malaria_lab.instructor.grader.classgrade import capped_main; capped_main()"


def capped_job(payload):
    """One job in a child process, its memory capped and its time bounded as in :func:`_local`:
    for a Dask worker, whose own process runs many jobs and may not fork pool workers."""
    payload = dict(payload, job=secrets.token_hex(6))
    child = subprocess.Popen([sys.executable, "-c", CAPPED], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, cwd="/")
    try:
        out, _ = child.communicate(json.dumps(payload).encode(), timeout=_allowed(payload))
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()
        out = None
    _remove_left_by(payload["job"])
    if out is None:
        return _too_long(payload)
    try:
        return json.loads(out)
    except ValueError:
        return _died(payload, child.returncode)


def capped_main():
    """The child of :func:`capped_job`: the payload on stdin, the result alone on stdout."""
    result_fd = os.dup(1)
    os.dup2(2, 1)  # whatever a library prints goes to stderr, never into the result
    _cap_memory()
    result = _safely(json.loads(sys.stdin.buffer.read()))
    with os.fdopen(result_fd, "wb") as out:
        out.write(json.dumps(result).encode())


def _cap_memory():
    """This worker's memory capped: what a kernel sends it can cost the job, never the machine."""
    cap = int(WORKER_MEMORY_GB * 1024**3)
    resource.setrlimit(resource.RLIMIT_DATA, (cap, cap))


def _remove_left_by(tag):
    """What an ended job left (its worker was stopped from outside, or its own clean-up failed): its
    cgroups and private folders, found by the job's name."""
    for path in cgroups.remove_left_by(tag):
        print(f"malaria-lab course grade: warning: the cgroup {path} still holds processes that did not "
              "end when killed; remove it (rmdir) once they have.", file=sys.stderr)
    remove_private_left_by(tag)


def _too_long(payload):
    return _failed(_base(payload), f"the job ran past {_allowed(payload):g} s in all (its notebook, its checks "
                                   "and its feedback) and was stopped", time.perf_counter())


def _died(payload, exitcode):
    return _crashed(payload, RuntimeError(f"its worker process died (exit status {exitcode})"))


def _allowed(payload):
    return sandbox.Limits(**payload["limits"]).notebook_seconds + WORKER_GRACE_SECONDS


def _on_dask(payloads, address):
    try:
        # Dask is an optional extra, loaded only for --scheduler.
        from distributed import Client
        from distributed import as_completed as dask_completed
    except ImportError:
        raise MalariaLabError("--scheduler needs Dask's distributed scheduler.",
                              "pip install 'malaria-lab[cluster]' (dask and distributed).") from None
    try:
        client = Client(address, timeout=30)
    except (OSError, TimeoutError) as err:
        raise MalariaLabError(f"Cannot reach the Dask scheduler at {address} ({err}).",
                              "Start it (dask scheduler, dask-jobqueue, dask-kubernetes) and give its "
                              "address.") from None
    with client:
        futures = {client.submit(capped_job, p, pure=False): p for p in payloads}
        for future in dask_completed(list(futures)):
            payload = futures[future]
            try:
                yield payload, future.result()
            except Exception as err:
                yield payload, _crashed(payload, err)


def _safely(payload):
    try:
        return grade_job(payload)
    except MemoryError:  # under the worker's cap, only what the notebook sent fills it
        return _failed(_base(payload), f"the notebook's outputs needed more than the grader's "
                                       f"{WORKER_MEMORY_GB:g} GB for one job to read", time.perf_counter())
    except Exception as err:
        return _crashed(payload, err)


def _base(payload):
    return {"version": records.VERSION, "student": payload["student"], "stage": payload["stage"],
            "sandbox": payload["sandbox"], "fingerprint": "", "submitted": payload.get("submitted"),
            "max_score": load_stage(payload["stage"]).points, "feedback": None}


def _crashed(payload, err, what="the grader failed on this job"):
    """The result of a job the grader could not finish through no fault of the student's."""
    result = _failed(_base(payload), f"{what} ({type(err).__name__}: {str(err)[:200]}; grading/errors.log has the "
                             "details; grade again to retry)", time.perf_counter())
    result["trace"] = "".join(traceback.format_exception(err, chain=True))
    result["grader_fault"] = True
    return result


def _summary(saved, done, skipped, sandboxed, workers, scheduler, seconds, enforced):
    jobs = [{"student": r["student"], "stage": r["stage"], "status": r["status"], "score": r["score"],
             "max_score": r["max_score"], "problem": r["problem"], "notes": r["notes"],
             "seconds": r["seconds"], "worker_mb": r.get("worker_mb")} for r in saved]
    return {"sandbox": sandboxed, "workers": workers, "scheduler": scheduler, "wall_seconds": round(seconds, 1),
            "graded": sum(j["status"] == "graded" for j in jobs),
            "failed": sum(j["status"] != "graded" for j in jobs),
            "unchanged": len(done), "skipped": skipped, "limits": enforced, "jobs": jobs}


def format_summary(summary):
    """The summary on one screen."""
    lines = [f"Graded {summary['graded']} job(s), {summary['failed']} failed, {summary['unchanged']} "
             f"unchanged since last time, in {summary['wall_seconds']:.0f} s with {summary['workers']} "
             f"worker(s)" + (f" on {summary['scheduler']}" if summary["scheduler"] else "") + "."]
    if not summary["sandbox"]:
        lines.append("NOT SANDBOXED (--no-sandbox): students' code ran with your rights.")
    lines.append("Limits per job: " + "; ".join(f"{k} {v}" for k, v in (summary.get("limits") or {}).items()))
    lines += [f"Note: {line}" for line in summary.get("notices", [])]
    by_stage = {}
    for job in summary["jobs"]:
        by_stage.setdefault(job["stage"], []).append(job)
    for stage, jobs in sorted(by_stage.items()):
        mean = sum(j["score"] for j in jobs) / len(jobs)
        lines.append(f"  {stage}: {len(jobs)} graded, mean {mean:.1f}/{jobs[0]['max_score']:g}")
    trouble = [j for j in summary["jobs"] if j["problem"] or j["status"] != "graded"]
    for job in trouble[:12]:
        lines.append(f"  ! {job['student']} {job['stage']}: {job['problem']}")
    if len(trouble) > 12:
        lines.append(f"  ... and {len(trouble) - 12} more (grading/summary.json)")
    lines += [f"  ! {s}" for s in summary["skipped"][:12]]
    if len(summary["skipped"]) > 12:
        lines.append(f"  ... and {len(summary['skipped']) - 12} more not graded or renamed (grading/summary.json)")
    lines.append("Records: grading/jobs/<stage>/<student>.json; grades in gradebook.db "
                 "(nbgrader export), feedback in feedback/.")
    return "\n".join(lines)

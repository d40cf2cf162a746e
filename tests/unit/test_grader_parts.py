"""The grader's trusted parts, without a sandbox: the frames to the checker, the checker's verdict
checked field by field, outputs made inert, the feedback page's policy, records cut (never
refused) for length, files read from submitted/ safely, the isolated launcher, the writer that keeps
grades a crash did not earn, and worker processes whose death costs only their own job."""

import json
import os
import subprocess
import sys
import threading
import time
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest

from malaria_lab.checks import load_stage
from malaria_lab.instructor import records, submitted
from malaria_lab.instructor.grader import cgroups, checker, classgrade, frames, inert, sandbox, writer
from malaria_lab.instructor.grader.feedback import CSP, feedback_html
from malaria_lab.instructor.grader.remote import RemoteNamespace

EX = load_stage("02_split")["q1"]

# --- frames -----------------------------------------------------------------------------------


def test_frames_carry_a_header_and_a_body_and_refuse_what_is_too_large():
    read_fd, write_fd = os.pipe()
    frames.write(write_fd, {"op": "kernel"}, b"x" * 1000)
    assert frames.read(read_fd, 1000) == ({"op": "kernel"}, b"x" * 1000)
    frames.write(write_fd, {"op": "kernel"}, b"x" * 1001)
    with pytest.raises(frames.FrameError, match="over the limit"):
        frames.read(read_fd, 1000)
    os.close(read_fd)
    os.close(write_fd)


@pytest.mark.parametrize("raw", [
    frames.LENGTHS.pack(10, 0) + b"not json!!", frames.LENGTHS.pack(4, 0) + b"[1] ",
    frames.LENGTHS.pack(frames.MAX_HEADER + 1, 0), frames.LENGTHS.pack(3, 0) + b"NaN", b"\x00\x00",
])
def test_malformed_frames_raise_frame_errors(raw):
    read_fd, write_fd = os.pipe()
    os.write(write_fd, raw)
    os.close(write_fd)
    with pytest.raises(frames.FrameError):
        frames.read(read_fd, 100)
    os.close(read_fd)


def test_a_silent_checker_is_left_at_its_deadline():
    read_fd, write_fd = os.pipe()
    start = time.monotonic()
    with pytest.raises(frames.FrameError, match="in time"):
        frames.read(read_fd, 100, deadline=time.monotonic() + 0.3)
    assert 0.25 < time.monotonic() - start < 2
    os.close(read_fd)
    os.close(write_fd)


# --- the checker's verdict --------------------------------------------------------------------


def _verdict(**changes):
    good = {"id": "q1", "title": "whatever it says", "status": "correct", "message": "Correct.", "points": 2.0,
            "max_points": 99, "details": [], "checks": [{"what": "w", "hidden": False, "outcome": "ok", "message": ""}]}
    good.update(changes)
    return checker.verdict(EX, json.dumps(good).encode())


def test_a_well_formed_verdict_counts_with_the_declaration_s_title_and_points():
    result = _verdict()
    assert (result.points, result.max_points, result.title, result.status) == (2.0, EX.points, EX.title, "correct")


@pytest.mark.parametrize("changes", [
    {"points": EX.points + 1}, {"points": -0.5}, {"points": "2"}, {"points": True}, {"id": "q2"},
    {"status": "excellent"}, {"checks": [{"what": "w", "hidden": "no", "outcome": "ok", "message": ""}]},
    {"checks": [{"what": "w", "hidden": False, "outcome": "great", "message": ""}]},
    {"checks": [{"what": "w", "hidden": False, "outcome": "ok", "message": ""}] * 50},
    {"checks": [{"id": 7, "what": "w", "hidden": False, "outcome": "ok", "message": ""}]},
    {"message": ["not", "text"]}, {"details": "x"},
])
def test_a_forged_or_malformed_verdict_scores_nothing(changes):
    result = _verdict(**changes)
    assert result.points == 0 and "malformed verdict" in result.message


def test_long_texts_in_a_verdict_are_cut_not_refused():
    result = _verdict(message="m" * 50_000, details=["d" * 50_000])
    assert result.points == 2.0 and len(result.message) <= 5000 and "cut" in result.message


def test_a_verdict_that_is_not_json_or_too_large_scores_nothing():
    assert checker.verdict(EX, b"{").points == 0
    assert checker.verdict(EX, b" " * (checker.MAX_RESULT + 1)).points == 0


# --- the remote namespace, with a kernel that lies ----------------------------------------------


class FakeSession:
    def __init__(self, answers):
        self.answers, self.sent = list(answers), []

    def request(self, message):
        self.sent.append(message)
        return self.answers.pop(0)


def test_the_remote_namespace_asks_once_and_calls_through_the_wire():
    session = FakeSession([{"names": {"leaked_patients": "function", "rows": "list"}},
                           {"result": '{"__set__": ["p1"], "frozen": false}', "same_as_arg": None}])
    ns = RemoteNamespace(session, ["leaked_patients", "rows", "absent"])
    assert "absent" not in ns and type(ns["rows"]).__name__ == "list"
    assert ns["leaked_patients"]([1, 2]) == {"p1"}
    assert session.sent[1]["op"] == "call" and session.sent[1]["name"] == "leaked_patients"


@pytest.mark.parametrize("answer, message", [
    ({"raised": "ValueError", "message": "bad"}, "raised ValueError: bad"),
    ({"result": '{"__keras__": [5, null]}'}, "cannot be checked"),
    ({"result": "[" * 10_000}, "cannot be checked"),
])
def test_a_hostile_answer_becomes_a_verdict_not_a_crash(answer, message):
    from malaria_lab.checks.engine import call
    from malaria_lab.checks.results import Wrong

    session = FakeSession([{"names": {"f": "function"}}, answer])
    ns = RemoteNamespace(session, ["f"])
    with pytest.raises(Wrong, match=message):
        call(ns["f"], 1)


# --- inert outputs and the feedback page ---------------------------------------------------------

EVIL_HTML = ('<h1>8 / 8 points</h1><script>document.title="pwned"</script><img src=x onerror="alert(1)">'
             '<a href="javascript:alert(1)">click</a><iframe src="https://example.org"></iframe>'
             '<div style="position:fixed;top:0;color:red">over</div><img src="https://tracker.example/p.png">'
             '<form action="https://example.org"><input></form><meta http-equiv="refresh" content="0;url=https://x">')


def _graded_notebook():
    nb = nbformat.v4.new_notebook()
    course = nbformat.v4.new_markdown_cell("## The course's own cell <b>bold</b>")
    course.metadata["nbgrader"] = {"grade_id": "md-1", "locked": True, "solution": False, "grade": False}
    notes = nbformat.v4.new_markdown_cell("my notes <script>alert(1)</script> [x](javascript:alert(2)) ```")
    code = nbformat.v4.new_code_cell("display(HTML(...))")
    code.outputs = [
        nbformat.from_dict({"output_type": "display_data", "metadata": {"huge": "x"},
                            "data": {"text/html": EVIL_HTML, "text/plain": "<HTML>"}}),
        nbformat.from_dict({"output_type": "display_data", "metadata": {},
                            "data": {"application/javascript": "alert(1)", "image/svg+xml": "<svg onload=alert(1)>"}}),
        nbformat.from_dict({"output_type": "display_data", "metadata": {"image/png": {"width": 10, "onload": "x"}},
                            "data": {"image/png": "iVBORw0KGgo=", "text/markdown": "[x](javascript:alert(3))"}}),
    ]
    nb.cells = [course, notes, code]
    return nb


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.handlers, self.urls = [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.handlers += [a for a, _ in attrs if a.startswith("on")]
        self.urls += [v for a, v in attrs if a in ("href", "src") and v]


def test_student_outputs_keep_only_what_runs_nothing():
    nb = inert.inert(_graded_notebook())
    course, notes, code = nb.cells
    assert course.source == "## The course's own cell <b>bold</b>"
    assert notes.source.startswith("*Your notes (shown as text):*") and "````text" in notes.source
    html_out, dropped, picture = code.outputs
    parsed = _Tags()
    parsed.feed(html_out["data"]["text/html"])
    assert not {"script", "iframe", "form", "input", "meta"} & set(parsed.tags) and parsed.handlers == []
    assert all(not u.lower().startswith("javascript") for u in parsed.urls)
    assert "tracker.example" not in html_out["data"]["text/html"] and "position" not in html_out["data"]["text/html"]
    assert html_out["metadata"] == {}
    assert set(dropped["data"]) == {"text/plain"} and "not shown" in dropped["data"]["text/plain"]
    assert set(picture["data"]) == {"image/png"} and picture["metadata"] == {"image/png": {"width": 10}}


def test_the_feedback_page_has_the_policy_first_and_no_script_of_the_student():
    record = {"stage": "02_split", "score": 2.0, "max_score": 8.0, "notes": ["<script>x</script>"], "problem": None,
              "exercises": [{"id": "q1", "title": "T", "points": 2.0, "max_points": 2.0, "message": "<b>m</b>"}]}
    page = feedback_html(_graded_notebook(), record)
    head = page[page.index("<head>"):]
    assert head.startswith("<head>" + CSP)
    assert "script-src" not in CSP and "default-src 'none'" in CSP  # no script source at all
    body = page[page.index("<body"):]
    parsed = _Tags()
    parsed.feed(body)
    assert "alert(1)</script>" not in body and "onerror" not in body
    assert "&lt;script&gt;x&lt;/script&gt;" in body  # the student's text, shown as text
    assert parsed.handlers == [] and not any(u.lower().startswith(("javascript", "http")) for u in parsed.urls)
    assert [t for t in parsed.tags if t in ("script", "iframe", "form", "object", "embed")] == []


# --- records ------------------------------------------------------------------------------------


def test_records_cut_long_texts_with_a_mark_and_still_validate():
    record = {"version": 1, "student": "a", "stage": "02_split", "status": "graded", "problem": "p" * 30_000,
              "notes": ["n" * 25_000], "sandbox": True, "fingerprint": "f", "submitted": None, "graded_at": "t",
              "seconds": 1.0, "score": 2.0, "max_score": 8.0, "feedback": None,
              "exercises": [{"id": "q1", "title": "t", "status": "correct", "message": "m" * 40_000, "points": 2.0,
                             "max_points": 2.0, "details": [], "checks": [], "answer": "# x\n" * 20_000}]}
    with pytest.raises(ValueError):
        records.validate(record)
    kept = records.validate(records.bounded(record))
    assert len(kept["problem"]) <= records.MAX_TEXT and kept["problem"].endswith("more characters)")
    assert kept["exercises"][0]["answer"].startswith("# x\n") and "cut" in kept["exercises"][0]["answer"]


# --- files from submitted/ ------------------------------------------------------------------------


def test_reading_a_student_file_follows_no_link_and_never_blocks(tmp_path):
    folder = tmp_path / "submitted" / "s1" / "02_split"
    folder.mkdir(parents=True)
    (folder / "ok.txt").write_text("2026-01-01 10:00:00")
    assert submitted.read(tmp_path, folder / "ok.txt", 64) == b"2026-01-01 10:00:00"
    (tmp_path / "secret").write_text("host secret")
    os.symlink(tmp_path / "secret", folder / "link")
    os.symlink("/dev/zero", folder / "zero")
    os.mkfifo(folder / "fifo")
    (folder / "big").write_bytes(b"x" * 100)
    for name, why in (("link", "symbolic link"), ("zero", "symbolic link"), ("fifo", "not a regular file"),
                      ("big", "larger than")):
        start = time.monotonic()
        with pytest.raises(submitted.Refused, match=why):
            submitted.read(tmp_path, folder / name, 64)
        assert time.monotonic() - start < 1
    os.symlink(tmp_path, tmp_path / "submitted" / "s2")  # a student's folder that is a link
    with pytest.raises(submitted.Refused, match="symbolic link"):
        submitted.read(tmp_path, tmp_path / "submitted" / "s2" / "submitted" / "s1", 64)


def test_the_writer_reads_timestamps_safely(tmp_path):
    folder = tmp_path / "submitted" / "a" / "02_split"
    folder.mkdir(parents=True)
    os.mkfifo(folder / "timestamp.txt")
    assert writer.timestamp(tmp_path, "a", "02_split") is None  # a FIFO: not read, not waited on


# --- the launcher --------------------------------------------------------------------------------


def test_the_launcher_runs_no_code_from_the_environment_or_the_current_folder(tmp_path):
    evil = tmp_path / "evil"
    evil.mkdir()
    marker = tmp_path / "ran"
    for name in ("json.py", "os.py", "resource.py", "sitecustomize.py", "usercustomize.py"):
        (evil / name).write_text(f"open({str(marker)!r}, 'w').write('{name}')\n")
    (evil / "x.pth").write_text(f"import os; open({str(marker)!r}, 'w').write('pth')\n")
    env = dict(os.environ, PYTHONPATH=str(evil), PYTHONSTARTUP=str(evil / "os.py"), PYTHONUSERBASE=str(evil))
    from malaria_lab.instructor.grader.kernel import launcher
    from malaria_lab.instructor.grader.sandbox import Limits

    done = subprocess.run(launcher(Limits(), None) + [sys.executable, "-I", "-c", "print('child ran')"],
                          cwd=evil, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "child ran" in done.stdout and not marker.exists()


# --- the writer and the workers ---------------------------------------------------------------


def _result(student, score, status="graded", fault=False):
    record = {"version": 1, "student": student, "stage": "02_split", "status": status, "problem": None, "notes": [],
              "sandbox": True, "fingerprint": "f", "submitted": None, "graded_at": "t", "seconds": 1.0,
              "score": score, "max_score": 8.0, "feedback": None,
              "exercises": [{"id": "q1", "title": "t", "status": "correct", "message": "m", "points": score,
                             "max_points": 8.0, "details": [], "checks": [], "answer": None}] if score else []}
    return {"record": record, "autograded": None, "feedback": None, "grader_fault": fault}


def test_a_crash_the_student_did_not_cause_keeps_the_earlier_grade(tmp_path):
    gradebook = []
    writer._gradebook, real = (lambda course, record: gradebook.append(record["score"])), writer._gradebook
    try:
        writer.write(tmp_path, _result("a", 6.0), "a", "02_split")
        crashed = _result("a", 0.0, status="failed", fault=True)
        crashed["record"]["problem"] = "the grader failed on this job"
        kept = writer.write(tmp_path, crashed, "a", "02_split")
        assert kept["score"] == 6.0 and "earlier grade is kept" in kept["problem"]
        on_disk = json.loads(records.path_of(tmp_path, "02_split", "a").read_text())
        assert on_disk["score"] == 6.0 and gradebook == [6.0]
    finally:
        writer._gradebook = real


def test_the_writer_saves_a_result_only_as_the_job_it_sent(tmp_path):
    with pytest.raises(writer.WrongJob):
        writer.write(tmp_path, _result("mallory", 8.0), "alice", "02_split")
    assert not records.path_of(tmp_path, "02_split", "mallory").exists()


def test_a_worker_that_dies_costs_only_its_own_job():
    sys.path.insert(0, str(Path(__file__).parent))
    payloads = [{"student": s, "stage": "02_split", "sandbox": True, "limits": {}} for s in ("a", "victim", "b", "c")]
    got = {p["student"]: r for p, r in classgrade._local(payloads, 2, target=__import__("grader_targets").echo_or_die)}
    assert set(got) == {"a", "victim", "b", "c"}
    assert got["victim"]["grader_fault"] and "worker process died (exit status 9)" in got["victim"]["record"]["problem"]
    assert all(got[s]["record"]["status"] == "graded" for s in "abc")
    assert len({got[s]["pid"] for s in "abc"}) == 3  # each job in a process of its own


def test_a_job_s_worker_has_its_memory_capped():
    sys.path.insert(0, str(Path(__file__).parent))
    payloads = [{"student": "a", "stage": "02_split", "sandbox": True, "limits": {}}]
    [(_, got)] = classgrade._local(payloads, 1, target=__import__("grader_targets").memory_cap)
    assert got["cap"] == classgrade.WORKER_MEMORY_GB * 1024**3 and got["refused"]


def test_a_worker_past_its_time_is_stopped_and_the_job_says_so(monkeypatch):
    sys.path.insert(0, str(Path(__file__).parent))
    monkeypatch.setattr(classgrade, "WORKER_GRACE_SECONDS", 1)
    payloads = [{"student": "slow", "stage": "02_split", "sandbox": True, "limits": {"notebook_seconds": 1}}]
    started = time.monotonic()
    [(_, got)] = classgrade._local(payloads, 1, target=__import__("grader_targets").sleeper)
    assert time.monotonic() - started < 60
    assert got["record"]["status"] == "failed" and "ran past 2 s in all" in got["record"]["problem"]
    assert not got.get("grader_fault")


def test_what_a_job_left_is_removed_however_its_worker_ended():
    sys.path.insert(0, str(Path(__file__).parent))
    payloads = [{"student": "a", "stage": "02_split", "sandbox": True, "limits": {}}]
    [(_, got)] = classgrade._local(payloads, 1, target=__import__("grader_targets").leaves_its_job)
    assert got["record"]["status"] == "graded"
    if os.geteuid() == 0 and Path("/sys/fs/cgroup/pids").is_dir():
        assert len(got["left"]) == 3  # a job's cgroups were made, then left
    assert not Path(got["private"]).exists()
    assert [d for d in got["left"] if Path(d).exists()] == []
    # found by the name the class gave the job, never by the worker's number, which another
    # process may have by the time the class cleans up
    names = [Path(d).name for d in got["left"]] + [Path(got["private"]).name]
    assert all(n.startswith(f"malaria-lab-job-{got['job']}-") for n in names)
    assert not any(f"-{got['pid']}-" in n for n in names)


def test_an_ended_or_reaped_process_is_never_signalled_by_its_number(monkeypatch):
    from malaria_lab.instructor.grader import watchdog

    reaped = subprocess.Popen(["true"])
    reaped.wait()
    zombie = subprocess.Popen(["sleep", "30"])
    zombie.kill()
    while open(f"/proc/{zombie.pid}/stat").read().rsplit(")", 1)[1].split()[0] != "Z":
        time.sleep(0.01)
    sent = []
    monkeypatch.setattr(watchdog.os, "kill", lambda pid, sig: sent.append(pid))
    started = time.monotonic()
    watchdog.kill_tree(reaped.pid)
    watchdog.kill_tree(zombie.pid)
    assert sent == [] and time.monotonic() - started < 0.5  # not a second of retries on a zombie
    zombie.wait()


def test_a_kernel_s_launcher_is_not_named_once_reaped():
    from malaria_lab.instructor.grader.kernel import Kernel

    kernel = Kernel.__new__(Kernel)
    process = subprocess.Popen(["sleep", "30"])
    kernel.km = type("KM", (), {"provisioner": type("P", (), {"process": process})()})()
    assert kernel._pid() == process.pid
    process.kill()
    process.wait()
    assert kernel._pid() is None


def test_a_job_s_cgroup_that_cannot_be_removed_is_named_and_the_others_removed(tmp_path, monkeypatch):
    monkeypatch.setattr(cgroups, "ROOT", tmp_path)
    monkeypatch.setattr(cgroups, "REMOVE_SECONDS", 0.3)
    for controller in ("memory", "pids", "cpu"):
        (tmp_path / controller / "malaria-lab-job-999-ab").mkdir(parents=True)
    (tmp_path / "pids" / "malaria-lab-job-999-ab" / "cgroup.procs").write_text("")  # busy: never empty
    (tmp_path / "cpu" / "malaria-lab-job-9990-ab").mkdir()  # another worker's
    assert cgroups.remove_left_by(999) == [str(tmp_path / "pids" / "malaria-lab-job-999-ab")]
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.glob("*/*")) == [
        "cpu/malaria-lab-job-9990-ab", "pids/malaria-lab-job-999-ab"]


def test_a_job_s_clean_up_takes_every_step_though_one_fails():
    from malaria_lab.instructor.grader import job

    done = []

    class Part:
        def __init__(self, name, fails=False):
            self.name, self.fails = name, fails

        def step(self):
            done.append(self.name)
            if self.fails:
                raise OSError(f"{self.name} failed")

    run = job._Run.__new__(job._Run)
    kernel, checker_, group, checker_group = Part("kernel", fails=True), Part("checker"), Part("group"), Part("cg")
    kernel.shutdown, checker_.stop = kernel.step, checker_.step
    group.remove, checker_group.remove = group.step, checker_group.step
    run.kernel, run.checker, run.group, run.checker_group, run.mounted = kernel, checker_, group, checker_group, False
    with pytest.raises(OSError, match="kernel failed"):
        run.close()
    assert done == ["kernel", "checker", "group", "cg"]


def test_a_job_that_cannot_start_leaves_no_cgroup(monkeypatch, tmp_path):
    from malaria_lab.instructor.grader import job

    removed = []
    group = type("G", (), {"remove": lambda self: removed.append(self), "version": 1, "dirs": {}})
    made = [group(), group()]
    monkeypatch.setattr(job.cgroups, "make", lambda limits, threads, tag: (made.pop(0), None))
    monkeypatch.setattr(job.cgroups, "describe", lambda *a: {})

    def broken(*args, **kwargs):
        raise RuntimeError("no kernel here")

    monkeypatch.setattr(job, "Kernel", broken)
    monkeypatch.setattr(job, "_mount_tmpfs", lambda *a: False)
    monkeypatch.setattr(job.sandbox, "hand_over", lambda *a: None)
    payload = {"limits": {}, "sandbox": True, "settings": {}, "machine": [[], {}], "stage": "02_split"}
    with pytest.raises(RuntimeError, match="no kernel here"):
        job._Run(payload, tmp_path)
    assert len(removed) == 2


def test_a_result_that_cannot_be_saved_is_that_job_s_problem(tmp_path, monkeypatch):
    def broken(*args):
        raise OSError("disk full")

    monkeypatch.setattr(writer, "write", broken)
    saved = classgrade._save(tmp_path, {"student": "a", "stage": "02_split", "sandbox": True}, _result("a", 8.0))
    assert saved["status"] == "failed" and "could not save" in saved["problem"]
    assert "disk full" in (tmp_path / "grading" / "errors.log").read_text()


def test_the_grader_uses_no_temporary_directory_api_with_known_link_bugs():
    grader = Path(classgrade.__file__).parent
    users = [p.name for p in grader.glob("*.py") if "TemporaryDirectory" in p.read_text()]
    assert users == [], "use mkdtemp and shutil.rmtree (fd-based, follows no link); see CVE-2023-6597"


def test_a_threaded_drain_keeps_only_the_tail():
    read_fd, write_fd = os.pipe()
    drain = checker.Drain(read_fd, keep=10)
    writer_thread = threading.Thread(target=lambda: (os.write(write_fd, b"a" * 100 + b"0123456789"),
                                                     os.close(write_fd)))
    writer_thread.start()
    writer_thread.join()
    drain.thread.join(5)
    assert drain.tail == b"0123456789"


def test_a_student_id_is_the_whole_name():
    from malaria_lab.instructor import coursedir

    assert coursedir.is_student_id("alice") and coursedir.is_student_id("a.b@uni-x_1")
    for bad in ("alice\n", "alice\nbob", "../alice", "", "-alice", "a" * 129):
        assert not coursedir.is_student_id(bad), bad


def test_a_submission_time_nbgrader_cannot_hold_is_graded_as_untimed():
    from nbgrader.utils import parse_utc

    assert writer._submitted_at("2026-12-01 10:00:00.000000 UTC", parse_utc)["timestamp"].year == 2026
    for odd in ("9999-12-31 23:59:59 -1200", "0001-01-01 00:00:00", "not a time", "", None):
        assert writer._submitted_at(odd, parse_utc) == {}, odd


def test_a_message_of_too_many_objects_is_refused_before_it_is_parsed():
    from malaria_lab.instructor.grader import kernel

    assert kernel.bounded_unpack(b'{"a": [1, {"b": 2}]}') == {"a": [1, {"b": 2}]}
    bomb = b"[" + b"{}," * kernel.MAX_NODES + b"{}]"
    with pytest.raises(ValueError, match="JSON values"):
        kernel.bounded_unpack(bomb)
    strings = b'{"x": [' + b'"ab",' * kernel.MAX_NODES + b'"ab"]}'  # values need no brackets
    with pytest.raises(ValueError, match="JSON values"):
        kernel.bounded_unpack(strings)


def test_a_notebook_of_too_many_objects_is_refused_before_it_is_parsed():
    from malaria_lab.instructor import notebook_stage

    bomb = b'{"cells": [' + b"{}," * notebook_stage.MAX_NODES + b"{}]}"
    with pytest.raises(notebook_stage.NotANotebook, match="JSON values"):
        notebook_stage.parse(bomb)
    strings = b'{"cells": [], "metadata": {"x": [' + b"1," * notebook_stage.MAX_NODES + b"1]}}"
    with pytest.raises(notebook_stage.NotANotebook, match="JSON values"):
        notebook_stage.parse(strings)
    with pytest.raises(notebook_stage.NotANotebook):
        notebook_stage.bounded(bomb.decode())


def test_feedback_shows_a_huge_code_cell_cut_and_keeps_the_notebook_whole():
    from malaria_lab.instructor.grader import feedback

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = [" + "1, " * 200_000 + "]"),
                                         nbformat.v4.new_code_cell("y = 2")])
    record = {"stage": "02_split", "score": 0, "max_score": 8, "exercises": [], "notes": [], "problem": None}
    page = feedback.feedback_html(nb, record)
    more = len(nb.cells[0].source) - feedback.SHOWN_CELL
    assert f"{more:,} more characters of this cell are not shown here" in page
    assert page.count("more characters of this cell") == 1  # the short cell is shown whole
    assert len(nb.cells[0].source) > 600_000  # the notebook itself keeps all of it


def test_the_kernel_collects_the_children_the_grader_killed():
    """Killed children stay zombies, holding the job's process cap, until their parent waits."""
    probe = subprocess.run([sys.executable, "-c", """
import os, signal, subprocess, sys
from malaria_lab.instructor.grader.remote import reap
alive = subprocess.Popen(["sleep", "30"])
killed = [subprocess.Popen(["sleep", "30"]) for _ in range(5)]
for p in killed:
    os.kill(p.pid, signal.SIGKILL)
def zombies():
    states = []
    for p in killed + [alive]:
        try:
            states.append(open(f"/proc/{p.pid}/stat").read().rsplit(")", 1)[1].split()[0])
        except FileNotFoundError:
            states.append("gone")
    return states
import time
while zombies()[:5] != ["Z"] * 5:
    time.sleep(0.01)
reap()
print(zombies())
alive.kill()
"""], capture_output=True, text=True, timeout=60)
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.split() == ["['gone',", "'gone',", "'gone',", "'gone',", "'gone',", "'S']"]


@pytest.mark.parametrize("version, dirs, views", [
    (1, {"pids": "/h/pids/job-1", "cpu": "/h/cpu/job-1"},
     [("/h/pids/job-1", "/sys/fs/cgroup/pids"), ("/h/cpu/job-1", "/sys/fs/cgroup/cpu")]),
    (2, {"": "/h/unified/job-1"}, [("/h/unified/job-1", "/sys/fs/cgroup")]),
])
def test_a_sandbox_sees_its_own_job_s_cgroup_as_its_whole_tree(version, dirs, views):
    group = cgroups.JobGroup({k: Path(v) for k, v in dirs.items()}, version)
    args = sandbox.argv(["true"], group=group, program="bwrap")
    bound = [tuple(args[i + 1:i + 3]) for i, a in enumerate(args) if a.startswith("--ro-bind")]
    assert [b for b in bound if b[1].startswith(sandbox.CGROUPS)] == views
    host = sandbox.argv(["true"], program="bwrap")  # no job group: the machine's, to read its quota
    assert (sandbox.CGROUPS, sandbox.CGROUPS) in [tuple(host[i + 1:i + 3]) for i, a in enumerate(host)
                                                  if a.startswith("--ro-bind")]


@pytest.mark.parametrize("cores, total_gb, memory_gb, workers", [
    (2, 24, 3, 2),     # this machine: cores decide
    (16, 64, 3, 7),    # 9 GB a job at most: kernel 3, checker 3, worker 3
    (16, 64, 1, 12),
    (8, 4, 3, 1),      # never none
])
def test_default_workers_fit_every_job_s_caps_in_memory(cores, total_gb, memory_gb, workers):
    limits = sandbox.Limits(memory_gb=memory_gb)
    assert classgrade.default_workers(limits, cores=cores, total_gb=total_gb) == workers


def test_texts_that_cannot_be_written_as_utf8_are_repaired_and_pairs_kept():
    from malaria_lab.instructor.whole_text import whole

    lone = json.loads('{"a\\ud800": ["x\\udc00y", 3, {"k": "\\ud83d\\ude00 ok"}]}')
    got = whole(lone)
    assert got == {"a\ufffd": ["x\ufffdy", 3, {"k": "\U0001f600 ok"}]}
    json.dumps(got, ensure_ascii=False).encode("utf-8")  # writable now
    assert records.bounded({"m": "\ud800"}) == {"m": "\ufffd"}


@pytest.mark.skipif(os.geteuid() != 0, reason="handing a folder to another user needs root")
def test_a_folder_taken_back_takes_no_file_from_the_sandbox_s_user():
    import shutil
    import tempfile

    base = Path(tempfile.mkdtemp())  # under /tmp, which the other user may cross (pytest's tmp_path is 0700)
    try:
        base.chmod(0o755)
        folder = base / "sockets"
        folder.mkdir(mode=0o700)
        owner = sandbox.USER_BASE + 4242
        sandbox.hand_over(folder, owner)
        write = ["/bin/sh", "-c", f"echo x > '{folder / 'blob'}'"]
        as_owner = {"user": owner, "group": owner, "extra_groups": []}
        assert subprocess.run(write, capture_output=True, **as_owner).returncode == 0
        sandbox.take_back(folder, owner)
        done = subprocess.run([*write[:2], f"echo x > '{folder / 'more'}'"], capture_output=True, text=True,
                              **as_owner)
        assert done.returncode != 0 and "Permission denied" in done.stderr
        assert folder.stat().st_uid == os.geteuid() and not (folder / "more").exists()
    finally:
        shutil.rmtree(base)


def test_a_stopped_worker_s_private_folders_are_removed_and_links_left(tmp_path, monkeypatch):
    from malaria_lab.instructor.grader import job

    monkeypatch.setattr(job.tempfile, "gettempdir", lambda: str(tmp_path))
    left = tmp_path / f"{job.PRIVATE_PREFIX}777-abc"
    (left / "sockets-1").mkdir(parents=True)
    (left / "sockets-1" / "blob").write_bytes(b"x" * 1000)
    other = tmp_path / f"{job.PRIVATE_PREFIX}7770-abc"
    other.mkdir()
    kept = tmp_path / "kept"
    kept.mkdir()
    (tmp_path / f"{job.PRIVATE_PREFIX}777-link").symlink_to(kept)
    job.remove_left_by(777)
    assert not left.exists() and other.is_dir() and kept.is_dir()


def test_a_capped_job_runs_in_a_child_and_brings_back_its_result_alone():
    payload = {"student": "alice", "stage": "02_split", "submission": "{ not a notebook", "template": "{}",
               "limits": sandbox.Limits(notebook_seconds=60).to_dict(), "sandbox": True, "settings": {},
               "fingerprint": "f", "submitted": None}
    got = classgrade.capped_job(payload)
    assert got["record"]["status"] == "failed" and got["record"]["student"] == "alice"
    assert "not a notebook" in got["record"]["problem"] and not got.get("grader_fault")


class _Checks:
    """Stands in for a job's checker: notes the time each exercise was given."""

    def __init__(self):
        self.given = {}

    def check(self, ex, kernel, deadline, cell_seconds):
        self.given[ex.id] = deadline - time.monotonic()
        return checker.not_attempted(ex, "a stand-in")


def _run_with(notebook_left, cell_seconds=30):
    from malaria_lab.instructor.grader import job

    run = job._Run.__new__(job._Run)
    run.limits = sandbox.Limits(cell_seconds=cell_seconds, notebook_seconds=600)
    run.deadline = time.monotonic() + notebook_left
    run.checker, run.problems = _Checks(), []
    run.kernel = type("K", (), {"notices": [], "km": object()})()
    return run


@pytest.mark.parametrize(("left", "later", "given"), [(600, 3, 45), (60, 1, 40), (45, 1, 25), (45, 2, 5),
                                                       (20, 3, 5), (3, 2, 3)])
def test_a_check_leaves_time_for_the_exercises_after_it(left, later, given):
    """A check stopped at its deadline costs a kernel and a checker restart; the later exercises
    keep 20 s each of the notebook's time, as long as a check still gets 5 s (or what is left)."""
    run = _run_with(left)
    ex = load_stage("04_build_cnn")["q1"]
    run.check(nbformat.v4.new_code_cell(), ex, later=later)
    assert run.checker.given["q1"] == pytest.approx(given, abs=0.5)


@pytest.mark.parametrize(("notebook", "later", "given"), [(60, 3, 45), (120, 5, 75), (100, 4, 75)])
def test_what_the_later_exercises_keep_is_a_quarter_of_the_notebook_at_most(notebook, later, given):
    """On a short notebook time, keeping 20 s per later exercise would leave a check nothing."""
    run = _run_with(notebook)
    run.limits = sandbox.Limits(cell_seconds=60, notebook_seconds=notebook)
    run.check(nbformat.v4.new_code_cell(), load_stage("04_build_cnn")["q1"], later=later)
    assert run.checker.given["q1"] == pytest.approx(given, abs=0.5)


@pytest.mark.parametrize(("left", "given"), [(25, 15), (60, 30), (12, 10), (4, 4)])
def test_a_check_s_call_leaves_the_interrupt_s_grace_inside_the_deadline(left, given):
    """A student's function that ignores the interrupt holds the kernel the grace longer: that
    grace is taken from the call's time (while the call keeps as much), not from the exercises
    after it."""
    ex = load_stage("04_build_cnn")["q1"]
    timeouts = []

    class Kernel:
        def request(self, body, timeout, label):
            timeouts.append(timeout)
            raise checker.Stopped("stand-in")

    check = checker.Checker("04_build_cnn", True, [], [], {}, None, True)
    (from_checker, to_grader), (from_grader, to_checker) = os.pipe(), os.pipe()
    check.fds, check.process = (from_checker, to_checker), None
    check.start = lambda: None
    frames.write(to_grader, {"op": "kernel"}, b"{}")
    os.close(to_grader)
    result = check.check(ex, Kernel(), time.monotonic() + left, cell_seconds=30)
    os.close(from_grader)
    assert timeouts == [pytest.approx(given, abs=0.5)]
    assert result.points == 0 and "Not graded" in result.message


def test_a_bubblewrap_probe_that_loses_a_race_once_is_tried_again(monkeypatch):
    """Binding / copies other jobs' scratch mounts; one that goes away meanwhile fails one try."""
    from malaria_lab.errors import MalariaLabError

    runs = []

    def run(args, **kwargs):
        runs.append(args)
        return subprocess.CompletedProcess(args, 1 if len(runs) == 1 else 0, "", "Can't bind mount /oldroot/")

    monkeypatch.setattr(sandbox.shutil, "which", lambda name: "/usr/bin/bwrap")
    monkeypatch.setattr(sandbox.subprocess, "run", run)
    assert sandbox.bwrap() == "/usr/bin/bwrap" and len(runs) == 2
    runs.clear()
    monkeypatch.setattr(sandbox.subprocess, "run", lambda args, **kw: subprocess.CompletedProcess(args, 1, "", "no"))
    with pytest.raises(MalariaLabError, match="bubblewrap does not run here"):
        sandbox.bwrap()

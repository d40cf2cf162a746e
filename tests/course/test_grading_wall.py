"""The grader's wall seen from the other side: students who attack the *trusted* side of
``malaria-lab course grade`` (what it opens, reads, builds or runs of theirs), graded for real with
bubblewrap, one job at a time, each followed by an honest student who must keep full marks.

The eight kinds of door, and what each attack tries:
1. code outside the sandbox: links planted in every name the grader ever used in the job's
   folder and in the socket folder, then the kernel killed so the grader starts another;
2. any host file overwritten: the same links, aimed at the installed package and the gradebook;
3. the grader blocked: FIFOs and links to /dev/zero under those names;
4. student models in the trusted process: a tiny configuration that is huge to build;
5. one record stopping the class: a 60,000-character answer and a 100,000-character error;
6. limits with gaps: /tmp and the job's folders filled, background processes spinning, outputs
   flooding (metadata and pictures too), checks that take longer than the notebook may;
7. active content: script in every kind of output and in a markdown cell, a forged points header;
8. links in submitted/ itself (the instructor's side of the folder).
"""

import hashlib
import json
import os
import re
import site
import socket
import subprocess
import sys
import threading
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest
from grading_helpers import job_cgroups, points_of, tree_digest

from malaria_lab.checks import load_stage
from malaria_lab.instructor.grader.feedback import CSP
from malaria_lab.instructor.release import _scratch_course, generate
from malaria_lab.instructor.submissions import make_submission, write_submission

ROOT = Path(__file__).resolve().parents[2]
COURSE = ROOT / "course"
PACKAGE = ROOT / "malaria_lab"
SPLIT, CNN = "02_split", "04_build_cnn"
SPINNER = "SPINNER-MARK-7f3a"
NOTEBOOK_SECONDS = 60
GROUPS_BEFORE = set()

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not sys.platform.startswith("linux"), reason="bubblewrap is Linux's")]

# Names the trusted side used (or uses) inside or beside the job: none may lead anywhere.
PLANT = '''
import glob, json, os, sys
targets = {TARGETS}
conn = json.load(open(sys.argv[sys.argv.index("-f") + 1]))
sockets = os.path.dirname(conn["ip"])
names = ["run/1/kernel.log", "run/2/kernel.log", "run/3/kernel.log", "run/2", "rpc", "kernel.log", "checks",
         "home/.ipython/profile_default/startup/00.py"]
names += [f"rpc/{n}.{k}.json" for n in range(40) for k in ("in", "out")]
made = 0
for folder in ("/job", "/checks", sockets):
    for i, name in enumerate(names + [os.path.basename(p) for p in glob.glob(sockets + "/*")]):
        path = os.path.join(folder, name)
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            if os.path.lexists(path) and not os.path.isdir(path):
                os.unlink(path)
            if i % 3 == 0 and not os.path.exists(path):
                os.mkfifo(path)
            elif not os.path.exists(path):
                os.symlink(targets[i % len(targets)], path)
            made += 1
        except OSError:
            pass
print("PLANTED", made)
'''


def attack_links(targets):
    """Plant links and FIFOs (first run), then end the kernel so the grader starts a new one."""
    return (PLANT.replace("{TARGETS}", repr(targets)) + '''
if not os.path.exists("/checks/.planted"):
    open("/checks/.planted", "w").write("1")
    os._exit(0)
''')


# These may lose points to their own attack (their spinners share the job's CPU): see the tests.
SELF_HARMING = ("a-spinners",)

ATTACKS = {
    "a-fill-tmp": '''
written = 0
try:
    with open("/tmp/fill", "wb") as f:
        for _ in range(3000):
            f.write(b"x" * 2**20)
            written += 1
except OSError as err:
    print("stopped at", written, "MB:", type(err).__name__)
''',
    "a-fill-job": '''
written = 0
try:
    with open("/job/work/fill", "wb") as f, open("/checks/fill", "wb") as g:
        for _ in range(3000):
            f.write(b"x" * 2**20)
            g.write(b"x" * 2**20)
            written += 1
except OSError as err:
    print("stopped at", written, "MB:", type(err).__name__)
''',
    "a-spinners": f'''
import subprocess, sys
for _ in range(4):
    subprocess.Popen([sys.executable, "-c", "import os\\nos.setsid()\\nwhile True: pass  # {SPINNER}"],
                     start_new_session=True)
print("SPINNING")
''',
    "a-flood": '''
import base64, sys
from IPython.display import display
png = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQ"
                       "AAAABJRU5ErkJggg==")
for _ in range(60):
    display({"image/png": png * 20000, "text/plain": "x"}, raw=True, metadata={"big": "m" * 200_000})
for _ in range(40):
    print("y" * 1_000_000)
''',
    "a-root": '''
import os
print("UID", os.getuid())
try:
    print(open("/etc/shadow").read())
except OSError as err:
    print("SHADOW", type(err).__name__)
import glob
print("JOBS", [p for p in glob.glob("/sys/fs/cgroup/**", recursive=True) if "malaria-lab-job" in p][:3])
''',
    # A message of 20 million empty objects in 60 MB, sent with the kernel's own key.
    "a-bomb": '''
k = get_ipython().kernel
body = b'{"data": {"text/plain": "x"}, "metadata": {}, "junk": [' + b'{},' * 20_000_000 + b'{}]}'
k.session.send(k.iopub_socket, "display_data", content=body, parent=k.get_parent("shell"))
''',
    # Three parts of 90 MB, each 18 million short strings (no brackets to count), in one message.
    "a-strings": '''
k = get_ipython().kernel
s = k.session
big = b'{"x": [' + b'"ab",' * 17_999_999 + b'"ab"]}'
parts = [s.pack(s.msg_header("stream")), big, big, big]
k.iopub_socket.send_multipart([b"stream", b"<IDS|MSG>", s.sign(parts)] + parts)
''',
    # Many parts of 60 MB in one message: ZeroMQ caps each part, not their number.
    "a-frames": '''
k = get_ipython().kernel
big = memoryview(b"x" * (60 * 1024**2))
k.session.send(k.iopub_socket, "display_data", {"data": {}, "metadata": {}}, parent=k.get_parent("shell"),
               buffers=[big] * 6)
''',
    # The folder of the kernel's sockets lies on the grader's disk: files there would fill it.
    "a-sockets": '''
import json, os, sys
folder = os.path.dirname(json.load(open(sys.argv[sys.argv.index("-f") + 1]))["ip"])
try:
    with open(os.path.join(folder, "blob"), "wb") as f:
        f.write(b"x" * 2**20)
    print("SOCKETS WROTE")
except OSError as err:
    print("SOCKETS", type(err).__name__)
''',
    # A lone surrogate cannot be written as UTF-8: in the source (see the fixture) and in an output.
    "a-surrogate": '''
note = "SURROGATE-MARK"
k = get_ipython().kernel
k.session.send(k.iopub_socket, "stream", content=b'{"name": "stdout", "text": "LONE a\\\\ud800b"}',
               parent=k.get_parent("shell"))
''',
    "a-huge-code": "data = [" + "1, " * 350_000 + "]\n",
    "a-script": '''
from IPython.display import HTML, Javascript, SVG, display
display(HTML('<h1>8 / 8 points</h1><script>document.title="pwned"</script><img src=x onerror="alert(1)">'
             '<a href="javascript:alert(2)">ok</a><iframe src="https://example.org"></iframe>'))
display(Javascript("document.title = 'pwned'"))
display({"image/svg+xml": '<svg xmlns="http://www.w3.org/2000/svg" onload="alert(3)"><script>alert(4)</script></svg>',
         "text/html": "<script>alert(5)</script>", "application/vnd.jupyter.widget-view+json": {"model_id": "x"}},
        raw=True)
''',
}
def site_digest():
    """The installed environment's start-up hooks: every .pth file and sitecustomize, by content."""
    h = hashlib.sha256()
    for folder in site.getsitepackages():
        for p in sorted(Path(folder).glob("*.pth")) + sorted(Path(folder).glob("*customize.py")):
            h.update(p.name.encode() + p.read_bytes())
    return h.hexdigest()


class SocketTrap:
    """A Unix socket on the host that counts every connection (the grader must never make one)."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.bind(str(path))
        self.sock.listen()
        self.hits = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.hits += 1
            conn.close()


def add_cell(nb, after_id, source):
    """A code cell of the student's own, just after the cell ``after_id``."""
    at = next(i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == after_id)
    nb.cells.insert(at + 1, nbformat.v4.new_code_cell(source))
    return nb


@pytest.fixture(scope="module")
def wall(tmp_path_factory):
    base = tmp_path_factory.mktemp("wall")
    course = _scratch_course(COURSE, base / "course")
    generate(course, [SPLIT, CNN])
    secret = base / "host-secret.txt"
    secret.write_text("the instructor's secret")
    trap = SocketTrap(base / "trap.sock")
    split_release = course / "release" / SPLIT / f"{SPLIT}.ipynb"
    cnn_release = course / "release" / CNN / f"{CNN}.ipynb"
    decl = load_stage(SPLIT)
    expected = {}

    def honest(name, stage=SPLIT):
        rel = split_release if stage == SPLIT else cnn_release
        write_submission(course, name, stage, make_submission(rel, stage))
        expected[(name, stage)] = load_stage(stage).points

    targets = [str(secret), str(base / "trap.sock"), str(PACKAGE / "instructor" / "grader" / "remote.py"),
               str(course / "gradebook.db"), site.getsitepackages()[0] + "/evil.pth", "/dev/zero"]
    nb = add_cell(make_submission(split_release, SPLIT), "q1_answer", attack_links(targets))
    write_submission(course, "a-links", SPLIT, nb)
    expected[("a-links", SPLIT)] = decl.points
    honest("a-links-z")
    for name, attack in ATTACKS.items():
        write_submission(course, name, SPLIT, add_cell(make_submission(split_release, SPLIT), "q1_answer", attack))
        expected[(name, SPLIT)] = decl.points
        honest(name + "-z")
    surrogate = course / "submitted" / "a-surrogate" / SPLIT / f"{SPLIT}.ipynb"
    surrogate.write_text(surrogate.read_text().replace("SURROGATE-MARK", "\\ud800"))
    # Restarts whose replays would run past the notebook's time: a slow cell, then cells that end
    # the kernel; each restart replays the slow cell.
    nb = add_cell(make_submission(split_release, SPLIT), "q1_answer", "import time\ntime.sleep(25)")
    for after in ("q1_check", "q2_answer", "q3_answer"):
        nb = add_cell(nb, after, "import os\nos._exit(0)")
    write_submission(course, "a-replay", SPLIT, nb)
    expected[("a-replay", SPLIT)] = None  # see test_replays_after_a_restart_keep_to_the_notebook_time
    # A file of millions of tiny values: refused before it is read.
    nodes = course / "submitted" / "c-nodes" / SPLIT / f"{SPLIT}.ipynb"
    nodes.parent.mkdir(parents=True)
    nodes.write_bytes(b'{"cells": [], "metadata": {"x": [' + b'"ab",' * 2_100_000 + b'"ab"]}, "nbformat": 4, '
                      b'"nbformat_minor": 5}')
    expected[("c-nodes", SPLIT)] = None
    # Checks slower than the notebook may run: each call of the function sleeps.
    slow = decl["q1"].solution_code + "\nimport time\n_fast = leaked_patients\n" \
        "def leaked_patients(rows):\n    time.sleep(25)\n    return _fast(rows)\n"
    write_submission(course, "a-slow", SPLIT, make_submission(split_release, SPLIT, {"q1": slow}))
    expected[("a-slow", SPLIT)] = None  # runs out of time: see test_checks_count_against_the_notebook_time
    honest("a-slow-z")
    # Long texts: a huge comment in an answer, a huge error message from the student's function.
    long_answer = decl["q1"].solution_code + "\n# " + "long comment " * 5000 + "\n"
    raising = "def test_leak_share(*a, **k):\n    raise ValueError('e' * {n})"
    nb = make_submission(split_release, SPLIT, {"q1": long_answer, "q2": raising.format(n=100_000)})
    write_submission(course, "a-long", SPLIT, nb)
    expected[("a-long", SPLIT)] = decl.points - decl["q2"].points + points_of(SPLIT, "q2", raising.format(n=1))
    honest("a-long-z")
    # Student markdown with script, as a cell of their own.
    nb = make_submission(split_release, SPLIT)
    nb.cells.insert(3, nbformat.v4.new_markdown_cell("<script>alert(1)</script> [x](javascript:alert(2)) "
                                                     "<img src=x onerror=alert(3)> <h1>8 / 8 points</h1>"))
    write_submission(course, "a-markdown", SPLIT, nb)
    expected[("a-markdown", SPLIT)] = decl.points
    # Stage 4: a network that is tiny to describe and huge to build, unbuilt in the student's kernel.
    # The configuration it sends is not the network it built: a small one in the kernel, and the
    # description of one with 2.4 billion weights, which the checker would build.
    cnn = load_stage(CNN)
    huge = (
        "inputs = keras.Input((image_size, image_size, 3))\n"
        "    model = keras.Model(inputs, layers.Dense(1, activation='sigmoid')(layers.Flatten()(inputs)))\n"
        "    config = model.get_config()\n"
        "    for layer in config['layers']:\n"
        "        if layer['class_name'] == 'Dense':\n"
        "            layer['config']['units'] = 200_000\n"
        "    model.get_config = lambda: config\n"
        "    return model")
    nb = make_submission(cnn_release, CNN)
    answer = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "q1_answer")
    answer.source = cnn["q1"].code.split("    inputs = keras.Input")[0] + "    " + huge + "\n"
    write_submission(course, "b-huge", CNN, nb)
    expected[("b-huge", CNN)] = None  # see test_a_model_huge_to_build_never_reaches_the_grader_s_memory
    deep = ("model = layers.Dense(1, activation='sigmoid')\n    for _ in range(300):\n"
            "        model = keras.Sequential([model])\n    return model")
    nb = make_submission(cnn_release, CNN)
    answer = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "q1_answer")
    answer.source = cnn["q1"].code.split("    inputs = keras.Input")[0] + "    " + deep + "\n"
    write_submission(course, "b-deep", CNN, nb)
    expected[("b-deep", CNN)] = None
    honest("b-huge-z", CNN)
    # The instructor's side: links in submitted/ itself.
    (course / "submitted" / "c-linked").symlink_to(base)
    folder = course / "submitted" / "c-stage-link"
    folder.mkdir()
    (folder / SPLIT).symlink_to(course / "submitted" / "a-links" / SPLIT)
    (course / "submitted" / "c-notebook-link" / SPLIT).mkdir(parents=True)
    (course / "submitted" / "c-notebook-link" / SPLIT / f"{SPLIT}.ipynb").symlink_to(secret)
    (course / "submitted" / "c-fifo" / SPLIT).mkdir(parents=True)
    os.mkfifo(course / "submitted" / "c-fifo" / SPLIT / f"{SPLIT}.ipynb")
    write_submission(course, "c-stamp", SPLIT, make_submission(split_release, SPLIT))
    (course / "submitted" / "c-stamp" / SPLIT / "timestamp.txt").symlink_to("/dev/zero")
    expected[("c-stamp", SPLIT)] = decl.points

    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", MALARIA_LAB_CACHE=str(base / "cache"))
    subprocess.run([sys.executable, "-c", "from malaria_lab.instructor.grader.prepare import warm_fallbacks; "
                    "warm_fallbacks()"], env=env, check=True, capture_output=True)
    GROUPS_BEFORE.update(job_cgroups())  # another program's, or a test's on purpose: not this run's
    before = {"package": tree_digest(PACKAGE), "site": site_digest(), "secret": secret.read_text(),
              "course": tree_digest(course, skip=("__pycache__", "submitted", "autograded", "feedback", "grading",
                                                  "gradebook.db", ".nbgrader.log"))}
    done = subprocess.run([sys.executable, "-m", "malaria_lab", "course", "grade", str(course), "-q", "--workers", "1",
                           "--timeout", "30", "--notebook-timeout", str(NOTEBOOK_SECONDS), "--memory", "1.5"],
                          capture_output=True, text=True, env=env, timeout=1800)
    after = {"package": tree_digest(PACKAGE), "site": site_digest(), "secret": secret.read_text(),
             "course": tree_digest(course, skip=("__pycache__", "submitted", "autograded", "feedback", "grading",
                                                 "gradebook.db", ".nbgrader.log"))}
    return course, expected, done, before, after, trap


def record(course, student, stage=SPLIT):
    return json.loads((course / "grading" / "jobs" / stage / f"{student}.json").read_text())


def summary(course):
    return json.loads((course / "grading" / "summary.json").read_text())


def test_the_run_finishes_with_its_summary_and_names_every_refused_file(wall):
    course, expected, done, *_ = wall
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    got = summary(course)
    assert {(j["student"], j["stage"]) for j in got["jobs"]} == set(expected)
    skipped = "\n".join(got["skipped"])
    for name in ("c-linked", "c-stage-link", "c-notebook-link", "c-fifo"):
        assert name in skipped, skipped
    assert "cgroup" in got["limits"]["memory"] and "checks included" in got["limits"]["time"]


def test_every_honest_student_graded_after_an_attacker_keeps_full_marks(wall):
    course, expected, *_ = wall
    for (student, stage), points in expected.items():
        if student.endswith("-z"):
            got = record(course, student, stage)
            assert got["score"] == points, (student, got["problem"])


def test_attackers_score_what_their_honest_answers_earn(wall):
    course, expected, *_ = wall
    for (student, stage), points in expected.items():
        if not student.endswith("-z") and points is not None:
            got = record(course, student, stage)
            if student in SELF_HARMING:
                assert got["score"] <= points
            else:
                assert got["score"] == pytest.approx(points, abs=0.011), (student, got["problem"], got["exercises"])


def test_nothing_outside_the_sandbox_changed_ran_or_was_reached(wall):
    course, _, _, before, after, trap = wall
    assert after == before, "the package, the environment's start-up files, the host file, the course"
    assert trap.hits == 0, "the grader connected to a socket a student pointed it at"
    assert record(course, "a-links")["problem"], "the attack ended its kernel: the record says so"
    assert "the instructor's secret" not in (course / "feedback" / "a-links" / SPLIT / f"{SPLIT}.html").read_text()


def test_the_gradebook_holds_exactly_the_records(wall):
    from nbgrader.api import Gradebook

    course, expected, *_ = wall
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        rows = {(s.student.id, a.name): s.score for a in gb.assignments for s in a.submissions}
    assert rows == {key: pytest.approx(record(course, *key)["score"], abs=1e-6) for key in expected}


def test_no_process_or_cgroup_of_a_job_outlives_it(wall):
    spinning = []
    for entry in os.listdir("/proc"):
        try:
            if entry.isdigit() and SPINNER.encode() in Path(f"/proc/{entry}/cmdline").read_bytes():
                spinning.append(entry)
        except OSError:
            continue
    assert spinning == []
    left = {p: _members(Path(p)) for p in set(job_cgroups()) - GROUPS_BEFORE}
    assert left == {}, wall[2].stderr[-2000:]  # the grader names a cgroup it could not remove


def _members(group):
    """What still holds a cgroup: each process's state and command line."""
    out = []
    for pid in (group / "cgroup.procs").read_text().split() if (group / "cgroup.procs").exists() else []:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            out.append(f"{pid} {state} {Path(f'/proc/{pid}/cmdline').read_bytes()[:120]!r}")
        except (OSError, IndexError):
            out.append(f"{pid} gone")
    return out


def test_limits_hold_for_tmpfs_disk_and_outputs(wall):
    course, *_ = wall
    texts = {}
    for student in ("a-fill-tmp", "a-fill-job"):
        nb = nbformat.read(course / "autograded" / student / SPLIT / f"{SPLIT}.ipynb", as_version=4)
        texts[student] = json.dumps([c.get("outputs") for c in nb.cells])
    for student, text in texts.items():
        stopped = re.search(r"stopped at (\d+) MB", text)
        died = "died" in (record(course, student)["problem"] or "")
        assert died or (stopped and int(stopped.group(1)) <= 1100), (student, record(course, student)["problem"])
    flood = course / "autograded" / "a-flood" / SPLIT / f"{SPLIT}.ipynb"
    assert flood.stat().st_size < 25 * 1024**2
    assert "was not kept" in flood.read_text()


def test_checks_count_against_the_notebook_time(wall):
    course, *_ = wall
    slow = record(course, "a-slow")
    assert slow["seconds"] < NOTEBOOK_SECONDS + 40, slow["seconds"]
    assert any("ran past" in e["message"] or "timed out" in e["message"] for e in slow["exercises"]), slow["exercises"]


def test_long_texts_are_cut_with_a_mark_not_refused(wall):
    course, *_ = wall
    got = record(course, "a-long")
    answer = next(e["answer"] for e in got["exercises"] if e["id"] == "q1")
    assert "more characters)" in answer and len(answer) <= 20_000


@pytest.mark.skipif(os.geteuid() != 0, reason="the grader drops root's rights only where it has them")
def test_no_sandbox_runs_with_root_s_rights(wall):
    course, *_ = wall
    text = _outputs(course, "a-root")
    assert "UID " in text and "UID 0\\n" not in text, text[:500]
    if os.path.exists("/etc/shadow"):
        assert "SHADOW PermissionError" in text
        first = Path("/etc/shadow").read_text().splitlines()[0]
        assert first not in (course / "feedback" / "a-root" / SPLIT / f"{SPLIT}.html").read_text()
    # Its cgroup tree is its own job's group: no other job's (nor its own job's name) shows.
    assert "JOBS []" in text, text[:500]


def test_what_a_kernel_sends_never_swells_the_grader(wall):
    course, *_ = wall
    for student in ("a-bomb", "a-strings"):
        assert "not valid" in record(course, student)["problem"], student
    assert "sent a message of more than 96 MB" in record(course, "a-frames")["problem"]
    for job in summary(course)["jobs"]:
        assert (job.get("worker_mb") or 0) < 1500, job  # the trusted worker's own peak, in MB


def test_replays_after_a_restart_keep_to_the_notebook_time(wall):
    course, *_ = wall
    got = record(course, "a-replay")
    assert got["status"] == "graded", got["problem"]  # not a worker stopped past its time
    assert got["seconds"] < NOTEBOOK_SECONDS + 15, got
    assert "replayed cell" in got["problem"] or "ran past" in got["problem"], got["problem"]


def test_a_notebook_of_too_many_objects_is_refused_unread(wall):
    course, *_ = wall
    got = record(course, "c-nodes")
    assert got["status"] == "failed" and "more than 2,000,000 JSON values" in got["problem"]


def test_a_huge_code_cell_runs_whole_and_is_shown_cut(wall):
    course, *_ = wall
    page = (course / "feedback" / "a-huge-code" / SPLIT / f"{SPLIT}.html").read_text()
    assert "more characters of this cell are not shown here" in page and len(page) < 3 * 1024**2
    nb = nbformat.read(course / "autograded" / "a-huge-code" / SPLIT / f"{SPLIT}.ipynb", as_version=4)
    assert any(len(c.source) > 1_000_000 for c in nb.cells)


def _outputs(course, student):
    nb = nbformat.read(course / "autograded" / student / SPLIT / f"{SPLIT}.ipynb", as_version=4)
    return json.dumps([c.get("outputs") for c in nb.cells])


def test_a_model_huge_to_build_never_reaches_the_grader_s_memory(wall):
    course, *_ = wall
    got = record(course, "b-huge", CNN)
    q1, q2 = (next(e for e in got["exercises"] if e["id"] == i) for i in ("q1", "q2"))
    assert q1["points"] < q1["max_points"] and q2["points"] == q2["max_points"]
    said = q1["message"] + " ".join(c["message"] for c in q1["checks"])
    # Refused as too large to decode, or stopped at the checks' deadline: either way it is said why.
    assert "cannot be checked" in said or "too large or too slow to check" in said, q1
    for student in ("b-huge", "b-deep"):
        job = next(j for j in summary(course)["jobs"] if j["student"] == student)
        assert job["worker_mb"] < 1500, job  # the trusted worker's own peak, in MB
        assert job["score"] < load_stage(CNN).points, job


class _Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.scripts, self.handlers, self.first_head = 0, [], None
        self.in_head = False

    def handle_starttag(self, tag, attrs):
        self.scripts += tag in ("script", "iframe", "object", "embed")
        self.handlers += [a for a, _ in attrs if a.startswith("on")]
        if tag == "head":
            self.in_head = True
        elif self.in_head and self.first_head is None:
            self.first_head = (tag, dict(attrs))


def test_no_active_content_reaches_the_instructor_or_the_student(wall):
    course, *_ = wall
    for student in ("a-script", "a-markdown"):
        page = (course / "feedback" / student / SPLIT / f"{SPLIT}.html").read_text()
        body = page[page.index("<body"):]
        parsed = _Page()
        parsed.feed(body)
        assert parsed.scripts == 0 and parsed.handlers == [], student
        head = _Page()
        head.feed(page)
        assert head.first_head == ("meta", {"http-equiv": "Content-Security-Policy",
                                            "content": CSP.split('content="')[1].split('"')[0]})
        assert "pwned" not in body or "&quot;pwned&quot;" in body or "'pwned'" in body
        nb = nbformat.read(course / "autograded" / student / SPLIT / f"{SPLIT}.ipynb", as_version=4)
        for cell in nb.cells:
            for output in cell.get("outputs", []):
                data = output.get("data", {})
                assert not {"application/javascript", "image/svg+xml"} & set(data)
                assert "<script" not in data.get("text/html", "") and "onerror" not in data.get("text/html", "")
            if cell.cell_type == "markdown" and "nbgrader" not in cell.metadata:
                assert cell.source.startswith("*Your notes (shown as text):*")


@pytest.mark.skipif(os.geteuid() != 0, reason="only a root grader can close the folder to the sandbox's user")
def test_the_kernel_s_sockets_folder_takes_no_file(wall):
    course, *_ = wall
    assert "SOCKETS PermissionError" in _outputs(course, "a-sockets")


def test_a_text_that_cannot_be_written_is_repaired_not_a_grader_fault(wall):
    course, *_ = wall
    got = record(course, "a-surrogate")
    assert got["status"] == "graded" and not got["problem"], got["problem"]
    text = _outputs(course, "a-surrogate")
    assert "LONE a\\ufffdb" in text, text[:500]
    nb = (course / "autograded" / "a-surrogate" / SPLIT / f"{SPLIT}.ipynb").read_text()
    assert 'note = \\"\\ufffd\\"' in nb or 'note = \\"\ufffd\\"' in nb

"""``malaria-lab course grade``: a class graded through the real command, every submission in a
bubblewrap sandbox, with hostile students among honest ones.

Each hostile notebook answers exercise 1 of stage 2 with a known typical mistake plus an attack,
and exercises 2 and 3 with the reference solution, so it must score exactly what those honest
answers earn; the honest students graded beside it must score exactly their own points; nothing
of the package, the course folder or the data may change; no feedback may show hidden test lines.
"""

import json
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import nbformat
import pytest
from grading_helpers import job_cgroups, points_of, tree_digest

from malaria_lab.checks import load_stage
from malaria_lab.instructor.release import _scratch_course, generate
from malaria_lab.instructor.submissions import make_submission, write_submission

ROOT = Path(__file__).resolve().parents[2]
COURSE = ROOT / "course"
PACKAGE = ROOT / "malaria_lab"
STAGE = "02_split"
SECRETS = ("BEGIN HIDDEN TESTS", "END HIDDEN TESTS", "fresh.py", "runpy.run_path(malaria_lab",
           '["grader"]', "BEGIN SOLUTION")
MISTAKE = "return {row.patient for row in rows}"  # q1's typical mistake: every patient leaks
# What grading writes into a course folder; everything else there must stay as it was.
COURSE_OUTPUTS = ("__pycache__", "submitted", "autograded", "feedback", "grading", "gradebook.db",
                  ".nbgrader.log")

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not sys.platform.startswith("linux"), reason="bubblewrap is Linux's")]
def grade_cli(course, *args, env=None, timeout=1800):
    full = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", **(env or {}))
    return subprocess.run([sys.executable, "-m", "malaria_lab", "course", "grade", str(course), "-q", *args],
                          capture_output=True, text=True, env=full, timeout=timeout)


class Server:
    """A TCP server on the host's 127.0.0.1 that counts connections (the sandbox must reach none)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.port = self.sock.getsockname()[1]
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


ATTACKS = {
    # On-disk tampering: rewrite the checks the grader would load.
    "disk-engine": '''
import pathlib, malaria_lab.checks.engine as _e
_p = pathlib.Path(_e.__file__)
try:
    _p.write_text(_p.read_text() + "\\nExercise.run = lambda self, *a, **k: 2.0\\n")
    print("TAMPERED")
except OSError as err:
    print("refused:", type(err).__name__)
''',
    "disk-shadow": '''
import os, sys, malaria_lab
os.makedirs("malaria_lab/checks", exist_ok=True)
open("malaria_lab/__init__.py", "w").write("")
open("malaria_lab/checks/__init__.py", "w").write("def grader(*a): raise SystemExit")
sys.path.insert(0, os.getcwd())
malaria_lab.__path__.insert(0, os.path.join(os.getcwd(), "malaria_lab"))
''',
    # In-process tampering.
    "patch-runpy": '''
import runpy
class _G:
    def check(self, *a):
        return 2.0
runpy.run_path = lambda *a, **k: {"grader": lambda stage, ex: _G()}
''',
    "patch-engine": '''
import malaria_lab.checks.engine as _e, malaria_lab.checks.results as _r
_e.Exercise.run = lambda self, *a, **k: _r.Result(self.id, self.title, "correct", "Correct", self.points, self.points)
_r.Result.__repr__ = lambda self: "2.0"
''',
    "builtins-sum": '''
import builtins, sys
_sum = builtins.sum
def _lying(real, lie):
    def fake(*a, **k):  # honest for the notebook's own code, a lie for anyone else's
        return real(*a, **k) if sys._getframe(1).f_globals.get("__name__") == "__main__" else lie
    return fake
builtins.sum = _lying(_sum, 10**9)
''',
    "eq-true": '''
class _AlwaysEqual(set):
    def __eq__(self, other):
        return True
    __hash__ = set.__hash__
_honest = leaked_patients
def leaked_patients(rows):
    return _AlwaysEqual(_honest(rows))
''',
    "stack-walk": '''
import sys
_honest = leaked_patients
def leaked_patients(rows):
    frame = sys._getframe(1)
    while frame is not None:
        for name in ("Result", "Exercise", "encode"):
            if name in frame.f_globals:
                try:
                    frame.f_globals[name] = None
                except Exception:
                    pass
        frame = frame.f_back
    return _honest(rows)
''',
    # Silence: no output at all, or a fake green verdict.
    "silence": '''
get_ipython().ast_node_interactivity = "none"
from IPython.core.displayhook import DisplayHook
DisplayHook.__call__ = lambda self, result=None: None
get_ipython().display_formatter.formatters["text/html"].for_type(object, lambda o: "<b>Correct: all checks passed</b>")
''',
    # Reaching what is not theirs.
    "gradebook": '''
import os, sqlite3
found = []
for top in ("/", os.path.expanduser("~"), os.getcwd()):
    for root, dirs, files in os.walk(top):
        if root.startswith(("/proc", "/sys", "/usr", "/lib", "/dev")):
            dirs[:] = []
            continue
        for name in files:
            if name == "gradebook.db" or (name.endswith(".ipynb") and "submitted" in root):
                found.append(os.path.join(root, name))
print("FOUND", sorted(set(found)))
for path in found:
    if path.endswith("gradebook.db"):
        db = sqlite3.connect(path)
        db.execute("UPDATE grade SET manual_score = 100")
        db.commit()
''',
    "network": '''
import socket
for host in ("127.0.0.1", "1.1.1.1"):
    s = socket.socket()
    s.settimeout(2)
    try:
        s.connect((host, PORT))
        print("CONNECTED", host)
    except OSError as err:
        print("no network:", type(err).__name__)
''',
    "mover": '''
import shutil
from pathlib import Path
first = Path(course.images()[0].path)
try:
    shutil.move(str(first), "stolen.png")
    print("MOVED")
except OSError as err:
    print("refused:", type(err).__name__)
''',
    "memory": '''
import numpy as np
try:
    hog = np.ones(int(3.6 * 1024**3) // 8)
    print("ALLOCATED", hog.nbytes)
except MemoryError:
    print("no memory")
''',
    "processes": '''
import subprocess
procs = [subprocess.Popen(["sleep", "60"]) for _ in range(400)]
''',
    "keyboard": '''
def leaked_patients(rows):
    raise KeyboardInterrupt("let me out")
''',
    "sysexit": '''
def leaked_patients(rows):
    raise SystemExit(3)
''',
    "loop": '''
def leaked_patients(rows):
    while True:
        pass
''',
}



def hostile_code(attack):
    ex = load_stage(STAGE)["q1"]
    return ex.with_answer(MISTAKE).rstrip("\n") + "\n\n" + attack.strip("\n")


@pytest.fixture(scope="module")
def server():
    return Server()


@pytest.fixture(scope="module")
def klass(tmp_path_factory, server):
    """A course folder with a class of honest and hostile students, graded for real."""
    course = _scratch_course(COURSE, tmp_path_factory.mktemp("class"))
    generate(course)
    decl = load_stage(STAGE)
    release = course / "release" / STAGE / f"{STAGE}.ipynb"
    expected = {}
    honest_q1 = points_of(STAGE, "q1", decl["q1"].with_answer(MISTAKE))
    for name, attack in ATTACKS.items():
        code = hostile_code(attack.replace("PORT", str(server.port)))
        write_submission(course, name, STAGE, make_submission(release, STAGE, {"q1": code}))
        expected[name] = decl.points - decl["q1"].points + honest_q1
    for name in ("keyboard", "sysexit", "loop"):
        expected[name] = decl.points - decl["q1"].points  # its function never answers: q1 scores 0
    # Cells that stop the kernel: the answer cell of q1 never finishes, the rest is graded.
    stoppers = {"exit": "import os\nos._exit(0)",
                "sigint-loop": "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass"}
    for name, tail in stoppers.items():
        write_submission(course, name, STAGE, make_submission(
            release, STAGE, {"q1": decl["q1"].solution_code + "\n" + tail}))
        expected[name] = decl.points - decl["q1"].points
    # Broken notebooks.
    nb = make_submission(release, STAGE)
    check = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "q2_check")
    nb.cells.insert(nb.cells.index(check) + 1, nbformat.from_dict(json.loads(json.dumps(check))))
    nb.cells.insert(3, nbformat.v4.new_markdown_cell("### BEGIN HIDDEN TESTS\nmy notes\n"))
    write_submission(course, "duplicated", STAGE, nb)
    expected["duplicated"] = decl.points
    nb = make_submission(release, STAGE)
    nb.cells = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") != "q2_check"]
    write_submission(course, "deleted", STAGE, nb)
    expected["deleted"] = decl.points
    nb = make_submission(release, STAGE, {"q1": decl["q1"].solution_code + "\nprint('x' * 30_000_000)"})
    write_submission(course, "chatty", STAGE, nb)
    expected["chatty"] = decl.points
    garbage = course / "submitted" / "garbage" / STAGE / f"{STAGE}.ipynb"
    garbage.parent.mkdir(parents=True)
    garbage.write_text("{ this is not a notebook")
    # Honest students, graded after the hostile ones (names sort last).
    for stage in ("02_split", "04_build_cnn", "05_train"):
        rel = course / "release" / stage / f"{stage}.ipynb"
        write_submission(course, "zz-right", stage, make_submission(rel, stage))
        first = sorted(load_stage(stage).exercises)[0]
        write_submission(course, "zz-wrong", stage, make_submission(rel, stage, {first: ("mistake", 0)}))
        ex = load_stage(stage)[first]
        expected[("zz-right", stage)] = load_stage(stage).points
        expected[("zz-wrong", stage)] = (load_stage(stage).points - ex.points
                                         + points_of(stage, first, ex.with_answer(ex.mistakes[0][0])))
    write_submission(course, "zz-untouched", STAGE, make_submission(release, STAGE, "untouched"))
    expected[("zz-untouched", STAGE)] = 0.0
    env = {"MALARIA_LAB_CACHE": str(tmp_path_factory.getbasetemp() / "cache")}
    fallbacks = Path(env["MALARIA_LAB_CACHE"]) / "course"
    subprocess.run([sys.executable, "-c", "from malaria_lab.instructor.grader.prepare import warm_fallbacks; "
                    "warm_fallbacks(print)"], env=dict(os.environ, **env), check=True, capture_output=True)
    before = {"package": tree_digest(PACKAGE), "course": tree_digest(course, skip=COURSE_OUTPUTS),
              "submitted": tree_digest(course / "submitted"), "fallbacks": tree_digest(fallbacks),
              "job cgroups": job_cgroups()}
    done = grade_cli(course, "--workers", "2", "--timeout", "20", "--memory", "2", env=env)
    after = {"package": tree_digest(PACKAGE), "course": tree_digest(course, skip=COURSE_OUTPUTS),
             "submitted": tree_digest(course / "submitted"), "fallbacks": tree_digest(fallbacks),
             "job cgroups": job_cgroups()}
    return course, expected, done, before, after, server


def record(course, student, stage=STAGE):
    return json.loads((course / "grading" / "jobs" / stage / f"{student}.json").read_text())


def gradebook_scores(course):
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        out = {}
        for assignment in gb.assignments:
            for sub in assignment.submissions:
                manual = [g.manual_score for nb in sub.notebooks for g in nb.grades]
                out[(sub.student.id, assignment.name)] = (sub.score, manual)
        return out


def test_the_command_grades_every_job_and_says_which_failed(klass):
    course, expected, done, *_ = klass
    assert done.returncode == 1, "one submission is not a notebook: the command says so with status 1"
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    assert "garbage 02_split: the submitted file is not a notebook" in done.stdout, done.stdout
    summary = json.loads((course / "grading" / "summary.json").read_text())
    assert summary["sandbox"] is True and summary["failed"] == 1
    assert summary["graded"] == len(expected)


def test_hostile_students_score_exactly_their_honest_answers(klass):
    course, expected, *_ = klass
    got = {name: record(course, name)["score"] for name in expected if isinstance(name, str)}
    want = {name: pytest.approx(points, abs=0.011) for name, points in expected.items() if isinstance(name, str)}
    assert got == want


def test_honest_students_score_exactly_their_own_points(klass):
    course, expected, *_ = klass
    for key, points in expected.items():
        if isinstance(key, tuple):
            student, stage = key
            assert record(course, student, stage)["score"] == pytest.approx(points, abs=0.011), key


def test_the_gradebook_holds_the_trusted_points_and_nobody_touched_it(klass):
    course, expected, *_ = klass
    scores = gradebook_scores(course)
    for key, points in expected.items():
        student, stage = key if isinstance(key, tuple) else (key, STAGE)
        score, manual = scores[(student, stage)]
        assert score == pytest.approx(record(course, student, stage)["score"], abs=1e-6), key
        assert score == pytest.approx(points, abs=0.011), key
        assert all(m is None for m in manual), f"{key}: a manual score appeared"


def test_nothing_of_the_package_course_or_data_changed(klass):
    _, _, _, before, after, _ = klass
    assert after == before, ("the package, the course's own files, the submissions, the shared data and the "
                             "jobs' cgroups")


def _cell_text(course, student, grade_id):
    nb = nbformat.read(course / "autograded" / student / STAGE / f"{STAGE}.ipynb", as_version=4)
    out = []
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
            for o in cell.get("outputs", []):
                out.append(o.get("text", "") + json.dumps(o.get("data", {})) + o.get("evalue", ""))
    return "".join(out)


def test_the_walls_hold(klass):
    course, *_, server = klass
    assert "refused: OSError" in _cell_text(course, "disk-engine", "q1_answer")
    found = json.loads(_cell_text(course, "gradebook", "q1_answer").split("FOUND ", 1)[1].splitlines()[0]
                       .replace("'", '"'))
    python = (sys.prefix, sys.base_prefix, str(Path(sys.executable).resolve().parent.parent))
    assert not [p for p in found if not p.startswith(python)], "only the read-only Python installation's own files"
    assert "CONNECTED" not in _cell_text(course, "network", "q1_answer") and server.hits == 0
    assert "refused: OSError" in _cell_text(course, "mover", "q1_answer")
    assert "ALLOCATED" not in _cell_text(course, "memory", "q1_answer")


def test_stopped_code_gets_a_clear_message(klass):
    course, *_ = klass
    assert "timed out" in record(course, "loop")["exercises"][0]["message"]
    assert "timed out in cell q1_answer after 20 s" in record(course, "sigint-loop")["problem"]
    assert "kernel died in cell q1_answer" in record(course, "exit")["problem"]
    # Where cgroups cap the job's processes, the 257th fork fails; elsewhere the watchdog stops the kernel.
    assert ("processes" in (record(course, "processes")["problem"] or "")
            or "BlockingIOError" in _cell_text(course, "processes", "q1_answer"))
    assert "raised KeyboardInterrupt" in record(course, "keyboard")["exercises"][0]["message"]
    assert "raised SystemExit" in record(course, "sysexit")["exercises"][0]["message"]
    notes = record(course, "duplicated")["notes"] + record(course, "deleted")["notes"]
    assert any("appeared 2 times" in n for n in notes)
    assert any("check cell of q2 was deleted: restored from the source and graded" in n for n in notes)


def test_check_cells_show_the_trusted_verdict_and_feedback_no_hidden_lines(klass):
    course, expected, *_ = klass
    assert "Not yet" in _cell_text(course, "silence", "q1_check")
    files = sorted((course / "feedback").rglob("*.html"))
    assert len(files) == len(expected)
    for path in files:
        text = path.read_text(encoding="utf-8")
        # The student "duplicated" wrote the words BEGIN HIDDEN TESTS in a cell of their own.
        own = ("BEGIN HIDDEN TESTS",) if "duplicated" in path.parts else ()
        for secret in SECRETS:
            assert secret in own or secret not in text, f"{path.relative_to(course)} shows {secret!r}"


def test_grading_again_skips_what_did_not_change(klass, tmp_path):
    course, *_ = klass
    env = {"MALARIA_LAB_CACHE": str(Path(course).parent.parent / "cache")}
    done = grade_cli(course, "--student", "zz-right", "--stage", STAGE, "--timeout", "20", "--memory", "2", env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Graded 0 job(s), 0 failed, 1 unchanged" in done.stdout


def test_a_missing_sandbox_is_one_clear_line(tmp_path):
    course = _scratch_course(COURSE, tmp_path / "c")
    write_submission(course, "a", STAGE, make_submission(course / "source" / STAGE / f"{STAGE}.ipynb", STAGE))
    done = grade_cli(course, env={"PATH": "/nonexistent"})
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "bubblewrap" in done.stderr and "--no-sandbox" in done.stderr


def test_without_the_sandbox_the_verdict_is_still_outside_and_the_summary_says_so(tmp_path):
    course = _scratch_course(COURSE, tmp_path / "c")
    generate(course, [STAGE])
    release = course / "release" / STAGE / f"{STAGE}.ipynb"
    attack = hostile_code(ATTACKS["patch-engine"])
    write_submission(course, "patcher", STAGE, make_submission(release, STAGE, {"q1": attack}))
    done = grade_cli(course, "--no-sandbox", env={"MALARIA_LAB_CACHE": str(tmp_path / "cache")})
    assert done.returncode == 0, done.stdout + done.stderr
    assert "NOT SANDBOXED" in done.stdout
    decl = load_stage(STAGE)
    honest = decl.points - decl["q1"].points + points_of(STAGE, "q1", decl["q1"].with_answer(MISTAKE))
    assert record(course, "patcher")["score"] == pytest.approx(honest, abs=0.011)
    assert record(course, "patcher")["sandbox"] is False

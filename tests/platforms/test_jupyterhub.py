"""A department's JupyterHub, set up from the *On a JupyterHub* section of course/INSTRUCTORS.md
alone, and one assignment's whole nbgrader cycle on it, in headless Chromium.

As root, the test runs every command of that section (``hub_doc`` reads them; the install step's
environment comes from ``platform_envs``, built once and kept), with the section's paths moved
into a temporary folder, its example accounts given fresh names, and the hub on free ports of
127.0.0.1; the two files of ``deploy/jupyterhub/`` are used as they are. Then:

* the instructor logs in and, in a terminal of their JupyterLab, releases ``02_split``;
* two students log in, fetch it in the *Assignments* tab, open it, run it, answer each exercise
  (one with the reference answers, one with the first declared mistake of exercise 1) and run its
  check cell, save, and submit;
* the instructor collects, grades with ``malaria-lab course grade`` (sandboxed) and releases the
  feedback; each student fetches theirs and reads their own points and messages;
* neither student can reach the other's server, files or feedback, nor the instructor's course,
  through the hub or on disk.

Screenshots of each step go to ``$MALARIA_LAB_SCREENSHOTS`` (``hub_*.png``). The local users, the
groups and the folders the test made are removed at the end. Needs root (skips otherwise, saying
why), Chromium, configurable-http-proxy and bubblewrap (CI installs them).
"""

import contextlib
import grp
import json
import os
import pwd
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "browser"))  # the browser tests' helpers
import hub_doc  # noqa: E402
import platform_envs  # noqa: E402
from grading_helpers import points_of
from test_course_notebooks import answer, cell_with, errors, outputs, shown  # noqa: E402
from test_jupyterlab import (  # noqa: E402, F401 (fixtures: browser_path, shots)
    CHROMIUM_ARGS,
    accept_kernel_dialog,
    browser_path,
    free_port,
    menu,
    shots,
    write_settings,
)

from malaria_lab.checks import load_stage  # noqa: E402

pytestmark = [pytest.mark.platforms, pytest.mark.browser, pytest.mark.slow]

STAGE = "02_split"
COURSE_ID = "malaria-lab"
COMMAND_TIMEOUT = 300


def _unavailable(reason):
    """Skip, except where CI says this run must exercise the platforms."""
    if os.environ.get("MALARIA_LAB_REQUIRE_PLATFORMS") == "1":
        pytest.fail(f"{reason}, and MALARIA_LAB_REQUIRE_PLATFORMS=1 says this run must test them")
    pytest.skip(reason)


@dataclass
class Hub:
    """The running hub and what the test made for it (all of it undone by :func:`_teardown`)."""
    run: Path
    env_root: Path
    users: dict = field(default_factory=dict)  # the section's example name -> this run's name
    passwords: dict = field(default_factory=dict)
    groups: list = field(default_factory=list)
    process: subprocess.Popen = None
    url: str = ""
    log_path: Path = None

    @property
    def exchange(self):
        return self.run / "srv" / "nbgrader" / "exchange"

    def home(self, who):
        return Path("/home") / self.users[who]

    def mapping(self):
        return {"/opt/": f"{self.env_root}/opt/", "/srv/": f"{self.run}/srv/", **self.users}

    def env(self):
        """The hub's environment: a service's, plus where the exchange is."""
        system = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        return {"PATH": f"{self.env_root}/opt/jupyterhub/bin:{system}", "LANG": "C.UTF-8", "HOME": "/root",
                "NBGRADER_EXCHANGE_ROOT": str(self.exchange)}

    def log(self, tail=3000):
        return self.log_path.read_text(errors="replace")[-tail:] if self.log_path and self.log_path.exists() else ""


def _as_root(hub, command):
    done = subprocess.run(hub_doc.substitute(command, hub.mapping()), shell=True, env=hub.env(),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"`{command}` failed:\n{done.stdout}{done.stderr}"


def _start(hub):
    """The section's start step: ``cd FOLDER && HUB -f CONFIG``, here on free ports of 127.0.0.1."""
    [line] = hub_doc.blocks()["start"].commands
    folder, _, command = hub_doc.substitute(line, hub.mapping()).partition(" && ")
    assert folder.startswith("cd "), line
    port, hub_port, api_port = free_port(), free_port(), free_port()
    hub.url = f"http://127.0.0.1:{port}"
    argv = [*hub_doc.words(command), f"--JupyterHub.bind_url={hub.url}",
            f"--JupyterHub.hub_bind_url=http://127.0.0.1:{hub_port}",
            f"--ConfigurableHTTPProxy.api_url=http://127.0.0.1:{api_port}"]
    hub.log_path = hub.run / "jupyterhub.log"
    with open(hub.log_path, "wb") as log:
        hub.process = subprocess.Popen(argv, cwd=hub_doc.words(folder)[1], env=hub.env(), stdout=log,
                                       stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert hub.process.poll() is None, f"JupyterHub exited:\n{hub.log()}"
        try:
            with urllib.request.urlopen(f"{hub.url}/hub/api/", timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"JupyterHub did not answer within 120 s:\n{hub.log()}")


def _settings(hub, who):
    """The test's own JupyterLab preferences for a user: no news pop-up, every cell in the page, the
    terminal's text readable (its screen-reader mode)."""
    folder = hub.home(who) / ".jupyter" / "lab" / "user-settings"
    write_settings(folder)
    terminal = folder / "@jupyterlab" / "terminal-extension" / "plugin.jupyterlab-settings"
    terminal.parent.mkdir(parents=True, exist_ok=True)
    terminal.write_text(json.dumps({"screenReaderMode": True}))
    subprocess.run(["chown", "-R", f"{hub.users[who]}:", str(hub.home(who) / ".jupyter")], check=True)


def _teardown(hub):
    """Stop the hub and every process of the test's users (by process id), remove the users with
    their homes, the groups the test made and its folder."""
    if hub.process is not None and hub.process.poll() is None:
        os.killpg(hub.process.pid, signal.SIGTERM)  # the hub stops the users' servers as it exits
        try:
            hub.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(hub.process.pid, signal.SIGKILL)
    proxy = hub.run / "srv" / "jupyterhub" / "jupyterhub-proxy.pid"  # the hub's proxy, in a group of its own
    with contextlib.suppress(OSError, ValueError):
        pid = int(proxy.read_text())
        if b"configurable-http-proxy" in Path(f"/proc/{pid}/cmdline").read_bytes():
            os.kill(pid, signal.SIGKILL)
    uids = set()
    for name in hub.users.values():
        with contextlib.suppress(KeyError):
            uids.add(pwd.getpwnam(name).pw_uid)
    for pid in (p for p in os.listdir("/proc") if p.isdigit()):
        with contextlib.suppress(OSError):
            if os.stat(f"/proc/{pid}").st_uid in uids:
                os.kill(int(pid), signal.SIGKILL)
    for name in hub.users.values():
        subprocess.run(["userdel", "--remove", name], capture_output=True)
    for group in hub.groups:
        subprocess.run(["groupdel", group], capture_output=True)
    subprocess.run(["rm", "-rf", "--one-file-system", str(hub.run)], check=False)


@pytest.fixture(scope="module")
def hub(browser_path):  # noqa: F811
    if not sys.platform.startswith("linux") or os.geteuid() != 0:
        _unavailable("the hub test creates Linux users and runs JupyterHub as root: run it as root (CI does)")
    taken = [g for g in hub_doc.GROUPS if g in {entry.gr_name for entry in grp.getgrall()}]
    if taken:
        pytest.skip(f"group {taken[0]} exists already (a real course on this machine?); the test makes its own")
    try:
        env_root, _ = platform_envs.hub_env()
    except platform_envs.Missing as why:
        _unavailable(str(why))
    suffix = secrets.token_hex(3)
    run = Path(tempfile.mkdtemp(prefix="malaria-lab-hub-", dir="/tmp"))
    run.chmod(0o755)
    made = Hub(run=run, env_root=env_root,
               users={"teacher": f"mlt{suffix}", "alice": f"mla{suffix}", "bob": f"mlb{suffix}"})
    try:
        for command in hub_doc.blocks()["configure"].commands:
            _as_root(made, command)
            if command.startswith("groupadd "):
                made.groups.append(command.split()[-1])
        for command in hub_doc.blocks()["accounts"].commands:
            _as_root(made, command)
        for who, name in made.users.items():
            made.passwords[who] = secrets.token_urlsafe(12)
            subprocess.run(["chpasswd"], input=f"{name}:{made.passwords[who]}\n", text=True, check=True)
            _settings(made, who)
        _start(made)
        yield made
    finally:
        _teardown(made)


@pytest.fixture(scope="module")
def browser(browser_path):  # noqa: F811
    from playwright.sync_api import sync_playwright  # optional: browser_path has skipped where it is missing

    with sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=browser_path, headless=True, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


class Session:
    """One user's browser session on the hub (a browser context of its own: its own cookies)."""

    def __init__(self, hub, browser, who, shots):  # noqa: F811
        self.hub, self.who, self.name, self.shots = hub, who, hub.users[who], shots
        self.context = browser.new_context(viewport={"width": 1400, "height": 1000})
        self.page = self.context.new_page()
        self.page.set_default_timeout(90_000)

    def shot(self, name, what=None):
        (what or self.page).screenshot(path=str(self.shots / f"hub_{name}.png"))

    def login(self, shot=None):
        page = self.page
        page.goto(f"{self.hub.url}/hub/login")
        page.fill("input[name=username]", self.name)
        page.fill("input[name=password]", self.hub.passwords[self.who])
        if shot:
            self.shot(shot)
        page.click("input[type=submit], button[type=submit]")
        page.wait_for_url(f"**/user/{self.name}/lab**", timeout=180_000)
        page.wait_for_selector("#jp-main-dock-panel", timeout=180_000)

    def get(self, path):
        """(status, text) of an API GET from this user's JupyterLab, as JupyterLab makes it (their
        cookies and the XSRF token JupyterHub asks of cookie-authenticated API requests)."""
        reply = self.page.evaluate(
            """async (url) => {
                 const xsrf = document.cookie.split('; ').find(c => c.startsWith('_xsrf='));
                 const headers = xsrf ? {'X-XSRFToken': decodeURIComponent(xsrf.slice(6))} : {};
                 const r = await fetch(url, {headers});
                 return [r.status, await r.text()];
               }""", f"{self.hub.url}{path}")
        return reply[0], reply[1]

    def visit(self, path, shot=None):
        """(status, text) of opening ``path`` in a new tab of this user's browser."""
        tab = self.context.new_page()
        try:
            response = tab.goto(f"{self.hub.url}{path}")
            if shot:
                self.shot(shot, tab)
            return response.status, tab.content()
        finally:
            tab.close()

    def kernel_idle(self, path):
        status, text = self.get(f"/user/{self.name}/api/sessions")
        assert status == 200, (status, text[:300])
        return any(s["path"].endswith(path) and (s.get("kernel") or {}).get("execution_state") == "idle"
                   for s in json.loads(text))

    def wait_for_kernel(self, path, timeout=180):
        """Until the notebook's kernel has started and is idle."""
        deadline = time.monotonic() + timeout
        while not self.kernel_idle(path):
            assert time.monotonic() < deadline, f"no idle kernel for {path} within {timeout} s"
            accept_kernel_dialog(self.page)
            time.sleep(0.5)

    def run_all(self, path, timeout=300):
        """Run > Run All Cells, until no cell waits or runs and the kernel is idle."""
        menu(self.page, "Run", "Run All Cells")
        deadline = time.monotonic() + timeout
        time.sleep(2)
        while time.monotonic() < deadline:
            accept_kernel_dialog(self.page)
            busy = shown(self.page).locator(".jp-CodeCell .jp-InputPrompt", has_text="[*]").count()
            if not busy and self.kernel_idle(path):
                return
            time.sleep(1)
        raise AssertionError(f"{path}: Run All did not finish within {timeout} s")

    def assignments(self):
        """The Assignments tab (Nbgrader > Assignment List), once it has loaded."""
        tab = self.page.locator(".lm-TabBar-tab", has_text="Assignments")
        if tab.count():
            tab.first.click()
            self.page.locator("#refresh_assignments_list").click()
        else:
            menu(self.page, "Nbgrader", "Assignment List")
        self.page.wait_for_selector("#released_assignments_list_loading[hidden]", state="attached")
        return self.page

    def item(self, listing):
        return self.page.locator(f"#{listing}_assignments_list .list_item", has_text=STAGE).first

    def click_in(self, listing, button, then):
        """Click ``button`` on the stage's row of one list; wait until it shows in the ``then`` list."""
        self.item(listing).locator("button", has_text=button).click()
        self.item(then).wait_for(timeout=120_000)


def type_in_terminal(session, commands, step):
    """Type each command into the open terminal as the instructor would, each followed by a line
    that prints its exit status; every status must be 0. Returns the terminal's text."""
    page, screen = session.page, session.page.locator(".xterm-accessibility-tree").first
    for n, command in enumerate(commands, 1):
        tag = f"{step}-{n}"
        page.keyboard.type(hub_doc.substitute(command, session.hub.mapping()) + "\n")
        page.keyboard.type(f'echo "[{tag} exit $?]"\n')
        deadline = time.monotonic() + COMMAND_TIMEOUT
        while not (found := re.search(rf"\[{tag} exit (\d+)\]", screen.inner_text())):
            assert time.monotonic() < deadline, f"`{command}` ran over {COMMAND_TIMEOUT} s:\n{screen.inner_text()}"
            time.sleep(1)
        assert found.group(1) == "0", f"`{command}` exited with {found.group(1)}:\n{screen.inner_text()[-3000:]}"
    return screen.inner_text()


def open_terminal(session):
    page = session.page
    page.goto(f"{session.hub.url}/user/{session.name}/lab?reset")
    page.locator(".jp-LauncherCard", has_text="Terminal").first.click()
    page.locator(".jp-Terminal .xterm-accessibility-tree").first.wait_for(state="attached")
    time.sleep(1)
    page.locator(".jp-Terminal").first.click()


def answers(kind):
    """{exercise id: the code typed into its cell}: the reference answers, or the first declared
    mistake of the first exercise with the rest right."""
    decl = load_stage(STAGE)
    plan = {ex_id: decl[ex_id].solution_code for ex_id in sorted(decl.exercises)}
    if kind == "mistake":
        first = sorted(decl.exercises)[0]
        plan[first] = decl[first].with_answer(decl[first].mistakes[0][0])
    return plan


@pytest.fixture
def step(hub, shots):  # noqa: F811
    """``with step("what", session):`` names the step that failed, with a screenshot and the hub's log."""

    @contextlib.contextmanager
    def named(what, session=None):
        try:
            yield
        except Exception as err:
            if session is not None:
                session.shot("failure")
            raise AssertionError(f"{what} failed: {err}\n(screenshot: {shots / 'hub_failure.png'})\n"
                                 f"--- JupyterHub log ---\n{hub.log(3000)}") from err

    return named


def student_works(session, kind, step):
    """Log in, fetch the stage, open it, Run All, answer each exercise and run its check, save and
    submit; the check cells' words, by exercise."""
    page, name, who = session.page, session.name, session.who
    with step(f"{who}: logging in and fetching {STAGE} in the Assignments tab", session):
        session.login()
        session.assignments()
        session.item("released").wait_for()
        session.shot(f"03_{who}_released", page.locator("#jp-main-dock-panel"))
        session.click_in("released", "Fetch", "fetched")
        fetched = session.hub.home(who) / STAGE / f"{STAGE}.ipynb"
        assert fetched.is_file() and fetched.stat().st_uid == pwd.getpwnam(name).pw_uid, fetched
    with step(f"{who}: opening the notebook from the list and running it", session):
        session.item("fetched").locator("a.assignment-notebooks-link").click()
        page.locator(f"#nbgrader-{COURSE_ID}-{STAGE} a", has_text=STAGE).first.click(force=True)
        shown(page).locator(".jp-CodeCell").first.wait_for(timeout=120_000)
        session.wait_for_kernel(f"{STAGE}/{STAGE}.ipynb")
        session.run_all(f"{STAGE}/{STAGE}.ipynb")
        said = " ".join(outputs(cell_with(page, "course = setup(")))
        assert f"Work folder: /home/{name}/malaria_lab_work" in said, said
        stop = shown(page).locator(".jp-OutputArea-output", has_text="is still the starter code")
        assert stop.count() >= 1 and not errors(page), "Run All stops at the first exercise with one line"
    checks = {}
    decl = load_stage(STAGE)
    for ex_id, code in answers(kind).items():
        with step(f"{who}: answering {ex_id} and running its check", session):
            first_line = decl[ex_id].starter_code.strip().splitlines()[0]
            checks[ex_id], check = answer(page, cell_with(page, first_line), code)
    with step(f"{who}: running the rest, saving and submitting", session):
        session.run_all(f"{STAGE}/{STAGE}.ipynb")
        assert not errors(page), errors(page)
        check.scroll_into_view_if_needed()
        session.shot(f"04_{who}_solved")
        before = fetched.stat().st_mtime
        menu(page, "File", "Save Notebook")
        deadline = time.monotonic() + 60
        while fetched.stat().st_mtime == before and time.monotonic() < deadline:
            time.sleep(0.25)
        assert fetched.stat().st_mtime != before, "the notebook was not saved"
        assert (session.hub.home(who) / "malaria_lab_work" / "manifest.csv").is_file()
        session.assignments()
        session.click_in("fetched", "Submit", "submitted")
        session.shot(f"05_{who}_submitted", page.locator("#jp-main-dock-panel"))
    return checks


def read_feedback(session, step):
    """Fetch Feedback, view feedback, open the page: its text."""
    page, who = session.page, session.who
    with step(f"{who}: fetching and opening their feedback", session):
        page.reload()
        page.wait_for_selector("#jp-main-dock-panel")
        session.assignments()
        session.item("submitted").get_by_text("feedback available to fetch").wait_for()
        session.item("submitted").locator("button", has_text="Fetch Feedback").click()
        view = session.item("submitted").get_by_text("view feedback")
        view.wait_for(timeout=120_000)
        view.click()
        page.locator(".jp-DirListing-item", has_text=f"{STAGE}.html").first.dblclick()
        frame = page.frame_locator(".jp-HTMLViewer iframe").first
        frame.locator("h1", has_text="points").first.wait_for(timeout=60_000)
        session.shot(f"07_{who}_feedback")
        return frame.locator("body").inner_text()


def as_user(name, code):
    """Run ``code`` (Python) as the Linux user ``name``; what it prints, parsed as JSON."""
    done = subprocess.run(["runuser", "-u", name, "--", "/usr/bin/python3", "-c", code],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


TRY = """
import json, os
out = {}
for path in %r:
    try:
        (os.listdir if os.path.isdir(path) else lambda p: open(p, "rb").read(1))(path)
        out[path] = "read"
    except PermissionError:
        out[path] = "denied"
    except FileNotFoundError:
        out[path] = "missing"
print(json.dumps(out))
"""


def test_a_course_on_a_jupyterhub(hub, browser, shots, step):  # noqa: F811
    teacher, alice, bob = (Session(hub, browser, who, shots) for who in ("teacher", "alice", "bob"))
    course = hub.home("teacher") / "course"

    with step("the instructor logs in and releases the stage in a terminal", teacher):
        teacher.login(shot="01_login")
        open_terminal(teacher)
        type_in_terminal(teacher, hub_doc.blocks()["release"].commands, "release")
        teacher.shot("02_release")
        released = hub.exchange / COURSE_ID / "outbound" / STAGE / f"{STAGE}.ipynb"
        assert released.is_file(), sorted(hub.exchange.rglob("*"))

    right = student_works(alice, "solution", step)
    wrong = student_works(bob, "mistake", step)
    decl = load_stage(STAGE)
    first = sorted(decl.exercises)[0]
    for ex_id in decl.exercises:
        top = f"{decl[ex_id].points:g}"
        assert f"({top}/{top} points)" in right[ex_id], right[ex_id]
        if ex_id != first:
            assert f"({top}/{top} points)" in wrong[ex_id], wrong[ex_id]
    assert decl[first].mistakes[0][1] in wrong[first] and f"(0/{decl[first].points:g} points)" in wrong[first]

    with step("the instructor collects, grades (sandboxed) and releases the feedback", teacher):
        teacher.page.locator(".jp-Terminal").first.click()  # the instructor's page still shows the terminal
        type_in_terminal(teacher, hub_doc.blocks()["grade"].commands, "grade")
        teacher.shot("06_graded")
        summary = json.loads((course / "grading" / "summary.json").read_text())
        assert summary["sandbox"] is True and summary["graded"] == 2 and summary["failed"] == 0, summary
        assert sorted(p.name for p in (course / "submitted").iterdir()) == sorted([alice.name, bob.name])
    expected = {alice.name: decl.points,
                bob.name: decl.points - decl[first].points + points_of(STAGE, first, answers("mistake")[first])}
    for student, points in expected.items():
        record = json.loads((course / "grading" / "jobs" / STAGE / f"{student}.json").read_text())
        assert record["status"] == "graded" and record["score"] == pytest.approx(points, abs=0.011), record
    assert len(list((hub.exchange / COURSE_ID / "feedback").glob("*.html"))) == 2

    for session in (alice, bob):
        text = read_feedback(session, step)
        score = expected[session.name]
        assert f"{STAGE}: {score:g} / {decl.points:g} points" in text, text[:500]
        other = bob if session is alice else alice
        assert other.name not in text
        if session is bob:
            assert decl[first].mistakes[0][1] in text

    for intruder, owner in ((bob, alice), (alice, bob)):
        cannot_reach(intruder, owner, course, step)


def cannot_reach(intruder, owner, course, step):
    """``intruder`` tries the ``owner``'s server, notebook and feedback through the hub (also by a
    path out of their own server), and on disk their files, the course folder and the exchange's
    submissions and feedback: all refused, while their own work reads."""
    hub, who = intruder.hub, intruder.who
    feedback = next((hub.home(owner.who) / STAGE / "feedback").rglob(f"{STAGE}.html"))
    with step(f"{who} tries {owner.who}'s server, notebook and feedback through the hub", intruder):
        status, _ = intruder.visit(f"/user/{owner.name}/lab", shot=f"08_{who}_at_{owner.who}s_server")
        assert status == 403, status
        feedback_url = f"{STAGE}/feedback/{quote(feedback.parent.name)}/{STAGE}.html"
        for path in (f"/user/{owner.name}/api/contents/{STAGE}/{STAGE}.ipynb",
                     f"/user/{owner.name}/files/{STAGE}/{STAGE}.ipynb", f"/user/{owner.name}/files/{feedback_url}",
                     f"/user/{intruder.name}/files/..%2F{owner.name}%2F{STAGE}%2F{STAGE}.ipynb",
                     f"/user/{intruder.name}/api/contents/..%2F{owner.name}%2F{STAGE}"):
            status, text = intruder.visit(path)
            assert status in (403, 404) and "def leaked_patients" not in text, (path, status, text[:300])
        assert intruder.get(f"/user/{intruder.name}/api/contents/{STAGE}/{STAGE}.ipynb")[0] == 200
    with step(f"{who} tries {owner.who}'s files, the course and the exchange on disk", intruder):
        theirs = [hub.home(owner.who) / STAGE / f"{STAGE}.ipynb", feedback, hub.home(owner.who), course,
                  course / "gradebook.db", course / "feedback" / owner.name,
                  hub.exchange / COURSE_ID / "inbound", hub.exchange / COURSE_ID / "feedback"]
        tried = as_user(intruder.name, TRY % [str(p) for p in theirs])
        assert set(tried.values()) == {"denied"}, tried
        own = [hub.home(who) / STAGE / f"{STAGE}.ipynb", hub.exchange / COURSE_ID / "outbound" / STAGE]
        tried = as_user(intruder.name, TRY % [str(p) for p in own])
        assert set(tried.values()) == {"read"}, tried

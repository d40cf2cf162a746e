"""The widgets in a real JupyterLab, in a real (headless) Chromium.

A private JupyterLab (127.0.0.1, a random port and token, temp root, runtime, config and data
folders) opens the demo notebook; the test runs all cells from the Run menu, checks that each
widget rendered, moves its controls and waits for its picture to change, saves a screenshot of
each (into ``$MALARIA_LAB_SCREENSHOTS``, else a temp folder), then saves the notebook and checks
that the file keeps each widget's latest picture with its description. Then the keyboard alone
works the controls, and axe-core scans the notebook's cells with the widgets live in them.
"""

import contextlib
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import axe
import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
DEMO = HERE / "widgets_demo.ipynb"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
]
WIDGETS = ("data-browser", "augmentation", "training-monitor", "evaluation")
RUN_TIMEOUT_MS = 420_000


def chromium():
    """The system Chromium, or None."""
    for candidate in (os.environ.get("MALARIA_LAB_CHROMIUM"), "/usr/bin/chromium",
                      shutil.which("chromium"), shutil.which("chromium-browser")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


def _missing(reason):
    """Skip, except where the browser is required (CI sets MALARIA_LAB_REQUIRE_BROWSER=1)."""
    if os.environ.get("MALARIA_LAB_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason}, and MALARIA_LAB_REQUIRE_BROWSER=1 says this run must drive a browser")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser_path():
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _missing("playwright is not installed (bash tests/browser/setup.sh)")
    path = chromium()
    if path is None:
        _missing("Chromium is not installed at /usr/bin/chromium (bash tests/browser/setup.sh installs it)")
    return path


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_settings(folder):
    """User settings for the private JupyterLab: no news or update pop-ups, every cell in the DOM,
    and the notebook's kernel started without asking."""
    settings = {
        "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
            "fetchNews": "false", "checkForUpdates": False},
        "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {
            "windowingMode": "none", "autoStartDefaultKernel": True},
    }
    for name, value in settings.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(value))


class Lab:
    """A JupyterLab server of our own, stopped for sure at the end."""

    def __init__(self, base):
        self.root = base / "root"
        self.root.mkdir()
        self.port, self.token = free_port(), secrets.token_hex(16)
        self.url = f"http://127.0.0.1:{self.port}"
        config = base / "config"
        write_settings(config / "lab" / "user-settings")
        self.env = {
            **os.environ,
            "JUPYTER_RUNTIME_DIR": str(base / "runtime"), "JUPYTER_CONFIG_DIR": str(config),
            "JUPYTER_DATA_DIR": str(base / "data"), "JUPYTERLAB_SETTINGS_DIR": str(config / "lab" / "user-settings"),
            "JUPYTERLAB_WORKSPACES_DIR": str(config / "lab" / "workspaces"), "IPYTHONDIR": str(base / "ipython"),
            "MPLCONFIGDIR": str(base / "matplotlib"), "MALARIA_LAB_CACHE": str(base / "cache"),
            "MALARIA_LAB_WORK": str(base / "work"), "JUPYTER_PLATFORM_DIRS": "1",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
        }
        self.log_path = base / "jupyterlab.log"
        self.process = None

    def start(self, timeout=120):
        command = [
            sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={self.port}", "--ServerApp.port_retries=0", f"--ServerApp.token={self.token}",
            f"--ServerApp.root_dir={self.root}", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            "--LabApp.news_url=", "--ServerApp.terminals_enabled=False",
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            command.append("--allow-root")
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(command, env=self.env, cwd=self.root, stdout=log,
                                            stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"JupyterLab exited with {self.process.returncode}:\n{self.log()}")
            try:
                with urllib.request.urlopen(self.api("status"), timeout=5) as response:
                    if response.status == 200:
                        return self
            except OSError:
                time.sleep(0.5)
        raise RuntimeError(f"JupyterLab did not answer within {timeout} s:\n{self.log()}")

    def api(self, path):
        return f"{self.url}/api/{path}?token={self.token}"

    def log(self, tail=4000):
        return self.log_path.read_text(errors="replace")[-tail:] if self.log_path.exists() else ""

    def stop(self):
        if self.process is None or self.process.poll() is not None:
            return
        try:
            request = urllib.request.Request(self.api("shutdown"), method="POST")
            urllib.request.urlopen(request, timeout=10).close()
            self.process.wait(timeout=20)
        except (OSError, subprocess.TimeoutExpired):
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, 9)  # the server's own process group: it and its kernels
                self.process.wait(timeout=10)


@pytest.fixture(scope="module")
def lab(browser_path, tmp_path_factory):
    server = Lab(tmp_path_factory.mktemp("jupyterlab"))
    shutil.copy(DEMO, server.root / DEMO.name)
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.fixture(scope="module")
def shots(tmp_path_factory):
    folder = Path(os.environ.get("MALARIA_LAB_SCREENSHOTS") or tmp_path_factory.mktemp("screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def page(lab, browser_path, tmp_path_factory):
    from playwright.sync_api import sync_playwright

    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(profile), executable_path=browser_path, headless=True, args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 1000},
        )
        try:
            tab = context.pages[0] if context.pages else context.new_page()
            tab.set_default_timeout(90_000)
            yield tab
        finally:
            context.close()


def changed(read, before, timeout=90):
    """Wait until ``read()`` differs from ``before``; return the new value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = read()
        if value != before:
            return value
        time.sleep(0.25)
    raise AssertionError(f"nothing changed within {timeout} s (still {str(before)[:120]!r})")


def picture(cell):
    """The src of the cell's picture output (the last image in its outputs)."""
    return cell.locator(".jp-OutputArea-output img").last.get_attribute("src")


def type_into_slider(cell, label, value):
    """Type a value into the number box linked to a slider, found by its accessible name, the way
    a learner with a keyboard or a screen reader can (and press Enter)."""
    readout = cell.get_by_role("spinbutton", name=label)
    readout.click()
    readout.press("Control+a")
    readout.type(str(value))
    readout.press("Enter")


def accept_kernel_dialog(page):
    """Answer JupyterLab's "Select Kernel" question (it can ask when the server is slow)."""
    dialog = page.locator(".jp-Dialog", has_text="Select Kernel")
    if dialog.count():
        dialog.locator(".jp-Dialog-button.jp-mod-accept").first.click()


def wait_for_kernel(lab, page, timeout=180):
    """Until the server has the notebook's kernel, idle."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        accept_kernel_dialog(page)
        with urllib.request.urlopen(lab.api("sessions"), timeout=10) as response:
            sessions = json.load(response)
        if any(s["path"].endswith(DEMO.name) and (s.get("kernel") or {}).get("execution_state") == "idle"
               for s in sessions):
            return
        time.sleep(0.5)
    raise AssertionError(f"no idle kernel for {DEMO.name} within {timeout} s")


def wait_for_text(page, text, timeout_ms):
    """Until an output shows ``text``, answering kernel questions on the way."""
    deadline = time.monotonic() + timeout_ms / 1000
    while True:
        accept_kernel_dialog(page)
        try:
            page.wait_for_selector(f".jp-OutputArea-output:has-text('{text}')", timeout=5_000)
            return
        except Exception:
            if time.monotonic() > deadline:
                raise


def menu(page, top, item):
    """Click a menu-bar entry, then the item whose label starts with ``item``."""
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(rf"^{top}$")).first.click()
    page.locator(".lm-Menu-item", has_text=re.compile(rf"^\s*{item}")).first.click()


@pytest.fixture
def step(page, lab, shots):
    """``with step("what"):`` names the step that failed, with a screenshot and the server log."""

    @contextlib.contextmanager
    def named(what):
        try:
            yield
        except Exception as err:
            page.screenshot(path=str(shots / "failure.png"))
            raise AssertionError(f"{what} failed: {err}\n(screenshot: {shots / 'failure.png'})\n"
                                 f"--- JupyterLab log ---\n{lab.log(3000)}") from err

    return named


def test_widgets_render_and_answer_their_controls_in_jupyterlab(lab, page, shots, step):
    with step("opening the notebook and starting its kernel"):
        page.goto(f"{lab.url}/lab/tree/{DEMO.name}?token={lab.token}")
        page.wait_for_selector(".jp-NotebookPanel .jp-CodeCell", timeout=180_000)
        wait_for_kernel(lab, page)

    with step("Run > Run All Cells"):
        menu(page, "Run", "Run All Cells")
        wait_for_text(page, "demo finished", RUN_TIMEOUT_MS)
    stderr = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
    assert stderr.count() == 0, stderr.first.inner_text()

    cells = {kind: page.locator(".jp-CodeCell", has=page.locator(f".malaria-lab-{kind}")) for kind in WIDGETS}
    for kind, cell in cells.items():
        assert cell.count() == 1, f"the {kind} widget did not render"
        assert picture(cell).startswith("data:image/png"), kind

    browser = cells["data-browser"]
    assert browser.locator("select").count() == 2 and browser.locator(".widget-slider").count() == 1
    with step("data browser: choosing the Uninfected class"):
        before = picture(browser)
        classes = browser.locator("select").first
        classes.select_option(label=next(o for o in classes.locator("option").all_inner_texts()
                                         if o.startswith("Uninfected")))
        changed(lambda: picture(browser), before)
    assert "Uninfected, all patients" in browser.locator(".widget-html").inner_text()
    browser.screenshot(path=str(shots / "data_browser.png"))

    augment = cells["augmentation"]
    assert augment.locator(".widget-slider").count() == 5 and augment.locator(".widget-checkbox").count() == 2
    with step("augmentation explorer: zoom slider to 0.45"):
        before = picture(augment)
        type_into_slider(augment, "zoom", "0.45")
        changed(lambda: picture(augment), before)
    assert "zoom=0.45" in augment.locator(".widget-html").inner_text()
    augment.screenshot(path=str(shots / "augmentation_explorer.png"))

    monitor = cells["training-monitor"]
    assert "finished: epoch 6 of 6" in monitor.locator(".widget-html").inner_text()
    assert monitor.locator(".widget-hprogress").count() == 1
    monitor.screenshot(path=str(shots / "training_monitor.png"))

    evaluation = cells["evaluation"]
    scores = evaluation.locator(".widget-html")
    with step("evaluation explorer: threshold slider to 0.3"):
        before, text = picture(evaluation), scores.inner_text()
        type_into_slider(evaluation, "threshold", "0.3")
        changed(lambda: picture(evaluation), before)
        assert changed(scores.inner_text, text).startswith("threshold 0.300: sensitivity")
    evaluation.screenshot(path=str(shots / "evaluation_explorer.png"))
    page.screenshot(path=str(shots / "jupyterlab.png"))

    # Saved, the notebook keeps each widget's latest picture and text, and no error.
    saved_path = lab.root / DEMO.name
    with step("File > Save Notebook"):
        mtime = saved_path.stat().st_mtime
        menu(page, "File", "Save Notebook")
        changed(lambda: saved_path.stat().st_mtime, mtime, timeout=60)
    saved = json.loads(saved_path.read_text())
    outputs = [out for c in saved["cells"] for out in c.get("outputs", [])]
    assert not [out for out in outputs if out["output_type"] == "error"]
    pictures = [out["data"] for out in outputs
                if "malaria-lab-figure" in "".join(out.get("data", {}).get("text/html", ""))]
    assert len(pictures) == len(WIDGETS) and all('alt="' in "".join(p["text/html"]) for p in pictures)
    texts = ["".join(p["text/plain"]) for p in pictures]
    for wanted in ("Data browser: Uninfected", "zoom=0.45", "Training monitor: 6 epoch(s), finished",
                   "threshold 0.300"):
        assert any(wanted in t for t in texts), wanted
    with step("the keyboard alone: the threshold slider, the class list, a switch, the button"):
        controls = [evaluation.locator(".noUi-handle"), browser.locator("select").first,
                    augment.locator("input[type=checkbox]").first, augment.locator("button").first]
        assert all(c.evaluate("e => e.tabIndex") >= 0 for c in controls), "every control is in the tab order"
        text = scores.inner_text()
        controls[0].focus()
        page.keyboard.press("Home")
        assert changed(scores.inner_text, text).startswith("threshold 0.000: sensitivity 100.0%")
        status = browser.locator(".widget-html").inner_text()
        controls[1].focus()
        page.keyboard.press("p")  # type-ahead: the first option starting with P, "Parasitized"
        changed(lambda: browser.locator(".widget-html").inner_text(), status)
        for control, key in ((controls[2], "Space"), (controls[3], "Enter")):
            before = picture(augment)
            control.focus()
            page.keyboard.press(key)
            changed(lambda: picture(augment), before)
    with step("axe: the notebook's cells, the four widgets live in them"):
        axe.check(page, "the widgets in JupyterLab", include=[".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook"],
                  page_lang=False)
    print(f"screenshots in {shots}")

"""Binder as Binder builds it, in Binder's memory: the six stages run top to bottom in Chromium.

The environment comes from ``binder/`` alone, as repo2docker builds it (``platform_envs``: a fresh
environment on ``runtime.txt``'s Python with repo2docker's base packages, then
``binder/requirements.txt``); a fresh home holds a copy of the repository, where ``postBuild``
runs, as in the image; JupyterLab starts through ``binder/start`` with Binder's ``MEM_LIMIT``,
inside a cgroup v1 memory limit of 2 GiB (as root; the test skips, saying why, where it cannot make
one). The server has no network (a proxy on 127.0.0.1 that refuses), so stage 1 takes its offline
path, the embedded data set, as a Binder without network would.

In Chromium each stage's *source* notebook (a student who solved everything) is opened, run with
*Run All Cells* in the mode ``binder/start`` selects, and closed with its kernel shut down, as a
student on Binder should. Every stage finishes, every check shows full points, no cell raises, no
kernel dies or restarts, nothing is killed for memory; per stage, the cgroup's peak memory (what
the limit counts, page cache included) and the peak of its processes' own memory (rss) are printed
and written with the wall times to ``$MALARIA_LAB_SCREENSHOTS/binder_memory.json``.
"""

import contextlib
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "browser"))  # the browser tests' helpers
import platform_envs  # noqa: E402
from test_course_notebooks import cell_with, errors, outputs, run_all, sessions  # noqa: E402
from test_jupyterlab import (  # noqa: E402, F401 (fixtures: browser_path, page, shots)
    Lab,
    accept_kernel_dialog,
    browser_path,
    free_port,
    menu,
    page,
    shots,
    write_settings,
)

from malaria_lab.checks import load_stage  # noqa: E402
from malaria_lab.settings import STAGES  # noqa: E402

pytestmark = [pytest.mark.platforms, pytest.mark.browser, pytest.mark.slow]

LIMIT = 2 * 1024**3  # Binder's 2 GB (JupyterHub's "2G": GiB), the limit MEM_LIMIT reports
MEMORY = Path("/sys/fs/cgroup/memory")


def _unavailable(reason):
    """Skip, except where CI says this run must exercise the platforms."""
    if os.environ.get("MALARIA_LAB_REQUIRE_PLATFORMS") == "1":
        pytest.fail(f"{reason}, and MALARIA_LAB_REQUIRE_PLATFORMS=1 says this run must test them")
    pytest.skip(reason)


class Cgroup:
    """A cgroup v1 memory group of our own with Binder's limit; its peak and its kills."""

    def __init__(self):
        self.path = MEMORY / f"malaria-lab-binder-{secrets.token_hex(4)}"
        self.path.mkdir()
        for name in ("memory.limit_in_bytes", "memory.memsw.limit_in_bytes"):  # no swap beyond it either
            if (self.path / name).exists():
                (self.path / name).write_text(str(LIMIT))
        self.rss_peak, self._stop = 0, threading.Event()
        self._watch = threading.Thread(target=self._sample, daemon=True)
        self._watch.start()

    def read(self, name):
        return (self.path / name).read_text()

    def stat(self):
        return dict((k, int(v)) for k, v in (line.split() for line in self.read("memory.stat").splitlines()))

    def oom_kills(self):
        found = re.search(r"oom_kill (\d+)", self.read("memory.oom_control"))
        return int(found.group(1)) if found else 0

    def _sample(self):
        while not self._stop.wait(0.2):
            with contextlib.suppress(OSError, ValueError):
                self.rss_peak = max(self.rss_peak, self.stat()["total_rss"])

    def reset_peak(self):
        (self.path / "memory.max_usage_in_bytes").write_text("0")
        self.rss_peak = self.stat()["total_rss"]

    def peak(self):
        return int(self.read("memory.max_usage_in_bytes")), self.rss_peak

    def remove(self):
        self._stop.set()
        for _ in range(50):
            with contextlib.suppress(OSError):
                self.path.rmdir()
                return
            time.sleep(0.2)


class BinderLab(Lab):
    """JupyterLab as a Binder image starts it: through ``binder/start``, in the image's home, with
    the image's environment first on PATH, inside the cgroup."""

    def __init__(self, home, venv, cgroup):
        self.root, self.venv, self.cgroup = home, venv, cgroup
        self.port, self.token = free_port(), secrets.token_hex(16)
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {"HOME": str(home), "PATH": f"{venv}/bin:/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8",
                    "SHELL": "/bin/bash", "MEM_LIMIT": str(LIMIT),
                    "http_proxy": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:9"}
        self.log_path = home.parent / "jupyterlab.log"
        self.process = None

    def start(self, timeout=180):
        enter = 'echo $$ > "$0" && exec "$@"'  # the shell joins the cgroup, then becomes binder/start
        command = ["sh", "-c", enter, str(self.cgroup.path / "cgroup.procs"), str(self.root / "binder" / "start"),
                   "jupyter", "lab", "--no-browser", "--ip=127.0.0.1", f"--port={self.port}",
                   "--ServerApp.port_retries=0", f"--IdentityProvider.token={self.token}",
                   "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate", "--LabApp.news_url="]
        if os.geteuid() == 0:
            command.append("--allow-root")
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(command, env=self.env, cwd=self.root, stdout=log,
                                            stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"JupyterLab exited with {self.process.returncode}:\n{self.log()}"
            with contextlib.suppress(OSError):
                with urllib.request.urlopen(self.api("status"), timeout=5) as response:
                    if response.status == 200:
                        return self
            time.sleep(0.5)
        raise AssertionError(f"JupyterLab did not answer within {timeout} s:\n{self.log()}")


@pytest.fixture(scope="module")
def lab(browser_path, tmp_path_factory):  # noqa: F811
    if not sys.platform.startswith("linux") or os.geteuid() != 0 or not os.access(MEMORY, os.W_OK):
        _unavailable("Binder's 2 GB limit needs a writable cgroup v1 memory controller (/sys/fs/cgroup/memory, "
                     "as root)")
    try:
        venv, ready = platform_envs.binder_env()
    except platform_envs.Missing as why:
        _unavailable(str(why))
    base = Path(tempfile.mkdtemp(prefix="malaria-lab-binder-"))
    home = base / "home"
    platform_envs.copy_tree(home)  # the image's home holds the repository
    write_settings(home / ".jupyter" / "lab" / "user-settings")
    build = subprocess.run(["./binder/postBuild"], cwd=home, capture_output=True, text=True,
                           env={"HOME": str(home), "PATH": f"{venv}/bin:/usr/bin:/bin", "LANG": "C.UTF-8"})
    assert build.returncode == 0, f"binder/postBuild failed:\n{build.stdout}{build.stderr}"
    cgroup = Cgroup()
    server = BinderLab(home, venv, cgroup)
    try:
        yield server.start()
    finally:
        server.stop()
        cgroup.remove()
        shutil.rmtree(base, ignore_errors=True)


def check_cells(page, stage):  # noqa: F811
    """{exercise id: what its check cell shows}."""
    return {ex_id: " ".join(outputs(cell_with(page, f"{ex_id}.check()"))) for ex_id in load_stage(stage).exercises}


def open_alone(lab, page, path, timeout=180):  # noqa: F811
    """Open ``path`` in a reset workspace (no notebook of an earlier stage comes back with a
    kernel of its own), until its kernel is idle."""
    page.goto(f"{lab.url}/lab/tree/{path}?reset&token={lab.token}")
    page.locator(".jp-NotebookPanel .jp-CodeCell").first.wait_for(timeout=180_000)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        accept_kernel_dialog(page)
        now = [s for s in sessions(lab) if s["path"].endswith(path)]
        if now and now[0]["kernel"]["execution_state"] == "idle":
            return now[0]["kernel"]["id"]
        time.sleep(0.5)
    raise AssertionError(f"no idle kernel for {path} within {timeout} s")


def save_close_and_shut_down(lab, page, path):  # noqa: F811
    """File > Save Notebook, then File > Close and Shut Down Notebook (confirmed), as a student on
    Binder should before the next stage: until the tab and the kernel are gone."""
    menu(page, "File", "Save Notebook")
    page.locator(".lm-TabBar-tab.jp-mod-dirty").first.wait_for(state="detached", timeout=60_000)
    menu(page, "File", "Close and Shut Down Notebook")
    page.locator(".jp-Dialog .jp-Dialog-button.jp-mod-accept").first.click()
    deadline = time.monotonic() + 60
    while any(s["path"].endswith(path) for s in sessions(lab)) or page.locator(".jp-NotebookPanel").count():
        assert time.monotonic() < deadline, f"{path}: still open, or its kernel still running"
        time.sleep(0.5)


def test_the_six_stages_on_binder_in_2_gb(lab, page, shots):  # noqa: F811
    home, cgroup = lab.root, lab.cgroup
    assert not (home / "malaria_lab_work").exists() and not (home / ".cache" / "malaria_lab").exists(), "a fresh home"
    figures = {}
    for stage in STAGES:
        path = f"course/source/{stage}/{stage}.ipynb"
        assert sessions(lab) == [], "the earlier stages' kernels are shut down"
        cgroup.reset_peak()
        kills, start = cgroup.oom_kills(), time.perf_counter()
        kernel = open_alone(lab, page, path)
        run_all(lab, page, path)
        seconds = time.perf_counter() - start
        peak, rss = cgroup.peak()
        figures[stage] = {"seconds": round(seconds, 1), "peak_mb": round(peak / 2**20),
                          "rss_peak_mb": round(rss / 2**20)}
        print(f"{stage}: {seconds:.0f} s, cgroup peak {peak / 2**20:.0f} MB (processes' own {rss / 2**20:.0f} MB)")
        page.screenshot(path=str(shots / f"binder_{stage}.png"))

        assert cgroup.oom_kills() == kills, f"{stage}: the kernel was killed for memory"
        now = [s for s in sessions(lab) if s["path"].endswith(path)]
        assert [s["kernel"]["id"] for s in now] == [kernel], f"{stage}: the kernel went away ({now})"
        assert now[0]["kernel"]["execution_state"] == "idle", now
        died = page.locator(".jp-Dialog", has_text=re.compile("died|Restarting", re.I))
        assert not died.count() and "restarting kernel" not in lab.log(10**6).lower(), f"{stage}: a kernel died"
        assert not errors(page), f"{stage}: {errors(page)[:1]}"
        said = " ".join(outputs(cell_with(page, "course = setup(")))
        assert "Small mode (MALARIA_LAB_MODE=small)" in said and "3 GB or more" in said, said
        decl = load_stage(stage)
        for ex_id, shown_text in check_cells(page, stage).items():
            top = f"{decl[ex_id].points:g}"
            assert f"({top}/{top} points)" in shown_text, f"{stage} {ex_id}: {shown_text}"
        save_close_and_shut_down(lab, page, path)
    report = {"limit_mb": LIMIT // 2**20, "stages": figures, "failcnt": int(cgroup.read("memory.failcnt"))}
    (shots / "binder_memory.json").write_text(json.dumps(report, indent=2))
    print("\nBinder in 2 GB, per stage:", json.dumps(report, indent=2))

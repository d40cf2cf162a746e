"""The environments the platform tests run in, built the way each platform builds them, and kept
between runs under a key of everything they are built from, so that CI can build them early in the
background (``.ci/run``) and a test only waits for them.

* ``binder``: what repo2docker builds from ``binder/`` alone for a requirements.txt repository: a
  fresh environment on the Python of ``binder/runtime.txt`` holding repo2docker's base packages
  (``repo2docker_base.txt``, from its ``environment.py-3.11.yml``), then
  ``pip install --no-cache-dir -r binder/requirements.txt``. ``postBuild`` runs in each test's own
  fresh home, as repo2docker runs it in the repository's copy.
* ``hub``: the *install* step of *On a JupyterHub* in course/INSTRUCTORS.md, as root: the clone
  (a copy of this working tree: no network), the environment, the ``pip install``. Its system
  packages (apt-get, npm) are checked, not installed (``.ci/run`` installs them).
* ``colab``: Colab's runtime as published (``course/platforms/colab-pip-freeze.txt``) on its Python:
  Colab's versions of the packages the course imports or runs with and of all they pull in; no
  course package (the set-up cell adds it). CPU: the same TensorFlow wheel, no GPU here.
* ``lowest``: every lower bound of ``pyproject.toml`` at once (uv's ``lowest-direct``) on the lowest
  Python it claims; ``latest``: the newest of everything on the newest Python here (rebuilt daily).
  Both hold the package as an editable install of this checkout, and the notebook runner.

    python tests/platforms/platform_envs.py binder hub colab lowest latest  # build (or find); print where
"""

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import hub_doc

from malaria_lab.instructor import colab_freeze, setup_cell

REPO = hub_doc.REPO
HERE = Path(__file__).resolve().parent
# Not under root's home: the hub's users run the hub's environment.
CACHE = Path(os.environ.get("MALARIA_LAB_SHARED_ENVS", "/tmp/malaria-lab-platforms"))
BINDER = REPO / "binder"
BASE = HERE / "repo2docker_base.txt"
# What the install step's system packages provide.
# The hub's environment is built from these (the package) and the test uses these of its clone.
HUB_INPUTS = ("pyproject.toml", "README.md", "malaria_lab/", "course/", "deploy/")
PROGRAMS = {"bubblewrap": "bwrap", "git": "git", "nodejs": "node", "npm": "npm",
            "configurable-http-proxy": "configurable-http-proxy"}


class Missing(Exception):
    """Something this machine lacks (said in one line: the test skips, or fails in CI)."""


def _digest(*parts):
    h = hashlib.sha256()
    for part in parts:
        h.update(hashlib.sha256(part if isinstance(part, bytes) else str(part).encode()).digest())
    return h.hexdigest()[:16]


def working_tree():
    """The repository's files as a clone of this working tree would hold them (tracked and new,
    not ignored), relative to the repository."""
    done = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                          cwd=REPO, capture_output=True, check=True)
    return sorted({p for p in done.stdout.decode().split("\0") if p and (REPO / p).is_file()})


def copy_tree(dest):
    """Copy the working tree to ``dest`` (what ``git clone`` would give, uncommitted edits included)."""
    for rel in working_tree():
        target = Path(dest) / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / rel, target)


def _run(command, log, **kwargs):
    with open(log, "a") as out:
        out.write(f"$ {command if isinstance(command, str) else ' '.join(map(str, command))}\n")
        out.flush()
        done = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, **kwargs)
    if done.returncode != 0:
        tail = Path(log).read_text(errors="replace")[-3000:]
        raise RuntimeError(f"{command} exited with {done.returncode}; the end of {log}:\n{tail}")


@contextlib.contextmanager
def _built(kind, key, build):
    """The folder ``CACHE/kind-key``, built by ``build(folder, log)`` unless a finished one is
    there; one build at a time per kind (a lock); the other, older folders of that kind removed."""
    CACHE.mkdir(parents=True, exist_ok=True)
    CACHE.chmod(0o755)  # other users (the hub's) run what is inside
    folder = CACHE / f"{kind}-{key}"
    with open(CACHE / f"{kind}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        ready = folder / "ready.json"
        if not ready.is_file():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(mode=0o755)
            start = time.perf_counter()
            build(folder, folder / "build.log")
            ready.write_text(json.dumps({"kind": kind, "key": key, "seconds": round(time.perf_counter() - start)}))
            for old in CACHE.glob(f"{kind}-*"):
                if old != folder and old.is_dir():
                    shutil.rmtree(old, ignore_errors=True)
        yield folder, json.loads(ready.read_text())


# --- Binder ---------------------------------------------------------------------------------------

def runtime_python():
    """A Python of the version ``binder/runtime.txt`` pins (``python-X.Y``), or Missing."""
    text = (BINDER / "runtime.txt").read_text().strip()
    match = re.fullmatch(r"python-(\d+\.\d+)", text)
    if not match:
        raise ValueError(f"binder/runtime.txt says {text!r}; repo2docker reads 'python-X.Y'")
    version = match.group(1)
    pyenv = sorted(Path.home().glob(f".pyenv/versions/{version}*/bin/python3"))
    candidates = [shutil.which(f"python{version}"), *pyenv]
    if sys.version.startswith(version + "."):
        candidates.insert(0, sys.executable)
    for candidate in filter(None, candidates):
        done = subprocess.run([str(candidate), "-c", "import sys, venv, ensurepip; print(sys.version)"],
                              capture_output=True, text=True)
        if done.returncode == 0 and done.stdout.startswith(version + "."):
            return str(candidate), version
    raise Missing(f"no Python {version} (binder/runtime.txt) with venv here: install one "
                  f"(e.g. pyenv install {version})")


def binder_env():
    """(the environment's folder, its ready record): built as repo2docker builds it."""
    python, version = runtime_python()
    key = _digest(version, (BINDER / "runtime.txt").read_bytes(), (BINDER / "requirements.txt").read_bytes(),
                  BASE.read_bytes())

    def build(folder, log):
        venv = folder / "venv"
        _run([python, "-m", "venv", str(venv)], log)
        pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--no-cache-dir", "--quiet"]
        _run([*pip, "-r", str(BASE)], log)
        _run([*pip, "-r", str(BINDER / "requirements.txt")], log)

    with _built("binder", key, build) as (folder, ready):
        return folder / "venv", ready


# --- the hub --------------------------------------------------------------------------------------

def shared_python():
    """A python3 that every user can run (the hub's users cannot enter root's home), or Missing."""
    for candidate in ("/usr/bin/python3", "/usr/local/bin/python3", shutil.which("python3")):
        if candidate and os.path.exists(candidate):
            done = subprocess.run(["runuser", "-u", "nobody", "--", candidate, "-c", "import venv, ensurepip"],
                                  capture_output=True)
            if done.returncode == 0:
                return candidate
    raise Missing("no python3 that other users can run (with venv and ensurepip): apt-get install python3-venv")


def check_system_packages(command):
    """An apt-get or ``npm install -g`` line of the install step: what it installs is here."""
    names = [w for w in hub_doc.words(command)[2:] if not w.startswith("-")]
    missing = [n for n in names if shutil.which(PROGRAMS.get(n, n)) is None]
    if missing:
        raise Missing(f"{', '.join(missing)} not installed (INSTRUCTORS.md: `{command}`; .ci/run installs them)")


def is_system_install(command):
    return command.startswith(("apt-get ", "npm install -g "))


def hub_env():
    """(the root that stands for ``/`` in the install step's paths, its ready record)."""
    if os.geteuid() != 0:
        raise Missing("the hub's environment is built as root, as INSTRUCTORS.md says")
    install = hub_doc.blocks()["install"]
    for command in install.commands:
        if is_system_install(command):
            check_system_packages(command)
    python = shared_python()
    files = [f for f in working_tree() if f.startswith(HUB_INPUTS)]  # what the hub installs and uses
    key = _digest("\n".join(install.commands), python, *files, *((REPO / f).read_bytes() for f in files))

    def build(root, log):
        mapping = {"/opt/": f"{root}/opt/"}
        (root / "opt").mkdir(mode=0o755)
        for command in install.commands:
            if is_system_install(command):
                continue
            words = hub_doc.words(hub_doc.substitute(command, mapping))
            if words[:2] == ["git", "clone"]:
                copy_tree(words[-1])
            elif words[0] == "python3":
                _run([python, *words[1:]], log)
            else:
                _run(words, log)

    old = os.umask(0o022)
    try:
        with _built("hub", key, build) as (root, ready):
            return root, ready
    finally:
        os.umask(old)


# --- Colab, lowest and latest: built with uv (the dev extra) ----------------------------------------

# What runs the reference notebooks in an environment (nbclient's kernel is that environment's Python).
RUNNER = ("nbclient", "nbformat", "ipykernel")


def uv():
    """The uv program (installed with the dev extra), or Missing."""
    found = shutil.which("uv") or str(Path(sys.executable).with_name("uv"))
    if not os.access(found, os.X_OK):
        raise Missing("no uv here: pip install uv (the dev extra has it)")
    return found


def pyenv_python(version):
    """A Python ``version`` (X.Y) from PATH or pyenv, or Missing."""
    found = [shutil.which(f"python{version}"), *sorted(Path.home().glob(f".pyenv/versions/{version}.*/bin/python3"))]
    for candidate in filter(None, found):
        done = subprocess.run([str(candidate), "-c", "import sys; print(sys.version)"], capture_output=True, text=True)
        if done.returncode == 0 and done.stdout.startswith(version + "."):
            return str(candidate)
    raise Missing(f"no Python {version} here: install one (e.g. pyenv install {version})")


def _freeze(venv, log=None):
    """``pip freeze --all`` of the environment, as a student's ``pip freeze`` would list it."""
    done = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "freeze", "--all"],
                          capture_output=True, text=True, check=True)
    return done.stdout


def colab_env():
    """(the environment's folder, its ready record): Colab's published versions on Colab's Python."""
    text = colab_freeze.COPY.read_text(encoding="utf-8")
    version = colab_freeze.python_of(text)
    python, program = pyenv_python(version), uv()
    key = _digest(version, text, *colab_freeze.COURSE_PACKAGES)

    def build(folder, log):
        venv = folder / "venv"
        (folder / "colab-constraints.txt").write_text("\n".join(colab_freeze.pins(text)) + "\n")
        _run([program, "venv", "-q", "--python", python, str(venv)], log)
        _run([program, "pip", "install", "-q", "--python", str(venv / "bin" / "python"), "-c",
              str(folder / "colab-constraints.txt"), *colab_freeze.COURSE_PACKAGES], log)
        (folder / "freeze.txt").write_text(_freeze(venv, log))

    with _built("colab", key, build) as (folder, ready):
        return folder / "venv", ready


def _with_package(name, python, key, install):
    """An environment of ``python`` where ``install(program, venv_python, folder, log)`` puts the
    requirements, then this checkout as an editable install without dependencies."""
    program = uv()

    def build(folder, log):
        venv = folder / "venv"
        _run([program, "venv", "-q", "--python", python, str(venv)], log)
        install(program, str(venv / "bin" / "python"), folder, log)
        _run([program, "pip", "install", "-q", "--python", str(venv / "bin" / "python"), "--no-deps", "-e", str(REPO)],
             log)
        (folder / "freeze.txt").write_text(_freeze(venv, log))

    # The editable install points at this checkout: another checkout's environment is not this one's.
    with _built(name, _digest(key, str(REPO)), build) as (folder, ready):
        return folder / "venv", ready


def lowest_python():
    """The lowest Python ``requires-python`` claims (``>=X.Y``)."""
    import tomllib

    claim = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["requires-python"]
    match = re.fullmatch(r">=\s*(\d+\.\d+)", claim.strip())
    if not match:
        raise ValueError(f"requires-python is {claim!r}; the lowest environment reads '>=X.Y'")
    return match.group(1)


def lowest_env():
    """Every lower bound of pyproject.toml at once, on the lowest Python it claims."""
    bounds = setup_cell.lower_bounds()
    version = lowest_python()
    python = pyenv_python(version)

    def install(program, venv_python, folder, log):
        floors = [f"{n}>={v}" for n, v in bounds.items()]
        _run([program, "pip", "install", "-q", "--python", venv_python, "--resolution", "lowest-direct",
              *floors], log)
        held = subprocess.run([program, "pip", "freeze", "--python", venv_python], capture_output=True, text=True,
                              check=True).stdout.splitlines()
        pins = [line for line in held if colab_freeze.normalise(line.split("==")[0]) in bounds]
        (folder / "floors.txt").write_text("\n".join(pins) + "\n")
        # The runner, newest that goes with the floors (they stay as they are: constraints).
        _run([program, "pip", "install", "-q", "--python", venv_python, "-c", str(folder / "floors.txt"), *RUNNER,
              "pip", "tomli"], log)

    key = _digest(version, sorted(bounds.items()), RUNNER)
    return _with_package("lowest", python, key, install)


def latest_env():
    """The newest of everything that resolves today, on the newest Python here (3.13, else 3.12)."""
    for version in ("3.13", "3.12"):
        try:
            python = pyenv_python(version)
            break
        except Missing:
            continue
    else:
        raise Missing("no Python 3.13 or 3.12 here for the latest environment (pyenv install 3.13)")
    bounds = setup_cell.lower_bounds()

    def install(program, venv_python, folder, log):
        _run([program, "pip", "install", "-q", "--refresh", "--python", venv_python, "pip",
              *(f"{n}>={v}" for n, v in bounds.items()), *RUNNER], log)

    key = _digest(version, sorted(bounds.items()), RUNNER, date.today().isoformat())
    return _with_package("latest", python, key, install)


BUILDERS = {"binder": binder_env, "hub": hub_env, "colab": colab_env, "lowest": lowest_env, "latest": latest_env}


if __name__ == "__main__":
    for name in sys.argv[1:] or list(BUILDERS):
        start = time.perf_counter()
        try:
            where, ready = BUILDERS[name]()
        except Missing as why:
            print(f"{name}: not built: {why}")
            continue
        print(f"{name}: {where} (built in {ready['seconds']} s; ready after {time.perf_counter() - start:.0f} s)")

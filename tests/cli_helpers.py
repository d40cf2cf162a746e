"""Running the real ``malaria-lab`` command, snapshotting trees, and strict JSON, for the tests here."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path


def command():
    exe = Path(sys.executable).with_name("malaria-lab")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "malaria_lab"]


def cli(*args, cwd, timeout=600, env=None):
    """Run ``malaria-lab ARGS`` in ``cwd`` as a user would, offline."""
    full = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", no_proxy="127.0.0.1,localhost", **(env or {}))
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        full.pop(var, None)
    return subprocess.run([*command(), *map(str, args)], cwd=cwd, env=full, capture_output=True,
                          text=True, timeout=timeout)


def tree(root):
    """Every folder and file under ``root`` with its bytes: any change, addition or removal shows."""
    root = Path(root)
    out = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        out[rel] = path.read_bytes() if path.is_file() and not path.is_symlink() else (
            f"-> {os.readlink(path)}" if path.is_symlink() else "dir")
    return out


def strict_json(text):
    """Parse ``text`` as strict JSON: NaN, Infinity and -Infinity are refused."""
    def refuse(constant):
        raise ValueError(f"{constant} is not JSON")

    return json.loads(text, parse_constant=refuse)


def copy(src, dest):
    shutil.copytree(src, dest, symlinks=True)
    return Path(dest)


def assert_refused(done, cmd, words):
    """Exit 2, one line on stderr naming the command and saying ``words``, no traceback."""
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2, (done.returncode, done.stderr[-2000:])
    assert "Traceback" not in done.stderr, done.stderr[-2000:]
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"malaria-lab {cmd}: error: "), lines[0]
    assert words in lines[0], lines[0]

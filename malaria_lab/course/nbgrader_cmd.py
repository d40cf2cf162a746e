"""nbgrader's own commands, run as subprocesses in a course folder with its ``nbgrader_config.py``."""

import os
import subprocess
import sys
from pathlib import Path


def nbgrader_env(extra=None):
    """The environment for nbgrader subprocesses (its ``alembic`` must be on PATH)."""
    env = dict(os.environ)
    bindir = str(Path(sys.executable).parent)
    env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    env.update(extra or {})
    return env


def nbgrader(args, course_dir, env=None, check=True):
    """Run ``nbgrader ARGS`` in ``course_dir``; returns the CompletedProcess."""
    done = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course_dir,
                          env=nbgrader_env(env), capture_output=True, text=True)
    if check and done.returncode != 0:
        raise RuntimeError(f"nbgrader {' '.join(args)} failed ({done.returncode}):\n"
                           f"{done.stdout[-3000:]}\n{done.stderr[-6000:]}")
    return done

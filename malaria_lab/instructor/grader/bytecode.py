"""Whether the packages every job imports come with compiled bytecode.

A sandboxed kernel cannot write ``__pycache__`` into the read-only environment, so where an
installer skipped compiling (uv does unless told ``--compile-bytecode``) every job compiles Keras
and its backend again: about 7 s of TensorFlow alone, on 2 cores nearly half a stage's time.
"""

import importlib.util
import sys
from pathlib import Path

from ... import backend as keras_backend


def uncompiled(names) -> list[Path]:
    """The installed packages among ``names`` whose ``__init__`` has no bytecode beside it, by folder."""
    missing = []
    for name in names:
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            continue
        if spec is None or not spec.origin or not spec.origin.endswith(".py"):
            continue
        if not Path(importlib.util.cache_from_source(spec.origin)).is_file():
            missing.append(Path(spec.origin).parent)
    return missing


def notice(backend=None) -> str | None:
    """One line for the grading summary when Keras or its backend would be compiled in every job."""
    missing = uncompiled(("keras", *keras_backend.MODULES.get(backend or keras_backend.requested()[0], ())))
    if not missing:
        return None
    where = sorted({str(p.parent) for p in missing})
    return (f"{', '.join(p.name for p in missing)} in this environment have no compiled bytecode, which the "
            f"sandboxed jobs cannot write, so each job compiles them again (seconds per job): run "
            f"`{Path(sys.executable).name} -m compileall -q {' '.join(where)}` once (uv: install with "
            f"--compile-bytecode).")

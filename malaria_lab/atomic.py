"""Files written atomically (a reader sees the old file or the new one, never half of one), and
JSON that any strict parser reads: no NaN or Infinity, an undefined number is ``null``."""

import contextlib
import json
import math
import os
import tempfile
from pathlib import Path

from .errors import MalariaLabError


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path beside ``path``; on success it replaces ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    os.chmod(tmp, 0o666 & ~umask())  # mkstemp makes 0600; give the usual permissions
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def umask():
    """The process's file-creation mask (read without changing it for long)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_text(path, text):
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def to_json(obj, indent=2):
    """``obj`` as strict JSON text: numpy values and paths converted, NaN and infinities as null."""
    return json.dumps(plain(obj), indent=indent, allow_nan=False)


def write_json(path, obj):
    return write_text(path, to_json(obj) + "\n")


def read_json(path, what=None):
    """The JSON in ``path``; a damaged file is a clear error, not a traceback."""
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as err:
        raise MalariaLabError(
            f"{path} is not valid JSON ({err}); it may have been cut short or edited.",
            f"Restore it, or remove {what or 'it'} and run again.",
        ) from None


def plain(value):
    """``value`` with only what JSON holds: dicts, lists, strings, finite numbers, bools, None."""
    if isinstance(value, dict):
        return {_key(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value, key=str) if isinstance(value, (set, frozenset)) else value
        return [plain(v) for v in items]
    if isinstance(value, (str, bool)) or value is None:
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if hasattr(value, "tolist"):  # numpy scalars and arrays
        return plain(value.tolist())
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _key(key):
    key = plain(key)
    return key if isinstance(key, (str, int, float, bool)) or key is None else str(key)

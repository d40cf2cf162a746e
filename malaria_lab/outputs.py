"""Checks on where a command will write, made before it writes anything: the path is of the right
kind (folder or file), can be made and written, and does not lie inside the user's data set."""

import os
import tempfile
from pathlib import Path

from .errors import MalariaLabError

_ELSEWHERE = "Choose a path you can write to (in your home or project folder), then run again."


def check_out_dir(path, option="--out", data=()):
    """Refuse a folder to write into that is a file, cannot be made or written, or lies in ``data``."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise MalariaLabError(f"{option} {path} is a file, not a folder; it was left untouched.",
                              "Give a folder path (it is made if missing), or move the file.")
    _check_writable(path, option)
    for source in data:
        _check_outside(path, Path(source), option)
    return path


def check_out_file(path, option="--out", header=None):
    """Refuse a file to write that is a folder or cannot be written; with ``header``, also an
    existing file whose first line is not ``header`` (it is someone's file, not ours to replace)."""
    path = Path(path)
    if path.is_dir():
        raise MalariaLabError(f"{option} {path} is a folder, not a file.",
                              f"Give a file path, such as {path / 'manifest.csv'}.")
    if path.exists() and not path.is_file():
        raise MalariaLabError(f"{option} {path} is not a regular file.", "Give a file path.")
    _check_writable(path.parent if str(path.parent) else Path("."), option, of=path)
    if header is not None and path.exists():
        try:
            with path.open(encoding="utf-8") as handle:
                first = handle.readline().strip()
        except (OSError, UnicodeDecodeError):
            first = None
        if first != header:
            raise MalariaLabError(
                f"{option} {path} exists and is not a file malaria-lab wrote; it was left untouched.",
                "Choose another file name, or move that file away yourself.")
    return path


def _check_writable(folder, option, of=None):
    """The nearest existing folder at or above ``folder`` must be a folder we can create files in."""
    of = of or folder
    probe = folder
    while not probe.exists() and not probe.is_symlink() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        raise MalariaLabError(f"{option} {of} cannot be made: {probe} is a file, not a folder.",
                              _ELSEWHERE)
    try:
        fd, tmp = tempfile.mkstemp(dir=probe, prefix=".malaria-lab-probe.")
        os.close(fd)
        os.unlink(tmp)
    except OSError as err:
        readonly = _read_only(probe)
        why = "it is on a read-only file system" if readonly else (err.strerror or str(err)).lower()
        raise MalariaLabError(f"{option} {of} cannot be written: {why} ({probe}).", _ELSEWHERE) from None


def _read_only(folder):
    try:
        return bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except (OSError, AttributeError):
        return False


def _check_outside(path, source, option):
    """Refuse ``path`` when it is the data folder ``source`` or lies inside it."""
    if not source.is_dir():
        return
    out, root = path.resolve(), source.resolve()
    if out.is_relative_to(root):
        raise MalariaLabError(f"{option} {path} is inside the data set {source}; writing there would mix "
                              "results into your data.", "Give a folder outside the data set.")

"""Reading a folder tree that students' files came into (``submitted/``, an unzipped LMS
download): regular files and folders only, each opened relative to its parent's descriptor with
``O_NOFOLLOW``, so a symbolic link is never followed, even one swapped in while we read; sizes
bounded before anything is read."""

import contextlib
import errno
import os
import stat
from enum import Enum

_DIR_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | os.O_NOFOLLOW
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0)  # a FIFO must not block the read


class Kind(str, Enum):
    """What a folder entry is, seen without following it."""
    FOLDER = "folder"
    FILE = "file"
    LINK = "symbolic link"
    OTHER = "special file"


class Refused(Exception):
    """An entry that is not read: ``str(err)`` says why, in words."""


class TooLarge(Refused):
    """A file over the size it may have."""


def kind_of(entry):
    """The :class:`Kind` of an ``os.DirEntry`` (never following it)."""
    if entry.is_symlink():
        return Kind.LINK
    if entry.is_dir(follow_symlinks=False):
        return Kind.FOLDER
    if entry.is_file(follow_symlinks=False):
        return Kind.FILE
    return Kind.OTHER


@contextlib.contextmanager
def opened(name, dir_fd=None):
    """A folder's descriptor; ``name`` relative to ``dir_fd`` must not be a link (the top folder,
    given with no ``dir_fd``, is the instructor's own path and may be)."""
    flags = _DIR_FLAGS if dir_fd is not None else os.O_RDONLY | getattr(os, "O_DIRECTORY", 0)
    try:
        fd = os.open(name, flags, dir_fd=dir_fd)
    except OSError as err:
        raise Refused(_why(err, "folder")) from None
    try:
        yield fd
    finally:
        os.close(fd)


def entries(dir_fd):
    """[(name, Kind)] of a folder, sorted by name."""
    with os.scandir(dir_fd) as found:
        return sorted((e.name, kind_of(e)) for e in found)


def read(name, dir_fd, limit):
    """The bytes of regular file ``name`` in ``dir_fd``; :class:`Refused` for a link, a special
    file, or one larger than ``limit`` bytes (checked before reading, and while reading)."""
    with open_file(name, dir_fd, limit) as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise TooLarge(f"larger than {_mb(limit)}")
    return data


@contextlib.contextmanager
def open_file(name, dir_fd, limit):
    """A binary file object on regular file ``name`` (see :func:`read`), checked but not read."""
    try:
        fd = os.open(name, _FILE_FLAGS, dir_fd=dir_fd)
    except OSError as err:
        raise Refused(_why(err, "file")) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise Refused("not a regular file")
        if info.st_size > limit:
            raise TooLarge(f"larger than {_mb(limit)}")
        handle = os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    with handle:
        yield handle


def _why(err, what):
    if err.errno in (errno.ELOOP, errno.EMLINK, errno.ENOTDIR):  # what O_NOFOLLOW gives a link
        return f"a symbolic link (or not a {what}): not followed"
    return f"cannot be read ({err.strerror or err})"


def _mb(limit):
    return f"{limit / 1e6:g} MB" if limit >= 1e6 else f"{limit} bytes"

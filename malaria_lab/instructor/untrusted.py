"""Reading files a student may have made (``submitted/``, an LMS download): regular files only,
never through a symbolic link, never blocking on a FIFO or device, never more than a set size."""

import os
import stat


class Refused(ValueError):
    """The path is not a regular file of at most the size allowed; ``str()`` says why."""


def read_regular(path, max_bytes, dir_fd=None):
    """The bytes of the regular file ``path`` (relative to ``dir_fd`` when given)."""
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags, dir_fd=dir_fd)
    except OSError as err:
        raise Refused("a symbolic link" if err.errno == 40 else (err.strerror or str(err)).lower()) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise Refused("not a regular file")
        if info.st_size > max_bytes:
            raise Refused(f"larger than {_size(max_bytes)}")
        chunks, left = [], max_bytes + 1
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        data = b"".join(chunks)
        if len(data) > max_bytes:
            raise Refused("grew while it was read")
        return data
    finally:
        os.close(fd)


def is_plain_dir(path):
    """True for a directory that is not a symbolic link."""
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except OSError:
        return False


def _size(n):
    return f"{n / 1024**2:g} MB" if n >= 1024**2 else f"{n} bytes"

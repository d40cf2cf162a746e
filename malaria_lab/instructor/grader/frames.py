"""Messages between the grader and its checker process over the pipes the grader owns: each frame
is a small JSON header and an optional body of bytes, each with its length in front, so the
reader knows the size before it reads and can refuse what is too large. The grader parses only
headers (at most :data:`MAX_HEADER` bytes); bodies pass through it unread. Standard library only.
"""

import json
import os
import select
import struct
import time

MAX_HEADER = 64 * 1024
LENGTHS = struct.Struct(">II")


class FrameError(Exception):
    """The other side sent something that is not a frame, too large a frame, or nothing in time."""


def write(fd, header, body=b"") -> None:
    """Send ``header`` (a JSON-able dict) and ``body`` (bytes) on file descriptor ``fd``."""
    head = json.dumps(header, allow_nan=False, separators=(",", ":")).encode()
    if len(head) > MAX_HEADER:
        raise FrameError("a frame header is too large")
    data = LENGTHS.pack(len(head), len(body)) + head + body
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def read(fd, max_body, deadline=None) -> tuple[dict, bytes]:
    """(header dict, body bytes) from ``fd``; raises :class:`FrameError` on a malformed or
    oversized frame, at end of file, or past ``deadline`` (a ``time.monotonic()`` value)."""
    head_len, body_len = LENGTHS.unpack(_exactly(fd, LENGTHS.size, deadline))
    if head_len > MAX_HEADER or body_len > max_body:
        raise FrameError(f"a frame of {head_len + body_len} bytes is over the limit")
    try:
        header = json.loads(_exactly(fd, head_len, deadline), parse_constant=_refuse)
    except (ValueError, RecursionError) as err:
        raise FrameError(f"a frame header is not JSON ({type(err).__name__})") from None
    if not isinstance(header, dict):
        raise FrameError("a frame header is not an object")
    return header, _exactly(fd, body_len, deadline)


def _refuse(name):
    raise ValueError(name)


def _exactly(fd, n, deadline):
    chunks, left = [], n
    while left:
        if deadline is not None:
            wait = deadline - time.monotonic()
            if wait <= 0 or not select.select([fd], [], [], wait)[0]:
                raise FrameError("no answer in time")
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            raise FrameError("the other side closed the pipe")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)

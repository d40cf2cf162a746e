"""Every file of an LMS's bulk download, read as hostile input: the zip (or the folder it was
unzipped to), and zips inside it, streamed member by member, never extracted to disk by their
names. Nothing is followed or unpacked blindly:

* an entry whose name would escape a folder (``../``, ``/etc/...``, ``C:\\``), a symbolic link, a
  special file, an encrypted entry or one with control characters in its name is named, not read;
* the number of files, the bytes unpacked in all, each file (50 MB for a notebook, 1 GB for a
  zip inside), the depth of zips inside zips and the compression ratio are bounded;
* only what may be a notebook (or a receipt) is read whole; anything else, only its first bytes.
"""

import os
import re
import stat
import tempfile
import zipfile
import zlib
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from pathlib import Path

from ..errors import MalariaLabError
from . import nofollow
from .nofollow import Kind, Refused, TooLarge
from .notebook_stage import MAX_BYTES as MAX_NOTEBOOK

HEAD = 64
TEXT_BYTES = 1_000_000  # a text file read whole (a Blackboard receipt)
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")


@dataclass(frozen=True)
class Limits:
    notebook: int = MAX_NOTEBOOK  # bytes of one file read whole
    nested: int = 1_000_000_000  # bytes of one zip inside the download
    total: int = 8_000_000_000  # bytes unpacked in all
    files: int = 50_000  # files in all
    depth: int = 4  # zips inside the download (a student's zip is 1, a zip in it 2)
    ratio: int = 200  # unpacked to packed bytes, for members over a megabyte


class Unreadable(str, Enum):
    """Why a file of the download is not read, in words."""
    ESCAPES = "a zip entry that would escape the folder"
    BAD_NAME = "a name with control characters"
    LINK = "a symbolic link"
    SPECIAL = "not a regular file"
    ENCRYPTED = "encrypted"
    TOO_LARGE = "an archive too large to unpack"
    BOMB = "over-compressed (a zip bomb?)"
    TOO_DEEP = "zips nested too deeply"
    DAMAGED_ZIP = "a damaged zip"
    UNSUPPORTED = "compressed in a way this Python cannot read"


@dataclass(frozen=True)
class Member:
    """One file of the download: ``parts`` is its path across folders and nested zips."""
    parts: tuple
    data: object = None  # bytes when it may be a notebook or a receipt, else None
    head: bytes = b""
    problem: object = None  # Unreadable, or None
    detail: str = ""
    mtime: object = None  # the time the zip or the disk gives it (datetime), or None

    @property
    def path(self):
        return "/".join(self.parts)


def _safe_parts(name):
    """(parts, None) of a zip entry's name, or (None, Unreadable) when it is not a plain path."""
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        return None, Unreadable.BAD_NAME
    text = name.replace("\\", "/")
    parts = [p for p in text.split("/") if p not in ("", ".")]
    if text.startswith("/") or re.match(r"^[A-Za-z]:", text) or ".." in parts:
        return None, Unreadable.ESCAPES
    return tuple(parts), None


def _kind(head):
    if head.startswith(ZIP_MAGIC):
        return "zip"
    return "json" if head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{") else "other"


def _wanted(name, head):
    """How much of a file to read whole: notebooks (by content or name) and small text files."""
    lower = name.lower()
    if _kind(head) == "json" or lower.endswith(".ipynb"):
        return MAX_NOTEBOOK
    return TEXT_BYTES if lower.endswith(".txt") else 0


class _Walk:
    def __init__(self, limits):
        self.limits = limits
        self.files = 0
        self.bytes = 0

    def _over(self, parts, size=0):
        """A Member saying why this file is past the bounds, or None (and it is counted)."""
        self.files += 1
        if self.files > self.limits.files:
            return Member(parts, problem=Unreadable.TOO_LARGE, detail=f"more than {self.limits.files} files in all")
        if self.bytes + size > self.limits.total:
            return Member(parts, problem=Unreadable.TOO_LARGE,
                          detail=f"the download unpacks to more than {self.limits.total / 1e9:g} GB")
        return None

    def _read(self, stream, size):
        """At most ``size`` bytes of ``stream``, counted against the bound on bytes unpacked."""
        data = stream.read(size)
        self.bytes += len(data)
        return data

    def stream(self, parts, stream, depth, mtime):
        """The members of one file, given as an open binary stream."""
        head = self._read(stream, HEAD)
        if _kind(head) == "zip":
            yield from self._nested(parts, head, stream, depth, mtime)
            return
        want = min(_wanted(parts[-1], head), self.limits.notebook)
        if not want:
            yield Member(parts, head=head, mtime=mtime)
            return
        data = head + self._read(stream, want + 1 - len(head)) if len(head) == HEAD else head
        if len(data) > want:
            yield Member(parts, head=head, problem=Unreadable.TOO_LARGE,
                         detail=f"larger than {want / 1e6:g} MB", mtime=mtime)
            return
        yield Member(parts, data=data, head=head, mtime=mtime)

    def _nested(self, parts, head, stream, depth, mtime):
        if depth >= self.limits.depth:
            yield Member(parts, problem=Unreadable.TOO_DEEP, detail=f"more than {self.limits.depth} deep")
            return
        with tempfile.SpooledTemporaryFile(max_size=64_000_000) as spool:
            spool.write(head)
            copied = len(head)
            while copied <= self.limits.nested:
                chunk = self._read(stream, min(1 << 20, self.limits.nested + 1 - copied))
                if not chunk:
                    break
                spool.write(chunk)
                copied += len(chunk)
            if copied > self.limits.nested:
                yield Member(parts, problem=Unreadable.TOO_LARGE, detail=f"a zip inside over "
                             f"{self.limits.nested / 1e6:g} MB", mtime=mtime)
                return
            spool.seek(0)
            try:
                archive = zipfile.ZipFile(spool)
            except (zipfile.BadZipFile, OSError, EOFError) as err:
                yield Member(parts, problem=Unreadable.DAMAGED_ZIP, detail=str(err)[:100], mtime=mtime)
                return
            with archive:
                yield from self.archive(parts, archive, depth + 1)

    def archive(self, prefix, archive, depth):
        """The members of an open zip, ``prefix`` being where it lies in the download."""
        for info in archive.infolist():
            if info.is_dir():
                continue
            parts, bad = _safe_parts(info.filename)
            if bad:
                yield Member(prefix + (info.filename,), problem=bad)
                continue
            where = prefix + parts
            over = self._over(where, 0)
            if over:
                yield over
                continue
            mtime = datetime(*info.date_time) if info.date_time[0] >= 1980 else None
            mode = info.external_attr >> 16
            if info.flag_bits & 0x1:
                yield Member(where, problem=Unreadable.ENCRYPTED)
            elif info.create_system == 3 and stat.S_ISLNK(mode):
                yield Member(where, problem=Unreadable.LINK, detail="not followed")
            elif info.create_system == 3 and stat.S_IFMT(mode) not in (0, stat.S_IFREG):  # 0: type not given
                yield Member(where, problem=Unreadable.SPECIAL)
            elif info.file_size > 1_000_000 and info.file_size > self.limits.ratio * max(info.compress_size, 1):
                yield Member(where, problem=Unreadable.BOMB,
                             detail=f"{info.file_size / 1e6:g} MB packed into {info.compress_size / 1e6:g} MB")
            else:
                try:
                    with archive.open(info) as stream:
                        yield from self.stream(where, stream, depth, mtime)
                except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as err:
                    yield Member(where, problem=Unreadable.DAMAGED_ZIP, detail=str(err)[:100])
                except NotImplementedError as err:
                    yield Member(where, problem=Unreadable.UNSUPPORTED, detail=str(err)[:100])
                except RuntimeError as err:  # zipfile's "encrypted, password required"
                    yield Member(where, problem=Unreadable.ENCRYPTED, detail=str(err)[:100])

    def folder(self, prefix, fd, depth):
        """The members of an unzipped download, without following a link."""
        for name, kind in nofollow.entries(fd):
            where = prefix + (name,)
            if kind is Kind.FOLDER:
                if len(where) > 32:
                    yield Member(where, problem=Unreadable.TOO_DEEP, detail="folders more than 32 deep")
                    continue
                try:
                    with nofollow.opened(name, fd) as inner:
                        yield from self.folder(where, inner, depth)
                except Refused as err:
                    yield Member(where, problem=Unreadable.LINK, detail=str(err))
                continue
            over = self._over(where, 0)
            if over:
                yield over
            elif kind is Kind.LINK:
                yield Member(where, problem=Unreadable.LINK, detail="not followed")
            elif kind is Kind.OTHER:
                yield Member(where, problem=Unreadable.SPECIAL)
            else:
                try:
                    with nofollow.open_file(name, fd, self.limits.nested) as handle:
                        mtime = datetime.fromtimestamp(os.fstat(handle.fileno()).st_mtime)
                        yield from self.stream(where, handle, depth, mtime)
                except TooLarge as err:
                    yield Member(where, problem=Unreadable.TOO_LARGE, detail=str(err))
                except Refused as err:
                    yield Member(where, problem=Unreadable.LINK, detail=str(err))


def walk(download, limits=None):
    """Every :class:`Member` of the download (a zip or a folder); a download that is neither is a
    :class:`MalariaLabError`."""
    path = Path(download)
    walker = _Walk(limits or Limits())
    if path.is_dir():
        with nofollow.opened(path) as fd:
            yield from walker.folder((), fd, 0)
        return
    if not path.is_file():
        raise MalariaLabError(f"No file or folder at {path}.", "Give the LMS's zip of submissions, or the "
                              "folder it unzips to.")
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, EOFError) as err:
        raise MalariaLabError(f"{path} is not a zip file ({err}).", "Give the LMS's zip of submissions as it was "
                              "downloaded, or the folder it unzips to.") from None
    with archive:
        yield from walker.archive((), archive, 0)

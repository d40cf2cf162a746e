"""Stable pseudonyms for student ids, so a report can be shared without identities.

A pseudonym is a keyed hash of the id (HMAC-SHA256) with a secret kept in the course folder
(``grading/pseudonyms.key``, made on first use): the same student gets the same pseudonym in every
report of that course, and nobody without the key can map it back.
"""

import hashlib
import hmac
import os
import re
import secrets
from pathlib import Path

from ...atomic import atomic_path
from ...errors import MalariaLabError
from ..coursedir import GRADING

KEY_FILE = Path(GRADING) / "pseudonyms.key"
PREFIX = "student-"


def course_key(course_dir) -> bytes:
    """The course's secret (bytes), made and kept on first use."""
    path = Path(course_dir) / KEY_FILE
    if not path.exists():
        with atomic_path(path) as tmp:
            tmp.write_text(secrets.token_hex(32) + "\n", encoding="ascii")
            os.chmod(tmp, 0o600)
    try:
        key = bytes.fromhex(path.read_text(encoding="ascii").strip())
    except (OSError, ValueError, UnicodeDecodeError):
        key = b""
    if len(key) < 16:
        raise MalariaLabError(f"{path} does not hold a pseudonym key.",
                              "Move it away to make a new one (the pseudonyms will then change).")
    return key


class Names:
    """How students are named in a report: as themselves, or by pseudonym (``anonymise``)."""

    def __init__(self, students, key=None):
        self.anonymous = key is not None
        students = sorted(set(students))
        self._names = {s: s for s in students}
        self._pattern = None
        if not self.anonymous:
            return
        for width in (8, 16, 64):
            names = {s: PREFIX + hmac.new(key, s.encode(), hashlib.sha256).hexdigest()[:width] for s in students}
            if len(set(names.values())) == len(names):
                break
        self._names = names
        self._lower = {s.lower(): n for s, n in sorted(names.items(), reverse=True)}
        # Longest first, so that an id holding a shorter one ("ann.lee", "ann") is replaced whole.
        alternatives = "|".join(re.escape(s) for s in sorted(students, key=lambda s: (-len(s), s)))
        if alternatives:
            self._pattern = re.compile(rf"(?<![A-Za-z0-9_])(?:{alternatives})(?![A-Za-z0-9_])", re.IGNORECASE)

    def of(self, student) -> str:
        """The name to show for ``student``."""
        return self._names.get(student, student)

    def text(self, text) -> str:
        """``text`` with every student id in it replaced by its pseudonym (unchanged otherwise)."""
        if not self._pattern or not text:
            return text
        return self._pattern.sub(lambda m: self._lower[m.group(0).lower()], text)

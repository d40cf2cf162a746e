"""The *On a JupyterHub* section of course/INSTRUCTORS.md, read as the commands the hub test runs.

Each fenced ``bash`` block of the section opens with a comment that says who runs it and which
step it is (``# as root: install``, ``# as the instructor, in a terminal of their JupyterLab:
release``); every other line of the block is one command. The test runs them all, so the section
cannot name a command the test does not run.
"""

import re
import shlex
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
INSTRUCTORS = REPO / "course" / "INSTRUCTORS.md"
TITLE = "## On a JupyterHub"
HEADER = re.compile(r"# as (root|the instructor)\b[^:]*: (\w+)")
# The names the section's example accounts have, and the hub's own folders.
EXAMPLE_USERS = ("teacher", "alice", "bob")
GROUPS = ("malaria-lab-instructors", "malaria-lab-students")


class Actor(str, Enum):
    ROOT = "root"
    INSTRUCTOR = "the instructor"


@dataclass(frozen=True)
class Block:
    actor: Actor
    step: str
    commands: tuple


def section(text=None):
    """The section's text, from its title to the next ``## `` title."""
    text = INSTRUCTORS.read_text(encoding="utf-8") if text is None else text
    start = text.index(f"\n{TITLE}\n")
    end = text.find("\n## ", start + len(TITLE) + 2)
    return text[start:end if end >= 0 else len(text)]


def blocks(text=None):
    """{step: Block} of the section's bash blocks, in order."""
    found = {}
    for body in re.findall(r"```bash\n(.*?)```", section(text), flags=re.S):
        lines = [line.rstrip() for line in body.strip().splitlines()]
        head = HEADER.fullmatch(lines[0]) if lines else None
        if head is None:
            raise ValueError(f"a bash block of {TITLE!r} does not open with '# as root: STEP' or "
                             f"'# as the instructor...: STEP': {lines[:1]}")
        commands = tuple(line for line in lines[1:] if line and not line.startswith("#"))
        if any(line.endswith("\\") for line in commands):
            raise ValueError(f"step {head.group(2)!r}: write each command on one line")
        found[head.group(2)] = Block(Actor(head.group(1)), head.group(2), commands)
    return found


def substitute(command, mapping):
    """``command`` with, in one pass, each path prefix (a key starting with ``/``) or whole word of
    ``mapping`` replaced by its value (the longest key first)."""
    keys = sorted(mapping, key=len, reverse=True)
    pattern = "|".join(re.escape(k) if k.startswith("/") else rf"(?<![\w-]){re.escape(k)}(?![\w-])" for k in keys)
    return re.sub(pattern, lambda match: mapping[match.group(0)], command)


def words(command):
    return shlex.split(command)

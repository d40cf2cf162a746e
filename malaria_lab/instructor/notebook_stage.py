"""Which stage of this course a notebook is, read from its own content, never from its name:
Colab's ``Copy of 02_split.ipynb``, a browser's ``02_split (1).ipynb`` and ``Untitled3.ipynb`` are
the same stage when their cells are.

A stage's *marks* are the cells the course handed out, as its release notebook has them: each
nbgrader cell's ``grade_id`` with nbgrader's checksum (which students' editors copy unchanged),
and for the read-only cells their text. A notebook is a stage when it carries at least half of that
stage's marks, or 30% when its own metadata (written by ``malaria-lab course build``) names the
stage; carrying half of two stages' marks is two stages in one file, which is never graded.
"""

import json
import re
from dataclasses import dataclass
from enum import Enum

from ..settings import STAGES
from . import coursedir

MAX_BYTES = 50_000_000  # a notebook larger than this is not read (the course's are under 1 MB)
# Nor one of more JSON values than this (the course's have a few thousand): each costs memory to
# read, far more than the few bytes it takes.
MAX_NODES = 2_000_000
STRONG = 0.5  # the share of a stage's marks that makes a notebook that stage
WEAK = 0.3  # ... when the notebook's metadata names that stage (other stages share up to a third)
META = "malaria_lab"  # the course's key in a notebook's metadata: {"stage": ..., "generated_from": ...}


HIDDEN_TESTS = re.compile(r"### BEGIN HIDDEN TESTS\n.*?### END HIDDEN TESTS\n?", re.S)


class Problem(str, Enum):
    """Why a file is not a notebook of one stage of the course, in words."""
    DAMAGED = "damaged JSON"
    NOT_NOTEBOOK = "not a notebook"
    NO_STAGE = "a notebook of no stage of this course"
    TWO_STAGES = "two stages in one file"


class NotANotebook(ValueError):
    def __init__(self, problem, detail=""):
        super().__init__(f"{problem.value} ({detail})" if detail else problem.value)
        self.problem, self.detail = problem, detail


@dataclass(frozen=True)
class Verdict:
    """A notebook's stage, or the problem that keeps it from having one."""
    stage: object = None  # str, or None
    problem: object = None  # Problem, or None
    detail: str = ""

    def __str__(self):
        if self.stage:
            return self.stage
        return f"{self.problem.value} ({self.detail})" if self.detail else self.problem.value


def json_values(data):
    """An upper bound on how many values JSON text (bytes or str) holds, counted without parsing:
    every object and list opens with a bracket and every value after a container's first follows
    a comma (marks inside strings are counted too: the bound only errs high)."""
    marks = (b"{", b"[", b",") if isinstance(data, bytes) else ("{", "[", ",")
    return sum(data.count(mark) for mark in marks) + 1


def bounded(data):
    """Refuse (:class:`NotANotebook`) a notebook's bytes or text too large, or of too many JSON
    values, to read safely; the count is made before any parsing."""
    if len(data) > MAX_BYTES:
        raise NotANotebook(Problem.NOT_NOTEBOOK, f"larger than {MAX_BYTES // 1_000_000} MB")
    if json_values(data) > MAX_NODES:
        raise NotANotebook(Problem.NOT_NOTEBOOK, f"more than {MAX_NODES:,} JSON values")


def parse(data):
    """The notebook in ``data`` (bytes) as plain JSON data; :class:`NotANotebook` otherwise."""
    bounded(data)
    try:
        nb = json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise NotANotebook(Problem.DAMAGED, "not UTF-8 text") from None
    except RecursionError:
        raise NotANotebook(Problem.DAMAGED, "nested too deeply") from None
    except ValueError as err:
        raise NotANotebook(Problem.DAMAGED, f"{err.msg} at line {err.lineno}"
                           if isinstance(err, json.JSONDecodeError) else str(err)) from None
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        raise NotANotebook(Problem.NOT_NOTEBOOK, "JSON, but no list of cells")
    if nb.get("nbformat") != 4:
        raise NotANotebook(Problem.NOT_NOTEBOOK, f"nbformat {nb.get('nbformat')!r}, not 4")
    return nb


def _text(source):
    """A cell's source, compared without line-end or trailing-space differences, nor the hidden
    tests of a source notebook (students' notebooks never hold them)."""
    if isinstance(source, list):
        source = "".join(s for s in source if isinstance(s, str))
    if not isinstance(source, str):
        return ""
    source = HIDDEN_TESTS.sub("", source)
    return "\n".join(line.rstrip() for line in source.replace("\r\n", "\n").split("\n")).strip()


def _nbgrader(cell):
    meta = cell.get("metadata") if isinstance(cell, dict) else None
    meta = meta.get("nbgrader") if isinstance(meta, dict) else None
    return meta if isinstance(meta, dict) else {}


def marks(nb):
    """{grade_id: (checksum or None, text or None)} of a release (or source) notebook's nbgrader
    cells; the text only for the cells students cannot change."""
    out = {}
    for cell in nb.get("cells", []):
        meta = _nbgrader(cell)
        gid = meta.get("grade_id")
        if isinstance(gid, str) and gid:
            editable = meta.get("solution") and not meta.get("locked")
            out[gid] = (meta.get("checksum"), None if editable else _text(cell.get("source")))
    return out


def named_stage(nb):
    """The stage a notebook's metadata names (``malaria-lab course build`` writes it), or None."""
    meta = nb.get("metadata", {}).get(META) if isinstance(nb.get("metadata"), dict) else None
    if not isinstance(meta, dict):
        return None
    stage = meta.get("stage")
    if stage in STAGES:
        return stage
    origin = meta.get("generated_from")  # notebooks built before the stage was written down
    name = origin.rsplit("/", 1)[-1].removesuffix(".md") if isinstance(origin, str) else None
    return name if name in STAGES else None


class Stages:
    """The stages of one course, each by its marks, to tell which one a notebook is."""

    def __init__(self, signatures):
        self.signatures = dict(signatures)  # {stage: marks}

    @classmethod
    def of_course(cls, course_dir, stages=STAGES):
        """From the course's release notebooks (what students got), else its source notebooks."""
        signatures = {}
        for stage in stages:
            for kind in (coursedir.Kind.RELEASE, coursedir.Kind.SOURCE):
                path = coursedir.notebook(course_dir, kind, stage)
                if path.is_file():
                    signatures[stage] = marks(json.loads(path.read_text(encoding="utf-8")))
                    break
        return cls(signatures)

    def shares(self, nb):
        """{stage: share of its marks that ``nb`` carries}."""
        ids, texts = {}, set()
        for cell in nb.get("cells", []):
            if not isinstance(cell, dict):
                continue
            meta = _nbgrader(cell)
            if isinstance(meta.get("grade_id"), str):
                ids.setdefault(meta["grade_id"], set()).add(meta.get("checksum"))
            texts.add(_text(cell.get("source")))
        out = {}
        for stage, signature in self.signatures.items():
            hit = sum(1 for gid, (checksum, text) in signature.items()
                      if (checksum is not None and checksum in ids.get(gid, ()))
                      or (text and text in texts)
                      or (checksum is None and text is None and gid in ids))  # an answer cell, from a source
            out[stage] = hit / len(signature) if signature else 0.0
        return out

    def identify(self, nb):
        """The :class:`Verdict` for a parsed notebook."""
        shares = self.shares(nb)
        strong = sorted(s for s, share in shares.items() if share >= STRONG)
        if len(strong) > 1:
            return Verdict(None, Problem.TWO_STAGES, f"it carries the cells of {' and '.join(strong)}")
        if strong:
            return Verdict(strong[0])
        named = named_stage(nb)
        if named in shares and shares[named] >= WEAK:
            return Verdict(named)
        best = max(shares.items(), key=lambda kv: kv[1], default=(None, 0.0))
        return Verdict(None, Problem.NO_STAGE, f"at most {best[1]:.0%} of a stage's cells, of {best[0]}"
                       if best[0] and best[1] > 0 else "none of the course's cells")

    def identify_bytes(self, data):
        """The :class:`Verdict` for a file's bytes (damaged or foreign files included)."""
        try:
            return self.identify(parse(data))
        except NotANotebook as err:
            return Verdict(None, err.problem, err.detail)

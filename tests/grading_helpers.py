"""What the checks give an answer, and a tree's fingerprint: shared by the grading tests, so the
figure they compare the grader's against is computed one way."""

import hashlib
from pathlib import Path

from malaria_lab.checks import load_stage
from malaria_lab.instructor.grader.cgroups import PREFIX, ROOT


def points_of(stage, ex_id, answer_code):
    """The points the checks (hidden ones too) give ``answer_code`` for one exercise, computed
    in-process, to compare with what the grader or nbgrader gives."""
    decl = load_stage(stage)
    namespace = {"__name__": "__main__"}
    exec(decl.prelude, namespace)
    exec(answer_code, namespace)
    return decl[ex_id].run(namespace, hidden=True).points


def tree_digest(path, skip=("__pycache__",)):
    """A digest of every file (and symlink, followed never) under ``path``, by name and content."""
    h = hashlib.sha256()
    for p in sorted(Path(path).rglob("*")):
        if not any(s in p.parts for s in skip) and (p.is_file() or p.is_symlink()):
            h.update(str(p.relative_to(path)).encode() + b"\0" + (p.read_bytes() if p.is_file() else b"link"))
    return h.hexdigest()


def job_cgroups():
    """The grading jobs' cgroups on this machine (none of a run's may outlive it)."""
    return sorted(str(p) for p in ROOT.glob(f"*/**/{PREFIX}*"))

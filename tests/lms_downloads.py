"""Course folders and LMS bulk downloads for the ``malaria-lab course collect`` tests: students'
notebooks as Colab and the LMSs rename them, zipped the way each LMS zips them."""

import io
import json
import os
import shutil
import stat
import sys
import zipfile
from pathlib import Path

import nbformat

from malaria_lab.instructor.release import _scratch_course
from malaria_lab.instructor.submissions import make_submission

ROOT = Path(__file__).resolve().parents[1]
COURSE = ROOT / "course"


def course_folder(where):
    """A copy of the course's source, release and nbgrader settings (no gradebook, no submissions)."""
    course = _scratch_course(COURSE, Path(where))
    shutil.copytree(COURSE / "release", course / "release")
    return course


def notebook(stage="02_split", answers="solution"):
    """A student's notebook of ``stage`` (bytes, as a browser downloads it) with ``answers``."""
    release = COURSE / "release" / stage / f"{stage}.ipynb"
    return nbformat.writes(make_submission(release, stage, answers)).encode()


def colab(data):
    """The notebook as Colab saves it: its own metadata added, each cell's nbgrader role kept."""
    nb = json.loads(data)
    nb["metadata"]["colab"] = {"provenance": [], "name": "Copy of 02_split.ipynb"}
    nb["metadata"]["accelerator"] = "GPU"
    return json.dumps(nb, indent=1).encode()


def foreign():
    """A notebook of another course: valid, with nothing of this one."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# Homework 3: linear regression"),
                nbformat.v4.new_code_cell("import numpy as np\nX = np.ones((3, 2))")]
    return nbformat.writes(nb).encode()


def zip_of(path, entries):
    """A zip at ``path`` of ``entries``: [(name, bytes)]; bytes None makes a symbolic link to /etc/passwd."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries:
            info = zipfile.ZipInfo(name, date_time=(2025, 3, 4, 12, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3
            if data is None:
                info.external_attr = (stat.S_IFLNK | 0o777) << 16
                data = b"/etc/passwd"
            else:
                info.external_attr = (stat.S_IFREG | 0o644) << 16
            zf.writestr(info, data)
    return Path(path)


def zipped(entries):
    """The bytes of a zip of ``entries`` (a student's own zip, or a download inside a download)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries:
            zf.writestr(name, data)
    return buffer.getvalue()


def with_alembic():
    """The environment nbgrader's gradebook needs: its `alembic` on PATH."""
    return {"PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")}


def files(root):
    """{relative path: bytes} of every file under ``root``."""
    root = Path(root)
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def students_in_gradebook(course):
    """{id: (first, last, email, lms_user_id)} read through nbgrader's own API."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{Path(course) / 'gradebook.db'}") as gb:
        return {s.id: (s.first_name, s.last_name, s.email, s.lms_user_id) for s in gb.students}

"""``malaria-lab course check`` and ``build`` on the command line: an edit typed into a generated
notebook fails the check with the file to edit, and a build mends it."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat

from malaria_lab.instructor import authoring

COURSE = Path(__file__).resolve().parents[2] / "course"


def test_check_names_the_file_to_edit_and_build_mends_it(tmp_path):
    shutil.copytree(COURSE / "stages", tmp_path / "stages")
    shutil.copytree(COURSE / "source", tmp_path / "source")
    shutil.copy(COURSE / "nbgrader_config.py", tmp_path)
    path = authoring.source_path(tmp_path, "03_augment")
    nb = nbformat.read(path, as_version=4)
    nb.cells[1].source += "\n\nA sentence typed into the generated notebook."
    nbformat.write(nb, path)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    done = subprocess.run([sys.executable, "-m", "malaria_lab", "course", "check", str(tmp_path), "--no-release"],
                          capture_output=True, text=True, env=env)
    assert done.returncode == 1 and "course/stages/03_augment.md" in done.stdout, done.stdout + done.stderr
    built = subprocess.run([sys.executable, "-m", "malaria_lab", "course", "build", str(tmp_path), "--no-release"],
                           capture_output=True, text=True, env=env)
    assert built.returncode == 0 and "03_augment.ipynb" in built.stdout
    assert authoring.stale_sources(tmp_path) == []

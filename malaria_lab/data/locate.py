"""Where a data set is: the places looked in, in one order, and the first that holds images.

``$MALARIA_LAB_DATA`` first (named by the user: a problem there is an error, not a miss), then
``./data``, then the course work folder's ``data/`` and the folder stage 1 unpacks into when the
work folder is on Google Drive. Each caller names which of these apply to it.
"""

import os
from pathlib import Path
from typing import NamedTuple

from ..errors import MalariaLabError
from ..settings import DATA_ENV
from .layout import find_images


class Place(NamedTuple):
    """One place a data set may be: how to call it, the folder, and whether the user named it."""

    label: str
    path: Path
    named: bool = False


def places(here=True, work_data=None, unpacked=None):
    """The places to look in, in order: ``$MALARIA_LAB_DATA``, ``./data`` (``here``), the work
    folder's ``work_data`` and, when it is another folder, ``unpacked``."""
    found = []
    env = os.environ.get(DATA_ENV)
    if env:
        found.append(Place(f"${DATA_ENV}", Path(env).expanduser(), named=True))
    if here:
        found.append(Place("./data", Path.cwd() / "data"))
    if work_data is not None:
        found.append(Place("work folder", Path(work_data)))
    if unpacked is not None and Path(unpacked) != Path(work_data or ""):
        found.append(Place("unpacked from Drive", Path(unpacked)))
    return found


def cell_images(path):
    """The folder to read: ``path/cell_images`` when ``path`` holds one, else ``path``."""
    path = Path(path)
    return path if path.name == "cell_images" or not (path / "cell_images").is_dir() else path / "cell_images"


def has_images(path):
    """True when ``path`` (a folder or a zip) holds cell images."""
    try:
        return Path(path).exists() and bool(find_images(path))
    except MalariaLabError:
        return False


def find_data(where):
    """The first of the places ``where`` that holds cell images, or None."""
    return next((place for place in where if has_images(place.path)), None)

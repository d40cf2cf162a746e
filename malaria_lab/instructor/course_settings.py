"""The instructor's settings of a course, read from its ``course.toml`` (see the file's comments):
one place to say where the course lives, read by everything that points there."""

import re
import sys
from dataclasses import dataclass

from ..errors import MalariaLabError
from . import coursedir

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: the same parser, from PyPI
    import tomli as tomllib

REPOSITORY = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$")
BRANCH = re.compile(r"^[A-Za-z0-9._/-]{1,200}$")


@dataclass(frozen=True)
class CourseSettings:
    repository: str = "malaria-lab/malaria-lab"
    branch: str = "main"


def read(course_dir) -> CourseSettings:
    """The settings in ``course_dir/course.toml`` (defaults where a setting is absent); a malformed
    file or value is a :class:`MalariaLabError` naming the line to fix."""
    path = coursedir.settings_file(course_dir)
    if not path.is_file():
        return CourseSettings()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise MalariaLabError(f"{path} is not valid TOML ({err}).", "Fix the line it names.") from None
    repo = data.get("repository", {})
    if not isinstance(repo, dict):
        raise MalariaLabError(f"{path}: [repository] should be a table.", "See the comments in the file.")
    settings = CourseSettings(**{k: repo[v] for k, v in (("repository", "name"), ("branch", "branch"))
                                 if v in repo})
    if not isinstance(settings.repository, str) or not REPOSITORY.match(settings.repository):
        raise MalariaLabError(f"{path}: repository name {settings.repository!r} is not OWNER/NAME.",
                              "Write the GitHub repository as OWNER/NAME, e.g. name = \"my-dept/malaria-lab\".")
    if not isinstance(settings.branch, str) or not BRANCH.match(settings.branch):
        raise MalariaLabError(f"{path}: branch {settings.branch!r} is not a branch name.",
                              "Write a branch name, e.g. branch = \"main\".")
    return settings

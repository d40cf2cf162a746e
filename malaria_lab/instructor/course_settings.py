"""The instructor's settings of a course, read from its ``course.toml`` (see the file's comments):
one place to say where the course lives, read by everything that points there, and whether the
course withholds solutions (``[solutions] policy``)."""

import re
import sys
from dataclasses import dataclass, replace

from ..checks.policy import DEFAULT as DEFAULT_SOLUTIONS
from ..checks.policy import Solutions
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
    solutions: Solutions = DEFAULT_SOLUTIONS


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
    return replace(settings, solutions=_solutions(path, data))


def _solutions(path, data):
    """The ``[solutions] policy`` of the file (self-study when absent)."""
    table = data.get("solutions", {})
    choices = " or ".join(f'"{p.value}"' for p in Solutions)
    if not isinstance(table, dict):
        raise MalariaLabError(f"{path}: [solutions] should be a table.", f"Write [solutions] then policy = {choices}.")
    unknown = sorted(set(table) - {"policy"})
    if unknown:
        raise MalariaLabError(f"{path}: [solutions] has no setting {unknown[0]!r}.",
                              f"[solutions] holds one line: policy = {choices}.")
    value = table.get("policy", DEFAULT_SOLUTIONS.value)
    try:
        return Solutions(value)
    except ValueError:
        raise MalariaLabError(f"{path}: solutions policy {value!r} is not a policy.",
                              f"Write policy = {choices} under [solutions].") from None

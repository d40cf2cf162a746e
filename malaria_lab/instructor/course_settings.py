"""The instructor's settings of a course, read from its ``course.toml`` (see the file's comments):
one place to say where the course lives, read by everything that points there, and whether the
course withholds solutions (``[solutions] policy``)."""

import re
import sys
from dataclasses import dataclass, replace

from ..atomic import write_text
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


def set_repository(course_dir, repository, branch=None):
    """Write the course's repository (OWNER/NAME) and, when given, branch into ``course.toml``,
    keeping its other lines and comments; returns the settings it now holds."""
    path = coursedir.settings_file(course_dir)
    if not REPOSITORY.match(repository or ""):
        raise MalariaLabError(f"--repo {repository!r} is not OWNER/NAME.",
                              "Give the GitHub repository, e.g. --repo my-dept/malaria-lab.")
    if branch is not None and not BRANCH.match(branch):
        raise MalariaLabError(f"--branch {branch!r} is not a branch name.", "Give a branch name, e.g. --branch main.")
    current = read(course_dir)  # refuses a malformed file before anything is written
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    values = {"name": repository, "branch": branch or current.branch}
    head = re.search(r"^\[repository\][^\n]*\n", text, flags=re.M)
    if head is None:
        text = text + ("\n" if text and not text.endswith("\n") else "") + "\n[repository]\n" + "".join(
            f'{k} = "{v}"\n' for k, v in values.items())
    else:
        end = re.search(r"^\[", text[head.end():], flags=re.M)
        body = text[head.end():head.end() + end.start()] if end else text[head.end():]
        for key, value in values.items():
            line = re.compile(rf"^{key}\s*=.*$", flags=re.M)
            body = line.sub(f'{key} = "{value}"', body, count=1) if line.search(body) else f'{key} = "{value}"\n' + body
        text = text[:head.end()] + body + (text[head.end() + end.start():] if end else "")
    write_text(path, text)
    return read(course_dir)

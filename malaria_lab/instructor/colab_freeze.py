"""Colab's published package list (``pip freeze`` of a runtime, from googlecolab/backend-info), the
copy the course is tested against, and what changed when Colab publishes a new one.

    python -m malaria_lab.instructor.colab_freeze NEWFILE      # what changed, the course's packages first
    python -m malaria_lab.instructor.colab_freeze NEWFILE --write "SOURCE"  # then take it (repo, path, commit)
"""

import argparse
import re
import sys
from datetime import date
from pathlib import Path

from ..atomic import write_text
from ..errors import MalariaLabError
from . import coursedir

COPY = coursedir.in_repository() / "platforms" / "colab-pip-freeze.txt"
# What the course imports, or runs its notebooks with, in Colab's runtime: the colab test environment
# holds Colab's versions of these and of everything they pull in.
COURSE_PACKAGES = ("tensorflow", "keras", "numpy", "pillow", "matplotlib", "ipywidgets", "ipython", "tqdm",
                   "ipykernel", "jupyter-client", "nbclient", "nbformat", "traitlets", "widgetsnbextension",
                   "pip", "setuptools", "wheel")
LINE = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)\s*(==\s*\S+|@\s*\S+)\s*$")


def normalise(name):
    """A distribution's name as pip compares them (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def parse(text):
    """{normalised name: version (``==``) or ``@ URL``} of a ``pip freeze`` listing; comments skipped."""
    found = {}
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        match = LINE.match(line)
        if not match:
            raise MalariaLabError(f"Line {number} of the freeze is not NAME==VERSION or NAME @ URL: {line!r}.",
                                  "Give the pip-freeze.txt that Colab publishes, unchanged.")
        spec = match.group(2)
        found[normalise(match.group(1))] = spec[2:].strip() if spec.startswith("==") else spec
    if not found:
        raise MalariaLabError("The freeze lists no packages.", "Give the pip-freeze.txt that Colab publishes.")
    return found


def pins(text):
    """``name==version`` lines a resolver can take as constraints: no URLs, no local (+cu128) builds."""
    return [f"{n}=={v}" for n, v in sorted(parse(text).items()) if not v.startswith("@") and "+" not in v]


def python_of(text):
    """The Python version (``X.Y``) that the copy's header names (``# python: X.Y``)."""
    match = re.search(r"^# python: (\d+\.\d+)\s*$", text, flags=re.M)
    if not match:
        raise MalariaLabError("The Colab copy names no Python version.", "Add a line '# python: X.Y' to its header.")
    return match.group(1)


def changes(old, new):
    """Lines saying what changed from ``old`` to ``new`` (freeze texts): the course's packages first."""
    before, after = parse(old), parse(new)
    lines = []
    for group, names in (("course", list(COURSE_PACKAGES)),
                         ("other", sorted((before.keys() | after.keys()) - set(COURSE_PACKAGES)))):
        for name in names:
            was, now = before.get(name), after.get(name)
            if was == now:
                continue
            what = ("added " + now if was is None else "removed (was " + was + ")" if now is None
                    else f"{was} -> {now}")
            lines.append(f"{'*' if group == 'course' else ' '} {name}: {what}")
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m malaria_lab.instructor.colab_freeze",
                                     description="Compare a new Colab pip-freeze.txt with the course's copy.")
    parser.add_argument("new", type=Path, help="the new pip-freeze.txt (from googlecolab/backend-info)")
    parser.add_argument("--copy", type=Path, default=COPY, help=f"the course's copy (default {COPY})")
    parser.add_argument("--write", metavar="SOURCE", help="replace the copy with NEWFILE, its header naming SOURCE "
                        "(repository, path, commit, the runtime's date)")
    parser.add_argument("--python", help="the runtime's Python (X.Y) for the header (default: the copy's)")
    args = parser.parse_args(argv)
    try:
        new = args.new.read_text(encoding="utf-8")
        old = args.copy.read_text(encoding="utf-8")
        found = changes(old, new)
        python = args.python or python_of(old)
        if not re.fullmatch(r"\d+\.\d+", python):
            raise MalariaLabError(f"--python {python!r} is not X.Y.", "Give the runtime's Python, e.g. --python 3.13.")
    except (OSError, UnicodeDecodeError) as err:
        print(f"error: cannot read {err.filename or args.new}: {err.strerror or err}. Give a pip-freeze.txt file.",
              file=sys.stderr)
        return 2
    except MalariaLabError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"{len(found)} change(s) from {args.copy} to {args.new} (* the course's packages):")
    print("\n".join(found) if found else "  none")
    if args.write:
        header = (f"# Colab's published package list, copied for the course's tests (tests/platforms: the colab "
                  f"environment).\n# Source: {args.write}\n# Copied: {date.today().isoformat()}. Refresh: python -m "
                  f"malaria_lab.instructor.colab_freeze NEWFILE (see course/PLATFORMS.md).\n# python: {python}\n")
        write_text(args.copy, header + new)
        print(f"wrote {args.copy}: run the platform tests (pytest tests/platforms -k colab) and commit it.")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Build the student notebooks, course/release/, from the source notebooks, course/source/.

    python scripts/build_release.py           # regenerate course/release (then commit it)
    python scripts/build_release.py --check   # exit 1 if course/release is out of date

Runs ``nbgrader generate_assignment`` for every stage in a scratch copy of the course, so no
gradebook or other nbgrader state is left in the repository. The same is available to the CLI as
``malaria_lab.checks.instructor.build_release(course_dir)`` and ``stale_release(course_dir)``.
"""

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from malaria_lab.checks.instructor import build_release, stale_release  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check; exit 1 when stale")
    parser.add_argument("--course", type=Path, default=ROOT / "course", help="the course folder")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_release(args.course)
        if stale:
            print("course/release is out of date with course/source:", *stale, sep="\n  ")
            print("Rebuild it with: python scripts/build_release.py")
            return 1
        print("course/release matches course/source.")
        return 0
    for path in build_release(args.course):
        print("wrote", path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)
    return 0


if __name__ == "__main__":
    sys.exit(main())

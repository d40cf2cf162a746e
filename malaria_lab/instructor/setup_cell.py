"""The notebooks' set-up cell: on Colab it mounts Drive; anywhere the course package is missing it
installs it without changing a package the platform already holds.

The cell runs before the package exists, so it is plain standard-library Python, generated here
from the course's settings (the repository) and ``pyproject.toml``'s lower bounds. It pins every
installed distribution at its version in a constraints file (``pip install -c``), so pip adds only
the course package and what the platform lacks; a held version below a bound stops it first, in one
line, and pip's resolver refuses any other conflict before it installs anything.
"""

import re
import sys
from pathlib import Path

from ..errors import MalariaLabError

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: the same parser, from PyPI
    import tomli as tomllib

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"
BOUND = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)\s*>=\s*([0-9][0-9.]*)\s*$")

CELL = '''\
# Set-up. In Colab: keep your work on Google Drive (allow access when asked). Anywhere:
# install the course package if it is missing (about a minute). Every package already
# installed keeps its version: only the course package and what is missing are added.
import importlib.util
import sys

if "google.colab" in sys.modules:
    from google.colab import drive

    try:
        drive.mount("/content/drive")
    except Exception as err:
        print(f"Google Drive is not mounted ({{err}}): your work lasts this session only.")
if importlib.util.find_spec("malaria_lab") is None:
    import re
    import subprocess
    import tempfile
    from importlib import metadata

    def installed():
        found = {{}}
        for dist in metadata.distributions():
            if dist.metadata["Name"]:
                found.setdefault(re.sub(r"[-_.]+", "-", dist.metadata["Name"]).lower(), dist.version)
        return found

    def release(version):
        return tuple(int(n) for n in re.findall(r"\\d+", version)[:3])

    package = "{spec}"
    needs = {needs!r}
    held = installed()
    old = [f"{{n}} {{held[n]}} (the course needs {{v}} or newer)" for n, v in needs.items()
           if n in held and release(held[n]) < release(v)]
    if old:
        raise SystemExit(f"Nothing installed: this runtime holds {{', '.join(old)}}. Upgrade it "
                         "(%pip install -U NAME), restart the runtime, then run this cell again.")
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as pins:
        pins.writelines(f"{{n}}=={{v}}\\n" for n, v in held.items() if re.fullmatch(r"\\d[\\w.+!]*", v))
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "-c", pins.name, package],
                          capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(done.stderr.strip() + "\\nThe course package was not installed; nothing else changed.")
    importlib.invalidate_caches()
    print("Added:", ", ".join(f"{{n}} {{v}}" for n, v in sorted(set(installed().items()) - set(held.items()))))'''


def package_spec(repository, branch):
    """What pip installs the course package from: the course's repository and branch."""
    return f"malaria-lab @ git+https://github.com/{repository}@{branch}"


def lower_bounds(pyproject=PYPROJECT):
    """{distribution: lowest version} of the package's requirements (``name>=X`` in pyproject.toml)."""
    try:
        deps = tomllib.loads(Path(pyproject).read_text(encoding="utf-8"))["project"]["dependencies"]
    except (OSError, KeyError, tomllib.TOMLDecodeError) as err:
        raise MalariaLabError(f"Could not read the requirements in {pyproject} ({err}).",
                              "Build the course from a clone of the repository.") from None
    bounds = {}
    for dep in deps:
        match = BOUND.match(dep.split(";")[0])
        if not match:
            raise MalariaLabError(f"{pyproject}: requirement {dep!r} is not NAME>=VERSION.",
                                  "Write each requirement as a lower bound the tests install "
                                  "(see course/PLATFORMS.md).")
        bounds[re.sub(r"[-_.]+", "-", match.group(1)).lower()] = match.group(2)
    return bounds


def cell(repository, branch, bounds=None):
    """The set-up cell's code for a course at ``repository`` (OWNER/NAME) and ``branch``."""
    return CELL.format(needs=lower_bounds() if bounds is None else bounds, spec=package_spec(repository, branch))

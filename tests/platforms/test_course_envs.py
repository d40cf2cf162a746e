"""The course in three environments, each passing the same course-level checks: the six reference
notebooks in small mode, full marks (43/43), widgets built, no error output.

* ``colab``: Colab's published versions (``platform_envs.colab_env``). First each release notebook's
  set-up cell runs exactly as generated, its package address pointed at a copy of this checkout:
  ``pip freeze`` afterwards is the one before plus ``malaria-lab`` alone.
* ``lowest``: every lower bound of pyproject.toml at once, on Python 3.10.
* ``latest``: the newest of everything, on the newest Python here.

Environments come from ``platform_envs`` (built early in the background by ``.ci/run``); figures
(seconds, versions) go to ``$MALARIA_LAB_SCREENSHOTS/course_envs.json`` when that is set.
"""

import json
import os
import subprocess
import time
from pathlib import Path

import nbformat
import platform_envs
import pytest
from background import Started

from malaria_lab.checks import STAGES
from malaria_lab.instructor import authoring, coursedir, setup_cell

pytestmark = [pytest.mark.platforms, pytest.mark.slow, pytest.mark.usefixtures("bound_runs")]

REPO = platform_envs.REPO
COURSE = REPO / "course"
TOTAL = 43
WIDGET = "application/vnd.jupyter.widget-view+json"
FIGURES = {}


def _unavailable(reason):
    if os.environ.get("MALARIA_LAB_REQUIRE_PLATFORMS") == "1":
        pytest.fail(f"{reason}, and MALARIA_LAB_REQUIRE_PLATFORMS=1 says this run must test them")
    pytest.skip(reason)


def _env(name):
    try:
        return platform_envs.BUILDERS[name]()
    except platform_envs.Missing as why:
        _unavailable(f"the {name} environment cannot be built here: {why}")


def _record(name, **figures):
    FIGURES.setdefault(name, {}).update(figures)
    shots = os.environ.get("MALARIA_LAB_SCREENSHOTS")
    if shots:
        Path(shots).mkdir(parents=True, exist_ok=True)
        (Path(shots) / "course_envs.json").write_text(json.dumps(FIGURES, indent=1))


def _freeze(venv):
    return set(platform_envs._freeze(venv).splitlines())


def set_up_cell(stage):
    """The set-up cell of a release notebook, as a student gets it."""
    nb = nbformat.read(str(coursedir.notebook(COURSE, coursedir.Kind.RELEASE, stage)), as_version=4)
    return next(c for c in nb.cells if c.cell_type == "code").source


def start_course(venv, out):
    """The reference notebooks in small mode on the embedded data, in ``venv``, started in a process
    of its own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MALARIA_LAB_", "VIRTUAL_ENV", "PYTHON"))}
    env.update(MALARIA_LAB_CACHE=str(out / "cache"), KERAS_BACKEND="tensorflow",
               PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}")
    return Started([str(venv / "bin" / "malaria-lab"), "reference", "--mode", "small", "--embedded",
                    "--course", str(COURSE), "--out", str(out / "reference"), "--quiet"],
                   out / "course-output.txt", env=env, cwd=out)


@pytest.fixture(scope="module")
def bound_runs(tmp_path_factory):
    """The course in the lowest and the latest environment, started as this module starts so that
    they run beside the Colab test (a course run leaves a core idle much of the time). An
    environment that cannot be had is its own test's skip or failure."""
    runs = {}
    for name in ("lowest", "latest"):
        try:
            venv, ready = _env(name)
        except (Exception, pytest.skip.Exception, pytest.fail.Exception) as err:
            runs[name] = err
            continue
        out = tmp_path_factory.mktemp(name)
        runs[name] = (venv, ready, out, start_course(venv, out))
    yield runs
    for run in runs.values():
        if isinstance(run, tuple):
            run[3].stop()


def course_checks(started, out, name):
    """The course run ``started`` (see :func:`start_course`): full marks, widgets built, no error
    output."""
    code, output = started.finish(timeout=1800)
    assert code == 0, output[-6000:]
    report = json.loads((out / "reference" / "report.json").read_text())
    assert [s["stage"] for s in report["stages"]] == list(STAGES)
    assert sum(s["points"] for s in report["stages"]) == sum(s["max_points"] for s in report["stages"]) == TOTAL
    widgets = {}
    for stage in report["stages"]:
        nb = nbformat.read(stage["notebook"], as_version=4)
        outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
        assert not [o for o in outputs if o.get("output_type") == "error"], stage["stage"]
        tracebacks = [o for o in outputs if o.get("name") == "stderr" and "Traceback" in o.get("text", "")]
        assert not tracebacks, stage["stage"]
        widgets[stage["stage"]] = sum(WIDGET in o.get("data", {}) for o in outputs)
    assert sum(1 for n in widgets.values() if n) >= 4, f"widgets built per stage: {widgets}"
    _record(name, reference_seconds=round(report["total_seconds"]), widgets=widgets,
            versions=report["device"]["versions"])
    return report


def test_colab_set_up_cell_adds_only_the_course_package_then_the_course_passes(tmp_path):
    venv, ready = _env("colab")
    before = _freeze(venv)
    assert before == set((venv.parent / "freeze.txt").read_text().splitlines()), \
        "the cached Colab environment changed since it was built: remove it to rebuild"
    _record("colab", build_seconds=ready["seconds"])
    checkout = tmp_path / "checkout"
    platform_envs.copy_tree(checkout)
    settings = authoring.repository(COURSE)
    spec = setup_cell.package_spec(settings.repository, settings.branch)
    cells = [set_up_cell(stage) for stage in STAGES]
    assert len(set(cells)) == 1 and f'"{spec}"' in cells[0]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MALARIA_LAB_", "VIRTUAL_ENV", "PYTHON"))}
    try:
        for stage, cell in zip(STAGES, cells):
            script = tmp_path / f"setup_{stage}.py"
            script.write_text(cell.replace(spec, f"malaria-lab @ {checkout.as_uri()}"))
            start = time.perf_counter()
            done = subprocess.run([str(venv / "bin" / "python"), str(script)], env=env, cwd=tmp_path,
                                  capture_output=True, text=True, timeout=900)
            assert done.returncode == 0, done.stdout + done.stderr
            if stage == STAGES[0]:
                _record("colab", setup_cell_seconds=round(time.perf_counter() - start))
                assert done.stdout.strip().startswith("Added: malaria-lab "), done.stdout
                assert "," not in done.stdout, f"only the course package is added: {done.stdout}"
            else:
                assert done.stdout.strip() == "", "the package is there: the cell does nothing"
        after = _freeze(venv)
        added = sorted(after - before)
        assert before - after == set(), f"the set-up cell changed Colab's packages: {sorted(before - after)}"
        assert len(added) == 1 and added[0].startswith("malaria-lab @ file:"), added
        _record("colab", freeze_added=added)
        course_checks(start_course(venv, tmp_path), tmp_path, "colab")
    finally:
        subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "uninstall", "-y", "-q", "malaria-lab"],
                       capture_output=True)
    assert _freeze(venv) == before


@pytest.mark.parametrize("name", ["lowest", "latest"])
def test_course_passes_at_both_ends_of_the_requirements(name, bound_runs):
    run = bound_runs[name]
    if isinstance(run, BaseException):
        raise run
    venv, ready, out, started = run
    held = {platform_envs.colab_freeze.normalise(line.split("==")[0]): line.split("==")[1]
            for line in (venv.parent / "freeze.txt").read_text().splitlines() if "==" in line}
    bounds = setup_cell.lower_bounds()
    if name == "lowest":
        off = {n: held.get(n) for n, v in bounds.items() if not (held.get(n) or "").startswith(v + ".")}
        assert not off, f"not at the lower bounds: {off}"
    _record(name, build_seconds=ready["seconds"], held={n: held.get(n) for n in bounds})
    course_checks(started, out, name)

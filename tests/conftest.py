"""Shared fixtures: a small synthetic data set, and caches kept inside pytest's temp folders; which
tests may run beside others under ``pytest -n 2`` (pytest-xdist)."""

import os

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory, monkeypatch):
    """Decoded-image caches go to a temp folder, never to the user's home."""
    monkeypatch.setenv("MALARIA_LAB_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))


@pytest.fixture(scope="session")
def synth_data(tmp_path_factory):
    """A small embedded data set (folder holding cell_images/), made once per test session."""
    from malaria_lab.data.synth import synthesize

    root = tmp_path_factory.mktemp("synth")
    synthesize(root, per_class=200, patients=12, seed=1)
    return root


# Under ``pytest -n 2`` (pytest-xdist) these modules run on the second worker, a module at a time:
# in-process or short-lived ones, and training (busy, but under no time limit and touching nothing
# machine-wide). Everything else runs on one worker in the order of RUN_LAST: notebooks, browsers
# and platforms first, while the second worker is busy; grading in sandboxes last, alone, since its
# tests count the machine's job cgroups and processes and its time limits assume no heavy
# neighbour, as does the nbgrader cycle's timing.
BESIDE = ("tests/cli/", "tests/unit/", "tests/training/")
RUN_LAST = (
    ("tests/platforms/",),
    ("tests/course/test_nbgrader_e2e.py",),
    ("tests/course/test_grading", "tests/course/test_report_graded_class.py", "tests/unit/test_grader_parts.py"),
)


def _rank(path):
    return next((i + 1 for i, starts in enumerate(RUN_LAST) if path.startswith(starts)), 0)


def scope_of(nodeid):
    """The unit of work a test is sent to a worker in: its module, or "alone" (see above)."""
    path = nodeid.split("::")[0]
    return path if path.startswith(BESIDE) and not _rank(path) else "alone"


def pytest_collection_modifyitems(items):
    """The tests that run alone in the order of RUN_LAST (a stable sort: file order otherwise)."""
    items.sort(key=lambda item: _rank(item.nodeid.split("::")[0]))


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """pytest-xdist's scope scheduling, with :func:`scope_of` as the scope."""
    from xdist.scheduler import LoadScopeScheduling

    class Scheduler(LoadScopeScheduling):
        def _split_scope(self, nodeid):
            return scope_of(nodeid)

    return Scheduler(config, log)

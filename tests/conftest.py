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


# In-process or short-lived, touching nothing machine-wide: under ``pytest -n 2`` these modules run
# on the second worker, one module at a time. Everything else (notebooks, training, browsers,
# platforms, grading in sandboxes) runs on one worker, in file order: the grading tests count the
# machine's job cgroups and processes, and their time limits assume no other heavy test beside them.
BESIDE = ("tests/cli/", "tests/unit/")
ALONE = ("tests/unit/test_grader_parts.py",)


def scope_of(nodeid):
    """The unit of work a test is sent to a worker in: its module, or "alone" (see above)."""
    path = nodeid.split("::")[0]
    return path if path.startswith(BESIDE) and path not in ALONE else "alone"


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """pytest-xdist's scope scheduling, with :func:`scope_of` as the scope."""
    from xdist.scheduler import LoadScopeScheduling

    class Scheduler(LoadScopeScheduling):
        def _split_scope(self, nodeid):
            return scope_of(nodeid)

    return Scheduler(config, log)

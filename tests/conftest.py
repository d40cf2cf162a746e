"""Shared fixtures: a small synthetic data set, and caches kept inside pytest's temp folders."""

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

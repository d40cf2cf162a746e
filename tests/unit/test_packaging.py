"""The three places requirements are written (pyproject, environment.yml, binder/) agree."""

import re
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[2]
# Binder installs the CPU-only TensorFlow wheel under its own name.
SAME = {"tensorflow-cpu": "tensorflow"}


def _parse(lines):
    found = {}
    for line in lines:
        line = re.sub(r"^-\s+", "", line.split("#")[0].strip())
        match = re.fullmatch(r"([A-Za-z][A-Za-z0-9_.\-]*)\s*((?:>=|==|<=|~=|<|>)\s*[\w.]+)?", line)
        if match and match.group(1) not in {"pip", "python"}:
            name = SAME.get(match.group(1).lower(), match.group(1).lower())
            found[name] = (match.group(2) or "").replace(" ", "")
    return found


def _pyproject():
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return _parse(data["project"]["dependencies"])


def test_environment_yml_matches_pyproject():
    text = (ROOT / "environment.yml").read_text()
    pip_block = text.split("- pip:", 1)[1].splitlines()
    assert _parse(pip_block) == _pyproject()
    assert "-e ." in text


def test_binder_lock_keeps_pyproject_bounds_and_installs_the_package_without_deps():
    # binder/requirements.in: pyproject's bounds (CPU TensorFlow); requirements.txt: the full lock
    # compiled from it (uv pip compile, hashes), every pin within those bounds.
    from packaging.specifiers import SpecifierSet

    assert _parse((ROOT / "binder" / "requirements.in").read_text().splitlines()) == _pyproject()
    text = (ROOT / "binder" / "requirements.txt").read_text()
    assert "uv pip compile binder/requirements.in" in text.split("\n", 3)[1]
    locked = {SAME.get(m.group(1).lower(), m.group(1).lower()): m.group(2)
              for m in re.finditer(r"^([A-Za-z0-9][\w.\-]*)==(\S+) \\$", text, flags=re.M)}
    assert len(locked) == len(re.findall(r"^[A-Za-z0-9]", text, flags=re.M)), "every requirement pinned with hashes"
    for name, bound in _pyproject().items():
        assert locked[name] in SpecifierSet(bound), f"binder locks {name}=={locked[name]}, pyproject wants {bound}"
    assert re.fullmatch(r"python-3\.\d+\n", (ROOT / "binder" / "runtime.txt").read_text())
    post = (ROOT / "binder" / "postBuild").read_text()
    assert post.startswith("#!/bin/bash") and "set -e" in post and "--no-deps -e ." in post
    assert "download" not in post.split("set -e", 1)[1]


def test_no_exact_pins_that_would_clash_with_colab():
    assert all(not spec.startswith("==") for spec in _pyproject().values())


def test_setup_cell_checks_the_bounds_pyproject_names():
    from malaria_lab.instructor.setup_cell import lower_bounds

    assert lower_bounds() == {n: spec[2:] for n, spec in _pyproject().items()}
    assert all(spec.startswith(">=") for spec in _pyproject().values()), "lower bounds only"


def test_colabs_published_versions_meet_every_bound():
    # The copy of Colab's runtime the platform tests install: the course must accept what Colab holds.
    from packaging.specifiers import SpecifierSet

    from malaria_lab.instructor import colab_freeze

    held = colab_freeze.parse(colab_freeze.COPY.read_text())
    for name, bound in _pyproject().items():
        assert held[name] in SpecifierSet(bound), f"Colab holds {name} {held[name]}; pyproject wants {bound}"
    assert set(_pyproject()) <= set(colab_freeze.COURSE_PACKAGES)

"""The IPython extension: ``%load_ext malaria_lab``, ``%malaria_doctor``, ``%malaria_mode``, and
the doctor's findings on memory and data, checked against made-up machines and folders."""

import json
import os
import zipfile

import pytest

from malaria_lab import magics
from malaria_lab.course.doctor import check_data, check_memory, doctor
from malaria_lab.machine import GB, memory


@pytest.fixture(scope="module")
def shell():
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    config = Config()
    config.HistoryManager.enabled = False
    return InteractiveShell.instance(config=config)


@pytest.fixture
def nowhere(tmp_path, monkeypatch):
    """No data anywhere: an empty working folder and work folder, no $MALARIA_LAB_DATA."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MALARIA_LAB_DATA", raising=False)
    monkeypatch.setenv("MALARIA_LAB_WORK", str(tmp_path / "work"))
    return tmp_path


def test_load_ext_registers_the_magics_and_unload_removes_them(shell, capsys, nowhere):
    from IPython import get_ipython

    assert get_ipython() is shell
    shell.run_line_magic("load_ext", "malaria_lab")
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"]
    assert {"malaria_doctor", "malaria_mode"} <= set(shell.magics_manager.magics["line"])
    shell.run_line_magic("malaria_doctor", "")
    out = capsys.readouterr().out
    for name in ("Python", "Keras", "Backend", "TensorFlow", "GPU", "Memory", "Disk", "Data set"):
        assert f" {name} " in out
    from malaria_lab.quiet import import_keras

    assert f"backend {import_keras().config.backend()}" in out
    assert "-> Run stage 1, or `malaria-lab download --dest" in out
    shell.run_line_magic("unload_ext", "malaria_lab")
    assert "malaria_doctor" not in shell.magics_manager.magics["line"]


@pytest.fixture
def loaded(shell, monkeypatch):
    """The extension loaded, with the mode switches undone afterwards."""
    monkeypatch.setenv("MALARIA_LAB_MODE", "full")  # so that what the magics set is undone afterwards
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    shell.run_line_magic("load_ext", "malaria_lab")
    yield shell
    shell.run_line_magic("unload_ext", "malaria_lab")


def test_the_older_fast_magic_is_gone(loaded):
    assert "malaria_fast" not in loaded.magics_manager.magics["line"]


def test_mode_magic_switches_the_mode(loaded, capsys, monkeypatch):
    loaded.run_line_magic("malaria_mode", "small")
    assert os.environ["MALARIA_LAB_MODE"] == "small"
    loaded.run_line_magic("malaria_mode", "tiny")
    loaded.run_line_magic("malaria_mode", "grading")
    assert os.environ["MALARIA_LAB_MODE"] == "grading"
    monkeypatch.setenv("MALARIA_LAB_MODE", "tiny")
    loaded.run_line_magic("malaria_mode", "")
    assert capsys.readouterr().out.splitlines() == [
        "The course is in small mode.", "Use %malaria_mode grading / small / full, or %malaria_mode to see the mode.",
        "The course is in grading mode.",
        "MALARIA_LAB_MODE='tiny' is not one of the modes. Set it to grading, small, full, or unset it."]
    loaded.run_line_magic("unload_ext", "malaria_lab")
    assert "malaria_mode" not in loaded.magics_manager.magics["line"]
    loaded.run_line_magic("load_ext", "malaria_lab")


def test_doctor_returns_a_structured_report(nowhere):
    report = doctor()
    names = [c.name for c in report.checks]
    assert names[:5] == ["Python", "Keras", "Backend", "TensorFlow", "GPU"]
    assert {"Memory", "Disk", "Data set", "Widgets"} <= set(names)
    assert all(c.status in ("ok", "info", "warn", "fail") for c in report.checks)
    assert all(c.fix for c in report.problems)
    assert report["Keras"].status == "ok" and report.ok
    data = json.loads(json.dumps(report.to_dict()))
    assert data["ok"] is True and data["checks"][0]["name"] == "Python"
    assert str(report) == report.text() and report.text().startswith("malaria-lab doctor")


def fake_machine(root, host_gb, cgroup_gb=None, used_gb=0.0):
    proc = root / "meminfo"
    proc.write_text(f"MemTotal: {int(host_gb * GB / 1024)} kB\nMemAvailable: {int(host_gb * 0.9 * GB / 1024)} kB\n")
    cgroup = root / "cgroup"
    cgroup.mkdir()
    if cgroup_gb is not None:
        (cgroup / "memory.max").write_text(f"{int(cgroup_gb * GB)}\n")
        (cgroup / "memory.current").write_text(f"{int(used_gb * GB)}\n")
    return str(proc), str(cgroup)


def test_memory_sees_a_binder_sized_container_and_warns(tmp_path):
    proc, cgroup = fake_machine(tmp_path, host_gb=64, cgroup_gb=2, used_gb=0.5)
    total, available = memory(proc, cgroup, env={})
    assert total == 2 * GB and available == pytest.approx(1.5 * GB)
    check = check_memory(total, available)
    assert check.status == "warn" and "Binder" in check.detail and "small mode" in check.fix and "fast" not in check.fix
    assert memory(proc, str(tmp_path / "none"), env={"MEM_LIMIT": str(2 * GB)})[0] == 2 * GB


def test_memory_on_a_roomy_machine_is_fine(tmp_path):
    proc, cgroup = fake_machine(tmp_path, host_gb=16)
    total, available = memory(proc, cgroup, env={})
    assert total == 16 * GB and available == pytest.approx(14.4 * GB, rel=1e-6)
    assert check_memory(total, available).status == "ok"
    assert check_memory(None, None).status in ("ok", "warn", "info")


def test_data_missing_everywhere_says_how_to_get_it(nowhere):
    check = check_data()
    assert check.status == "warn" and "no data set found" in check.detail
    assert "malaria-lab download --dest" in check.fix and str(nowhere / "work" / "data") in check.fix


def test_data_env_pointing_nowhere_fails(nowhere, monkeypatch):
    monkeypatch.setenv("MALARIA_LAB_DATA", str(nowhere / "missing"))
    check = check_data()
    assert check.status == "fail" and "MALARIA_LAB_DATA" in check.fix
    assert not doctor().ok


def test_data_verified_synthetic_or_unverified(nowhere, monkeypatch):
    from malaria_lab.data.extract import extract
    from malaria_lab.data.synth import synthesize

    cells = synthesize(nowhere / "synth", per_class=4, patients=3, seed=0)
    monkeypatch.setenv("MALARIA_LAB_DATA", str(cells))
    assert check_data().status == "info" and "synthetic: 8 images" in check_data().detail

    archive = nowhere / "cells.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(cells.rglob("*.png")):
            zf.write(path, f"cell_images/{path.parent.name}/{path.name}")
    extract(archive, nowhere / "work" / "data", log=lambda *a: None)
    monkeypatch.delenv("MALARIA_LAB_DATA")
    check = check_data()
    assert check.status == "ok" and "verified: 8 images" in check.detail and "work folder" in check.detail

    mine = nowhere / "data" / "cell_images"
    for path in sorted(cells.rglob("*.png")):
        (mine / path.parent.name).mkdir(parents=True, exist_ok=True)
        (mine / path.parent.name / path.name).write_bytes(path.read_bytes())
    check = check_data()
    assert check.status == "warn" and "not verified" in check.detail and "malaria-lab scan" in check.fix


def test_unload_without_load_is_harmless(shell):
    magics.unload_ipython_extension(shell)


def test_unsolved_exercise_stops_with_one_line_naming_it(shell, capsys, monkeypatch):
    from malaria_lab.checks.stage02 import STAGE

    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    shell.run_line_magic("load_ext", "malaria_lab")
    try:
        shell.run_cell(STAGE["q1"].starter_code, store_history=False)
        capsys.readouterr()
        result = shell.run_cell("leaked = leaked_patients([])", store_history=False)
        seen = capsys.readouterr()
        assert isinstance(result.error_in_exec, NotImplementedError), "Run All still stops here"
        assert seen.err.strip().splitlines() == [
            "`leaked_patients` is still the starter code: solve exercise 1 (Find the leaking patients) above, "
            "then run this cell again."]
        assert "Traceback" not in seen.out
        shell.run_cell("raise NotImplementedError()", store_history=False)
        assert "still holds the starter code" in capsys.readouterr().err
        shell.run_cell("raise NotImplementedError('a library says so')", store_history=False)
        assert "a library says so" in "".join(capsys.readouterr()), "other errors keep their traceback"
    finally:
        shell.run_line_magic("unload_ext", "malaria_lab")
    assert shell.custom_exceptions == ()


def test_no_friendly_stop_while_grading(shell, monkeypatch):
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    shell.run_line_magic("load_ext", "malaria_lab")
    try:
        assert shell.custom_exceptions == ()
    finally:
        shell.run_line_magic("unload_ext", "malaria_lab")

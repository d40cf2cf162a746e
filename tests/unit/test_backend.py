"""The backend check: which backend Keras will load, read as Keras reads it, and one clear line
(exit 2 on the command line, one line in a notebook) when it is unknown or not installed."""

import json
import os
import subprocess
import sys

import pytest

from malaria_lab import backend
from malaria_lab.errors import MalariaLabError


@pytest.fixture
def before_keras(monkeypatch, tmp_path):
    """As if Keras had not been imported yet, with no keras.json but one of our own."""
    monkeypatch.delitem(sys.modules, "keras", raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras-home"))
    monkeypatch.delenv("KERAS_BACKEND", raising=False)
    return tmp_path / "keras-home"


def test_the_backend_is_read_as_keras_reads_it(before_keras, monkeypatch):
    assert backend.requested() == ("tensorflow", "Keras's default")
    before_keras.mkdir()
    (before_keras / "keras.json").write_text(json.dumps({"backend": "torch"}))
    assert backend.requested() == ("torch", str(before_keras / "keras.json"))
    monkeypatch.setenv("KERAS_BACKEND", "jax")
    assert backend.requested() == ("jax", "KERAS_BACKEND")
    monkeypatch.setenv("KERAS_BACKEND", "")  # empty: Keras falls back on keras.json
    assert backend.requested()[0] == "torch"


@pytest.mark.parametrize("name", ["numpy", "jaxx", "pytorch"])
def test_an_unknown_backend_is_refused_with_the_three_named(before_keras, monkeypatch, name):
    monkeypatch.setenv("KERAS_BACKEND", name)
    with pytest.raises(backend.BackendError, match=f"'{name}' \\(from KERAS_BACKEND\\) is not one") as err:
        backend.check()
    assert "Set KERAS_BACKEND to tensorflow, torch or jax" in str(err.value)


@pytest.mark.parametrize("name, hidden", [("jax", "jaxlib"), ("jax", "jax"), ("torch", "torch"),
                                          ("tensorflow", "tensorflow")])
def test_a_missing_backend_says_what_to_install(before_keras, monkeypatch, name, hidden):
    monkeypatch.setenv("KERAS_BACKEND", name)
    monkeypatch.setitem(sys.modules, hidden, None)  # find_spec and import then act as if not installed
    with pytest.raises(backend.BackendError, match=f"backend {name} \\(from KERAS_BACKEND\\) is not installed") as err:
        backend.check()
    assert f"pip install {name}, or set KERAS_BACKEND" in str(err.value)
    assert isinstance(err.value, MalariaLabError)


def test_a_loaded_keras_is_not_checked_again():
    from malaria_lab.quiet import import_keras

    keras = import_keras()
    assert backend.check() == keras.config.backend()


def test_in_a_notebook_the_error_is_one_line():
    err = backend.BackendError("The Keras backend jax (from KERAS_BACKEND) is not installed.", "pip install jax.")
    assert err._render_traceback_() == [f"BackendError: {err}"]


def _cli(args, env, hide=(), cwd=None):
    """``malaria-lab ARGS`` with the modules ``hide`` made to look uninstalled."""
    code = (f"import sys; sys.modules.update(dict.fromkeys({list(hide)!r})); "
            f"from malaria_lab.cli import main; sys.exit(main({list(args)!r}))")
    return subprocess.run([sys.executable, "-c", code], env=env, cwd=cwd, capture_output=True, text=True,
                          timeout=120)


@pytest.mark.parametrize("command", [["train", "--data", "d", "--out", "o"],
                                     ["evaluate", "--model", "m.keras", "--data", "d", "--out", "o"],
                                     ["run", "--out", "o"], ["reference", "--out", "o"]])
@pytest.mark.parametrize("name, hide, words", [("jaxx", (), "'jaxx' (from KERAS_BACKEND) is not one"),
                                               ("jax", ("jax", "jaxlib"), "jax (from KERAS_BACKEND) is not installed")])
def test_every_command_that_needs_keras_stops_with_one_line_and_exit_2(command, name, hide, words, tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "KERAS_HOME"}
    env.update(KERAS_BACKEND=name, MALARIA_LAB_CACHE=str(tmp_path / "cache"))
    done = _cli(command, env, hide, cwd=tmp_path)
    assert done.returncode == 2, done.stderr[-2000:]
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"malaria-lab {command[0]}: error: ") and words in lines[0], lines
    assert not (tmp_path / "o").exists(), "nothing was started"


def test_set_up_cell_says_it_in_one_line(before_keras, monkeypatch, tmp_path, capsys):
    from IPython.core.interactiveshell import InteractiveShell

    monkeypatch.setenv("KERAS_BACKEND", "jaxx")
    monkeypatch.setenv("MALARIA_LAB_WORK", str(tmp_path / "work"))
    shell = InteractiveShell.instance()
    shell.run_cell("from malaria_lab.course import setup\ncourse = setup('03_augment')")
    shown = capsys.readouterr().out.strip().splitlines()
    assert shown == [f"BackendError: {_message('jaxx')}"], shown
    shell.run_cell("course = setup('01_download', keras=False)")  # stage 1 needs no Keras: a note
    out = capsys.readouterr().out
    assert out.startswith(f"Note: {_message('jaxx')} This stage does not need Keras") and "Work folder" in out


def _message(name):
    try:
        backend.check()
    except backend.BackendError as err:
        return str(err)
    raise AssertionError(f"{name} was accepted")


def test_the_doctor_names_the_problem_and_the_fix(before_keras, monkeypatch):
    from malaria_lab.course.doctor import check_backend, check_keras

    monkeypatch.setenv("KERAS_BACKEND", "jax")
    monkeypatch.setitem(sys.modules, "jax", None)
    keras_line, loaded = check_keras()
    assert loaded is None and keras_line.status == "fail"
    assert "jax (from KERAS_BACKEND) is not installed" in keras_line.detail and "pip install jax" in keras_line.fix
    assert check_backend(None).detail == "jax (from KERAS_BACKEND), not loaded"


@pytest.mark.skipif(not backend.installed("jax"), reason="jax is not installed")
def test_the_doctor_shows_jax_its_version_and_devices():
    from importlib.metadata import version

    from malaria_lab.course.doctor import check_backend

    line = check_backend("jax")
    assert line.status == "ok"
    assert line.detail.startswith(f"jax {version('jax')} (jaxlib {version('jaxlib')}); devices: CPU"), line.detail

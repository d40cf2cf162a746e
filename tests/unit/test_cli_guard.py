"""The command line's last guard: an OSError on the user's own path is one line and exit 2; any
other exception is a bug and is left to show its traceback."""

import errno
import warnings

import pytest

from malaria_lab import cli
from malaria_lab.data import scan as scan_module


@pytest.fixture(autouse=True)
def _keep_warning_format(monkeypatch):
    monkeypatch.setattr(warnings, "formatwarning", warnings.formatwarning)  # main sets its own


def _raise(err):
    def scan(*args, **kwargs):
        raise err
    return scan


def test_a_user_path_os_error_is_one_line(monkeypatch, capsys):
    monkeypatch.setattr(scan_module, "scan", _raise(PermissionError(errno.EACCES, "Permission denied", "/d/x.png")))
    assert cli.main(["scan", "/d"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["malaria-lab scan: error: Permission denied: /d/x.png. Check the path, its permissions "
                   "and the free disk space, then run again."]


@pytest.mark.parametrize("err", [OSError(errno.EBADF, "Bad file descriptor"), KeyError("x")])
def test_programming_errors_are_not_hidden(monkeypatch, err):
    monkeypatch.setattr(scan_module, "scan", _raise(err))
    with pytest.raises(type(err)):
        cli.main(["scan", "/d"])

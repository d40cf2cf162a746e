"""Colab's published package list: the course's copy, and what changed in a new one."""

import pytest

from malaria_lab.instructor import colab_freeze

OLD = "# python: 3.12\nkeras==3.10.0\nipywidgets==7.7.1\nrequests==2.32.4\ntorch==2.10.0+cu128\n" \
      "google-colab @ file:///colabtools/dist/google_colab-1.0.0.tar.gz\n"
NEW = "keras==3.13.2\nipywidgets==7.7.1\nTyping_Extensions==4.15.0\ntorch==2.10.0+cu128\n"


def test_the_copy_names_its_source_and_python_and_parses():
    text = colab_freeze.COPY.read_text()
    assert "googlecolab/backend-info" in text.split("\n", 3)[1] and "commit" in text[:400]
    held = colab_freeze.parse(text)
    assert colab_freeze.python_of(text) == "3.12"
    assert held["ipywidgets"] == "7.7.1" and held["ipython"] == "7.34.0" and held["tensorflow"] == "2.19.0"
    assert held["google-colab"].startswith("@ ")
    assert all(name in held for name in colab_freeze.COURSE_PACKAGES)


def test_pins_leave_out_urls_and_local_builds():
    assert colab_freeze.pins(OLD) == ["ipywidgets==7.7.1", "keras==3.10.0", "requests==2.32.4"]


def test_changes_put_the_course_packages_first():
    lines = colab_freeze.changes(OLD, NEW)
    assert lines[0] == "* keras: 3.10.0 -> 3.13.2"
    assert "  typing-extensions: added 4.15.0" in lines
    assert "  requests: removed (was 2.32.4)" in lines
    assert not [line for line in lines if "ipywidgets" in line or "torch" in line]


def test_command_compares_then_writes_the_copy_with_its_source(tmp_path, capsys):
    copy, new = tmp_path / "copy.txt", tmp_path / "new.txt"
    copy.write_text(OLD)
    new.write_text(NEW)
    assert colab_freeze.main([str(new), "--copy", str(copy)]) == 0
    assert "* keras: 3.10.0 -> 3.13.2" in capsys.readouterr().out
    assert copy.read_text() == OLD, "comparing changes nothing"
    assert colab_freeze.main([str(new), "--copy", str(copy), "--write", "googlecolab/backend-info pip-freeze.txt "
                              "abc123", "--python", "3.13"]) == 0
    text = copy.read_text()
    assert "abc123" in text and colab_freeze.python_of(text) == "3.13" and text.endswith(NEW)


@pytest.mark.parametrize("content", ["not a freeze line at all\n", "# only comments\n", None])
def test_a_bad_file_is_one_line_and_exit_2(tmp_path, capsys, content):
    copy, new = tmp_path / "copy.txt", tmp_path / "new.txt"
    copy.write_text(OLD)
    if content is not None:
        new.write_text(content)
    assert colab_freeze.main([str(new), "--copy", str(copy)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1
    assert copy.read_text() == OLD

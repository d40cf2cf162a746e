"""The grading summary says when every sandboxed job would compile Keras and its backend again."""

import importlib
import py_compile
import sys

from malaria_lab.instructor.grader import bytecode, classgrade


def _package(root, name):
    folder = root / name
    folder.mkdir()
    (folder / "__init__.py").write_text("VALUE = 1\n")
    return folder


def test_a_package_without_bytecode_is_named_and_one_with_it_is_not(tmp_path, monkeypatch):
    bare, built = _package(tmp_path, "ml_bare_pkg"), _package(tmp_path, "ml_built_pkg")
    py_compile.compile(str(built / "__init__.py"), cfile=importlib.util.cache_from_source(str(built / "__init__.py")))
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    assert bytecode.uncompiled(["ml_bare_pkg", "ml_built_pkg", "ml_not_installed"]) == [bare]
    assert "ml_bare_pkg" not in sys.modules, "finding a package must not import it"


def test_the_notice_says_what_to_run_and_the_summary_shows_it(tmp_path, monkeypatch):
    site = tmp_path / "site-packages"
    monkeypatch.setattr(bytecode, "uncompiled", lambda names: [site / n for n in names])
    line = bytecode.notice("tensorflow")
    assert "keras, tensorflow" in line and f"-m compileall -q {site}" in line and "--compile-bytecode" in line
    monkeypatch.setattr(bytecode, "uncompiled", lambda names: [])
    assert bytecode.notice("tensorflow") is None
    summary = classgrade._summary([], [], [], True, 1, None, 1.0, {})
    summary["notices"] = [line]
    assert f"Note: {line}" in classgrade.format_summary(summary).splitlines()

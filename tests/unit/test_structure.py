"""The house rules, checked: the import-linter layers contract, no import circle, ruff, small
modules, reasons for imports inside functions, and light imports where notebooks start."""

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "malaria_lab"
MAX_LINES = 400


def test_the_layers_contract_is_kept(monkeypatch):
    from importlinter.cli import lint_imports

    monkeypatch.chdir(ROOT)
    assert lint_imports(no_cache=True) == 0, "run `lint-imports` to see which import breaks a layer"


def test_no_import_circle_among_the_modules():
    import grimp

    graph = grimp.build_graph("malaria_lab")
    modules = sorted(graph.modules)
    edges = {m: sorted(graph.find_modules_directly_imported_by(m)) for m in modules}
    index, low, stack, on_stack, circles = {}, {}, [], set(), []

    def visit(module):  # Tarjan's strongly connected components
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for other in edges[module]:
            if other not in index:
                visit(other)
                low[module] = min(low[module], low[other])
            elif other in on_stack:
                low[module] = min(low[module], index[other])
        if low[module] == index[module]:
            part = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                part.append(top)
                if top == module:
                    break
            if len(part) > 1:
                circles.append(sorted(part))

    for module in modules:
        if module not in index:
            visit(module)
    assert circles == []


def test_ruff_is_clean():
    done = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", str(ROOT)],
                          capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stdout[-3000:]


def test_no_module_is_long():
    long = {str(p.relative_to(ROOT)): n for p in PACKAGE.rglob("*.py")
            if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert long == {}, f"split these into modules of one job each: {long}"


def _unexplained_function_imports(path):
    """Imports inside functions with no comment on them or on the line above their block."""
    lines = path.read_text().splitlines()
    found = []
    for node in ast.walk(ast.parse("\n".join(lines))):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for inner in ast.walk(node):
            if not isinstance(inner, (ast.Import, ast.ImportFrom)):
                continue
            first = inner.lineno - 1
            while first > 0 and lines[first - 1].strip().startswith(("import ", "from ")):
                first -= 1
            block = lines[first: inner.end_lineno]
            if not any("#" in line for line in block) and not lines[first - 1].strip().startswith("#"):
                found.append(f"{path.relative_to(ROOT)}:{inner.lineno}: {lines[inner.lineno - 1].strip()}")
    return found


def test_imports_inside_functions_say_why():
    found = [line for p in sorted(PACKAGE.rglob("*.py")) for line in _unexplained_function_imports(p)]
    assert found == [], "import at the top, or say in a comment why it waits (Keras, matplotlib, nbclient...)"


@pytest.mark.parametrize("modules, absent", [
    (["malaria_lab", "malaria_lab.cli"], ["keras", "matplotlib", "nbclient", "jupytext", "IPython"]),
    (["malaria_lab.checks.stage01", "malaria_lab.checks.stage02", "malaria_lab.course"],
     ["keras", "tensorflow", "nbclient", "jupytext"]),
])
def test_starting_a_stage_or_the_command_line_loads_nothing_heavy(modules, absent):
    code = (f"import sys, json; [__import__(m) for m in {modules!r}]; "
            f"print(json.dumps([m for m in {absent!r} if m in sys.modules]))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(done.stdout) == []


@pytest.mark.parametrize("path", ["checks/fresh.py", "instructor/grader/launch.py"])
def test_what_runs_before_the_package_loads_is_standard_library_only(path):
    tree = ast.parse((PACKAGE / path).read_text())
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {"." if node.level else node.module.split(".")[0] for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom)}
    assert imported and imported <= set(sys.stdlib_module_names), imported - set(sys.stdlib_module_names)


def test_no_two_test_files_share_a_name():
    """pytest imports test files by their base name (tests/ has no packages): two of one name
    stop the whole run at collection."""
    names = [p.name for p in (ROOT / "tests").rglob("test_*.py") if ".platform-envs" not in p.parts]
    assert sorted(n for n in set(names) if names.count(n) > 1) == []

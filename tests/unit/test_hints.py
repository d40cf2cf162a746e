"""Hints and solutions render as Markdown (code as code) and show themselves, several per cell."""

import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output
from markdown_it import MarkdownIt

from malaria_lab.checks.catalog import all_stages

HINTS = [(ex, n) for stage in all_stages() for ex in stage.exercises.values() for n in range(1, len(ex.hints) + 1)]


def _blocks(markdown):
    tokens = MarkdownIt("commonmark").parse(markdown)
    return [t for t in tokens if t.type == "fence"], [t for t in tokens if t.type == "inline"]


@pytest.mark.parametrize("ex, n", HINTS, ids=[f"{ex.stage}-{ex.id}-{n}" for ex, n in HINTS])
def test_every_hint_renders_its_code_as_a_code_block(ex, n):
    hint = ex.hints[n - 1]
    fences, inline = _blocks(str(ex.hint(n)))
    if "```" in hint:
        assert fences, f"{ex.id} hint {n}: its code did not render as a code block"
        assert all(f.info == "python" for f in fences)
        code = hint.split("```python", 1)[1].split("```", 1)[0].strip()
        assert code in fences[0].content
    else:
        assert not fences
    text = " ".join(t.content for t in inline)
    assert "```" not in text, "no fence left as visible backticks"
    assert f"{ex.id}.hint({n + 1})" in text or f"{ex.id}.solution()" in text, "the footer renders as text"


def test_every_solution_renders_as_one_python_block():
    for stage in all_stages():
        for ex in stage.exercises.values():
            fences, _ = _blocks(str(ex.solution()))
            assert len(fences) == 1 and fences[0].info == "python"
            assert fences[0].content.strip() == ex.solution_code.strip()


def test_several_hints_in_one_cell_all_show():
    shell = InteractiveShell.instance()
    try:
        with capture_output() as shown:
            shell.run_cell("from malaria_lab.checks.stage02 import STAGE\nq1 = STAGE['q1']\n"
                           "q1.hint()\nq1.hint(2)\nq1.hint(3)", store_history=False)
        markdown = [o.data.get("text/markdown", "") for o in shown.outputs]
        assert [m.split("**")[1] for m in markdown] == ["Hint 1 of 3", "Hint 2 of 3", "Hint 3 of 3"]
        assert "Hint" not in shown.stdout, "the cell's last hint is not shown a second time"
    finally:
        InteractiveShell.clear_instance()

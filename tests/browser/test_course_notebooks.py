"""The course's own notebooks in a real JupyterLab in headless Chromium, in small mode, from an
empty work folder, as a student on Binder would meet them.

Stage 2 (the student's version): Run All stops at the first unsolved exercise with one line; a
wrong answer, then the right one, each typed into the exercise cell and checked. Stages 3, 5 and
6 (the reference answers): Run All, each widget's control moved until its picture and numbers
change, and the figures that say the model learns: stage 5's validation accuracy and AUC, stage
6's threshold; axe-core scans each notebook's cells with its widgets live. A screenshot of each
step goes to ``$MALARIA_LAB_SCREENSHOTS`` (else a temp folder).
"""

import json
import re
import shutil
import time
import urllib.request

import axe
import pytest
from test_jupyterlab import (  # noqa: F401 (fixtures: browser_path, page, shots, step)
    REPO,
    Lab,
    accept_kernel_dialog,
    browser_path,
    changed,
    menu,
    page,
    picture,
    shots,
    step,
    type_into_slider,
    wait_for_text,
)

from malaria_lab.checks import load_stage

pytestmark = [pytest.mark.browser, pytest.mark.slow]

NOTEBOOKS = {"02_split": "release", "03_augment": "source", "05_train": "source", "06_evaluate": "source"}
RUN_TIMEOUT = 600


@pytest.fixture(scope="module")
def lab(browser_path, tmp_path_factory):  # noqa: F811
    server = Lab(tmp_path_factory.mktemp("jupyterlab"))
    server.env.update(MALARIA_LAB_MODE="small")
    server.env.pop("MALARIA_LAB_DATA", None)
    server.env.pop("NBGRADER_EXECUTION", None)
    for stage, kind in NOTEBOOKS.items():
        shutil.copy(REPO / "course" / kind / stage / f"{stage}.ipynb", server.root / f"{stage}.ipynb")
    try:
        yield server.start()
    finally:
        server.stop()


def shown(page):  # noqa: F811
    """The notebook on screen (the others stay open in hidden tabs)."""
    return page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)")


def sessions(lab):
    with urllib.request.urlopen(lab.api("sessions"), timeout=10) as response:
        return json.load(response)


def open_notebook(lab, page, name, timeout=180):  # noqa: F811
    """Open ``name`` and wait until its kernel is idle."""
    page.goto(f"{lab.url}/lab/tree/{name}?token={lab.token}")
    shown(page).locator(".jp-CodeCell").first.wait_for(timeout=180_000)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        accept_kernel_dialog(page)
        if any(s["path"].endswith(name) and (s.get("kernel") or {}).get("execution_state") == "idle"
               for s in sessions(lab)):
            return
        time.sleep(0.5)
    raise AssertionError(f"no idle kernel for {name} within {timeout} s")


def run_all(lab, page, name, timeout=RUN_TIMEOUT):  # noqa: F811
    """Run > Run All Cells, then wait until no cell is queued or running and the kernel is idle."""
    menu(page, "Run", "Run All Cells")
    deadline = time.monotonic() + timeout
    time.sleep(2)
    while time.monotonic() < deadline:
        accept_kernel_dialog(page)
        busy = shown(page).locator(".jp-CodeCell .jp-InputPrompt", has_text="[*]").count()
        idle = any(s["path"].endswith(name) and (s.get("kernel") or {}).get("execution_state") == "idle"
                   for s in sessions(lab))
        if not busy and idle:
            return
        time.sleep(1)
    raise AssertionError(f"{name}: Run All did not finish within {timeout} s")


def run_stage(lab, page, name, widget):  # noqa: F811
    """Open ``name``, Run All, check that no cell raised; the cell holding ``widget``."""
    open_notebook(lab, page, name)
    run_all(lab, page, name)
    assert not errors(page)
    return shown(page).locator(".jp-CodeCell", has=page.locator(f".malaria-lab-{widget}")).first


def scanned(page, name):  # noqa: F811
    """axe-core on the notebook on screen, its cells only (not JupyterLab's own chrome)."""
    axe.check(page, f"{name}, live in JupyterLab", include=[".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook"],
              page_lang=False)


def cell_with(page, text):  # noqa: F811
    return shown(page).locator(".jp-CodeCell", has_text=text).first


def outputs(cell):
    return cell.locator(".jp-OutputArea-output").all_inner_texts()


def errors(page):  # noqa: F811
    """Tracebacks shown anywhere in the notebook."""
    return shown(page).locator(".jp-OutputArea-output", has_text="Traceback (most recent call last)").all_inner_texts()


def answer(page, cell, code):  # noqa: F811
    """Type ``code`` over the cell's text, run it and the check cell after it; the check's words."""
    check = cell.locator("xpath=following-sibling::div[contains(@class, 'jp-CodeCell')][1]")
    before = " ".join(outputs(check))
    cell.locator(".cm-content").click()
    page.keyboard.press("Control+a")
    page.keyboard.insert_text(code)
    page.keyboard.press("Shift+Enter")
    page.keyboard.press("Shift+Enter")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        said = " ".join(outputs(check))
        if said != before and "points)" in said:  # the check ran (its output is cleared meanwhile)
            return said, check
        time.sleep(0.25)
    raise AssertionError(f"the check did not answer within 120 s (still {before!r})")


def test_a_student_session_in_small_mode(lab, page, shots, step):  # noqa: F811
    work = lab.root.parent / "work"
    assert not work.exists() or not any(work.iterdir()), "starts from an empty work folder"

    with step("stage 2: Run All stops at the first unsolved exercise, with one line"):
        open_notebook(lab, page, "02_split.ipynb")
        run_all(lab, page, "02_split.ipynb")
        stop = shown(page).locator(".jp-OutputArea-output", has_text="is still the starter code")
        assert stop.count() >= 1 and "solve exercise 1" in stop.first.inner_text(), "one line names the exercise"
        assert not errors(page), "no traceback"
        assert "Small mode" in " ".join(outputs(cell_with(page, "course = setup(")))
        stop.first.scroll_into_view_if_needed()
        page.screenshot(path=str(shots / "course_02_stopped.png"))

    q1 = load_stage("02_split")["q1"]
    exercise = cell_with(page, "def leaked_patients(rows):")
    with step("stage 2: a wrong answer to exercise 1"):
        wrong, piece = q1.mistakes[0]
        said, check = answer(page, exercise, q1.with_answer(wrong))
        assert piece in said and "(0/2 points)" in said, said
        check.screenshot(path=str(shots / "course_02_wrong.png"))
    with step("stage 2: the right answer to exercise 1"):
        said, check = answer(page, exercise, q1.solution_code)
        assert "(2/2 points)" in said, said
        check.screenshot(path=str(shots / "course_02_right.png"))
        scanned(page, "02_split")

    with step("stage 3: Run All, then the zoom slider"):
        augment = run_stage(lab, page, "03_augment.ipynb", "augmentation")
        before = picture(augment)
        type_into_slider(augment, "zoom", "0.45")
        changed(lambda: picture(augment), before)
        assert "zoom=0.45" in augment.locator(".widget-html").inner_text()
        augment.screenshot(path=str(shots / "course_03_augmentation.png"))
        scanned(page, "03_augment")

    with step("stage 5: Run All; the model learns"):
        monitor = run_stage(lab, page, "05_train.ipynb", "training-monitor")
        status = monitor.locator(".widget-html").inner_text()
        done = int(re.search(r"finished: epoch (\d+) of", status).group(1))
        said = " ".join(outputs(cell_with(page, "narrate.training(history)")))
        assert f"{done} epoch" in said or f"after epoch {done} of" in said, (said, status)
        history = json.loads((work / "train" / "history.json").read_text())
        assert history["val_accuracy"][-1] >= 0.90 and history["val_auc"][-1] >= 0.95, history
        monitor.screenshot(path=str(shots / "course_05_training.png"))
        scanned(page, "05_train")

    with step("stage 6: Run All; a threshold that makes sense; the threshold slider"):
        evaluation = run_stage(lab, page, "06_evaluate.ipynb", "evaluation")
        said = " ".join(outputs(cell_with(page, "pick_threshold(val.y")))
        chosen = float(re.search(r"Threshold: ([\d.]+)", said).group(1))
        assert 0.05 <= chosen <= 0.95, chosen
        scores = evaluation.locator(".widget-html")
        before, text = picture(evaluation), scores.inner_text()
        moved = "0.900" if chosen < 0.8 else "0.200"
        type_into_slider(evaluation, "threshold", moved)
        changed(lambda: picture(evaluation), before)
        assert changed(scores.inner_text, text).startswith(f"threshold {moved}: sensitivity")
        evaluation.screenshot(path=str(shots / "course_06_evaluation.png"))
        page.screenshot(path=str(shots / "course_06.png"))
        scanned(page, "06_evaluate")

"""The widgets in a notebook run headless (nbclient, as nbgrader and the reference run do): each
widget leaves its last picture and text, and the widget state is saved with the notebook."""

from pathlib import Path

import pytest

DEMO = Path(__file__).resolve().parents[1] / "browser" / "widgets_demo.ipynb"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


@pytest.mark.slow
def test_a_headless_run_keeps_pictures_text_and_widget_state(tmp_path):
    """nbclient, like papermill or nbgrader: no widget front end, yet every widget leaves its
    last picture and text, and the widget state is saved with the notebook."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(DEMO, as_version=4)
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    kinds = {}
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        assert not [o for o in cell.outputs if o.output_type == "error"], cell.source
        assert not [o for o in cell.outputs if o.get("name") == "stderr"], cell.source  # TF kept quiet
        views = [o for o in cell.outputs if WIDGET_VIEW in o.get("data", {})]
        pictures = [o for o in cell.outputs  # the picture: an HTML figure with its description
                    if '<figure class="malaria-lab-figure"><img ' in o.get("data", {}).get("text/html", "")]
        for kind in ("DataBrowser", "AugmentationExplorer", "TrainingMonitor", "EvaluationExplorer"):
            if any(kind in line and not line.startswith("from ") for line in cell.source.splitlines()):
                assert views and pictures and pictures[-1].data["text/plain"], kind
                kinds[kind] = pictures[-1].data["text/plain"]
    assert set(kinds) == {"DataBrowser", "AugmentationExplorer", "TrainingMonitor", "EvaluationExplorer"}
    assert "finished" in kinds["TrainingMonitor"]
    doctor = "".join(o.get("text", "") for o in nb.cells[1].outputs)
    assert doctor.startswith("malaria-lab doctor") and "Keras" in doctor
    state = nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    assert any(m["model_name"] == "FloatSliderModel" for m in state.values())

"""Random augmentation and XLA compilation on each backend, each run in its own Python with
``KERAS_BACKEND`` set (backend_script.py): the random layers draw anew at every step of the
compiled train step and at every eager call (the widgets'), and under JAX the tutorial recipe's
RandomZoom no longer leaves its train step uncompiled."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from malaria_lab.backend import installed

SCRIPT = Path(__file__).with_name("backend_script.py")


@pytest.fixture(scope="module", params=["tensorflow", "torch", "jax"])
def result(request, tmp_path_factory):
    backend = request.param
    if not installed(backend):
        pytest.skip(f"{backend} is not installed")
    out = tmp_path_factory.mktemp(backend)
    done = subprocess.run([sys.executable, str(SCRIPT), str(out)], env=dict(os.environ, KERAS_BACKEND=backend),
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["backend"] == backend
    return found


@pytest.mark.slow
def test_augmentation_draws_anew_at_every_training_step_and_epoch(result):
    first, second = result["losses"]
    assert len(first) == len(second) == 6
    # One image, a fixed read-out: equal losses would mean the same augmentation every step.
    assert len({round(v, 2) for v in first}) > 1 and len({round(v, 2) for v in second}) > 1, result["losses"]
    assert [round(v, 2) for v in first] != [round(v, 2) for v in second], "the second epoch repeated the first"


@pytest.mark.slow
def test_eager_augmentation_varies_and_repeats_with_its_seed(result):
    assert result["eager"] == {"copies_differ": True, "same_seed_same": True, "new_draw_differs": True}


@pytest.mark.slow
def test_geometric_augmentation_compiles_under_jax_only(result):
    jax = result["backend"] == "jax"
    # TensorFlow's XLA cannot compile these layers, and PyTorch's "auto" is eager: Keras decides.
    assert result["jit"] is jax
    tutorial = result["tutorial"]
    assert (tutorial["trained"], tutorial["loaded"], tutorial["theirs_loaded"]) == (jax, jax, jax), tutorial
    assert tutorial["warnings"] == [], "loading said it would not compile"
    if jax:
        assert all(diff < 0.01 for diff in result["jit_vs_eager"].values()), result["jit_vs_eager"]

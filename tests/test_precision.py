"""Mixed precision: where ``auto`` picks bfloat16, that a recipe builds and trains in it without
touching the student's global policy, and that saved models load back in float32."""

import keras
import numpy as np
import pytest

from malaria_lab import MalariaLabError, precision
from malaria_lab.models import load_model
from malaria_lab.pipeline import Arrays
from malaria_lab.train import build_model, fit, get_recipe


def _cpuinfo(tmp_path, flags):
    path = tmp_path / "cpuinfo"
    path.write_text(f"processor\t: 0\nmodel name\t: Some CPU\nflags\t\t: {flags}\n\n")
    return path


def test_cpu_bfloat16_is_read_from_the_cpu_flags(tmp_path, monkeypatch):
    monkeypatch.setattr(precision.sys, "platform", "linux")
    assert precision.cpu_has_bfloat16(_cpuinfo(tmp_path, "fpu sse avx2 avx512f avx512_bf16"))
    assert precision.cpu_has_bfloat16(_cpuinfo(tmp_path, "fpu avx512f amx_bf16 amx_tile"))
    assert not precision.cpu_has_bfloat16(_cpuinfo(tmp_path, "fpu sse avx2 avx512f avx512_vnni"))
    assert not precision.cpu_has_bfloat16(tmp_path / "missing")


def test_auto_picks_bfloat16_only_for_tensorflow_on_a_cpu_that_has_it(monkeypatch):
    monkeypatch.setattr(precision, "cpu_has_bfloat16", lambda: True)
    assert precision.resolve("auto", backend="tensorflow", gpus=[]) == "mixed_bfloat16"
    assert precision.resolve("auto", backend="tensorflow", gpus=["NVIDIA H100"]) == "float32"
    assert precision.resolve("auto", backend="torch", gpus=[]) == "float32"
    assert precision.resolve("auto", backend="jax", gpus=[]) == "float32"
    monkeypatch.setattr(precision, "cpu_has_bfloat16", lambda: False)
    assert precision.resolve("auto", backend="tensorflow", gpus=[]) == "float32"
    assert precision.resolve("mixed_bfloat16", backend="jax", gpus=[]) == "mixed_bfloat16"
    with pytest.raises(MalariaLabError, match="Unknown precision 'fp16'"):
        precision.resolve("fp16")


def test_every_recipe_trains_in_float32_unless_asked():
    assert {get_recipe(name).precision for name in ("reference", "tutorial", "fast")} == {"float32"}
    model = build_model(get_recipe("reference"))
    assert {layer.compute_dtype for layer in precision.layers_of(model)} == {"float32"}


def _arrays(n=64, size=16, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    x = rng.uniform(0, 120, (n, size, size, 3)) + y[:, None, None, None] * 100
    return Arrays(x.astype("uint8"), y.astype("int32"), [f"P{i % 4}" for i in range(n)],
                  [str(i) for i in range(n)], [])


def test_bfloat16_recipe_trains_and_its_saved_model_loads_in_float32(tmp_path):
    recipe = get_recipe("reference").but(precision="mixed_bfloat16", image_size=16, epochs=2,
                                          start_from_epoch=0, batch_size=16, tta=False)
    model = build_model(recipe)
    assert keras.mixed_precision.global_policy().name == "float32", "the global policy is restored"
    convs = [layer for layer in precision.layers_of(model) if isinstance(layer, keras.layers.Conv2D)]
    assert convs and all(c.compute_dtype == "bfloat16" and c.variable_dtype == "float32" for c in convs)
    assert model.layers[-1].compute_dtype == "float32", "the probability is computed in float32"
    history = fit(model, _arrays(), _arrays(seed=1), tmp_path, recipe, verbose=0)
    assert len(history["loss"]) == 2 and all(np.isfinite(history["loss"]))

    again = load_model(tmp_path / "model.keras")
    assert {layer.compute_dtype for layer in precision.layers_of(again)} == {"float32"}
    x = _arrays(8, seed=2).x.astype("float32")
    p32 = keras.ops.convert_to_numpy(again(x, training=False))
    p16 = keras.ops.convert_to_numpy(load_model(tmp_path / "model.keras", float32=False)(x, training=False))
    assert p32.dtype == np.float32
    assert np.allclose(p32, p16, atol=0.05), "the same weights, so nearly the same probabilities"

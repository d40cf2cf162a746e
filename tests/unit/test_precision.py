"""Mixed precision: where ``auto`` picks bfloat16, and that recipes stay float32 unless asked.
Training in bfloat16 and loading back in float32 is tested in test_train.py, beside the other
training runs."""

import pytest

from malaria_lab import MalariaLabError, machine, precision
from malaria_lab.layer_walk import nested_layers
from malaria_lab.train import build_model, get_recipe


def _cpuinfo(tmp_path, flags):
    path = tmp_path / "cpuinfo"
    path.write_text(f"processor\t: 0\nmodel name\t: Some CPU\nflags\t\t: {flags}\n\n")
    return path


def test_cpu_bfloat16_is_read_from_the_cpu_flags(tmp_path, monkeypatch):
    monkeypatch.setattr(machine.sys, "platform", "linux")
    assert machine.cpu_has_bfloat16(_cpuinfo(tmp_path, "fpu sse avx2 avx512f avx512_bf16"))
    assert machine.cpu_has_bfloat16(_cpuinfo(tmp_path, "fpu avx512f amx_bf16 amx_tile"))
    assert not machine.cpu_has_bfloat16(_cpuinfo(tmp_path, "fpu sse avx2 avx512f avx512_vnni"))
    assert not machine.cpu_has_bfloat16(tmp_path / "missing")


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
    assert {layer.compute_dtype for layer in nested_layers(model)} == {"float32"}

"""The two CNNs, inspected through the public Keras API only."""

import keras
import numpy as np

from malaria_lab.models import build, reference_cnn, tutorial_cnn
from malaria_lab.pipeline import make_augmenter


def _types(model):
    return [type(layer).__name__ for layer in model.layers]


def test_tutorial_cnn_is_the_2020_network():
    model = tutorial_cnn()
    assert model.input_shape == (None, 100, 100, 3) and model.output_shape == (None, 1)
    convs = [l for l in model.layers if isinstance(l, keras.layers.Conv2D)]
    assert [c.get_config()["filters"] for c in convs] == [32, 32, 64]
    assert all(tuple(c.get_config()["kernel_size"]) == (3, 3) for c in convs)
    assert _types(model).count("BatchNormalization") == 3 and _types(model).count("MaxPooling2D") == 3
    bns = [l for l in model.layers if isinstance(l, keras.layers.BatchNormalization)]
    assert all(b.get_config()["momentum"] == 0.99 for b in bns)
    assert model.layers[-1].get_config()["activation"] == "sigmoid"


def test_knobs_change_the_network():
    model = tutorial_cnn(image_size=64, filters=(8, 16), bn_momentum=0.9, dropout=0)
    assert model.input_shape == (None, 64, 64, 3)
    assert "Dropout" not in _types(model)
    assert {l.get_config()["momentum"] for l in model.layers if isinstance(l, keras.layers.BatchNormalization)} == {0.9}


def test_reference_cnn_has_fast_moving_batch_norm_and_global_pooling():
    model = reference_cnn()
    assert "GlobalAveragePooling2D" in _types(model) and "Flatten" not in _types(model)
    assert all(l.get_config()["momentum"] == 0.9 for l in model.layers
               if isinstance(l, keras.layers.BatchNormalization))
    assert model.count_params() < 400_000


def test_models_take_raw_pixels_and_give_probabilities():
    model = build("reference", image_size=32, augmentation=make_augmenter())
    x = np.random.default_rng(0).uniform(0, 255, (3, 32, 32, 3)).astype("float32")
    p = keras.ops.convert_to_numpy(model(x, training=False))
    assert p.shape == (3, 1) and np.all((p > 0) & (p < 1))
    assert np.allclose(p, keras.ops.convert_to_numpy(model(x, training=False)))  # augmentation off at inference


def test_saved_model_round_trips(tmp_path):
    model = build("tutorial", image_size=32, augmentation=make_augmenter())
    path = tmp_path / "m.keras"
    model.save(path)
    again = keras.saving.load_model(path)
    x = np.full((1, 32, 32, 3), 128, "float32")
    assert np.allclose(model.predict(x, verbose=0), again.predict(x, verbose=0))


def test_reference_cnn_pools_the_last_features_as_asked(tmp_path):
    import pytest

    from malaria_lab.errors import MalariaLabError

    x = np.random.default_rng(1).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    for pooling, kinds in (("avg", ["avg"]), ("max", ["max"]), ("avgmax", ["avg", "max"])):
        model = reference_cnn(32, pooling=pooling)
        last = keras.Model(model.inputs, model.get_layer("block4_2_relu").output)(x, training=False)
        last = keras.ops.convert_to_numpy(last)
        pooled = keras.Model(model.inputs, model.get_layer("parasitized").input)(x, training=False)
        want = np.concatenate([last.mean(axis=(1, 2)) if k == "avg" else last.max(axis=(1, 2)) for k in kinds], axis=1)
        assert np.allclose(keras.ops.convert_to_numpy(pooled), want, atol=1e-5), pooling
    assert reference_cnn(pooling="avgmax").count_params() == reference_cnn().count_params() + 128
    model = reference_cnn(32, pooling="avgmax")
    model.save(tmp_path / "m.keras")
    again = keras.saving.load_model(tmp_path / "m.keras")
    assert np.allclose(model.predict(x, verbose=0), again.predict(x, verbose=0), atol=1e-6)
    with pytest.raises(MalariaLabError, match="avgmax"):
        reference_cnn(pooling="mean")

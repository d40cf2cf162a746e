"""The course plumbing (malaria_lab.settings, malaria_lab.course.workspace): the modes, work
folders, and stage fallbacks."""

import json
from pathlib import Path

import pytest

from malaria_lab import settings
from malaria_lab.course import fallbacks, workspace
from malaria_lab.errors import MalariaLabError
from malaria_lab.split import Row, read_manifest, write_manifest


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    for name in ("NBGRADER_EXECUTION", settings.FAST_ENV, settings.MODE_ENV, settings.WORK_ENV,
                 settings.DATA_ENV, settings.FALLBACKS_ENV):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(settings.FALLBACKS_ENV, str(tmp_path / "reference"))
    return monkeypatch


@pytest.fixture
def course(clean_env, tmp_path, synth_data):
    clean_env.setenv(settings.DATA_ENV, str(synth_data))
    messages = []
    return workspace.Course("03_augment", work=tmp_path / "work", mode="grading", log=messages.append), messages


def test_the_older_grading_switch_still_works(clean_env):
    assert settings.resolve_mode(memory_gb=16) == ("full", None, None)
    clean_env.setenv("MALARIA_LAB_FAST", "1")
    assert settings.resolve_mode(memory_gb=16) == ("grading", "MALARIA_LAB_FAST=1", None)
    clean_env.setenv("MALARIA_LAB_FAST", "0")
    assert settings.resolve_mode(memory_gb=2) == ("small", None, None)
    clean_env.setenv("NBGRADER_EXECUTION", "validate")
    assert settings.resolve_mode().grading and settings.grading_mode() == "validate"
    assert settings.resolve_mode("full").name == "full", "a caller's own mode wins"
    assert settings.resolve_mode("tiny").problem == ("No mode 'tiny'.", "Use one of grading, small, full.")


def test_three_modes_from_nbgrader_the_environment_or_the_machine(clean_env, tmp_path):
    def course(**kw):
        return workspace.Course("05_train", work=tmp_path / "w", log=lambda _: None, **kw)

    assert course(memory=16).mode == "full" and course(memory=2).mode == "small"
    clean_env.setenv(settings.MODE_ENV, "small")
    small = course(memory=16)
    assert small.mode == "small" and small.small and not small.grading
    assert small.epochs(30) == settings.SMALL_EPOCHS and small.recipe.name == "small"
    assert "Small mode (MALARIA_LAB_MODE=small)" in small.describe_mode()
    assert "MALARIA_LAB_MODE=full" in small.describe_mode() and "0.9" in small.describe_mode()
    clean_env.setenv(settings.MODE_ENV, "Full ")
    assert course(memory=2).mode == "full" and "Full mode" in course(memory=2).describe()
    clean_env.setenv(settings.MODE_ENV, "tiny")
    with pytest.raises(MalariaLabError, match="MALARIA_LAB_MODE='tiny' is not one of the modes"):
        course(memory=16)
    clean_env.setenv("NBGRADER_EXECUTION", "autograde")
    graded = course(memory=2)
    assert graded.mode == "grading" and graded.grading and "nbgrader autograde" in graded.describe_mode()
    assert graded.fast, "notebooks released before grading mode had its name still read course.fast"
    clean_env.delenv("NBGRADER_EXECUTION")
    clean_env.delenv(settings.MODE_ENV)
    clean_env.setenv(settings.FAST_ENV, "1")
    assert course(memory=16).mode == "grading" and course(memory=16, mode="full").mode == "full"


def test_work_folder(clean_env, tmp_path):
    assert settings.work_dir() == Path.home() / "malaria_lab_work"
    clean_env.setenv("MALARIA_LAB_WORK", str(tmp_path / "mine"))
    assert settings.work_dir() == tmp_path / "mine"
    clean_env.setenv("NBGRADER_EXECUTION", "autograde")
    clean_env.chdir(tmp_path / "..")
    assert settings.work_dir() == Path.cwd() / "malaria_lab_work", "autograde isolates submissions"


def test_epochs_in_grading_mode(course):
    c, _ = course
    assert c.epochs(20) == settings.FAST_EPOCHS
    assert workspace.Course(work=c.work, mode="full").epochs(20) == 20


def test_data_prefers_env_then_download_then_embedded(clean_env, tmp_path, synth_data):
    messages = []
    c = workspace.Course(work=tmp_path / "w", mode="grading", log=messages.append)
    clean_env.setenv(settings.DATA_ENV, str(synth_data))
    assert c.data() == synth_data / "cell_images"
    clean_env.delenv(settings.DATA_ENV)
    downloaded = c.data_dir / "cell_images"
    (downloaded / "Parasitized").mkdir(parents=True)
    src = next((synth_data / "cell_images" / "Parasitized").iterdir())
    (downloaded / "Parasitized" / src.name).write_bytes(src.read_bytes())
    assert c.data() == downloaded


def test_missing_manifest_falls_back_to_reference_split_and_says_so(course):
    c, messages = course
    rows = c.rows()
    assert {r.split for r in rows} == {"train", "val", "test"}
    assert any("No manifest from stage 2" in m and "reference" in m for m in messages)
    assert len({r.patient for r in rows if r.split == "test"} & {r.patient for r in rows if r.split == "train"}) == 0


def test_own_manifest_is_used(course):
    c, messages = course
    reference = fallbacks.split_rows(c.data(quiet=True))
    mine = [Row(r.path, r.label, r.patient, r.split) for r in reference]
    write_manifest(mine, c.manifest_path)
    messages.clear()
    assert [r.path for r in c.rows()] == [r.path for r in read_manifest(c.manifest_path)]
    assert not messages


def test_unusable_manifest_falls_back(course):
    c, messages = course
    reference = fallbacks.split_rows(c.data(quiet=True))
    one_class_test = [Row(r.path, r.label, r.patient,
                          "test" if r.label == "Uninfected" and r.split == "test" else
                          ("train" if r.split == "test" else r.split)) for r in reference]
    write_manifest(one_class_test, c.manifest_path)
    rows = c.rows()
    assert any("one class only" in m for m in messages)
    assert [r.split for r in rows] == [r.split for r in reference]
    c.manifest_path.write_text("not,a,manifest\n")
    c.rows()
    assert any("cannot be used" in m for m in messages)


def test_grading_mode_subsets(course):
    c, _ = course
    train = c.arrays("train")
    assert len(train) <= settings.FAST_LIMITS["train"]
    assert train.x.shape[1:] == (settings.IMAGE_SIZE, settings.IMAGE_SIZE, 3)


def test_augmentation_round_trip_and_fallback(course):
    import keras

    c, messages = course
    aug = c.augmentation()
    assert any("No augmentation from stage 3" in m for m in messages)
    mine = keras.Sequential([keras.layers.RandomFlip("vertical")], name="mine")
    c.save_augmentation(mine)
    back = c.augmentation()
    assert [type(l).__name__ for l in back.layers] == ["RandomFlip"]
    assert back.layers[0].get_config()["mode"] == "vertical"
    c.augmentation_path.write_text("{broken")
    assert c.augmentation() is not None and any("Could not rebuild" in m for m in messages)
    del aug


def test_model_fallback_and_round_trip(course):
    c, messages = course
    model = c.untrained_model()
    assert any("No network from stage 4" in m for m in messages)
    assert model.input_shape == (None, settings.IMAGE_SIZE, settings.IMAGE_SIZE, 3)
    c.save_model(model)
    messages.clear()
    assert c.untrained_model().count_params() == model.count_params()
    assert not messages


def test_history_round_trip(course):
    c, _ = course

    class Fit:
        history = {"loss": [0.7, 0.5], "val_auc": [0.6, 0.8]}

    c.save_history(Fit())
    assert json.loads(c.history_path.read_text()) == Fit.history
    assert c.history() == Fit.history

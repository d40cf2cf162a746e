"""Where students run the course: Colab (badge, set-up cell, Drive), Binder-sized memory."""

import importlib.util
import shutil
import subprocess
import sys
import types
from importlib import metadata
from pathlib import Path

import nbformat
import pytest

from malaria_lab import machine, settings
from malaria_lab.checks import STAGES
from malaria_lab.course import workspace

ROOT = Path(__file__).resolve().parents[2]
AUTHORING = ROOT / "malaria_lab" / "instructor" / "authoring.py"


@pytest.fixture(scope="module")
def authoring():
    from malaria_lab.instructor import authoring

    return vars(authoring)


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    for name in ("NBGRADER_EXECUTION", "COLAB_RELEASE_TAG", "MEM_LIMIT", settings.FAST_ENV,
                 settings.WORK_ENV, settings.DATA_ENV, settings.DRIVE_ENV):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(settings.FALLBACKS_ENV, str(tmp_path / "reference"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return monkeypatch


def release(stage):
    return nbformat.read(str(ROOT / "course" / "release" / stage / f"{stage}.ipynb"), as_version=4)


# --- Colab ---------------------------------------------------------------------------------------


def test_the_repository_is_named_in_course_toml_only(authoring):
    settings = authoring["repository"]()
    assert settings.repository not in AUTHORING.read_text()
    assert f'name = "{settings.repository}"' in (ROOT / "course" / "course.toml").read_text()


@pytest.mark.parametrize("stage", STAGES)
def test_release_notebooks_start_with_badges_that_open_the_student_version(stage, authoring):
    first = release(stage).cells[0]
    assert first.cell_type == "markdown"
    colab, binder = authoring["colab_url"](stage), authoring["binder_url"](stage)
    assert f"]({colab})" in first.source and f"]({binder})" in first.source
    target = f"course/release/{stage}/{stage}.ipynb"
    assert colab.endswith(f"/blob/{authoring['repository']().branch}/{target}") and binder.endswith(target)
    assert (ROOT / target).is_file()


@pytest.mark.parametrize("stage", STAGES)
def test_first_code_cell_is_the_platform_set_up(stage, authoring):
    code = next(c for c in release(stage).cells if c.cell_type == "code")
    settings = authoring["repository"]()
    assert "enable_custom_widget_manager" not in code.source, "core widgets only: Colab renders them as they are"
    assert 'drive.mount("/content/drive")' in code.source
    assert not [line for line in code.source.splitlines() if line.lstrip().startswith(("%", "!"))], "plain Python"
    assert '"-c", pins.name, package]' in code.source
    assert f'package = "malaria-lab @ git+https://github.com/{settings.repository}@{settings.branch}"' in code.source


def _set_up_cell(stage="05_train"):
    return next(c for c in release(stage).cells if c.cell_type == "code").source


class Dist:
    def __init__(self, name, version):
        self.metadata, self.version = {"Name": name}, version


class Platform:
    """Installed distributions and a pip that records what it was asked (and may add or refuse)."""

    def __init__(self, monkeypatch, held, adds=(), returncode=0):
        self.held, self.adds, self.returncode, self.calls = list(held), list(adds), returncode, []
        monkeypatch.setattr(metadata, "distributions", lambda: [Dist(n, v) for n, v in self.held])
        monkeypatch.setattr(subprocess, "run", self.run)
        real = importlib.util.find_spec
        monkeypatch.setattr(importlib.util, "find_spec",
                            lambda name, *a: None if name == "malaria_lab" else real(name, *a))

    def run(self, command, **kwargs):
        constraints = Path(command[command.index("-c") + 1]).read_text().splitlines()
        self.calls.append((command, constraints))
        if self.returncode == 0:
            self.held += self.adds
        return subprocess.CompletedProcess(command, self.returncode, "", "ERROR: ResolutionImpossible")


COLAB = [("tensorflow", "2.19.0"), ("keras", "3.10.0"), ("ipywidgets", "7.7.1"), ("IPython", "7.34.0"),
         ("typing_extensions", "4.15.0"), ("torch", "2.10.0+cu128")]


@pytest.mark.parametrize("mount_fails", [False, True])
def test_set_up_cell_in_colab_mounts_drive_and_pins_everything_installed(monkeypatch, capsys, authoring,
                                                                         mount_fails):
    calls = []

    def mount(path):
        calls.append(("mount", path))
        if mount_fails:
            raise RuntimeError("mount failed: the user declined")

    colab = types.ModuleType("google.colab")
    colab.drive = types.SimpleNamespace(mount=mount)
    monkeypatch.setitem(sys.modules, "google.colab", colab)
    platform = Platform(monkeypatch, COLAB, adds=[("malaria-lab", "1.2.0")])
    exec(_set_up_cell(), {})
    assert ("mount", "/content/drive") in calls
    out = capsys.readouterr().out
    assert ("Google Drive is not mounted" in out) == mount_fails
    [(command, constraints)] = platform.calls
    assert command[1:4] == ["-m", "pip", "install"] and command[-1].startswith("malaria-lab @ git+https://")
    assert sorted(constraints) == sorted(["tensorflow==2.19.0", "keras==3.10.0", "ipywidgets==7.7.1",
                                          "ipython==7.34.0", "typing-extensions==4.15.0", "torch==2.10.0+cu128"])
    assert out.strip().endswith("Added: malaria-lab 1.2.0")


def test_set_up_cell_refuses_a_version_below_the_bounds_and_installs_nothing(monkeypatch):
    from malaria_lab.instructor.setup_cell import lower_bounds

    platform = Platform(monkeypatch, [("ipywidgets", "7.6.5"), ("keras", "3.10.0")])
    with pytest.raises(SystemExit) as stop:
        exec(_set_up_cell(), {})
    message = str(stop.value)
    assert "\n" not in message and platform.calls == []
    assert f"ipywidgets 7.6.5 (the course needs {lower_bounds()['ipywidgets']} or newer)" in message
    assert "keras" not in message and "%pip install -U" in message


def test_set_up_cell_says_nothing_changed_when_pip_refuses(monkeypatch):
    platform = Platform(monkeypatch, COLAB, adds=[("malaria-lab", "1.2.0")], returncode=1)
    with pytest.raises(SystemExit) as stop:
        exec(_set_up_cell(), {})
    assert "ResolutionImpossible" in str(stop.value) and "nothing else changed" in str(stop.value)
    assert len(platform.calls) == 1


def test_set_up_cell_elsewhere_does_nothing_when_the_package_is_there(monkeypatch):
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    ran = []
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: ran.append(a))
    exec(_set_up_cell(), {})
    assert ran == []


def test_training_stage_resumes_from_its_backup():
    nb = nbformat.read(str(ROOT / "course" / "source" / "05_train" / "05_train.ipynb"), as_version=4)
    fit = next(c for c in nb.cells if "model.fit(" in c.source)
    assert 'BackupAndRestore(course.train_dir / "backup")' in fit.source
    assert "resume," in fit.source or "resume]" in fit.source


# --- Google Drive ------------------------------------------------------------------------------


def test_work_folder_goes_to_drive_when_mounted(clean_env, tmp_path):
    assert settings.drive_dir() is None
    assert settings.work_dir() == tmp_path / "home" / "malaria_lab_work"
    drive = tmp_path / "drive"
    clean_env.setenv(settings.DRIVE_ENV, str(drive))
    assert settings.drive_dir() is None, "not mounted: no folder"
    drive.mkdir()
    assert settings.work_dir() == drive / "malaria_lab_work"
    course = workspace.Course("05_train", log=lambda _: None)
    assert course.on_drive and course.train_dir == drive / "malaria_lab_work" / "train"
    assert course.images_dir == tmp_path / "home" / "malaria_lab_data", "images unpack off Drive"
    assert "Google Drive" in course.describe()
    clean_env.setenv(settings.WORK_ENV, str(tmp_path / "mine"))
    assert settings.work_dir() == tmp_path / "mine" and not workspace.Course(log=print).on_drive


def test_colab_without_drive_says_the_work_will_not_last(clean_env):
    clean_env.setenv("COLAB_RELEASE_TAG", "release-colab")
    assert settings.in_colab() and settings.drive_dir() is None  # /content/drive is not here
    assert "Google Drive is not mounted" in workspace.Course("02_split").describe()


def _drive_with_zip(clean_env, tmp_path, synth_data):
    drive = tmp_path / "drive"
    drive.mkdir()
    clean_env.setenv(settings.DRIVE_ENV, str(drive))
    archive = shutil.make_archive(str(tmp_path / "cell_images"), "zip", synth_data)
    return drive, Path(archive)


def test_data_kept_on_drive_is_unpacked_locally_in_a_new_session(clean_env, tmp_path, synth_data):
    drive, archive = _drive_with_zip(clean_env, tmp_path, synth_data)
    messages = []
    course = workspace.Course("03_augment", log=messages.append)
    kept = course.data_dir / "downloads" / "cell_images.zip"
    kept.parent.mkdir(parents=True)
    shutil.copy(archive, kept)
    data = course.data()
    assert data == tmp_path / "home" / "malaria_lab_data" / "cell_images"
    assert len(course.images()) == 400
    assert any("on your Google Drive" in m for m in messages)
    assert not (course.data_dir / "cell_images").exists(), "no small files on Drive"


def test_download_on_drive_keeps_the_zip_there(clean_env, tmp_path, synth_data, monkeypatch):
    from malaria_lab.data import download as download_module

    drive, archive = _drive_with_zip(clean_env, tmp_path, synth_data)
    fetched = []

    def fake_fetch(url, target, **kwargs):
        fetched.append((url, Path(target)))
        Path(target).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(archive, target)
        return Path(target)

    monkeypatch.setattr(download_module, "fetch", fake_fetch)
    course = workspace.Course("01_download", log=lambda _: None)
    data = course.download(progress=False)
    [(url, target)] = fetched
    assert url == download_module.NIH_URL and target.is_relative_to(drive)
    assert data == course.images_dir / "cell_images" and not data.is_relative_to(drive)
    assert course.download(progress=False) == data and len(fetched) == 1, "nothing fetched twice"


def test_data_env_wins_over_download(clean_env, tmp_path, synth_data):
    clean_env.setenv(settings.DATA_ENV, str(synth_data))
    course = workspace.Course("01_download", work=tmp_path / "w", log=lambda _: None)
    assert course.download(progress=False) == synth_data / "cell_images", "nothing downloaded"
    assert not course.data_dir.exists()


# --- memory ------------------------------------------------------------------------------------


def test_binder_sized_memory_is_detected_and_said(clean_env):
    clean_env.setenv("MEM_LIMIT", str(2 * 1024**3))  # what Binder sets
    assert machine.memory_gb() == pytest.approx(2.0)
    course = workspace.Course("05_train")
    assert course.low_memory
    text = course.describe()
    assert course.mode == "small" and "Small mode (this machine has 2.0 GB of memory)" in text
    assert "at most 3000 train" in text and "MALARIA_LAB_MODE=full" in text and "Colab" in text
    assert "Grading mode" in workspace.Course("05_train", mode="grading").describe()


def test_a_big_machine_is_left_alone(clean_env):
    course = workspace.Course("05_train", memory=16)
    assert not course.low_memory and course.mode == "full" and "GB" not in course.describe()


def test_low_memory_trains_on_a_subset(clean_env, tmp_path, synth_data, monkeypatch):
    clean_env.setenv(settings.DATA_ENV, str(synth_data))
    monkeypatch.setitem(workspace.LIMITS, "small", {"train": 50, "val": 20, "test": 20})
    small = workspace.Course("05_train", work=tmp_path / "w", memory=2, log=lambda _: None)
    big = workspace.Course("05_train", work=tmp_path / "w", memory=32, log=lambda _: None)
    assert len(small.arrays("train")) == 50 and len(small.arrays("val")) <= 20
    assert len(big.arrays("train")) > 50

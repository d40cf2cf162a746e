"""The repository is a course setting: course.toml, written by `course build --repo`, read by the
badges, the set-up cell and the site; `course check` catches a release that points elsewhere."""

import shutil
from pathlib import Path

import pytest

from malaria_lab import cli
from malaria_lab.errors import MalariaLabError
from malaria_lab.instructor import authoring, course_settings

COURSE = Path(__file__).resolve().parents[2] / "course"


@pytest.fixture
def course(tmp_path):
    dest = tmp_path / "course"
    dest.mkdir()
    for name in ("course.toml", "nbgrader_config.py"):
        shutil.copy(COURSE / name, dest / name)
    shutil.copytree(COURSE / "release", dest / "release")
    return dest


def test_set_repository_rewrites_the_two_lines_and_keeps_the_rest(course):
    before = (course / "course.toml").read_text()
    settings = course_settings.set_repository(course, "my-dept/malaria-lab", "fall-2026")
    assert (settings.repository, settings.branch) == ("my-dept/malaria-lab", "fall-2026")
    after = (course / "course.toml").read_text()
    assert after.count("\n") == before.count("\n") and "[solutions]" in after and "policy =" in after
    assert course_settings.set_repository(course, "other/fork").branch == "fall-2026", "the branch stays"


@pytest.mark.parametrize("repo, branch", [("no-slash", None), ("a/b", "two words")])
def test_set_repository_refuses_bad_values_and_writes_nothing(course, repo, branch):
    before = (course / "course.toml").read_text()
    with pytest.raises(MalariaLabError):
        course_settings.set_repository(course, repo, branch)
    assert (course / "course.toml").read_text() == before


def test_set_repository_adds_the_table_to_a_file_without_it(tmp_path):
    (tmp_path / "course.toml").write_text('[solutions]\npolicy = "graded"\n')
    settings = course_settings.set_repository(tmp_path, "x/y", "dev")
    assert (settings.repository, settings.branch, settings.solutions.value) == ("x/y", "dev", "graded")


def test_badges_and_set_up_cell_follow_the_setting(course):
    settings = course_settings.set_repository(course, "my-dept/ml", "fall")
    assert authoring.colab_url("01_download", settings).startswith(
        "https://colab.research.google.com/github/my-dept/ml/blob/fall/")
    assert "my-dept/ml/fall?urlpath=" in authoring.binder_url("01_download", settings)
    from malaria_lab.instructor import setup_cell

    assert '"malaria-lab @ git+https://github.com/my-dept/ml@fall"' in setup_cell.cell("my-dept/ml", "fall")


def test_course_check_fails_in_one_line_when_the_release_points_elsewhere(course, capsys):
    assert authoring.pointing_elsewhere(course) == []
    course_settings.set_repository(course, "my-dept/ml")
    assert cli.main(["course", "check", str(course)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "my-dept/ml@main" in err and "malaria-lab course build" in err
    assert "points to malaria-lab/malaria-lab@main" in err and "(and 5 more)" in err


def test_course_build_with_repo_writes_the_setting_then_the_notebooks(tmp_path, capsys):
    dest = tmp_path / "course"
    shutil.copytree(COURSE, dest, ignore=shutil.ignore_patterns("release", "grading", "submitted", "autograded"))
    assert cli.main(["course", "build", "--no-release", "--repo", "my-dept/ml", "--branch", "fall", str(dest)]) == 0
    assert "my-dept/ml, branch fall" in capsys.readouterr().out
    assert course_settings.read(dest).repository == "my-dept/ml"
    source = (dest / "source" / "03_augment" / "03_augment.ipynb").read_text()
    assert "github/my-dept/ml/blob/fall/" in source and "git+https://github.com/my-dept/ml@fall" in source
    assert "malaria-lab/malaria-lab" not in source

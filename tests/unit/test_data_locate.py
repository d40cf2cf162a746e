"""Where the data set is: one list of places, in one order, for the doctor, the course and ``run``."""

import shutil

from malaria_lab import settings
from malaria_lab.course import doctor, workspace
from malaria_lab.data import locate
from malaria_lab.workflow import find_default_data


def test_places_in_order_and_the_first_with_images_wins(monkeypatch, tmp_path, synth_data):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(settings.DATA_ENV, str(tmp_path / "empty"))
    (tmp_path / "empty").mkdir()
    work = tmp_path / "work" / "data"
    shutil.copytree(synth_data / "cell_images", work / "cell_images")
    where = locate.places(here=True, work_data=work, unpacked=tmp_path / "local")
    assert [p.label for p in where] == [f"${settings.DATA_ENV}", "./data", "work folder", "unpacked from Drive"]
    assert [p.named for p in where] == [True, False, False, False]
    assert locate.find_data(where).label == "work folder"
    assert locate.cell_images(work) == locate.cell_images(work / "cell_images") == work / "cell_images"
    assert find_default_data() is None, "run looks at $MALARIA_LAB_DATA and ./data only"
    shutil.copytree(synth_data, tmp_path / "data")
    assert find_default_data() == tmp_path / "data"


def test_the_doctor_and_the_course_look_in_the_same_places(monkeypatch, tmp_path, synth_data):
    monkeypatch.setenv(settings.WORK_ENV, str(tmp_path / "work"))
    monkeypatch.setenv(settings.DATA_ENV, str(synth_data))
    monkeypatch.delenv(settings.MODE_ENV, raising=False)
    labels = [p.label for p in doctor._data_candidates()]
    assert labels[:3] == [f"${settings.DATA_ENV}", "./data", "work folder"]
    assert "$MALARIA_LAB_DATA" in doctor.check_data().detail
    course = workspace.Course(work=tmp_path / "work", mode="grading", log=lambda _: None)
    assert course.data() == synth_data / "cell_images"

"""Finding images and patients in the official layout, in folders and zips."""

import zipfile

import pytest

from malaria_lab import MalariaLabError
from malaria_lab.data.layout import find_images, patient_id, read_bytes


@pytest.mark.parametrize("name, patient", [
    ("C102P63ThinF_IMG_20150918_161508_cell_190.png", "C102P63ThinF"),
    ("C1_thinF_IMG_20150604_104722_cell_9.png", "C1_thinF"),
    ("C47P8thinOriginalOlympusCX21_IMG_20150929_121541_cell_1.png", "C47P8"),
    ("C47P8thin_Original_Motic_IMG_20150929_121541_cell_1.png", "C47P8"),
    ("cell_images/Uninfected/C201ThinF_IMG_20151029_160838_cell_12.png", "C201ThinF"),
    ("odd_name_cell_3.png", "odd_name"),
])
def test_patient_id_is_the_prefix_before_IMG(name, patient):
    assert patient_id(name) == patient


def _touch(path, data=b"\x89PNG fake"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def test_folder_or_its_cell_images_or_a_zip_give_the_same_images(tmp_path):
    for cls in ("Parasitized", "Uninfected"):
        for k in range(3):
            _touch(tmp_path / "d" / "cell_images" / cls / f"C1P1ThinF_IMG_1_cell_{cls}{k}.png")
    _touch(tmp_path / "d" / "cell_images" / "Parasitized" / "Thumbs.db")
    archive = tmp_path / "d.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for f in sorted((tmp_path / "d").rglob("*")):
            if f.is_file():
                z.write(f, f.relative_to(tmp_path / "d").as_posix())
    a = find_images(tmp_path / "d")
    b = find_images(tmp_path / "d" / "cell_images")
    c = find_images(archive)
    assert [r.name for r in a] == [r.name for r in b] == [r.name for r in c]
    assert len(a) == 6 and {r.label for r in a} == {"Parasitized", "Uninfected"}
    assert read_bytes(c[0].path) == read_bytes(a[0].path)


def test_kaggle_nested_duplicate_counts_once(tmp_path):
    archive = tmp_path / "kaggle.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for prefix in ("cell_images/", "cell_images/cell_images/"):
            z.writestr(prefix + "Parasitized/C1P1ThinF_IMG_1_cell_1.png", b"a")
            z.writestr(prefix + "Uninfected/C1P1ThinF_IMG_1_cell_2.png", b"b")
            z.writestr(prefix + "Uninfected/Thumbs.db", b"junk")
    refs = find_images(archive)
    assert len(refs) == 2
    assert all("cell_images/cell_images" not in r.path for r in refs)


def test_missing_or_empty_data_is_a_clear_error(tmp_path):
    with pytest.raises(MalariaLabError, match="No data at"):
        find_images(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(MalariaLabError, match="No cell images found.*synth"):
        find_images(tmp_path / "empty")

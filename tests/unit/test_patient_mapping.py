"""Patients must be real: ids come from NIH-style names or from a mapping file, an image without
one is known to have none, and a split by patient refuses such images instead of leaking."""

import zipfile

import pytest

from malaria_lab import MalariaLabError
from malaria_lab.data.layout import ImageRef, find_images, known_patient, patient_id
from malaria_lab.data.patients import find_mapping, read_mapping
from malaria_lab.split import check_leakage, split_by_image, split_by_patient, split_dataset

NIH = [
    ("C102P63ThinF_IMG_20150918_161508_cell_190.png", "C102P63ThinF"),
    ("C1_thinF_IMG_20150604_104722_cell_9.png", "C1_thinF"),
    ("C201ThinF_IMG_20151029_160838_cell_12.png", "C201ThinF"),
    ("C47P8thin_Original_Motic_IMG_20150929_121541_cell_1.png", "C47P8"),
    ("odd_name_cell_3.png", "odd_name"),
]


@pytest.mark.parametrize("name, patient", NIH)
def test_names_that_carry_a_patient_keep_it(name, patient):
    assert known_patient(name) == patient_id(name) == patient


@pytest.mark.parametrize("name", ["img_0001.png", "1.png", "_IMG_3.png", "scan-2020.tif"])
def test_names_without_a_patient_have_none(name):
    assert known_patient(name) is None
    ref = ImageRef(f"/x/Uninfected/{name}", "Uninfected")
    assert not ref.patient_known and ref.patient  # still printable, but known to be a stand-in


def _folder(root, names):
    for label, name in names:
        path = root / "cell_images" / label / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(name.encode())
    return root


UNNAMED = [("Parasitized", f"p{i}.png") for i in range(6)] + [("Uninfected", f"u{i}.png") for i in range(6)]


def test_split_by_patient_refuses_images_without_patients_and_says_how_many(tmp_path):
    data = _folder(tmp_path / "d", UNNAMED)
    with pytest.raises(MalariaLabError, match=r"12 of 12 images have no patient id.*--patients FILE"):
        split_dataset(data)
    rows = split_dataset(data, by="image")
    assert {r.patient for r in rows} == {""}
    leak = check_leakage(rows, hashes=False)
    assert not leak.ok and leak.unknown_patients == 12 and "cannot be checked" in leak.summary()
    assert "No leakage" not in leak.summary()


def test_a_file_patient_csv_gives_the_patients(tmp_path):
    data = _folder(tmp_path / "d", UNNAMED)
    mapping = tmp_path / "patients.csv"
    mapping.write_text("file,patient\n" + "".join(f"{n},P{int(n[1]) % 3}\n" for _, n in UNNAMED))
    refs = find_images(data, patients=mapping)
    assert all(r.patient_known for r in refs) and {r.patient for r in refs} == {"P0", "P1", "P2"}
    rows = split_by_patient(refs, seed=0)
    assert check_leakage(rows, hashes=False).ok
    assert {r.patient for r in split_dataset(data, patients=[mapping])} == {"P0", "P1", "P2"}


def test_class_column_and_folders_in_file_names_are_understood(tmp_path):
    data = _folder(tmp_path / "d", [("Parasitized", "a.png"), ("Uninfected", "a.png")])
    mapping = tmp_path / "m.csv"
    mapping.write_text("Class,File,Patient\nParasitized,cell_images/Parasitized/a.png,P1\n"
                       "uninfected,C:\\data\\a.png,P2\n")
    refs = find_images(data, patients=mapping)
    assert [(r.label, r.patient) for r in refs] == [("Parasitized", "P1"), ("Uninfected", "P2")]


def test_nih_mapping_format_with_its_list_spread_over_fields(tmp_path):
    names = [("Parasitized", "C1P1ThinF_IMG_1_cell_1.png"), ("Parasitized", "C47P8a_IMG_1_cell_2.png"),
             ("Uninfected", "C1P1ThinF_IMG_1_cell_3.png"), ("Uninfected", "x.png")]
    data = _folder(tmp_path / "d", names)
    maps = tmp_path / "maps"
    maps.mkdir()
    (maps / "patientid_cellmapping_parasitized.csv").write_text(
        "C1P1,['C1P1ThinF_IMG_1_cell_1.png'],,,\n"
        "C47P8thinOriginalOlympusCX21,['C47P8a_IMG_1_cell_2.png', 'other.png'],,\n")
    (maps / "patientid_cellmapping_uninfected.csv").write_text(
        "C1P1,\"['C1P1ThinF_IMG_1_cell_3.png', 'x.png']\"\n")
    refs = find_images(data, patients=maps)  # the folder holding both files
    assert [r.patient for r in refs] == ["C1P1", "C47P8", "C1P1", "C1P1"]
    assert all(r.patient_known for r in refs)


def test_images_missing_from_a_mapping_have_no_patient(tmp_path):
    data = _folder(tmp_path / "d", [("Parasitized", "C1P1ThinF_IMG_1_cell_1.png"),
                                    ("Uninfected", "C2P2ThinF_IMG_1_cell_2.png")])
    mapping = tmp_path / "m.csv"
    mapping.write_text("file,patient\nC1P1ThinF_IMG_1_cell_1.png,A\n")
    refs = find_images(data, patients=mapping)
    assert [(r.patient_known, r.mapped) for r in refs] == [(True, "A"), (False, "")]
    with pytest.raises(MalariaLabError, match="1 of 2 images have no patient id.*not in the patient mapping"):
        split_by_patient(refs)


@pytest.mark.parametrize("content, words", [
    ("", "is empty"),
    ("a,b\n1,2\n", "no file and patient columns"),
    ("file,patient\nx.png,\n", "line 2: the file or the patient is empty"),
    ("file,patient\nx.png,A\nx.png,B\n", "x.png is given to patient 'A' and to 'B'"),
    ("file,patient,class\nx.png,A,Healthy\n", "class 'Healthy' is not one of"),
    ("C1,[broken\n", "line 1: expected a patient id"),
    ("C1,['a.png', 3]\n", "line 1: expected a patient id"),
])
def test_bad_mappings_are_clear_errors(tmp_path, content, words):
    mapping = tmp_path / "m.csv"
    mapping.write_text(content)
    with pytest.raises(MalariaLabError, match=words.replace("(", r"\(").replace(")", r"\)")):
        read_mapping(mapping)


def test_a_mapping_that_sits_with_the_data_is_found(tmp_path):
    data = _folder(tmp_path / "d", [("Parasitized", "a.png"), ("Uninfected", "b.png")])
    assert find_mapping(data) == [] and find_images(data, patients="auto")[0].mapped is None
    (data / "patients.csv").write_text("file,patient\na.png,P1\nb.png,P2\n")
    assert find_mapping(data) == [data / "patients.csv"]
    assert [r.patient for r in find_images(data, patients="auto")] == ["P1", "P2"]
    archive = tmp_path / "cells.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("cell_images/Parasitized/a.png", b"a")
        z.writestr("cell_images/Uninfected/b.png", b"b")
    (tmp_path / "cells-patients.csv").write_text("class,file,patient\nParasitized,a.png,Q1\nUninfected,b.png,Q2\n")
    assert [r.patient for r in find_images(archive, patients="auto")] == ["Q1", "Q2"]


def test_image_split_keeps_known_patients_and_marks_unknown_ones(tmp_path):
    refs = [ImageRef(f"/x/{label}/C{i}P{i}ThinF_IMG_1_cell_{i}.png", label)
            for i, label in enumerate(["Parasitized", "Uninfected"] * 6)]
    rows = split_by_image(refs + [ImageRef("/x/Uninfected/anon.png", "Uninfected")], seed=0)
    assert sum(r.patient == "" for r in rows) == 1 and all(r.patient for r in rows[:-1])

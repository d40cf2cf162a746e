"""``malaria-lab course collect``: bulk downloads in each LMS's naming go in, every student's
notebook lands at ``submitted/<student>/<stage>/<stage>.ipynb`` whatever Colab or the LMS called
it, and every file of the download is named in the table, imported or not and why.

Where each naming comes from:

* Canvas ``lastnamefirstname[_late]_<user id>_<file id>_<uploaded name>``: the README of
  mikewesthad/canvas-unzipper (``smithbob_340934_208490284_BobsWork.zip``), the ``_LATE`` part in
  HCI-Data-Analysis/HCI-data-analysis ``scripts/convert_zip_file/convert_zip_file_id.md``
  (``name_LATE_canvasid_number_assignment``), and issue #25 (``-N`` for a file uploaded again).
* Moodle ``<Full Name>_<participant id>_assignsubmission_file_<uploaded name>``: Moodle's own
  test ``mod/assign/feedback/file/tests/importzip_test.php`` ("Submissions are identified with the
  format: StudentName_StudentID_PluginType_Plugin_FilePathAndName", the id being
  ``get_uniqueid_for_user``), and gondree/canvas-offline-grading ``moodle_submissions.py``.
* Blackboard ``<assignment>_<username>_attempt_<YYYY-MM-DD-HH-MM-SS>_<uploaded name>`` and its
  ``.txt`` receipt: nbgrader's docs (``managing_assignment_files_manually.ipynb``, the archive
  ``ps1_hacker_attempt_2016-01-30-16-30-10_problem1.ipynb``) and
  Zohair-coder/CS270-grading-assistant ``unzip.py`` (the receipt's ``Name: ... (username)``).
* Brightspace ``<id>-<id> - <Full Name> - <Mon D, YYYY HMM AM> - <uploaded name>``, or that prefix
  as a folder: cgmb/d2lmf ``d2lmf.py`` (``parse_submission_dirname``: "<id_number> - <student_name> -
  <timestamp>", and its README's download ``Assignment 1 Download Oct 11, 2015 803 PM.zip``, a time
  without a colon), and a public Brightspace-Dropbox parser's ``(?P<student_id>\\d+)-(?P<dp_id>\\d+)
  - (?P<student_name>...) - (?P<date_time>...) - (?P<filename>.+)`` for the flat form.
"""

import json
import os
import zipfile
from datetime import datetime
from unittest import mock

import pytest
from cli_helpers import assert_refused, cli
from lms_downloads import (
    colab,
    course_folder,
    files,
    foreign,
    notebook,
    students_in_gradebook,
    with_alembic,
    zip_of,
    zipped,
)

from malaria_lab.instructor.collect import Outcome, collect
from malaria_lab.instructor.collect_archive import Limits
from malaria_lab.instructor.collect_names import Lms, parse_name

CANVAS_ROSTER = ('Student,ID,SIS User ID,SIS Login ID,Section,02_split (3301)\n'
                 '    Points Possible,,,,,8.00\n'
                 '"Smith, Alice",101,S001,alice,Sec 1,\n"Jones, Bob",102,S002,bob,Sec 1,\n'
                 '"Lee, Carol",103,S003,carol,Sec 1,\n"Kim, Eve",106,S006,eve,Sec 1,\n"Student, Test",104,,,Sec 1,\n')


def rows(result):
    return {r.file: r for r in result.rows}


def line_of(stdout, name):
    found = [line for line in stdout.splitlines() if f" {name}: " in line or line.endswith(f" {name}")]
    assert len(found) == 1, (name, stdout)
    return found[0].strip()


@pytest.fixture
def gradebook_env():
    with mock.patch.dict(os.environ, with_alembic()):
        yield


@pytest.fixture
def canvas(tmp_path):
    """A Canvas download of a class's Colab notebooks, with every kind of trouble in it."""
    course = course_folder(tmp_path / "course")
    (tmp_path / "roster.csv").write_text(CANVAS_ROSTER, encoding="utf-8")
    handins = {
        "smithalice_101_5001_Copy of 02_split.ipynb": colab(notebook()),  # Colab's copy
        "jonesbob_late_102_5002_02_split (1).ipynb": notebook(answers="untouched"),  # a browser's (1)
        "jonesbob_late_102_5010_02_split-1.ipynb": notebook(answers={"q1": ("mistake", 0)}),  # uploaded again
        "jonesbob_102_5012_Untitled.ipynb": notebook("03_augment"),  # another stage, found by content
        "leecarol_103_5003_Untitled3.ipynb": notebook(answers={"q3": "untouched"}),
        "kimeve_106_5011_eve_work.zip": zipped([("work/02_split.ipynb", notebook())]),  # her own zip
        "wudan_105_5004_02_split.ipynb": notebook(),  # not in the roster
        "smithalice_101_5005_homework3.ipynb": foreign(),  # another course's notebook
        "leecarol_103_5006_02_split.ipynb": notebook()[:500],  # cut short
        "leecarol_103_5007_notes.pdf": b"%PDF-1.5\n...",
        "../../outside.ipynb": notebook(),  # zip-slip
        "/tmp/absolute.ipynb": notebook(),
        "smithalice_101_5008_link.ipynb": None,  # a symbolic link
        "__MACOSX/._smithalice_101_5001_Copy of 02_split.ipynb": b"\x00\x05\x16\x07",
    }
    download = zip_of(tmp_path / "submissions.zip", list(handins.items()))
    return course, download, tmp_path / "roster.csv", handins


def test_a_canvas_download_lands_every_student_whatever_the_files_are_called(canvas, tmp_path):
    course, download, roster, handins = canvas
    done = cli("course", "collect", download, course, "--roster", roster, cwd=tmp_path, env=with_alembic())
    assert done.returncode == 1, done.stdout + done.stderr  # some files were not imported
    out = done.stdout
    submitted = course / "submitted"
    for where, name in (("alice/02_split", "smithalice_101_5001_Copy of 02_split.ipynb"),
                        ("bob/02_split", "jonesbob_late_102_5010_02_split-1.ipynb"),
                        ("bob/03_augment", "jonesbob_102_5012_Untitled.ipynb"),
                        ("carol/02_split", "leecarol_103_5003_Untitled3.ipynb")):
        assert (submitted / where / f"{where.split('/')[1]}.ipynb").read_bytes() == handins[name], where
    assert (submitted / "eve/02_split/02_split.ipynb").read_bytes() == notebook()
    landed = sorted(p.relative_to(submitted).as_posix() for p in submitted.rglob("*.ipynb"))
    assert landed == ["alice/02_split/02_split.ipynb", "bob/02_split/02_split.ipynb",
                      "bob/03_augment/03_augment.ipynb", "carol/02_split/02_split.ipynb", "eve/02_split/02_split.ipynb"]
    # Canvas names carry no time: no timestamp.txt; _late is kept as a flag.
    assert not list(submitted.rglob("timestamp.txt"))
    bob = json.loads((submitted / "bob/02_split/collected.json").read_text())
    assert bob["late"] is True and bob["lms"] == "canvas" and bob["file"] == "jonesbob_late_102_5010_02_split-1.ipynb"
    assert json.loads((submitted / "alice/02_split/collected.json").read_text())["late"] is False
    # Every file of the download is in the table, once, with what became of it.
    expect = {
        "smithalice_101_5001_Copy of 02_split.ipynb": ("imported", "submitted/alice/02_split/02_split.ipynb"),
        "jonesbob_late_102_5010_02_split-1.ipynb": ("imported", "(late)"),
        "jonesbob_late_102_5002_02_split (1).ipynb": ("older hand-in", "_5010_02_split-1.ipynb was taken"),
        "jonesbob_102_5012_Untitled.ipynb": ("imported", "submitted/bob/03_augment/03_augment.ipynb"),
        "leecarol_103_5003_Untitled3.ipynb": ("imported", "submitted/carol/02_split/02_split.ipynb"),
        "kimeve_106_5011_eve_work.zip/work/02_split.ipynb": ("imported", "submitted/eve/02_split"),
        "wudan_105_5004_02_split.ipynb": ("NOT imported", "unknown student"),
        "smithalice_101_5005_homework3.ipynb": ("NOT imported", "a notebook of no stage of this course"),
        "leecarol_103_5006_02_split.ipynb": ("NOT imported", "damaged JSON"),
        "leecarol_103_5007_notes.pdf": ("NOT imported", "not a notebook"),
        "../../outside.ipynb": ("NOT imported", "a zip entry that would escape the folder"),
        "/tmp/absolute.ipynb": ("NOT imported", "a zip entry that would escape the folder"),
        "smithalice_101_5008_link.ipynb": ("NOT imported", "a symbolic link"),
        "__MACOSX/._smithalice_101_5001_Copy of 02_split.ipynb": ("ignored", "folder metadata"),
    }
    for name, (outcome, words) in expect.items():
        line = line_of(out, name)
        assert line.startswith(outcome) and words in line, line
    assert "5 imported, 1 older hand-in, 1 ignored. 7 file(s) NOT imported" in out
    # Nothing escaped: no file outside submitted/ and the gradebook, nothing named outside.ipynb anywhere.
    assert not list(tmp_path.rglob("outside.ipynb")) and not list(tmp_path.rglob("absolute.ipynb"))
    assert {p.name for p in course.iterdir()} - {"source", "release", "nbgrader_config.py"} == {
        "submitted", "gradebook.db", "lms_roster.json"}
    # The students, with their names and Canvas ids, through nbgrader's own API.
    with mock.patch.dict(os.environ, with_alembic()):
        people = students_in_gradebook(course)
    assert people == {"alice": ("Alice", "Smith", None, "101"), "bob": ("Bob", "Jones", None, "102"),
                      "carol": ("Carol", "Lee", None, "103"), "eve": ("Eve", "Kim", None, "106")}
    assert "roster line 7 (Test Student): no id" in out
    kept = json.loads((course / "lms_roster.json").read_text())
    assert kept["alice"] == {"first_name": "Alice", "last_name": "Smith", "lms_user_id": "101", "username": "alice",
                             "sis_user_id": "S001", "lms": "canvas"}


def test_collecting_again_changes_nothing_and_never_overwrites_without_force(canvas, tmp_path, gradebook_env):
    course, download, roster, _ = canvas
    collect(course, download, roster=roster)
    before = files(course / "submitted")
    again = rows(collect(course, download, roster=roster))
    assert again["smithalice_101_5001_Copy of 02_split.ipynb"].outcome is Outcome.UNCHANGED
    assert files(course / "submitted") == before
    # A later download: alice handed in again.
    newer = notebook(answers={"q2": "untouched"})
    later = zip_of(tmp_path / "later.zip", [("smithalice_101_6001_02_split.ipynb", newer)])
    kept = collect(course, later, roster=roster)
    row = rows(kept)["smithalice_101_6001_02_split.ipynb"]
    assert kept.failed == [row] and row.outcome is Outcome.KEPT and "--force replaces it" in row.detail
    assert files(course / "submitted") == before
    forced = cli("course", "collect", later, course, "--roster", roster, "--force", cwd=tmp_path, env=with_alembic())
    assert forced.returncode == 0, forced.stdout + forced.stderr  # everything was imported
    assert line_of(forced.stdout, "smithalice_101_6001_02_split.ipynb").startswith("replaced")
    assert (course / "submitted/alice/02_split/02_split.ipynb").read_bytes() == newer
    origin = json.loads((course / "submitted/alice/02_split/collected.json").read_text())
    assert origin["file"] == "smithalice_101_6001_02_split.ipynb"
    after = files(course / "submitted")
    assert {k: v for k, v in after.items() if not k.startswith("alice/")} == {
        k: v for k, v in before.items() if not k.startswith("alice/")}


def test_moodle_folders_or_flat_by_participant_number(tmp_path, gradebook_env):
    course = course_folder(tmp_path / "course")
    roster = tmp_path / "worksheet.csv"  # Moodle's grading worksheet (Download grading worksheet)
    roster.write_text("Identifier,Full name,Email address,Status,Grade,Maximum Grade\n"
                      "Participant 3001,Alice Smith,alice@uni.example,Submitted for grading,,8.00\n"
                      "Participant 3002,Bob Jones,bob@uni.example,Submitted for grading,,8.00\n"
                      "Participant 3003,Carol Lee,carol@uni.example,Submitted for grading,,8.00\n", encoding="utf-8")
    folders = zip_of(tmp_path / "folders.zip", [
        ("Alice Smith_3001_assignsubmission_file_/Copy of 02_split.ipynb", notebook()),
        ("Bob Jones_3002_assignsubmission_file_/02_split.ipynb", notebook(answers="untouched")),
        ("Bob Jones_3002_assignsubmission_file_/02_split (1).ipynb", notebook()),
        ("Bob Jones_3002_assignsubmission_onlinetext_/onlinetext.html", b"<p>see the notebook</p>"),
    ])
    result = collect(course, folders, roster=roster)
    assert result.lms is Lms.MOODLE
    got = rows(result)
    assert got["Alice Smith_3001_assignsubmission_file_/Copy of 02_split.ipynb"].outcome is Outcome.IMPORTED
    # Two different notebooks of one stage, and nothing says which is newer: neither is guessed.
    for name in ("02_split.ipynb", "02_split (1).ipynb"):
        row = got[f"Bob Jones_3002_assignsubmission_file_/{name}"]
        assert row.outcome is Outcome.NOT_IMPORTED and "put the right one in submitted/ by hand" in row.detail
    assert got["Bob Jones_3002_assignsubmission_onlinetext_/onlinetext.html"].detail == "not a notebook"
    assert not (course / "submitted" / "bob@uni.example").exists()
    flat = zip_of(tmp_path / "flat.zip", [("Carol Lee_3003_assignsubmission_file_Untitled3.ipynb", notebook()),
                                          ("random.ipynb", notebook())])
    result = collect(course, flat, roster=roster, lms="moodle")
    got = rows(result)
    assert got["Carol Lee_3003_assignsubmission_file_Untitled3.ipynb"].student == "carol@uni.example"
    assert got["random.ipynb"].detail == "a name the Moodle pattern does not match"
    assert (course / "submitted/carol@uni.example/02_split/02_split.ipynb").read_bytes() == notebook()
    people = students_in_gradebook(course)
    assert people["alice@uni.example"] == ("Alice", "Smith", "alice@uni.example", None)


def test_blackboard_receipts_name_the_student_and_times_come_from_the_names(tmp_path, gradebook_env):
    course = course_folder(tmp_path / "course")
    receipt = ("Name: Jane Doe (jane_doe)\nAssignment: 02_split\nDate Submitted: Tuesday, 4 March 2025 10:00:00 "
               "o'clock EST\nCurrent Grade: Needs Grading\n\nFiles:\n\tOriginal filename: Copy of 02_split.ipynb\n")
    download = zip_of(tmp_path / "gradebook_02_split.zip", [
        ("02_split_jane_doe_attempt_2025-03-04-10-00-00_Copy of 02_split.ipynb", notebook()),
        ("02_split_jane_doe_attempt_2025-03-04-10-00-00.txt", receipt.encode()),
        ("02_split_bob_attempt_2025-03-04-09-00-00_02_split.ipynb", notebook(answers="untouched")),
        ("02_split_bob_attempt_2025-03-05-09-00-00_02_split.ipynb", notebook()),
    ])
    result = collect(course, download, zone="America/New_York")  # no roster: Blackboard names carry the login
    got = rows(result)
    assert got["02_split_jane_doe_attempt_2025-03-04-10-00-00.txt"].outcome is Outcome.LMS_FILE
    assert got["02_split_jane_doe_attempt_2025-03-04-10-00-00_Copy of 02_split.ipynb"].student == "jane_doe"
    older = got["02_split_bob_attempt_2025-03-04-09-00-00_02_split.ipynb"]
    assert older.outcome is Outcome.OLDER and "the LMS's time" in older.detail
    stamp = (course / "submitted/bob/02_split/timestamp.txt").read_text().strip()
    assert stamp == "2025-03-05 14:00:00.000000 UTC"  # 09:00 in New York
    from nbgrader.utils import parse_utc

    assert str(parse_utc(stamp)) == "2025-03-05 14:00:00"
    assert (course / "submitted/jane_doe/02_split/02_split.ipynb").read_bytes() == notebook()
    assert students_in_gradebook(course) == {"jane_doe": ("Jane", "Doe", None, None), "bob": (None, None, None, None)}


def test_brightspace_flat_or_in_folders_by_name(tmp_path, gradebook_env):
    course = course_folder(tmp_path / "course")
    roster = tmp_path / "grades.csv"  # Brightspace's grade export: usernames and ids start with #
    roster.write_text("OrgDefinedId,Username,Last Name,First Name,Email,02_split Points Grade <Numeric MaxPoints:8>,"
                      "End-of-Line Indicator\n#640693,#arodriguez,Rodriguez,Aiden,aiden@uni.example,,#\n"
                      "#640694,#jsmith,Smith,Jane,jane@uni.example,,#\n", encoding="utf-8")
    download = zip_of(tmp_path / "Stage 2 Download Oct 12, 2025 200 PM.zip", [
        ("02_split/39786-640693 - Aiden Rodriguez - Oct 10, 2025 1022 AM - Copy of 02_split.ipynb",
         notebook(answers="untouched")),
        ("02_split/39790-640693 - Aiden Rodriguez - Oct 12, 2025 110 PM - 02_split.ipynb", notebook()),
        ("02_split/39787-640694 - Jane Smith - Oct 11, 2025 8:01 AM/02_split (1).ipynb", notebook()),
        ("02_split/index.html", b"<html>Brightspace's index</html>"),
    ])
    result = collect(course, download, roster=roster, zone="UTC")
    assert result.lms is Lms.BRIGHTSPACE and not result.failed
    got = rows(result)
    assert got["02_split/index.html"].outcome is Outcome.LMS_FILE
    assert got["02_split/39786-640693 - Aiden Rodriguez - Oct 10, 2025 1022 AM - Copy of 02_split.ipynb"].outcome \
        is Outcome.OLDER
    assert (course / "submitted/arodriguez/02_split/timestamp.txt").read_text() == "2025-10-12 13:10:00.000000 UTC\n"
    assert (course / "submitted/jsmith/02_split/timestamp.txt").read_text() == "2025-10-11 08:01:00.000000 UTC\n"
    assert students_in_gradebook(course)["jsmith"] == ("Jane", "Smith", "jane@uni.example", None)
    assert json.loads((course / "lms_roster.json").read_text())["jsmith"]["sis_user_id"] == "640694"
    # Unzipped on Windows, whose names cannot hold ':', the time is written 8_01 (cgmb/d2lmf's parser says so).
    assert parse_name("39787-640694 - Jane Smith - Oct 11, 2025 8_01 AM", Lms.BRIGHTSPACE).when == datetime(
        2025, 10, 11, 8, 1)


def test_hostile_zips_are_bounded_and_named(tmp_path, gradebook_env):
    course = course_folder(tmp_path / "course")
    roster = tmp_path / "roster.csv"
    roster.write_text(CANVAS_ROSTER, encoding="utf-8")
    deep = zipped([("inner.zip", zipped([("02_split.ipynb", notebook())]))])
    download = zip_of(tmp_path / "hostile.zip", [
        ("smithalice_101_1_bomb.ipynb", b"{" + b" " * 5_000_000 + b"}"),  # 5 MB that packs into kilobytes
        ("smithalice_101_2_big.ipynb", notebook()),
        ("jonesbob_102_3_deep.zip", deep),
        ("leecarol_103_4_bad.zip", b"PK\x03\x04 not really a zip"),
        ("kimeve_106_5_bell\x07.ipynb", notebook()),
    ])
    limits = Limits(notebook=len(notebook()) - 1, depth=1)  # a student's own zip, but no zip inside it
    got = rows(collect(course, download, roster=roster, limits=limits))
    assert got["smithalice_101_1_bomb.ipynb"].detail.startswith("over-compressed")
    assert got["smithalice_101_2_big.ipynb"].detail.startswith("an archive too large to unpack (larger than")
    assert got["jonesbob_102_3_deep.zip/inner.zip"].detail.startswith("zips nested too deeply")
    assert got["leecarol_103_4_bad.zip"].detail.startswith("a damaged zip")
    assert got["kimeve_106_5_bell\\x07.ipynb"].detail == "a name with control characters"
    assert all(r.outcome is Outcome.NOT_IMPORTED for r in got.values())
    assert not (course / "submitted").exists()
    few = rows(collect(course, download, roster=roster, limits=Limits(files=2)))
    assert sum("more than 2 files in all" in r.detail for r in few.values()) == 2  # the 3rd and 4th
    small = rows(collect(course, download, roster=roster, limits=Limits(total=len(notebook()) // 2)))
    assert any("unpacks to more than" in r.detail for r in small.values())


def test_an_unzipped_folder_is_read_without_following_links(tmp_path, gradebook_env):
    course = course_folder(tmp_path / "course")
    roster = tmp_path / "roster.csv"
    roster.write_text(CANVAS_ROSTER, encoding="utf-8")
    folder = tmp_path / "download"
    folder.mkdir()
    (folder / "smithalice_101_1_02_split.ipynb").write_bytes(notebook())
    (folder / "jonesbob_102_2_02_split.ipynb").symlink_to("/etc/passwd")
    (folder / "leecarol_103_3_dir").symlink_to(course, target_is_directory=True)
    os.mkfifo(folder / "kimeve_106_4_02_split.ipynb")
    got = rows(collect(course, folder, roster=roster))
    assert got["smithalice_101_1_02_split.ipynb"].outcome is Outcome.IMPORTED
    assert got["jonesbob_102_2_02_split.ipynb"].detail.startswith("a symbolic link")
    assert got["leecarol_103_3_dir"].detail.startswith("a symbolic link")
    assert got["kimeve_106_4_02_split.ipynb"].detail == "not a regular file"
    assert sorted(p.name for p in (course / "submitted").iterdir()) == ["alice"]


@pytest.mark.parametrize("args, words", [
    (["--lms", "canvas"], "Give --roster"),
    (["--roster", "ROSTER", "--timezone", "Mars/Olympus"], "No time zone 'Mars/Olympus'"),
    (["--roster", "NO_IDS"], "has no column that gives students' ids"),
    (["--roster", "TWICE"], "Roster lines 2 and 3 both give the id 'alice'"),
])
def test_bad_input_is_one_line_and_writes_nothing(canvas, tmp_path, args, words):
    course, download, roster, _ = canvas
    (tmp_path / "no_ids.csv").write_text("Student,Section\n\"Smith, Alice\",1\n")
    (tmp_path / "twice.csv").write_text("Student,SIS Login ID\n\"Smith, Alice\",alice\n\"Smith, Al\",alice\n")
    swap = {"ROSTER": roster, "NO_IDS": tmp_path / "no_ids.csv", "TWICE": tmp_path / "twice.csv"}
    done = cli("course", "collect", download, course, *[swap.get(a, a) for a in args], cwd=tmp_path, env=with_alembic())
    assert_refused(done, "course", words)
    assert not (course / "submitted").exists() and not (course / "gradebook.db").exists()


def test_a_download_that_is_not_one_is_refused(tmp_path):
    course = course_folder(tmp_path / "course")
    (tmp_path / "not.zip").write_text("hello")
    assert_refused(cli("course", "collect", tmp_path / "not.zip", course, cwd=tmp_path), "course", "is not a zip file")
    with zipfile.ZipFile(tmp_path / "other.zip", "w") as zf:
        zf.writestr("week1/answers.ipynb", notebook())
    assert_refused(cli("course", "collect", tmp_path / "other.zip", course, cwd=tmp_path), "course", "Give --lms")
    assert not (course / "submitted").exists()


def test_nothing_is_written_through_a_link_in_submitted(tmp_path, gradebook_env):
    course = course_folder(tmp_path / "course")
    roster = tmp_path / "roster.csv"
    roster.write_text(CANVAS_ROSTER, encoding="utf-8")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (course / "submitted").mkdir()
    (course / "submitted" / "alice").symlink_to(elsewhere, target_is_directory=True)
    download = zip_of(tmp_path / "d.zip", [("smithalice_101_1_02_split.ipynb", notebook()),
                                           ("jonesbob_102_2_02_split.ipynb", notebook())])
    got = rows(collect(course, download, roster=roster))
    assert got["smithalice_101_1_02_split.ipynb"].outcome is Outcome.NOT_IMPORTED
    assert "submitted/alice is a link or not a folder" in got["smithalice_101_1_02_split.ipynb"].detail
    assert got["jonesbob_102_2_02_split.ipynb"].outcome is Outcome.IMPORTED
    assert list(elsewhere.iterdir()) == []


def test_submitted_itself_may_be_a_link_to_another_disk(tmp_path, gradebook_env):
    course = course_folder(tmp_path / "course")
    roster = tmp_path / "roster.csv"
    roster.write_text(CANVAS_ROSTER, encoding="utf-8")
    disk = tmp_path / "big-disk" / "submitted"
    disk.mkdir(parents=True)
    (course / "submitted").symlink_to(disk, target_is_directory=True)  # the instructor's own link
    download = zip_of(tmp_path / "d.zip", [("smithalice_101_1_02_split.ipynb", notebook())])
    result = collect(course, download, roster=roster)
    assert not result.failed, result.rows
    assert (disk / "alice/02_split/02_split.ipynb").read_bytes() == notebook()

"""The class report on a simulated class: 48 students whose records come from the real checks run
on the reference answers, the declared mistakes and untouched cells. Each figure is recomputed here
from the record files themselves (and the LMS file parsed back), not through the report's code."""

import csv
import json
import os
import re
import statistics
import sys
from pathlib import Path
from unittest import mock

import numpy as np
import pytest

from malaria_lab.checks import load_stage
from malaria_lab.cli import main
from malaria_lab.errors import MalariaLabError
from malaria_lab.instructor import records as job_records
from malaria_lab.instructor.report import build_report
from malaria_lab.instructor.report.simulate import CORRECT, Simulator, random_plan, write_class

STAGES = ("01_download", "02_split", "06_evaluate")  # no Keras: fast; 03 to 05 stay ungraded
EASY = ("01_download", "q3")  # planted: every student gets it right
PEOPLE = {"student0001": ("Ada", "Lovelace", "ada@uni.example", "1001"),
          "student0002": ("Alan", "Turing", "alan@uni.example", "1002"),
          "ghost": ("Gus", "Ghost", "gus@uni.example", "1003")}  # in the gradebook, submitted nothing


def _gradebook(course):
    # Making a gradebook runs nbgrader's `alembic`, which must be on PATH.
    from nbgrader.api import Gradebook

    env = {"PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")}
    with mock.patch.dict(os.environ, env), Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        for sid, (first, last, email, lms) in PEOPLE.items():
            gb.add_student(sid, first_name=first, last_name=last, email=email, lms_user_id=lms)


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    root = tmp_path_factory.mktemp("class") / "course"
    plan = random_plan(48, STAGES, seed=3)
    for (_, stage), choices in plan.items():
        if stage == EASY[0] and isinstance(choices, dict):
            choices[EASY[1]] = CORRECT
    plan[("ann.lee", "02_split")] = {"q1": ("mistake", 0)}
    write_class(root, plan)
    path = root / "grading/jobs/02_split/ann.lee.json"  # an answer naming its author
    rec = json.loads(path.read_text())
    rec["exercises"][0]["answer"] += "# ann.lee's answer (Ann.Lee)\n"
    path.write_text(json.dumps(rec))
    (root / "grading/jobs/05_train").mkdir()  # a stage with no valid record
    (root / "grading/jobs/05_train/student0004.json").write_text("{not json")
    (root / "grading/jobs/02_split/student0999.json").write_text(
        json.dumps(dict(rec, student="student0999", score=float("nan"))))
    (root / "nbgrader_config.py").write_text("")
    (root / "feedback/student0001/02_split").mkdir(parents=True)
    (root / "feedback/student0001/02_split/02_split.html").write_text("<p>feedback</p>")
    _gradebook(root)
    return root, plan


@pytest.fixture(scope="module")
def report(course, tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    (out / "mine.txt").write_text("the instructor's own file")
    return build_report(course[0], out, stages=STAGES + ("03_augment", "05_train"))


def records(root):
    """{(stage, student): record} read straight from the files that parse."""
    out = {}
    for path in sorted((root / "grading/jobs").glob("*/*.json")):
        try:
            rec = json.loads(path.read_text())
        except ValueError:
            continue
        if rec["status"] == "graded" and rec["score"] == rec["score"]:  # NaN is not equal to itself
            out[(rec["stage"], rec["student"])] = rec
        elif rec["status"] == "failed":
            out[(rec["stage"], rec["student"])] = rec
    return out


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def points_of(rec, ex_id):
    return next(e["points"] for e in rec["exercises"] if e["id"] == ex_id)


def test_exercise_figures_are_those_of_the_records(course, report):
    recs = records(course[0])
    rows = {(r["stage"], r["exercise"]): r for r in read_csv(report.out_dir / "exercises.csv")}
    assert set(rows) == {(s, ex.id) for s in STAGES + ("03_augment", "05_train") for ex in load_stage(s)}
    for stage in STAGES:
        graded = [r for (s, _), r in recs.items() if s == stage and r["status"] == "graded"]
        for ex in load_stage(stage):
            row, pts = rows[(stage, ex.id)], np.array([points_of(r, ex.id) for r in graded])
            status = [next(e["status"] for e in r["exercises"] if e["id"] == ex.id) for r in graded]
            attempted = np.array([s != "not attempted" for s in status])
            assert int(row["students"]) == len(graded)
            assert int(row["full"]) == int(np.sum(pts == ex.points))
            assert int(row["partial"]) == int(np.sum((pts > 0) & (pts < ex.points)))
            assert int(row["zero"]) == int(np.sum((pts == 0) & attempted))
            assert int(row["not_attempted"]) == int(np.sum(~attempted))
            assert float(row["mean"]) == pytest.approx(pts.mean(), abs=1e-3)
            assert float(row["median"]) == pytest.approx(np.median(pts), abs=1e-3)
            rest = np.array([r["score"] for r in graded]) - pts
            if pts.std() > 0:
                assert float(row["discrimination"]) == pytest.approx(np.corrcoef(pts, rest)[0, 1], abs=1e-3)
    assert all(rows[("05_train", ex.id)]["students"] == "0" for ex in load_stage("05_train"))


def test_an_exercise_everyone_gets_right_is_flagged(report):
    rows = {(r["stage"], r["exercise"]): r for r in read_csv(report.out_dir / "exercises.csv")}
    easy = rows[EASY]
    assert easy["share_full"] == "1"
    assert easy["discrimination"] == "" and easy["discrimination_note"] == "undefined: everyone scored the same"
    assert set(easy["flags"].split("; ")) == {"too easy", "does not discriminate"}
    others = [r for k, r in rows.items() if k[0] in STAGES and k != EASY]
    assert all("too easy" not in r["flags"] for r in others)  # the random answers are right 30 to 95% of times
    assert all(r["discrimination"] for r in others)


def test_the_wrong_answer_groups_are_the_planted_mistakes(course, report):
    _, plan = course
    recs = records(course[0])
    groups = {}
    for r in read_csv(report.out_dir / "wrong_answers.csv"):
        groups.setdefault((r["stage"], r["exercise"]), []).append(r)
    for stage in STAGES:
        for ex in load_stage(stage):
            planted = {}
            for (student, s), choices in plan.items():
                graded = recs.get((s, student), {}).get("status") == "graded"
                if s == stage and graded and isinstance(choices, dict) and isinstance(choices.get(ex.id), tuple):
                    planted.setdefault(choices[ex.id][1], set()).add(student)
            found = groups.get((stage, ex.id), [])
            sizes = [int(g["students"]) for g in found]
            assert sizes == sorted(sizes, reverse=True), "largest groups first"
            members = [set(g["student_ids"].split()) for g in found]
            for k, students in planted.items():
                [group] = [g for g, m in zip(found, members) if students <= m]
                assert ex.mistakes[k][1].lower() in group["message"].lower()
            for m in members:  # each group is whole planted mistakes, nothing else
                assert m == set().union(*(s for s in planted.values() if s & m))
            assert sum(sizes) == sum(len(s) for s in planted.values())


def test_checks_count_the_students_who_failed_them(course, report):
    recs = records(course[0])
    for row in read_csv(report.out_dir / "checks.csv"):
        if row["stage"] not in STAGES:
            continue
        outcomes = [c["outcome"] for (s, _), r in recs.items() if s == row["stage"] and r["status"] == "graded"
                    for e in r["exercises"] if e["id"] == row["exercise"]
                    for c in e["checks"] if c["what"] == row["check"]]
        assert int(row["failed"]) == outcomes.count("wrong")
        assert int(row["students_checked"]) == len(outcomes)


def test_canvas_csv_has_canvas_layout_and_the_grades(course, report):
    recs = records(course[0])
    with open(report.out_dir / "canvas.csv", newline="", encoding="utf-8") as handle:
        header, possible, *rows = list(csv.reader(handle))
    assert header == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", *STAGES]
    assert possible[0].strip() == "Points Possible"
    assert [float(x) for x in possible[5:]] == [load_stage(s).points for s in STAGES]
    by_id = {r[2]: r for r in rows}
    students = {student for _, student in recs} | set(PEOPLE)
    assert set(by_id) == students and len(rows) == len(students)
    for sid, row in by_id.items():
        assert row[3] == sid
        for stage, cell in zip(STAGES, row[5:]):
            rec = recs.get((stage, sid))
            if rec and rec["status"] == "graded":
                assert float(cell) == pytest.approx(rec["score"], abs=0.005)
            else:
                assert cell == ""
    assert by_id["student0001"][:2] == ["Lovelace, Ada", "1001"]
    assert by_id["ghost"][5:] == ["", "", ""]
    assert by_id["student0010"][:2] == ["student0010", ""]


def test_generic_lms_file_is_a_plain_table(course, tmp_path):
    report = build_report(course[0], tmp_path, stages=STAGES, lms="generic")
    rows = read_csv(tmp_path / "grades.csv")
    assert list(rows[0]) == ["Username", "Last Name", "First Name", "Email", *STAGES]
    ada = next(r for r in rows if r["Username"] == "student0001")
    assert (ada["Last Name"], ada["Email"]) == ("Lovelace", "ada@uni.example")
    assert not (tmp_path / "canvas.csv").exists() and tmp_path / "grades.csv" in report.files


def test_students_table_totals_and_what_is_missing(course, report):
    recs = records(course[0])
    rows = {r["student"]: r for r in read_csv(report.out_dir / "students.csv")}
    for sid, row in rows.items():
        graded = [r for (s, st), r in recs.items() if st == sid and r["status"] == "graded" and s in STAGES]
        assert float(row["total"]) == pytest.approx(sum(r["score"] for r in graded), abs=1e-3)
        for stage in STAGES:
            if (stage, sid) not in recs:
                assert f"{stage}: not submitted" in row["missing"]
    assert rows["ghost"]["missing"].startswith("submitted nothing")
    assert rows["student0001"]["name"] == "Ada Lovelace"


def test_the_page_says_what_is_missing_instead_of_empty_plots(course, report):
    page = (report.out_dir / "index.html").read_text()
    assert "03_augment: not graded yet" in page and "no folder grading/jobs/03_augment" in page
    assert "grading/jobs/05_train holds no valid record" in page
    assert "1 of 50 students submitted nothing at all" in page
    assert len(re.findall(r'<img src="data:image/png;base64,', page)) == 1 + 2 * len(STAGES)
    assert "<script src" not in page and "http" not in page.replace('lang="en"', "")  # nothing to fetch
    skipped = {Path(p).name for p, _ in report.skipped}
    assert skipped == {"student0999.json", "student0004.json"}
    assert "grading/jobs/02_split/student0999.json" in page and "score should be a finite number" in page
    for path in report.files:
        # a figure that is NaN (a check's text may say "nan"): a whole cell or attribute
        assert not re.search(r'(^|[>,"=])\s*-?(nan|inf)\s*($|[<,"])', path.read_text(), re.I | re.M), path
    assert (report.out_dir / "mine.txt").read_text() == "the instructor's own file"


def test_feedback_links_lead_to_the_feedback(course, report):
    page = (report.out_dir / "index.html").read_text()
    [href] = re.findall(r'<a href="([^"]*02_split\.html)">', page)
    assert (report.out_dir / href).resolve() == (course[0] / "feedback/student0001/02_split/02_split.html").resolve()
    assert "no feedback file at feedback/student0002/02_split/02_split.html" in page


def test_an_anonymised_report_holds_no_identity_and_stable_pseudonyms(course, tmp_path):
    root, _ = course
    first = build_report(root, tmp_path / "a", stages=STAGES, anonymise=True)
    build_report(root, tmp_path / "b", stages=STAGES, anonymise=True)
    ids = {p.stem for p in (root / "grading/jobs").glob("*/*.json")} | set(PEOPLE)
    secrets = ids | {w for person in PEOPLE.values() for w in person}
    for path in first.files:
        text = path.read_text().lower()
        assert [s for s in secrets if re.search(rf"(?<![a-z0-9_]){re.escape(s.lower())}(?![a-z0-9_])", text)] == []
    for name in ("index.html", "students.csv", "canvas.csv", "wrong_answers.csv"):
        assert (tmp_path / "a" / name).read_text() == (tmp_path / "b" / name).read_text()
    assert (root / "grading/pseudonyms.key").stat().st_mode & 0o077 == 0
    pseudonyms = {r["student"] for r in read_csv(tmp_path / "a/students.csv")}
    assert len(pseudonyms) == len(ids - {"student0004"}) and all(p.startswith("student-") for p in pseudonyms)
    page = (tmp_path / "a/index.html").read_text()
    assert "Feedback links are left out" in page
    assert re.search(r"# (student-[0-9a-f]{8})&#x27;s answer \(\1\)", page)  # the example kept, its author not


def test_command_line(course, tmp_path, capsys):
    root, _ = course
    assert main(["course", "report", str(root), "--out", str(tmp_path / "r"), "--stage", "02_split"]) == 0
    out, err = capsys.readouterr()
    assert "skipped" in err and "student0999.json" in err and "student0004.json" not in err
    assert f"wrote {tmp_path / 'r' / 'index.html'}" in out
    (tmp_path / "file").write_text("")
    for argv in (["--out", str(tmp_path / "file")], ["--out", str(tmp_path / "r"), "--stage", "07_deploy"]):
        assert main(["course", "report", str(root), *argv]) == 2
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "nbgrader_config.py").write_text("")
    assert main(["course", "report", str(empty), "--out", str(tmp_path / "r")]) == 2
    assert "No grading records" in capsys.readouterr().err
    with pytest.raises(MalariaLabError, match="No LMS layout"):
        build_report(root, tmp_path / "r", lms="blackboard")


def test_simulated_entries_are_what_the_checks_say():
    sim, ex = Simulator(), load_stage("02_split")["q3"]
    entry = sim.entry("02_split", "q3", ("mistake", 1))
    ns = {"__name__": "__main__"}
    exec(load_stage("02_split").prelude, ns)
    exec(ex.with_answer(ex.mistakes[1][0]), ns)
    assert entry == dict(ex.run(namespace=ns, hidden=True).to_dict(), answer=ex.with_answer(ex.mistakes[1][0]))
    with mock.patch.object(type(ex), "run", side_effect=AssertionError("ran again")):
        assert sim.entry("02_split", "q3", ("mistake", 1)) == entry
    rec = sim.record("x", "02_split", {"q3": ("mistake", 1), "q1": "not attempted"})
    assert rec["score"] == pytest.approx(statistics.fsum(e["points"] for e in rec["exercises"]))
    assert [e["status"] for e in rec["exercises"]] == ["not attempted", "correct", "wrong"]


def test_untrusted_record_text_stays_text(tmp_path):
    sim, root = Simulator(), tmp_path / "course"
    rec = sim.record("eve", "02_split", {"q1": ("mistake", 0)})
    rec["exercises"][0]["message"] = "=HYPERLINK(\"http://x.example\")<script>alert(1)</script>"
    rec["feedback"] = "../../outside.html"
    (tmp_path / "outside.html").write_text("not the course's")
    job_records.write(root, rec)
    job_records.write(root, sim.record("bob", "01_download", problem="timed out in cell q1_answer after 120 s"))
    report = build_report(root, tmp_path / "out")
    [group] = [r for r in read_csv(tmp_path / "out/wrong_answers.csv") if r["exercise"] == "q1"]
    assert group["message"].startswith("'=HYPERLINK")
    page = (tmp_path / "out/index.html").read_text()
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)" in page
    assert "outside.html" not in "".join(re.findall(r'href="([^"]*)"', page))
    assert "the record&#x27;s feedback path lies outside the course folder" in page
    assert "No submission of this stage could be graded" in page  # 01_download: one failed record
    assert len(re.findall(r"<img ", page)) == 1 + 2  # the glance, and 02_split's two plots
    assert report.skipped == []

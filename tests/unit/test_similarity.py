"""Answers to look at: a class with planted copies (verbatim, renamed, re-commented, reordered, the
published solution pasted) among independently written correct answers, written here and checked
to pass every check. The report must name every planted pair and no honest one."""

import csv
import json
import re
import textwrap

import pytest

from malaria_lab.checks import STAGES, load_stage
from malaria_lab.instructor import records as job_records
from malaria_lab.instructor.report import build_report, similarity, variants
from malaria_lab.instructor.report.simulate import Simulator

# Three correct answers to each of two larger exercises, written for this test, independently of
# the published solution, of the variants the report is calibrated on, and of each other.
HONEST = {
    ("02_split", "q3"): [
        '''\
        members = defaultdict(list)
        for ref in images:
            members[ref.patient].append(ref.label)
        ids = sorted(members)
        gen = np.random.default_rng(seed)
        n_total = sum(len(v) for v in members.values())
        limits = (fractions[0] * n_total, (fractions[0] + fractions[1]) * n_total)
        for trial in range(50):
            perm = gen.permutation(len(ids))
            answer, placed = {}, 0
            for rank, k in enumerate(perm):
                pid = ids[k]
                rest = len(ids) - rank
                if rest > 2 and placed < limits[0]:
                    choice = "train"
                elif "val" not in answer.values() or (rest > 1 and placed < limits[1]):
                    choice = "val"
                else:
                    choice = "test"
                answer[pid] = choice
                placed += len(members[pid])
            seen = {"train": set(), "val": set(), "test": set()}
            for pid, choice in answer.items():
                seen[choice].update(members[pid])
            if min(len(s) for s in seen.values()) == 2:
                break
        return answer
        ''',
        '''\
        import random
        table = {}
        for img in images:
            entry = table.setdefault(img.patient, {"n": 0, "labels": set()})
            entry["n"] += 1
            entry["labels"].add(img.label)
        keys = sorted(table)
        r = random.Random(seed)
        N = len(images)

        def attempt():
            order = keys[:]
            r.shuffle(order)
            out, done = {}, 0
            for j, key in enumerate(order):
                if done < fractions[0] * N and j < len(order) - 2:
                    out[key] = "train"
                elif (done < (fractions[0] + fractions[1]) * N and j < len(order) - 1) or "val" not in out.values():
                    out[key] = "val"
                else:
                    out[key] = "test"
                done += table[key]["n"]
            return out

        def complete(out):
            for part in ("train", "val", "test"):
                got = set()
                for key, where in out.items():
                    if where == part:
                        got |= table[key]["labels"]
                if len(got) < 2:
                    return False
            return True

        result = attempt()
        tries = 1
        while not complete(result) and tries < 100:
            result = attempt()
            tries += 1
        return result
        ''',
        '''\
        sizes = Counter(i.patient for i in images)
        has = defaultdict(set)
        for i in images:
            has[i.patient].add(i.label)
        rng = np.random.default_rng(seed)
        pool = np.array(sorted(sizes))
        targets = np.cumsum(fractions) * len(images)
        final = None
        tries = 0
        while tries < 100:
            tries += 1
            rng.shuffle(pool)
            final = {}
            filled = 0
            for pos in range(len(pool)):
                who = str(pool[pos])
                to_go = len(pool) - pos
                if filled < targets[0] and to_go > 2:
                    final[who] = "train"
                elif "val" not in final.values() or (filled < targets[1] and to_go > 1):
                    final[who] = "val"
                else:
                    final[who] = "test"
                filled += sizes[who]
            classes = {p: set() for p in ("train", "val", "test")}
            for who, p in final.items():
                classes[p] |= has[who]
            if all(len(c) == 2 for c in classes.values()):
                break
        return final
        ''',
    ],
    ("06_evaluate", "q1"): [
        '''\
        hits = {"tp": 0, "fp": 0, "tn": 0, "fn": 0}
        for truth, prob in zip(y_true.tolist(), p.tolist()):
            key = ("t" if (prob >= threshold) == (truth == 1) else "f") + ("p" if prob >= threshold else "n")
            hits[key] += 1
        return hits
        ''',
        '''\
        sick = y_true.astype(bool)
        flagged = np.greater_equal(p, threshold)
        matrix = np.zeros((2, 2), dtype=int)
        np.add.at(matrix, (sick.astype(int), flagged.astype(int)), 1)
        return {"tn": int(matrix[0, 0]), "fp": int(matrix[0, 1]), "fn": int(matrix[1, 0]), "tp": int(matrix[1, 1])}
        ''',
        '''\
        out = dict(tp=0, fp=0, tn=0, fn=0)
        for i in range(len(p)):
            said_yes = bool(p[i] >= threshold)
            is_yes = int(y_true[i]) == 1
            if said_yes:
                out["tp" if is_yes else "fp"] += 1
            else:
                out["fn" if is_yes else "tn"] += 1
        return out
        ''',
    ],
}
HONEST_STUDENTS = ("gina", "hank", "ivan")


def rename(code, names):
    for old, new in names.items():
        code = re.sub(rf"\b{old}\b", new, code)
    return code


def recomment(code):
    """Comments added and changed, blank lines added, the layout of each line kept."""
    lines = [line + ("  # my own step" if i % 3 == 0 else "") for i, line in enumerate(code.splitlines())]
    return "# written from scratch, honestly\n" + "\n\n".join(lines) + "\n# done\n"


PLANTED = {  # (stage, exercise): {student: how the answer was copied from alice's}
    ("02_split", "q3"): {
        "bob": lambda code: code,
        "carol": lambda code: rename(code, {"members": "groups", "ids": "people", "answer": "plan", "pid": "person",
                                            "placed": "so_far", "choice": "bucket"}),
        "dave": recomment,
        "erin": lambda code: code.replace(  # two independent statements swapped
            "gen = np.random.default_rng(seed)\nn_total = sum(len(v) for v in members.values())\n",
            "n_total = sum(len(v) for v in members.values())\ngen = np.random.default_rng(seed)\n"),
    },
    ("06_evaluate", "q1"): {
        "bob": lambda code: code,
        "carol": lambda code: rename(code, {"out": "result", "said_yes": "positive", "is_yes": "infected"}),
        "dave": recomment,
        "erin": lambda code: code.replace(  # the two lines of the loop's body swapped
            "    said_yes = bool(p[i] >= threshold)\n    is_yes = int(y_true[i]) == 1\n",
            "    is_yes = int(y_true[i]) == 1\n    said_yes = bool(p[i] >= threshold)\n"),
    },
}
COPIED_FROM = {("02_split", "q3"): 0, ("06_evaluate", "q1"): 2}  # which honest answer alice wrote


def answers_of(stage, ex_id):
    """{student: answer region} of the planted class for one exercise."""
    honest = [textwrap.dedent(code) for code in HONEST[(stage, ex_id)]]
    alice = honest[COPIED_FROM[(stage, ex_id)]]
    out = {"alice": alice, **{s: copy(alice) for s, copy in PLANTED[(stage, ex_id)].items()}}
    for copy, student in zip(PLANTED[(stage, ex_id)].values(), ("bob", "carol", "dave", "erin")):
        assert student == "bob" or copy(alice) != alice, f"{student}'s copy must differ from alice's"
    others = [code for i, code in enumerate(honest) if i != COPIED_FROM[(stage, ex_id)]]
    out.update(zip(HONEST_STUDENTS, others + variants.of(stage, ex_id)[:1]))
    ex = load_stage(stage)[ex_id]
    out["frank"] = ex.solution_code  # the published solution, pasted whole
    return out


@pytest.mark.parametrize("stage, ex_id", sorted(HONEST))
def test_the_honest_answers_of_this_test_are_correct(stage, ex_id):
    decl = load_stage(stage)
    ex = decl[ex_id]
    for student, code in answers_of(stage, ex_id).items():
        namespace = {"__name__": "__main__"}
        exec(decl.prelude, namespace)
        exec(code if student == "frank" else ex.with_answer(code), namespace)
        assert ex.run(namespace=namespace, hidden=True).status == "correct", student


@pytest.mark.parametrize("stage", STAGES)
def test_the_variants_the_report_measures_exercises_on_are_correct(stage):
    decl = load_stage(stage)
    for ex in decl:
        assert len(variants.of(stage, ex.id)) >= 2, f"{stage} {ex.id}: write at least two variants"
        for k, code in enumerate(variants.of(stage, ex.id)):
            namespace = {"__name__": "__main__"}
            exec(decl.prelude, namespace)
            exec(ex.with_answer(code), namespace)
            result = ex.run(namespace=namespace, hidden=True)
            assert result.status == "correct", (ex.id, k, result.message)


@pytest.mark.parametrize("stage, ex_id", sorted(HONEST))
def test_no_two_independently_written_answers_are_alike(stage, ex_id):
    ex = load_stage(stage)[ex_id]
    given = similarity.given_lines(ex)
    honest = [ex.solution_code] + [ex.with_answer(textwrap.dedent(code)) for code in HONEST[(stage, ex_id)]]
    prints = [similarity.fingerprint(similarity.students_part(given, code)) for code in honest]
    scores = [max(similarity.similarity(a, b)) for i, a in enumerate(prints) for b in prints[i + 1:]]
    assert len(scores) == 6 and max(scores) < similarity.THRESHOLD, scores


def test_normalising_keeps_what_the_code_does_and_maps_back_to_it():
    code = ('def f(rows, k=2):\n    total = 0  # the sum\n\n    for row in rows:\n'
            '        total += len(row) * k\n    return f"{total}"\n')
    renamed = code.replace("total", "acc").replace("row", "r").replace("# the sum", "")
    a, b = similarity.fingerprint(code), similarity.fingerprint(renamed)
    assert a.filtered_code == b.filtered_code == "defF(V,V=2):V=0forVinV:V+=len(V)*VreturnS"
    f = similarity.Finding(similarity.Kind.SIMILAR, ["a"], ["b"], (1.0, 1.0), True, ("a", code), ("b", renamed), (a, b))
    left, _ = f.marks()
    covered = "".join(code[s:e] for s, e in left)
    assert "for row in rows:" in covered and "total += len(row) * k" in covered
    broken = similarity.fingerprint('x = """never closed\n  if y:\n dedented')  # does not tokenize
    assert broken.filtered_code.startswith("V=")


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    """A class of 02_split and 06_evaluate: the planted copies and the honest answers; every other
    exercise is the published solution for all (an exercise where everyone agrees)."""
    root, sim = tmp_path_factory.mktemp("planted") / "course", Simulator()
    for stage in ("02_split", "06_evaluate"):
        [ex_id] = [e for s, e in HONEST if s == stage]
        ex = load_stage(stage)[ex_id]
        for student, code in answers_of(stage, ex_id).items():
            rec = sim.record(student, stage)
            for entry in rec["exercises"]:
                if entry["id"] == ex_id:
                    entry["answer"] = code if student == "frank" else ex.with_answer(code)
            job_records.write(root, rec)
    (root / "nbgrader_config.py").write_text("")
    return root


def findings(root, stage, ex_id):
    from malaria_lab.instructor.report.load import load_class
    from malaria_lab.instructor.report.stats import class_stats

    [e] = [e for e in similarity.class_similarity(class_stats(load_class(root)))[stage] if e.id == ex_id]
    return e


def together(e, a, b):
    return any({a, b} <= set(f.students) | set(f.others) for f in e.findings)


@pytest.mark.parametrize("stage, ex_id", sorted(HONEST))
def test_every_planted_copy_is_found_and_no_honest_answer(planted, stage, ex_id):
    e = findings(planted, stage, ex_id)
    assert e.telling, e.why_not_telling
    for student in PLANTED[(stage, ex_id)]:
        assert together(e, "alice", student), f"{student}'s copy of alice's answer is not listed"
    assert together(e, "frank", similarity.PUBLISHED)
    named = {s for f in e.findings for s in f.students + f.others}
    assert named & set(HONEST_STUDENTS) == set(), [f for f in e.findings if named & set(HONEST_STUDENTS)]
    assert named - {similarity.PUBLISHED} == {"alice", "bob", "carol", "dave", "erin", "frank"}


def test_a_copy_and_its_original_show_side_by_side_with_what_matched(planted):
    e = findings(planted, "06_evaluate", "q1")
    [f] = [f for f in e.findings if {"alice", "erin"} <= set(f.students) | set(f.others)]
    left, right = f.marks()
    assert f.score >= similarity.THRESHOLD and left and right
    assert "def confusion_counts" not in f.left[1] and '"""' not in f.left[1], "what every student got is left out"
    [published] = [f for f in e.findings if f.kind is similarity.Kind.PUBLISHED]
    assert published.students == ["frank"] and published.identical and published.right[0] == similarity.PUBLISHED


def test_an_exercise_where_honest_answers_agree_is_not_telling(planted):
    e = findings(planted, "06_evaluate", "q4")  # everyone gave the published solution
    assert [f.kind for f in e.findings] == [similarity.Kind.PUBLISHED] and len(e.findings[0].students) == 9
    prints = similarity.Fingerprints()
    short = similarity.exercise_similarity("04_build_cnn", load_stage("04_build_cnn")["q2"], [], prints)
    assert not short.telling and "too short" in short.why_not_telling
    alike = similarity.exercise_similarity("05_train", load_stage("05_train")["q1"], [], prints)
    assert alike.honest_flagged >= 1 and not alike.telling and "would be listed too" in alike.why_not_telling


def test_the_report_lists_them_for_review_and_escapes_what_students_wrote(planted, tmp_path):
    path = job_records.path_of(planted, "02_split", "bob")
    rec = job_records.validate(json.loads(path.read_text()))
    [entry] = [e for e in rec["exercises"] if e["id"] == "q3"]
    entry["answer"] += "\n    # </pre><script>alert('bob')</script>\n"
    job_records.write(planted, rec)
    report = build_report(planted, tmp_path / "r")
    page = (tmp_path / "r/index.html").read_text()
    assert '<h2 id="similar">Answers to look at</h2>' in page and "never a verdict" in page
    assert "<script>alert" not in page and "&lt;script&gt;alert(&#x27;bob&#x27;)" in page
    assert page.count('<div class="pair">') >= 4 and "<mark>" in page
    with open(tmp_path / "r/similar_answers.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert tmp_path / "r/similar_answers.csv" in report.files
    q3 = [r for r in rows if (r["stage"], r["exercise"]) == ("02_split", "q3")]
    named = {s for r in q3 for s in (r["students"] + " " + r["other_students"]).split()}
    assert {"alice", "bob", "carol", "dave", "erin", "frank"} <= named and not named & set(HONEST_STUDENTS)
    assert any(r["kind"] == "published solution" and r["students"] == "frank" for r in q3)
    anonymous = build_report(planted, tmp_path / "a", anonymise=True)
    for path in anonymous.files:
        text = path.read_text()
        assert not re.search(r"\b(alice|bob|carol|dave|erin|frank|gina|hank|ivan)\b", text), path.name

"""Stage 2, the split: whole patients per part, and the leak in the tutorial's random split."""

import textwrap
from collections import Counter

from ..split import Row
from . import split_inputs as inputs
from .engine import Stage, call, expect
from .results import Wrong

STAGE = Stage("02_split", "Split by patient, and find the leak", prelude="""
    from collections import Counter, defaultdict
    import numpy as np
""")

PARTS = inputs.PARTS

# --- q3 -----------------------------------------------------------------------------------

# The reference: hand out shuffled patients in turn; shuffle again while a part lacks a class.
_SOLUTION = '''\
cells = Counter(ref.patient for ref in images)
classes = defaultdict(set)
for ref in images:
    classes[ref.patient].add(ref.label)
total, rng = sum(cells.values()), np.random.default_rng(seed)
train_until = fractions[0] * total
val_until = (fractions[0] + fractions[1]) * total
for attempt in range(100):  # shuffle again until every part holds both classes
    patients = sorted(cells)
    patients = [patients[i] for i in rng.permutation(len(patients))]
    assignment, seen = {}, 0
    for i, patient in enumerate(patients):
        left = len(patients) - i  # patients still to place, this one included
        if seen < train_until and left > 2:
            part = "train"
        elif (seen < val_until and left > 1) or "val" not in assignment.values():
            part = "val"
        else:
            part = "test"
        assignment[patient] = part
        seen += cells[patient]
    found = defaultdict(set)
    for patient, part in assignment.items():
        found[part] |= classes[patient]
    if all(len(found[part]) == 2 for part in ("train", "val", "test")):
        break
return assignment
'''
# The 2020 tutorial's way: a folder per part, and every image moved into its part's folder.
_MOVES_FILES = _SOLUTION.replace("return assignment", """\
import shutil
from pathlib import Path
for ref in images:
    if Path(ref.path).is_file():
        folder = Path(ref.path).parent.parent / assignment[ref.patient] / ref.label
        folder.mkdir(parents=True, exist_ok=True)
        shutil.move(ref.path, folder / Path(ref.path).name)
return assignment""")

q3 = STAGE.exercise(
    "q3", "Split by patient", points=4, names=["split_patients"],
    code='def split_patients(images, fractions=(0.7, 0.15, 0.15), seed=0):\n'
         '    """{patient: "train" | "val" | "test"}: whole patients per part, about `fractions` of the '
         'images in each, both classes in every part."""\n'
         '    ### BEGIN SOLUTION\n' + textwrap.indent(_SOLUTION, "    ") + '    ### END SOLUTION\n',
    hints=[
        "Work with patients, not images: list the patients, shuffle that list with "
        "`np.random.default_rng(seed)`, then walk through it handing out whole patients: train "
        "first, until it holds about `fractions[0]` of the images, then val, then test. Only name "
        "each patient's part: leave the image files where they are.",
        "`Counter(ref.patient for ref in images)` gives each patient's number of cells. Sort the "
        "patients before shuffling (sets have no fixed order), e.g. "
        "`patients = [patients[i] for i in rng.permutation(len(patients))]`. Keep a running total "
        "of the cells handed out so far, and compare it with `fractions[0] * total` and "
        "`(fractions[0] + fractions[1]) * total`.",
        "Make sure no part ends up empty: while only two patients are left, do not give them to "
        "train; while one is left and val is still empty, give it to val. Then collect the classes "
        "(`ref.label`) in each part; when a part lacks one, shuffle again with the same `rng` (the "
        "split stays reproducible), up to 100 times. All of this fits in about twenty lines.",
    ],
    mistakes=[
        # Not reproducible: a new random generator every call.
        ("patients = sorted({ref.patient for ref in images})\n"
         "np.random.default_rng().shuffle(patients)\n"
         "n = len(patients)\n"
         "a, b = max(1, int(0.7 * n)), max(2, int(0.85 * n))\n"
         "return {p: 'train' if i < a else 'val' if i < b else 'test' for i, p in enumerate(patients)}",
         "same seed"),
        # The seed is ignored: every seed gives the same split.
        (_SOLUTION.replace("default_rng(seed)", "default_rng(0)"), "every seed"),
        # Part -> patients instead of patient -> part.
        ("patients = sorted({ref.patient for ref in images})\n"
         "return {'train': patients[:-2], 'val': patients[-2:-1], 'test': patients[-1:]}",
         "each patient"),
        # The first shuffle is kept, even when val or test gets uninfected patients only.
        (_SOLUTION.replace("range(100)", "range(1)"), "needs both classes"),
        # The 2020 tutorial: the images moved into a folder per part.
        (_MOVES_FILES, "moved or deleted image files"),
    ],
)


def _split(split_patients, images, **kwargs):
    args = ", ".join(["images"] + [f"{k}={v!r}" for k, v in kwargs.items()])
    got = call(split_patients, list(images), label=f"split_patients({args})", **kwargs)
    patients = {ref.patient for ref in images}
    if isinstance(got, dict) and set(got) & set(PARTS) and not set(got) & patients:
        expect(False, "`split_patients` returned a dict of part -> patients; return the other way "
                      "round, a dict mapping each patient to its part, e.g. {\"C10P1thinF\": \"train\"}.")
    expect(isinstance(got, dict), f"`split_patients` should return a dict mapping each patient to "
                                  f"its part, but returned a {type(got).__name__}.")
    missing = patients - set(got)
    expect(not missing, f"{len(missing)} patient(s) of `images` got no part: each patient needs one.")
    extra = set(got) - patients
    expect(not extra, "The dict has keys that are not patients of `images` (use `ref.patient`).")
    bad = {v for v in got.values() if v not in PARTS}
    expect(not bad, f"Parts must be \"train\", \"val\" or \"test\"; found {sorted(map(repr, bad))[:3]}.")
    return got


def _shares(assignment, images):
    counts = Counter(assignment[ref.patient] for ref in images)
    return {part: counts[part] / len(images) for part in PARTS}


_MOVED = ("`split_patients` moved or deleted image files (or added some): a split only names "
          "each patient's part. Leave the images where they are; the next stages read the parts "
          "from the manifest.")


@q3.test("leaves the image files where they are")
def leaves_image_files_in_place(split_patients):
    with inputs.image_folder() as (root, images):
        before = inputs.listing(root)
        try:
            _split(split_patients, images)
        except Wrong:
            if inputs.listing(root) == before:
                raise
        expect(inputs.listing(root) == before, _MOVED)


@q3.test("gives each patient exactly one part")
def gives_each_patient_exactly_one(split_patients):
    _split(split_patients, inputs.images())


@q3.test("leaves no part empty")
def leaves_no_part_empty(split_patients):
    got = _split(split_patients, inputs.images())
    empty = [p for p in PARTS if p not in got.values()]
    expect(not empty, f"With ten patients, the {' and '.join(empty)} part(s) got no patient.")


@q3.test("is reproducible: the same seed gives the same split")
def same_seed_same_split(split_patients):
    images = inputs.images()
    first = _split(split_patients, images, seed=3)
    again = _split(split_patients, images, seed=3)
    expect(first == again, "Called twice with the same seed, `split_patients` gave different "
                           "splits: draw the shuffle from `np.random.default_rng(seed)`.")


@q3.test("puts about the asked share of images in each part")
def puts_about_asked_share_images(split_patients):
    images = inputs.images()
    for seed in range(5):
        shares = _split(split_patients, images, seed=seed)
        shares = _shares(shares, images)
        for part, wanted in zip(PARTS, (0.7, 0.15, 0.15)):
            expect(abs(shares[part] - wanted) <= 0.16,
                   f"With seed={seed}, {part} holds {shares[part]:.0%} of the images, asked for "
                   f"{wanted:.0%}: hand out patients until each part has about its share of the "
                   "images (not of the patients).")


@q3.test("gives every part both classes")
def gives_every_part_both_classes(split_patients):
    images = inputs.images(inputs.FEW_INFECTED)
    for seed in range(6):
        found = inputs.labels_per_part(_split(split_patients, images, seed=seed), images)
        for part in ("test", "val", "train"):
            expect(found[part], f"With seed={seed}, the {part} part got no patient.")
            expect(len(found[part]) == 2,
                   f"With four infected patients among ten and seed={seed}, the {part} part holds "
                   f"{' '.join(found[part])} cells only: each part needs both classes (parasitized "
                   "and uninfected), or its sensitivity or specificity cannot be measured. When a "
                   "shuffle leaves a part one class short, shuffle again with the same generator.")


@q3.hidden_test("different seeds give different splits")
def different_seeds_give_different_splits(split_patients):
    images = inputs.images()
    splits = {tuple(sorted(_split(split_patients, images, seed=s).items())) for s in range(6)}
    expect(len(splits) > 1, "Every seed gives the same split: shuffle the patients with the seed.")


@q3.hidden_test("follows other fractions")
def follows_other_fractions(split_patients):
    images = inputs.images()
    for fractions in ((0.5, 0.3, 0.2), (0.6, 0.3, 0.1)):
        for seed in (0, 1, 2):
            shares = _shares(_split(split_patients, images, fractions=fractions, seed=seed), images)
            empty = [part for part in PARTS if not shares[part]]
            expect(not empty, f"With fractions {fractions}, the {' and '.join(empty)} part got no "
                              "patient: whatever the fractions, leave no part empty.")
            for part, wanted in zip(PARTS, fractions):
                expect(abs(shares[part] - wanted) <= 0.17,
                       f"With fractions {fractions}, {part} holds {shares[part]:.0%} of the images: "
                       "use the `fractions` argument, not fixed numbers.")


@q3.hidden_test("fills every part even with three patients")
def fills_every_part_with_three_patients(split_patients):
    sizes = {"C20P1": (50, 40), "C21P2": (10, 5), "C22P3": (8, 9)}
    for seed in range(4):
        got = _split(split_patients, inputs.images(sizes), seed=seed)
        expect(sorted(got.values()) == sorted(PARTS),
               "With only three patients, each part should get one of them.")


# --- q1 -----------------------------------------------------------------------------------

q1 = STAGE.exercise(
    "q1", "Find the leaking patients", points=2, names=["leaked_patients"],
    code='''
    def leaked_patients(rows):
        """The set of patients whose cells are in more than one part (rows have .patient and .split)."""
        ### BEGIN SOLUTION
        parts = defaultdict(set)
        for row in rows:
            parts[row.patient].add(row.split)
        return {patient for patient, where in parts.items() if len(where) > 1}
        ### END SOLUTION
    ''',
    hints=[
        "For every patient, collect the parts their cells landed in. A patient leaks when that "
        "collection has more than one part.",
        "`parts = defaultdict(set)`, then `parts[row.patient].add(row.split)` for every row.",
        "```python\nparts = defaultdict(set)\nfor row in rows:\n    parts[row.patient].add(row.split)\n"
        "return {p for p, where in parts.items() if len(where) > 1}\n```",
    ],
    mistakes=[
        ("train = {r.patient for r in rows if r.split == 'train'}\n"
         "test = {r.patient for r in rows if r.split == 'test'}\n"
         "return train & test", "val"),
        ("return {r.patient for r in rows}", "only one part"),
        ("seen = {}\nout = []\nfor r in rows:\n"
         "    if r.patient in seen and seen[r.patient] != r.split:\n        out.append(r.patient)\n"
         "    seen[r.patient] = r.split\nreturn out", "set"),
    ],
)


def _rows(spec):
    """Rows from {patient: [part, part, ...]} (one row per cell)."""
    rows = []
    for patient, parts in spec.items():
        for k, part in enumerate(parts):
            label = "Parasitized" if k % 2 else "Uninfected"
            rows.append(Row(f"/data/{label}/{patient}_IMG_1_cell_{k}.png", label, patient, part))
    return rows


def _leaks(leaked_patients, spec):
    got = call(leaked_patients, _rows(spec), label="leaked_patients(rows)")
    expect(isinstance(got, (set, frozenset)),
           f"`leaked_patients` should return a set, but returned a {type(got).__name__}.")
    return got


@q1.test("finds patients shared by train and test")
def finds_patients_shared_train_test(leaked_patients):
    got = _leaks(leaked_patients, {"A": ["train", "train", "test"], "B": ["train", "train"],
                                   "C": ["test", "test"], "D": ["val"]})
    expect(not got - {"A"}, "Your set holds patients whose cells are all in only one part: those "
                            "do not leak.")
    expect(got == {"A"}, "A patient with cells in train and in test is missing from your set.")


@q1.test("counts validation too")
def counts_validation_too(leaked_patients):
    got = _leaks(leaked_patients, {"A": ["train", "val"], "B": ["val", "test", "test"],
                                   "C": ["train"], "D": ["test"]})
    expect(got == {"A", "B"}, "A patient with cells in val and in another part leaks too: "
                              "compare all three parts, not only train and test.")


@q1.hidden_test("handles no leak, a patient in all parts, and no rows")
def handles_no_leak_all_parts_no_rows(leaked_patients):
    expect(_leaks(leaked_patients, {"A": ["train"] * 3, "B": ["test"]}) == set(),
           "A split without leaks should give an empty set.")
    expect(_leaks(leaked_patients, {"A": ["train", "val", "test"], "B": ["val"]}) == {"A"},
           "A patient in all three parts should be in the set, once.")
    expect(_leaks(leaked_patients, {}) == set(), "No rows should give an empty set.")


# --- q2 -----------------------------------------------------------------------------------

q2 = STAGE.exercise(
    "q2", "How much of the test set leaks?", points=2, names=["test_leak_share"],
    code='''
    def test_leak_share(rows):
        """The fraction of test images whose patient also has images in train (0.0 when there is no test image)."""
        ### BEGIN SOLUTION
        train_patients = {row.patient for row in rows if row.split == "train"}
        test_rows = [row for row in rows if row.split == "test"]
        if not test_rows:
            return 0.0
        return sum(row.patient in train_patients for row in test_rows) / len(test_rows)
        ### END SOLUTION
    ''',
    hints=[
        "First find which patients have cells in train. Then, among the test images, count "
        "those whose patient is one of them.",
        "The answer is a share of test *images* (rows), not of test patients: a patient with "
        "many test cells counts many times.",
        "```python\ntrain_patients = {r.patient for r in rows if r.split == \"train\"}\n"
        "test_rows = [r for r in rows if r.split == \"test\"]\n"
        "return sum(r.patient in train_patients for r in test_rows) / len(test_rows) "
        "if test_rows else 0.0\n```",
    ],
    mistakes=[
        ("train = {r.patient for r in rows if r.split == 'train'}\n"
         "test = {r.patient for r in rows if r.split == 'test'}\n"
         "return len(train & test) / len(test)", "images"),
        ("other = {r.patient for r in rows if r.split != 'test'}\n"
         "test = [r for r in rows if r.split == 'test']\n"
         "return sum(r.patient in other for r in test) / len(test)", "train"),
    ],
)


def _share(test_leak_share, spec):
    got = call(test_leak_share, _rows(spec), label="test_leak_share(rows)")
    expect(isinstance(got, (int, float)) and not isinstance(got, bool),
           f"`test_leak_share` should return a number between 0 and 1, not a {type(got).__name__}.")
    expect(0.0 <= float(got) <= 1.0, "`test_leak_share` should return a fraction between 0 and 1.")
    return float(got)


def _true_share(spec):
    rows = _rows(spec)
    train = {r.patient for r in rows if r.split == "train"}
    test = [r for r in rows if r.split == "test"]
    return sum(r.patient in train for r in test) / len(test) if test else 0.0


_LEAKY = {"A": ["train"] * 3 + ["test"] * 4, "B": ["train", "test"], "C": ["test"] * 5,
          "D": ["val", "val", "test", "test"], "E": ["train"] * 4}


@q2.test("measures the share of test images, not patients")
def measures_share_of_test_images(test_leak_share):
    got = _share(test_leak_share, _LEAKY)
    patients = 2 / 4
    expect(abs(got - patients) > 1e-9 or abs(got - _true_share(_LEAKY)) < 1e-9,
           "Your number is a share of test patients; count test images instead.")
    expect(abs(got - _true_share(_LEAKY)) < 1e-9,
           "On a small test split, your share is not that of test images whose patient also has "
           "train images (only train counts, not val).")


@q2.hidden_test("gives 0 without a leak, without test images, and 1 when all leak")
def gives_0_without_leak_1_when_all_leak(test_leak_share):
    expect(_share(test_leak_share, {"A": ["train"], "B": ["test", "test"]}) == 0.0,
           "A split without leaks should give 0.0.")
    expect(_share(test_leak_share, {"A": ["train", "val"]}) == 0.0,
           "A split without test images should give 0.0.")
    expect(abs(_share(test_leak_share, {"A": ["train", "test"], "B": ["test", "train"]}) - 1.0) < 1e-9,
           "When every test image's patient is also in train, the share should be 1.0.")

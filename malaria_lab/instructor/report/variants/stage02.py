"""Independently written correct answers to stage 2's exercises (see the package's docstring)."""

VARIANTS = {
    "q1": [
        '''\
seen = {}
for r in rows:
    seen.setdefault(r.patient, set()).add(r.split)
leaks = set()
for patient, splits in seen.items():
    if len(splits) >= 2:
        leaks.add(patient)
return leaks
''',
        '''\
patients = {r.patient for r in rows}
return {p for p in patients if len({r.split for r in rows if r.patient == p}) > 1}
''',
        '''\
first = {}
leaking = set()
for row in rows:
    if row.patient not in first:
        first[row.patient] = row.split
    elif first[row.patient] != row.split:
        leaking.add(row.patient)
return leaking
''',
    ],
    "q2": [
        '''\
in_train = set()
for r in rows:
    if r.split == "train":
        in_train.add(r.patient)
n_test = n_leaked = 0
for r in rows:
    if r.split == "test":
        n_test += 1
        if r.patient in in_train:
            n_leaked += 1
return n_leaked / n_test if n_test else 0.0
''',
        '''\
test = [r.patient for r in rows if r.split == "test"]
if len(test) == 0:
    return 0.0
train = set(r.patient for r in rows if r.split == "train")
return len([p for p in test if p in train]) / len(test)
''',
        '''\
splits_of = defaultdict(set)
for row in rows:
    splits_of[row.patient].add(row.split)
flags = [("train" in splits_of[row.patient]) for row in rows if row.split == "test"]
return float(np.mean(flags)) if flags else 0.0
''',
    ],
    "q3": [
        '''\
by_patient = defaultdict(list)
for image in images:
    by_patient[image.patient].append(image)
names = sorted(by_patient)
generator = np.random.default_rng(seed)
n = len(images)
result = {}
for _ in range(200):
    order = [names[k] for k in generator.permutation(len(names))]
    result = {}
    count = 0
    for index, name in enumerate(order):
        remaining = len(order) - index
        if count < fractions[0] * n and remaining > 2:
            result[name] = "train"
        elif count < (fractions[0] + fractions[1]) * n and remaining > 1 or "val" not in result.values():
            result[name] = "val"
        else:
            result[name] = "test"
        count += len(by_patient[name])
    ok = True
    for part in ("train", "val", "test"):
        labels = {img.label for p, where in result.items() if where == part for img in by_patient[p]}
        ok = ok and len(labels) == 2
    if ok:
        return result
return result
''',
        '''\
patients = sorted({ref.patient for ref in images})
size = {p: sum(1 for ref in images if ref.patient == p) for p in patients}
labels = {p: {ref.label for ref in images if ref.patient == p} for p in patients}
rng = np.random.default_rng(seed)
goal_train = fractions[0] * len(images)
goal_val = fractions[1] * len(images)
split = {}
for _ in range(100):
    shuffled = [patients[k] for k in rng.permutation(len(patients))]
    split = {}
    n_train = n_val = 0
    while shuffled and n_train < goal_train and len(shuffled) > 2:
        p = shuffled.pop(0)
        split[p] = "train"
        n_train += size[p]
    while shuffled and (n_val < goal_val and len(shuffled) > 1 or not n_val):
        p = shuffled.pop(0)
        split[p] = "val"
        n_val += size[p]
    for p in shuffled:
        split[p] = "test"
    parts = {}
    for p, part in split.items():
        parts.setdefault(part, set()).update(labels[p])
    if all(len(parts.get(part, ())) == 2 for part in ("train", "val", "test")):
        break
return split
''',
        '''\
counts = Counter()
kinds = defaultdict(set)
for r in images:
    counts[r.patient] += 1
    kinds[r.patient].add(r.label)
everyone = sorted(counts)
rng = np.random.default_rng(seed)
total = len(images)
best = None
for _ in range(100):
    ordered = [everyone[j] for j in rng.permutation(len(everyone))]
    out = {}
    cumulative = 0.0
    for pos, pat in enumerate(ordered):
        share = cumulative / total
        if share < fractions[0] and pos < len(ordered) - 2:
            out[pat] = "train"
        elif share < fractions[0] + fractions[1] and pos < len(ordered) - 1:
            out[pat] = "val"
        elif "val" not in out.values():
            out[pat] = "val"
        else:
            out[pat] = "test"
        cumulative += counts[pat]
    best = out
    covered = {part: set() for part in ("train", "val", "test")}
    for pat, part in out.items():
        covered[part] |= kinds[pat]
    if all(len(v) == 2 for v in covered.values()):
        break
return best
''',
    ],
}

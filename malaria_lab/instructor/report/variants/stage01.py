"""Independently written correct answers to stage 1's exercises (see the package's docstring)."""

VARIANTS = {
    "q1": [
        '''\
h = hashlib.new("sha256")
with open(path, "rb") as handle:
    for piece in iter(lambda: handle.read(chunk_size), b""):
        h.update(piece)
return h.hexdigest()
''',
        '''\
sha = hashlib.sha256()
f = open(path, mode="rb")
try:
    data = f.read(chunk_size)
    while len(data) > 0:
        sha.update(data)
        data = f.read(chunk_size)
finally:
    f.close()
return sha.hexdigest().lower()
''',
        '''\
result = hashlib.sha256()
with Path(path).open("rb") as stream:
    while chunk := stream.read(chunk_size):
        result.update(chunk)
return result.hexdigest()
''',
    ],
    "q2": [
        '''\
result = {"Parasitized": 0, "Uninfected": 0}
for name in result:
    where = Path(folder, name)
    if where.exists():
        for item in where.iterdir():
            if item.is_file() and item.suffix.lower() in IMAGE_SUFFIXES:
                result[name] += 1
return result
''',
        '''\
import os
out = {}
for cls in ["Parasitized", "Uninfected"]:
    d = os.path.join(folder, cls)
    names = os.listdir(d) if os.path.isdir(d) else []
    out[cls] = len([n for n in names
                    if os.path.isfile(os.path.join(d, n)) and os.path.splitext(n)[1].lower() in IMAGE_SUFFIXES])
return out
''',
        '''\
def n_images(sub):
    sub = Path(folder) / sub
    if not sub.is_dir():
        return 0
    return len([f for f in sub.glob("*") if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES])

return {"Parasitized": n_images("Parasitized"), "Uninfected": n_images("Uninfected")}
''',
    ],
    "q3": [  # a one-line task: honest answers are alike, as students write them
        '''\
return Counter([Path(path).name.split("_IMG_")[0] for path in paths])
''',
        '''\
counts = Counter()
for p in paths:
    counts[Path(p).name.split("_IMG_")[0]] += 1
return counts
''',
        '''\
import os
return Counter(os.path.basename(p).partition("_IMG_")[0] for p in paths)
''',
    ],
}

"""Stage 1, the data: verify a download, count what is there, and see who the cells come from."""

import hashlib
import os
import shutil
import tempfile
from collections import Counter
from pathlib import Path

from .engine import Stage, call, expect

STAGE = Stage("01_download", "Download, verify and inspect the data", prelude="""
    import hashlib
    from collections import Counter
    from pathlib import Path
""")

# --- q1 -----------------------------------------------------------------------------------

q1 = STAGE.exercise(
    "q1", "Verify a download with SHA-256", points=2, names=["sha256_of"],
    code='''
    def sha256_of(path, chunk_size=1 << 20):
        """The SHA-256 of the file at `path`, as 64 hex characters, reading `chunk_size` bytes at a time."""
        ### BEGIN SOLUTION
        digest = hashlib.sha256()
        with open(path, "rb") as f:
            while True:
                block = f.read(chunk_size)
                if not block:
                    break
                digest.update(block)
        return digest.hexdigest()
        ### END SOLUTION
    ''',
    hints=[
        "Make a hash object with `hashlib.sha256()`, feed it the file's bytes with its `update` "
        "method, and ask it for `hexdigest()` at the end.",
        "Open the file in binary mode (`open(path, \"rb\")`) and call `f.read(chunk_size)` in a "
        "loop: each call returns the next piece, and an empty `b\"\"` once the file is finished.",
        "```python\ndigest = hashlib.sha256()\nwith open(path, \"rb\") as f:\n"
        "    while block := f.read(chunk_size):\n        digest.update(block)\n"
        "return digest.hexdigest()\n```",
    ],
    mistakes=[
        ("return hashlib.sha256(str(path).encode()).hexdigest()", "name"),
        ("with open(path, 'rb') as f:\n    return hashlib.sha256(f.read(chunk_size)).hexdigest()",
         "first"),
        ("with open(path, 'rb') as f:\n    return hashlib.sha256(f.read()).digest()", "hex"),
    ],
)


def _temp_file(data):
    fd, name = tempfile.mkstemp(prefix="malaria_lab_check_", suffix=".bin")
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    return Path(name)


def _digest_case(sha256_of, data, chunk_size=None, as_str=False):
    path = _temp_file(data)
    try:
        arg = str(path) if as_str else path
        kwargs = {} if chunk_size is None else {"chunk_size": chunk_size}
        got = call(sha256_of, arg, label="sha256_of(path)", **kwargs)
    finally:
        path.unlink()
    return got, path


_SMALL = b"Parasitized and uninfected cells, 27,558 of them.\n" * 3


@q1.test("returns the digest as text")
def returns_digest_text(sha256_of):
    got, _ = _digest_case(sha256_of, _SMALL)
    expect(not isinstance(got, bytes),
           "`sha256_of` returned bytes: return the text form, `digest.hexdigest()`, not "
           "`digest.digest()`.")
    expect(isinstance(got, str), f"`sha256_of` should return a str, but returned a "
                                 f"{type(got).__name__}.")
    expect(len(got) == 64 and all(c in "0123456789abcdef" for c in got.lower()),
           "`sha256_of` should return 64 hexadecimal characters (what `hexdigest()` gives).")


@q1.test("hashes the file's contents")
def hashes_file_contents(sha256_of):
    got, path = _digest_case(sha256_of, _SMALL)
    names = {hashlib.sha256(str(path).encode()).hexdigest(),
             hashlib.sha256(path.name.encode()).hexdigest()}
    expect(got not in names, "Your digest is the hash of the file's name: open the file and hash "
                             "the bytes inside it.")
    expect(got == hashlib.sha256(_SMALL).hexdigest(),
           "For a small test file, your digest is not the SHA-256 of its contents.")


@q1.test("reads the whole file, piece by piece")
def reads_whole_file_in_pieces(sha256_of):
    data = bytes(range(256)) * 40
    got, _ = _digest_case(sha256_of, data, chunk_size=1000)
    expect(got != hashlib.sha256(data[:1000]).hexdigest(),
           "Your digest covers only the first chunk of the file: keep reading until `read` "
           "returns `b\"\"`.")
    expect(got == hashlib.sha256(data).hexdigest(),
           "With a `chunk_size` smaller than the file, your digest is not that of the whole file.")


@q1.hidden_test("handles an empty file, str paths and uneven chunks")
def handles_empty_file_str_paths_uneven_chunks(sha256_of):
    got, _ = _digest_case(sha256_of, b"")
    expect(got == hashlib.sha256(b"").hexdigest(), "An empty file does not get the right digest.")
    data = os.urandom(10_007)
    got, _ = _digest_case(sha256_of, data, chunk_size=4096, as_str=True)
    expect(got == hashlib.sha256(data).hexdigest(),
           "A file whose size is not a multiple of `chunk_size`, given as a str path, does not "
           "get the right digest.")


# --- q2 -----------------------------------------------------------------------------------

q2 = STAGE.exercise(
    "q2", "Count the images of each class", points=2, names=["count_images"],
    code='''
    IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg"}

    def count_images(folder):
        """{"Parasitized": n, "Uninfected": m}: the image files in folder/Parasitized and folder/Uninfected."""
        ### BEGIN SOLUTION
        counts = {}
        for label in ("Parasitized", "Uninfected"):
            class_folder = Path(folder) / label
            files = class_folder.iterdir() if class_folder.is_dir() else []
            counts[label] = sum(1 for f in files if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES)
        return counts
        ### END SOLUTION
    ''',
    hints=[
        "Look in the two class folders one after the other, and keep a count for each.",
        "`Path(folder) / \"Parasitized\"` is a folder; `.iterdir()` lists what is in it. A file "
        "counts when its `.suffix`, in lower case, is in `IMAGE_SUFFIXES` (the Kaggle copy has a "
        "`Thumbs.db` in every class folder, and some files end in `.PNG`).",
        "```python\ncounts = {}\nfor label in (\"Parasitized\", \"Uninfected\"):\n"
        "    files = (Path(folder) / label).iterdir()\n"
        "    counts[label] = sum(f.suffix.lower() in IMAGE_SUFFIXES for f in files)\n"
        "return counts\n```",
    ],
    mistakes=[
        ("return {label: len(list((Path(folder) / label).iterdir()))\n"
         "        for label in ('Parasitized', 'Uninfected')}", "not a picture"),
        ("return {'Parasitized': len(list(Path(folder).rglob('*.png')))}", "both classes"),
    ],
)


def _tree(spec):
    """A temporary class-folder tree: spec maps relative file paths to bytes."""
    root = Path(tempfile.mkdtemp(prefix="malaria_lab_check_"))
    for rel, data in spec.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    for label in ("Parasitized", "Uninfected"):
        (root / label).mkdir(exist_ok=True)
    return root


def _count_case(count_images, spec):
    root = _tree(spec)
    try:
        got = call(count_images, root, label="count_images(folder)")
        if not isinstance(got, dict):
            raise_type = type(got).__name__
            expect(False, f"`count_images` should return a dict, but returned a {raise_type}.")
        return {k: v for k, v in got.items()}
    finally:
        shutil.rmtree(root)


_PNG = b"\x89PNG\r\n\x1a\n"


def _cells(label, n, prefix="C1P1thinF", suffix=".png"):
    return {f"{label}/{prefix}_IMG_2015_cell_{i}{suffix}": _PNG for i in range(n)}


@q2.test("counts both classes")
def counts_both_classes(count_images):
    got = _count_case(count_images, {**_cells("Parasitized", 3), **_cells("Uninfected", 2)})
    expect(set(got) == {"Parasitized", "Uninfected"},
           "The dict should have exactly two keys, \"Parasitized\" and \"Uninfected\" (count "
           "both classes).")
    expect(got == {"Parasitized": 3, "Uninfected": 2},
           "On a small test folder, your counts are not the number of images in each class folder.")


@q2.test("skips files that are not images")
def skips_files_images(count_images):
    spec = {**_cells("Parasitized", 3), **_cells("Uninfected", 2),
            "Parasitized/Thumbs.db": b"x", "Uninfected/Thumbs.db": b"x", "Uninfected/notes.txt": b"x"}
    got = _count_case(count_images, spec)
    expect(got == {"Parasitized": 3, "Uninfected": 2},
           "Your counts include files that are not a picture (like Thumbs.db): count only names "
           "ending in an image suffix.")


@q2.hidden_test("counts .PNG in upper case and an empty class")
def counts_upper_case_png_empty_class(count_images):
    spec = {**_cells("Parasitized", 4, suffix=".PNG"), **_cells("Parasitized", 1, "C2P2", ".jpg")}
    got = _count_case(count_images, spec)
    expect(got.get("Parasitized") == 5,
           "Images whose suffix is in upper case (.PNG) or another image suffix are not all "
           "counted.")
    expect(got.get("Uninfected") == 0, "An empty class folder should count 0 (and still be in the dict).")


# --- q3 -----------------------------------------------------------------------------------

q3 = STAGE.exercise(
    "q3", "Who are the cells from?", points=2, names=["cells_per_patient"],
    code='''
    def cells_per_patient(paths):
        """A Counter: patient id -> number of cells, where the id is the file name's part before "_IMG_"."""
        ### BEGIN SOLUTION
        return Counter(Path(p).name.split("_IMG_")[0] for p in paths)
        ### END SOLUTION
    ''',
    hints=[
        "Every file name starts with the patient it comes from, e.g. "
        "`C39P4thinF_IMG_20150622_111206_cell_99.png` is from patient `C39P4thinF`.",
        "`Path(p).name` is the file name without its folders; `name.split(\"_IMG_\")[0]` is "
        "what comes before `_IMG_`. A `Counter` counts a sequence of ids for you.",
        "```python\nreturn Counter(Path(p).name.split(\"_IMG_\")[0] for p in paths)\n```",
    ],
    mistakes=[
        ("return Counter(str(p).split('_IMG_')[0] for p in paths)", "file name"),
        ("return Counter(Path(p).name.split('_')[0] for p in paths)", "before"),
        ("return {Path(p).name.split('_IMG_')[0]: 1 for p in paths}", "count"),
    ],
)

_PATHS = [
    "/data/cell_images/Parasitized/C39P4thinF_IMG_20150622_111206_cell_99.png",
    "/data/cell_images/Parasitized/C39P4thinF_IMG_20150622_111206_cell_100.png",
    "/data/cell_images/Uninfected/C39P4thinF_IMG_20150622_105335_cell_6.png",
    "/data/cell_images/Uninfected/C1_thinF_IMG_20150604_104722_cell_9.png",
    "/data/cell_images/Parasitized/C100P61ThinF_IMG_20150918_144104_cell_162.png",
]


def _patients_case(cells_per_patient, paths):
    got = call(cells_per_patient, list(paths), label="cells_per_patient(paths)")
    expect(hasattr(got, "items"), f"`cells_per_patient` should return a Counter (or dict), but "
                                  f"returned a {type(got).__name__}.")
    return dict(got)


@q3.test("uses the file name, not the folders")
def uses_file_name_folders(cells_per_patient):
    got = _patients_case(cells_per_patient, _PATHS[:3])
    expect(not any("/" in str(k) or "\\" in str(k) for k in got),
           "Your patient ids contain folder names: take the id from the file name only "
           "(`Path(p).name`).")


@q3.test("counts the cells of each patient")
def counts_cells_each_patient(cells_per_patient):
    got = _patients_case(cells_per_patient, _PATHS)
    want = Counter(Path(p).name.split("_IMG_")[0] for p in _PATHS)
    expect(set(got) == set(want),
           "Some patient ids are not the part of the file name before `_IMG_` (one test name has "
           "an underscore inside its patient id).")
    expect(dict(got) == dict(want), "The ids are right but the numbers of cells per patient are not: "
                                    "count every path.")


@q3.hidden_test("works on bare file names and an empty list")
def works_on_bare_names_and_empty_list(cells_per_patient):
    got = _patients_case(cells_per_patient, [])
    expect(len(got) == 0, "No paths should give an empty Counter.")
    paths = ["C7P2thinF_IMG_1_cell_1.png", "C7P2thinF_IMG_1_cell_2.png", "C8P3_IMG_2_cell_1.png"]
    got = _patients_case(cells_per_patient, paths)
    expect(dict(got) == {"C7P2thinF": 2, "C8P3": 1},
           "Bare file names (without folders) are not counted per patient correctly.")

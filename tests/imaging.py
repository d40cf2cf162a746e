"""Small image and zip makers for tests: real PNGs from Pillow, data sets from a spec, odd zips."""

import io
import random
import stat
import zipfile
from pathlib import Path

from PIL import Image


def cell_name(patient, index):
    """A file name in the NIH style, so ``patient_id`` finds ``patient``."""
    return f"{patient}_IMG_20150101_{index:06d}_cell_{index}.png"


def png_bytes(size=(32, 32), mode="RGB", color=None, noise=False, seed=0):
    """The bytes of a PNG; ``noise`` fills it with random pixels (so it compresses poorly)."""
    if mode == "P":
        image = png_image(size, "RGB", color, noise, seed).convert("P", palette=Image.Palette.ADAPTIVE)
    else:
        image = png_image(size, mode, color, noise, seed)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def png_image(size=(32, 32), mode="RGB", color=None, noise=False, seed=0):
    if noise:
        rng = random.Random(seed)
        bands = len(Image.new(mode, (1, 1)).getbands())
        raw = bytes(rng.getrandbits(8) for _ in range(size[0] * size[1] * bands))
        return Image.frombytes(mode, size, raw)
    if color is None:
        color = {"L": 128, "1": 1, "RGBA": (200, 80, 120, 255)}.get(mode, (200, 80, 120))
    return Image.new(mode, size, color)


def make_png(path, size=(32, 32), mode="RGB", color=None, noise=False, seed=0):
    """Write a PNG at ``path`` (parents made) and return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(png_bytes(size, mode, color, noise, seed))
    return path


def make_dataset(root, spec):
    """Write files under ``root`` from ``{relative path: content}`` and return ``root``.

    Content is bytes (written as is), None (a default PNG), or a dict of ``make_png`` arguments.
    """
    root = Path(root)
    for relative, content in spec.items():
        path = root / relative
        if isinstance(content, (bytes, bytearray)):
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
        else:
            make_png(path, **(content or {}))
    return root


def cells_spec(counts, prefix="cell_images", size=(24, 24)):
    """A spec for ``make_dataset``: ``{(class, patient): n}`` distinct images per patient."""
    spec, seed = {}, 0
    for (label, patient), n in counts.items():
        for i in range(n):
            seed += 1
            spec[f"{prefix}/{label}/{cell_name(patient, seed)}"] = {"size": size, "noise": True,
                                                                    "seed": seed}
    return spec


def zip_folder(folder, archive, prefix="", extra=None):
    """Zip every file under ``folder`` (names prefixed by ``prefix``) plus ``extra`` members.

    ``extra`` maps member names to bytes and is written verbatim, so it may hold names no normal
    zip tool would write (``../evil.png``, ``/abs.png``).
    """
    folder, archive = Path(folder), Path(archive)
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as zf:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            zf.write(path, prefix + path.relative_to(folder).as_posix())
        for name, data in (extra or {}).items():
            zf.writestr(zipfile.ZipInfo(name), data)
    return archive


def add_symlink(archive, name, target):
    """Append a symbolic-link entry ``name -> target`` to a zip."""
    info = zipfile.ZipInfo(name)
    info.create_system = 3
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    with zipfile.ZipFile(archive, "a") as zf:
        zf.writestr(info, target)
    return archive


def corrupt_member(archive, name):
    """Flip a byte in the stored data of member ``name``, so reading it fails its CRC check."""
    with zipfile.ZipFile(archive) as zf:
        info = zf.getinfo(name)
    data = bytearray(Path(archive).read_bytes())
    offset = info.header_offset
    name_len = int.from_bytes(data[offset + 26:offset + 28], "little")
    extra_len = int.from_bytes(data[offset + 28:offset + 30], "little")
    start = offset + 30 + name_len + extra_len
    data[start + info.compress_size // 2] ^= 0xFF
    Path(archive).write_bytes(bytes(data))
    return archive

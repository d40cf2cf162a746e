"""Unpack a data set zip into ``dest/cell_images/<Class>/<file>``, safely and all-or-nothing.

Every member is checked before anything is written (no absolute paths, ``..`` or symlinks, no
member larger than a cell image can be, no zip bomb, both classes present), only the cell images
are kept (once each, see ``layout.find_images``), and the folder appears by one rename, with a
marker file saying it is complete; a failure leaves nothing half-extracted.
"""

import json
import os
import shutil
import stat
import tempfile
import zipfile
from collections import Counter
from pathlib import Path, PurePosixPath

from tqdm.auto import tqdm

from ..atomic import umask, write_json
from ..errors import MalariaLabError
from ..outputs import check_out_dir
from .layout import CLASSES, MAX_IMAGE_BYTES, ZIP_SEP, find_images

FOLDER = "cell_images"
MARKER = ".malaria_lab.json"
# PNG cells barely compress in a zip (the NIH zip: 1.0x); even uncompressed BMPs stay far below this.
MAX_EXPANSION = 50


def extract(archive, dest, log=print, progress=False, meta=None):
    """Extract the cell images of ``archive`` into ``dest/cell_images`` and return that folder.

    ``meta`` (source, sha256, ...) goes into the marker file that says the folder is complete.
    """
    archive, dest = Path(archive), Path(dest)
    final = dest / FOLDER
    done = completed(final)
    if done is not None:
        log(f"Already extracted: {done['total']} images in {final}.")
        return final
    check_out_dir(dest, "--dest")
    check_destination(dest)
    infos = _checked_members(archive)
    refs = find_images(archive)
    members = {ref.path.split(ZIP_SEP, 1)[1]: ref for ref in refs}
    _check_sizes(archive, [infos[name] for name in members])
    _check_classes(archive, refs)
    needed = sum(infos[name].file_size for name in members)
    ensure_free_space(dest, needed, f"the {len(refs)} images of {archive.name}")


    dest.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=dest, prefix=f".{FOLDER}.", suffix=".tmp"))
    try:
        os.chmod(tmp, 0o777 & ~umask())  # mkdtemp makes 0700: a shared data folder must stay readable
        for label in CLASSES:
            (tmp / label).mkdir()
        with zipfile.ZipFile(archive) as zf:
            for name, ref in tqdm(members.items(), desc="extract", unit="img", disable=not progress):
                with zf.open(name) as src, open(tmp / ref.label / ref.name, "wb") as out:
                    shutil.copyfileobj(src, out, 1 << 20)
        counts = Counter(ref.label for ref in refs)
        marker = {**(meta or {}), "archive": archive.name, "total": len(refs),
                  "counts": {label: counts.get(label, 0) for label in CLASSES}}
        write_json(tmp / MARKER, marker)
        check_destination(dest)
        os.rename(tmp, final)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError) as err:
        raise MalariaLabError(
            f"{archive} is damaged ({err}); nothing was extracted.",
            "Delete the archive and download it again.",
        ) from err
    except OSError as err:
        raise MalariaLabError(
            f"Could not extract {archive.name} into {dest}: {err}; nothing was extracted.",
            "Check the free disk space and that you may write there, then run again.",
        ) from err
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    skipped = sum(1 for info in infos.values() if not info.is_dir()) - len(refs)
    per_class = ", ".join(f"{label}: {counts.get(label, 0)}" for label in CLASSES)
    log(f"Extracted {len(refs)} images ({per_class}) into {final}"
        + (f"; skipped {skipped} other or duplicate entries." if skipped else "."))
    return final


def completed(folder):
    """The marker of ``folder`` when malaria_lab extracted it and every image is still there."""
    marker = _read_marker(folder)
    if marker is None:
        return None
    try:
        counts = Counter(ref.label for ref in find_images(folder))
    except MalariaLabError:
        return None
    if any(counts.get(label, 0) != marker["counts"].get(label, 0) for label in CLASSES):
        return None
    return marker


def check_destination(dest):
    """Refuse to write into a ``cell_images`` folder that is not ours and complete."""
    final = Path(dest) / FOLDER
    if not final.exists() and not final.is_symlink():
        return
    if completed(final) is not None:
        return
    marker = _read_marker(final)
    what = "an incomplete extraction by malaria_lab" if marker else "files that malaria_lab did not put there"
    raise MalariaLabError(
        f"{final} already exists and holds {what}; it was left untouched.",
        f"Move or delete {final} yourself (malaria_lab never deletes your files), "
        "or choose another destination folder, then run again.",
    )


def ensure_free_space(folder, nbytes, what):
    """Fail early, before writing, when ``folder`` lacks room for ``nbytes``."""
    folder = Path(folder)
    probe = next((p for p in (folder, *folder.parents) if p.exists()), Path("."))
    free = shutil.disk_usage(probe).free
    if nbytes > free:
        raise MalariaLabError(
            f"Not enough disk space in {folder} for {what}: need {nbytes / 1e6:.0f} MB, "
            f"{free / 1e6:.0f} MB free.",
            "Free some space or choose another destination folder.",
        )


def _read_marker(folder):
    try:
        marker = json.loads((Path(folder) / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(marker, dict) or not isinstance(marker.get("counts"), dict):
        return None
    return marker


def _checked_members(archive):
    """Every member of ``archive`` by name, after refusing any that could escape the folder."""
    if not archive.is_file() or not zipfile.is_zipfile(archive):
        raise MalariaLabError(
            f"{archive} is not a zip archive.",
            "Give the data set's .zip file (delete it and download it again if it is damaged).",
        )
    try:
        with zipfile.ZipFile(archive) as zf:
            infos = zf.infolist()
    except zipfile.BadZipFile as err:
        raise MalariaLabError(f"{archive} is damaged ({err}).", "Delete it and download it again.") from err
    for info in infos:
        reason = _unsafe(info)
        if reason:
            raise MalariaLabError(
                f"Refusing to extract {archive.name}: entry {info.filename!r} {reason}; "
                "nothing was extracted.",
                "The archive is not the malaria data set or has been tampered with: "
                "download it again from the official source.",
            )
    return {info.filename: info for info in infos}


def _check_sizes(archive, infos):
    """Refuse members that expand past any cell image, and a total far past the archive's size."""
    big = [i for i in infos if i.file_size > MAX_IMAGE_BYTES]
    if big:
        raise MalariaLabError(
            f"Refusing to extract {archive.name}: {big[0].filename} would expand to {big[0].file_size:,} "
            f"bytes, far more than a cell image ({len(big)} such member(s)); nothing was extracted.",
            "This is not the malaria data set (or it is a zip bomb): download it again from the official source.")
    total, size = sum(i.file_size for i in infos), Path(archive).stat().st_size
    if total > MAX_EXPANSION * max(size, 1 << 20):
        raise MalariaLabError(
            f"Refusing to extract {archive.name}: its {size:,} bytes would expand to {total:,} "
            f"({total / size:.0f} times more; images barely compress), a zip bomb; nothing was extracted.",
            "Download the data set again from the official source.")


def _check_classes(archive, refs):
    counts = Counter(ref.label for ref in refs)
    missing = [label for label in CLASSES if not counts.get(label)]
    if missing:
        raise MalariaLabError(
            f"Refusing to extract {archive.name}: it holds no {' and no '.join(missing)} images "
            f"({', '.join(f'{k} {counts.get(k, 0)}' for k in CLASSES)}); nothing was extracted.",
            "A detector needs both classes: check that this is the whole data set "
            "(cell_images/Parasitized and cell_images/Uninfected), or download it again.")


def _unsafe(info):
    """Why a member could write outside the destination, or None when it cannot."""
    name = info.filename.replace("\\", "/")
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        return "has an absolute path"
    if ".." in PurePosixPath(name).parts:
        return "climbs out of the folder with '..'"
    if stat.S_ISLNK(info.external_attr >> 16):
        return "is a symbolic link"
    return None

"""Download the malaria cell images (NIH, Kaggle or any URL), verified, resumable and idempotent.

``fetch`` streams one file to ``<target>.part`` (resuming it with an HTTP Range request), checks
its sha256 and renames it into place; ``download`` fetches the archive into ``dest/downloads/``
and extracts it into ``dest/cell_images``. A finished download is never fetched twice.
"""

import hashlib
import http.client
import os
import re
import socket
import stat
import time
import urllib.error
import urllib.request
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlparse

from tqdm.auto import tqdm

from .._version import __version__
from ..errors import MalariaLabError
from ..outputs import check_out_dir
from .extract import FOLDER, check_destination, completed, ensure_free_space, extract

NIH_URL = "https://data.lhncbc.nlm.nih.gov/public/Malaria/cell_images.zip"
NIH_SIZE = 353_452_851
NIH_SHA256 = "0a949556b2414159b5100192609805376654c4266d8d187be9b1922fad43c668"
KAGGLE_DATASET = "iarunava/cell-images-for-detecting-malaria"
KAGGLE_ZIP = "cell-images-for-detecting-malaria.zip"

RETRIES = 4
_RETRY_WAIT = 1.0
_OFFLINE_HINT = "or run `malaria-lab synth --out DIR` for a small offline data set"


class _Dropped(Exception):
    """The connection ended before the whole file arrived; what came is on disk."""


def fetch(url, target, sha256=None, size=None, progress=True, chunk=1 << 20, timeout=60, log=print):
    """Download ``url`` to ``target`` unless it is already there and verified; return ``target``."""
    return _fetch(url, target, sha256, size, progress, chunk, timeout, log)[0]


def download(dest, source="nih", url=None, sha256=None, progress=True, log=print):
    """Get the data set into ``dest/cell_images`` (archive kept in ``dest/downloads/``); return it."""
    dest = check_out_dir(dest, "--dest")
    sha256 = _check_sha256(sha256)
    final = dest / FOLDER
    done = completed(final)
    if done is not None:
        log(f"Already downloaded and verified: {done['total']} images in {final} "
            f"(from {done.get('source', 'unknown source')}).")
        return final
    check_destination(dest)
    downloads = dest / "downloads"
    if url is not None:
        archive, digest = _fetch(url, downloads / _zip_name(url), sha256, None, progress, log=log)
        meta = {"source": "url", "url": url}
    elif source == "nih":
        archive, digest = _fetch(NIH_URL, downloads / "cell_images.zip", sha256 or NIH_SHA256,
                                 NIH_SIZE if sha256 in (None, NIH_SHA256) else None, progress, log=log)
        meta = {"source": "nih", "url": NIH_URL}
    elif source == "kaggle":
        archive = kaggle_download(dest, progress=progress, log=log)
        digest = file_sha256(archive)
        if sha256 and digest != sha256:
            raise _checksum_error(archive, sha256, digest, removed=False)
        meta = {"source": "kaggle", "dataset": KAGGLE_DATASET}
    else:
        raise MalariaLabError(
            f"Unknown data source {source!r}.",
            f"Use source='nih' (default), source='kaggle', or url='https://...'; {_OFFLINE_HINT}.",
        )
    meta["sha256"] = digest
    return extract(archive, dest, log=log, progress=progress, meta=meta)


def kaggle_download(dest, progress=True, log=print):
    """Download the Kaggle copy of the data set with the official client; return the zip path."""
    config = Path(os.environ.get("KAGGLE_CONFIG_DIR") or Path.home() / ".kaggle") / "kaggle.json"
    if config.is_file() and stat.S_IMODE(config.stat().st_mode) & 0o077:
        os.chmod(config, 0o600)
        log(f"Made {config} readable by you only (chmod 600), as the Kaggle client requires.")
    try:
        import kaggle  # an optional extra, only for --source kaggle
    except ImportError as err:
        raise MalariaLabError(
            f"The Kaggle client could not be imported ({err}).",
            'Install it with `pip install "malaria-lab[kaggle]"`, or use the default NIH source, '
            "which needs no account.",
        ) from err
    except (Exception, SystemExit) as err:
        raise _kaggle_credentials_error(config, err) from err
    try:
        kaggle.api.authenticate()
    except (Exception, SystemExit) as err:
        raise _kaggle_credentials_error(config, err) from err
    downloads = Path(dest) / "downloads"
    downloads.mkdir(parents=True, exist_ok=True)
    log(f"Downloading {KAGGLE_DATASET} from Kaggle into {downloads} ...")
    try:
        kaggle.api.dataset_download_files(KAGGLE_DATASET, path=str(downloads), unzip=False,
                                          quiet=not progress)
    except Exception as err:
        raise MalariaLabError(
            f"The Kaggle download of {KAGGLE_DATASET} failed: {err}",
            f"Check your network and Kaggle credentials and run again; "
            f"or use the default NIH source, {_OFFLINE_HINT}.",
        ) from err
    archive = downloads / KAGGLE_ZIP
    if not archive.is_file():
        raise MalariaLabError(
            f"The Kaggle client finished but {archive} is missing.",
            "Run again; if it persists, use the default NIH source.",
        )
    return archive


def _kaggle_credentials_error(config, err):
    return MalariaLabError(
        f"The Kaggle client found no usable credentials ({err}).",
        "Create an API token at https://www.kaggle.com/settings (API > Create New Token) and save "
        f"the downloaded kaggle.json as {config} (or set KAGGLE_USERNAME and KAGGLE_KEY), then run "
        "again; or use the default NIH source, which needs no account.",
    )


def file_sha256(path, chunk=1 << 20):
    """The sha256 hex digest of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def _fetch(url, target, sha256=None, size=None, progress=True, chunk=1 << 20, timeout=60, log=print):
    """``fetch``, returning (path, sha256 of the file)."""
    target = Path(target)
    expected = _check_sha256(sha256)
    if target.exists():
        return target, _check_existing(target, expected, size, log)
    part = target.with_name(target.name + ".part")
    target.parent.mkdir(parents=True, exist_ok=True)
    if part.exists() and size is not None and part.stat().st_size > size:
        part.unlink()
    for attempt in range(RETRIES + 1):
        try:
            digest, total = _get(url, part, size, progress, chunk, timeout)
            break
        except _Dropped as err:
            if attempt == RETRIES:
                kept = f"; the {_size(part)} received are kept in {part}" if part.exists() else ""
                raise MalariaLabError(
                    f"The download of {url} failed after {RETRIES + 1} tries ({err}){kept}.",
                    "Check the URL and your network connection and run the same command again "
                    f"(it continues where it stopped), {_OFFLINE_HINT}.",
                ) from None
            time.sleep(_RETRY_WAIT * 2**attempt)
    have = part.stat().st_size
    got = digest.hexdigest()
    if (size is not None and have != size) or (total is not None and have != total):
        part.unlink()
        raise MalariaLabError(
            f"The download of {url} has {have} bytes, expected {size if size is not None else total}.",
            "Run the command again to download it afresh; check the URL if it happens again.",
        )
    if expected and got != expected:
        part.unlink()
        raise _checksum_error(url, expected, got)
    os.replace(part, target)
    log(f"Downloaded {target} ({_size(target)}, sha256 {got}).")
    return target, got


def _check_existing(target, expected, size, log):
    """The digest of an already downloaded ``target``, after checking it is the right file."""
    got = file_sha256(target)
    if expected and got != expected:
        raise MalariaLabError(
            f"{target} already exists but is not the expected file: "
            f"sha256 {got}, expected {expected}. It was left untouched.",
            "Delete or move it and run again to download it afresh, "
            "or pass its checksum with --sha256 if you trust it.",
        )
    if not expected and size is not None and target.stat().st_size != size:
        raise MalariaLabError(
            f"{target} already exists but has {target.stat().st_size} bytes, expected {size}. "
            "It was left untouched.",
            "Delete or move it and run again to download it afresh.",
        )
    how = "verified by sha256" if expected else ("size checked" if size is not None else "not verified")
    log(f"Already downloaded ({how}): {target}")
    return got


def _get(url, part, size, progress, chunk, timeout):
    """One HTTP request appending to ``part``; (running sha256, total size or None).

    Raises ``_Dropped`` when the connection breaks (the bytes received stay in ``part``).
    """
    have = part.stat().st_size if part.exists() else 0
    digest = _hash_prefix(part, have)
    if size is not None and have == size:
        return digest, size
    headers = {"User-Agent": f"malaria-lab/{__version__}"}
    if have:
        headers["Range"] = f"bytes={have}-"
    try:
        response = urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout)
    except urllib.error.HTTPError as err:
        if err.code == 416 and have:
            total = _range_total(err.headers.get("Content-Range"))
            if total == have or (total is None and size == have):
                return digest, have
            part.unlink()
            raise _Dropped(f"the server refused to resume at byte {have}") from None
        if err.code in (408, 429) or err.code >= 500:
            raise _Dropped(f"HTTP {err.code} {err.reason}") from None
        raise MalariaLabError(
            f"Download failed: {url} answered HTTP {err.code} {err.reason}.",
            f"Check the URL (and that you may access it), {_OFFLINE_HINT}.",
        ) from None
    except urllib.error.URLError as err:
        if isinstance(err.reason, (str, socket.gaierror)):
            raise MalariaLabError(
                f"Cannot download {url}: {err.reason}.",
                f"Check the URL and your network connection, {_OFFLINE_HINT}.",
            ) from None
        raise _Dropped(f"cannot reach the server: {err.reason}") from None
    except ValueError as err:
        raise MalariaLabError(f"Cannot download {url}: {err}.", "Check the URL.") from None
    except (OSError, http.client.HTTPException) as err:
        raise _Dropped(str(err) or type(err).__name__) from None
    with response:
        start, total = 0, None
        if response.status == 206:
            start, total = _content_range(response.headers.get("Content-Range"))
        else:
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
        if response.status == 206 and start != have:
            part.unlink(missing_ok=True)
            raise _Dropped(f"the server resumed at byte {start} instead of {have}")
        if response.status != 206:
            have, digest = 0, hashlib.sha256()
        if total is not None:
            ensure_free_space(part.parent, total - have, f"the download of {url}")
        with open(part, "ab" if have else "wb") as out, tqdm(
            total=total, initial=have, unit="B", unit_scale=True, unit_divisor=1024,
            desc=PurePosixPath(part.name).stem, disable=not progress,
        ) as bar:
            while True:
                try:
                    block = response.read(chunk)
                except (OSError, http.client.HTTPException) as err:
                    raise _Dropped(f"connection lost: {err}") from None
                if not block:
                    break
                out.write(block)
                digest.update(block)
                have += len(block)
                bar.update(len(block))
    if total is not None and have < total:
        raise _Dropped(f"got {have} of {total} bytes")
    return digest, total


def _hash_prefix(part, have):
    """A sha256 fed with the ``have`` bytes already in ``part``, so resuming still checks it all."""
    digest = hashlib.sha256()
    if have:
        with open(part, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    return digest


def _content_range(value):
    """(first byte, total size or None) from ``bytes a-b/N``; (-1, None) when unreadable."""
    match = re.match(r"bytes\s+(\d+)-(\d+)/(\d+|\*)", value or "")
    if not match:
        return -1, None
    total = match.group(3)
    return int(match.group(1)), (int(total) if total != "*" else None)


def _range_total(value):
    match = re.match(r"bytes\s+\*/(\d+)", value or "")
    return int(match.group(1)) if match else None


def _zip_name(url):
    """A file name for an archive downloaded from ``url``."""
    name = PurePosixPath(unquote(urlparse(url).path)).name
    name = re.sub(r"[^A-Za-z0-9._-]", "_", name).lstrip(".")
    if not name:
        return "download.zip"
    return name if name.lower().endswith(".zip") else name + ".zip"


def _checksum_error(what, expected, got, removed=True):
    done = "The corrupt download was removed." if removed else "It was left in place."
    again = "Run the command again" if removed else f"Delete {what} and run the command again"
    return MalariaLabError(
        f"Checksum mismatch for {what}: expected sha256 {expected}, got {got}. {done}",
        f"{again} to download it afresh; if the file changed on purpose and you trust it, "
        f"pass its checksum with --sha256 {got}.",
    )


def _check_sha256(sha256):
    """The checksum in lower case, refused early (before any download) when malformed."""
    if sha256 is None:
        return None
    if not re.fullmatch(r"[0-9a-fA-F]{64}", str(sha256).strip()):
        raise MalariaLabError(
            f"{sha256!r} is not a sha256 checksum.",
            "Give the 64 hexadecimal digits that `sha256sum FILE` prints, or leave it out.",
        )
    return str(sha256).strip().lower()


def _size(path):
    size = Path(path).stat().st_size
    return f"{size / 1e6:.1f} MB" if size >= 100_000 else f"{size / 1e3:.1f} kB"

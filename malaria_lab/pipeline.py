"""From a manifest to batches: decode each image once, resize, cache on disk, then batch.

Decoding PNGs is the slow part of training on a CPU, so it happens once per (images, size) and
the uint8 arrays are kept in a cache folder; later runs memory-map them. Batches come from a
``keras.utils.PyDataset``, which every Keras backend trains from. Augmentation is made of Keras
preprocessing layers, so it runs inside the model on whatever backend is active.
"""

import hashlib
import json
import os
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm.auto import tqdm

from .atomic import atomic_path, write_json
from .data import decoding
from .data.layout import ZIP_SEP, read_bytes
from .errors import MalariaLabError
from .settings import CACHE_ENV
from .settings import cache_dir as settings_cache_dir

CACHE_VERSION = 1


@dataclass
class Arrays:
    """Decoded images and what they are: ``x`` is (N, size, size, 3) uint8, ``y`` 1 = parasitized."""

    x: np.ndarray
    y: np.ndarray
    patients: list
    paths: list
    skipped: list  # [(path, reason)] images that could not be decoded

    def __len__(self):
        return len(self.y)

    def subset(self, index):
        index = np.asarray(index)
        return Arrays(
            self.x[index], self.y[index], [self.patients[i] for i in index],
            [self.paths[i] for i in index], [],
        )

    def parts(self, rows):
        """``{split: Arrays}`` for the parts named in manifest ``rows`` (skipped images stay out)."""
        where = {row.path: row.split for row in rows}
        index = {}
        for i, path in enumerate(self.paths):
            index.setdefault(where[path], []).append(i)
        return {split: self.subset(ids) for split, ids in index.items()}


def decode(data, size):
    """Bytes of one image -> (size, size, 3) uint8 RGB, whatever its mode (L, RGBA, P, 16-bit...).

    Raises ``data.decoding.Undecodable`` for bytes that are no image it can decode faithfully.
    """
    with decoding.open_image(data) as image:
        rgb = decoding.to_rgb(image)
        return np.asarray(rgb.resize((size, size), Image.BILINEAR), dtype=np.uint8)


def _decode_one(path, size):
    try:
        data = read_bytes(path)
    except OSError as err:
        return None, f"cannot read: {decoding.reason(err)}"
    try:
        return decode(data, size), None
    except decoding.Undecodable as err:
        return None, str(err)


def _fingerprint(path):
    """What identifies one image's current bytes cheaply: path, size and modification time."""
    archive = str(path).split(ZIP_SEP)[0]
    stat = os.stat(archive)
    return f"{path}|{stat.st_size}|{stat.st_mtime_ns}"


def _cache_key(rows, size):
    digest = hashlib.sha256(f"v{CACHE_VERSION}|{size}".encode())
    for row in rows:
        digest.update(f"{_fingerprint(row.path)}|{row.label}\n".encode())
    return digest.hexdigest()[:24]


def load_arrays(rows, image_size=64, cache_dir=None, workers=None, progress=False, use_cache=True):
    """Decode the images of ``rows`` (manifest rows) to arrays, from the cache when possible.

    Unreadable images are skipped with a warning and listed in ``Arrays.skipped``.
    """
    rows = list(rows)
    if not rows:
        raise MalariaLabError("No images to load.", "Check the manifest or the data folder.")
    if int(image_size) < 8:
        raise MalariaLabError(f"Image size {image_size} is too small.", "Use 32 pixels or more.")
    image_size = int(image_size)
    cache = Path(cache_dir) if cache_dir else settings_cache_dir()
    key = _cache_key(rows, image_size) if use_cache else None
    cached = _from_cache(cache, key, len(rows)) if use_cache else None
    if cached is not None:
        x, meta = cached
        keep = meta["kept"]
    else:
        x, keep, skipped = _decode_all(rows, image_size, workers, progress)
        meta = {"kept": keep, "skipped": skipped, "image_size": image_size}
        if use_cache:
            _to_cache(cache, key, x, meta)
    for path, reason in meta["skipped"]:
        warnings.warn(f"Skipped unreadable image {path} ({decoding.clean(reason)}).", stacklevel=2)
    if not keep:
        raise MalariaLabError(f"None of the {len(rows)} images could be decoded.",
                              "Run `malaria-lab scan` on the data to see what is wrong with them.")
    kept = [rows[i] for i in keep]
    y = np.array([row.target for row in kept], dtype=np.int32)
    return Arrays(x, y, [r.patient for r in kept], [r.path for r in kept],
                  [tuple(s) for s in meta["skipped"]])


def _to_cache(cache, key, x, meta):
    """Keep a decode for next time; a cache folder that cannot be written costs only the speed-up."""
    try:
        cache.mkdir(parents=True, exist_ok=True)
        with atomic_path(cache / f"{key}.npy") as tmp:
            with open(tmp, "wb") as handle:
                np.save(handle, x)
        write_json(cache / f"{key}.json", meta)
    except OSError as err:
        warnings.warn(f"Could not keep the decoded images in the cache {cache} ({decoding.reason(err)}); "
                      f"they will be decoded again next time (set {CACHE_ENV} to a writable folder).",
                      stacklevel=3)


def _from_cache(cache, key, n_rows):
    """(array, meta) of a cached decode, or None when there is none or it is damaged."""
    try:
        meta = json.loads((cache / f"{key}.json").read_text())
        x = np.load(cache / f"{key}.npy", mmap_mode="r")
    except (OSError, ValueError):
        return None
    if not isinstance(meta, dict) or len(x) != len(meta.get("kept", ())) or any(
            not 0 <= i < n_rows for i in meta["kept"]):
        return None
    return x, meta


def _decode_all(rows, size, workers, progress):
    """Decode in threads: Pillow releases the GIL while it inflates and resizes."""
    workers = workers or min(8, os.cpu_count() or 1)
    out = np.empty((len(rows), size, size, 3), dtype=np.uint8)
    keep, skipped = [], []
    with decoding.strict(), ThreadPoolExecutor(workers) as pool:
        results = pool.map(lambda row: _decode_one(row.path, size), rows, chunksize=1)
        if progress:
            results = tqdm(results, total=len(rows), desc=f"decode {size}px", unit="img")
        for i, (array, error) in enumerate(results):
            if error is None:
                out[len(keep)] = array
                keep.append(i)
            else:
                skipped.append((rows[i].path, error))
    return out[: len(keep)], keep, skipped


def make_augmenter(flip=True, rotate90=True, rotation=0.0, zoom=0.0, contrast=0.1, brightness=0.1,
                   translation=0.0, seed=None, name="augment"):
    """Keras preprocessing layers for blood-smear cells; ``0``/``False`` turns one off.

    A cell has no up or down, so flips and quarter turns are exact new views; arbitrary-angle
    ``rotation`` (a fraction of a full turn) and ``zoom`` interpolate, and are slow under
    PyTorch. Mild contrast and brightness changes mimic stain differences between slides.
    """
    import keras  # Keras loads only when a model is built or trained

    from .layers import RandomRotate90  # imports Keras

    layers = []
    if flip:
        layers.append(keras.layers.RandomFlip("horizontal_and_vertical", seed=seed))
    if rotate90:
        layers.append(RandomRotate90(seed=seed))
    if rotation:
        layers.append(keras.layers.RandomRotation(rotation, fill_mode="constant", seed=seed))
    if zoom:
        layers.append(keras.layers.RandomZoom(zoom, fill_mode="constant", seed=seed))
    if translation:
        layers.append(keras.layers.RandomTranslation(translation, translation, fill_mode="constant", seed=seed))
    if contrast:
        layers.append(keras.layers.RandomContrast(contrast, value_range=(0, 255), seed=seed))
    if brightness:
        layers.append(keras.layers.RandomBrightness(brightness, value_range=(0, 255), seed=seed))
    return keras.Sequential(layers, name=name)


def _dataset_class():
    import keras  # Keras loads only when a model is built or trained

    class ArrayBatches(keras.utils.PyDataset):
        """Batches of (images as uint8 0-255, labels as float32), reshuffled every epoch when asked.

        Images stay uint8 until the model's input casts them, on the device: a quarter of the
        bytes to gather and copy. Threads prepare the next batches while the model trains.
        """

        def __init__(self, x, y, batch_size=64, shuffle=False, seed=0, workers=2):
            super().__init__(workers=workers, use_multiprocessing=False)
            self.x, self.y = x, np.asarray(y, dtype="float32")
            self.batch_size = int(batch_size)
            self.shuffle = shuffle
            self.rng = np.random.default_rng(seed)
            self.order = self.rng.permutation(len(self.y)) if shuffle else np.arange(len(self.y))

        def __len__(self):
            return -(-len(self.y) // self.batch_size)

        def __getitem__(self, index):
            idx = np.sort(self.order[index * self.batch_size:(index + 1) * self.batch_size])
            return np.asarray(self.x[idx], dtype="uint8"), self.y[idx]

        def on_epoch_end(self):
            if self.shuffle:
                self.order = self.rng.permutation(len(self.y))

    return ArrayBatches


def make_dataset(x, y, batch_size=64, shuffle=False, seed=0, workers=2):
    """A ``keras.utils.PyDataset`` over arrays (works with every Keras backend)."""
    return _dataset_class()(x, y, batch_size=batch_size, shuffle=shuffle, seed=seed, workers=workers)

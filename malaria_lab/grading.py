"""The course's plumbing: fast mode, the work folder, and fallbacks between stages.

Every notebook starts with ``course = grading.setup("03_augment")``. The :class:`Course` it
returns knows where each stage keeps what it makes, and when an earlier stage's result is
missing it uses the reference one instead and says so, so a learner stuck at stage 2 can still
do stages 3 to 6.

* Fast mode (``MALARIA_LAB_FAST=1``, and always while nbgrader validates or autogrades, which set
  ``NBGRADER_EXECUTION``): training uses a small subset and few epochs, so grading a whole
  course takes about a minute on two CPU cores.
* The work folder: ``$MALARIA_LAB_WORK``, else ``malaria_lab_work`` on Google Drive when it is
  mounted in Colab (so the download, each stage's results and training checkpoints survive a
  disconnect, and reach the next notebook, which Colab runs on another machine), else
  ``~/malaria_lab_work``. While nbgrader autogrades, a ``malaria_lab_work`` folder inside the
  submission's own folder, so that one student's files never reach another's grade.
* Memory: on a machine with less than 3 GB (Binder gives 2 GB) training uses a subset of each
  part small enough to fit, and the notebook says so.
* Reference artifacts (the embedded synthetic data set, the reference split, a reference trained
  model) are made on first use and kept in ``$MALARIA_LAB_REFERENCE``, else the cache folder
  (``$MALARIA_LAB_CACHE/course``, else ``~/.cache/malaria_lab/course``), shared by all stages.
* Data: ``$MALARIA_LAB_DATA`` if set (a folder: ``cell_images`` or the one holding it), else what
  stage 1 downloaded into the work folder, else the embedded synthetic data set (made offline in
  seconds).
"""

import hashlib
import io
import json
import os
import sys
from pathlib import Path

import numpy as np

from .atomic import write_json
from .errors import MalariaLabError

STAGES = ("01_download", "02_split", "03_augment", "04_build_cnn", "05_train", "06_evaluate")
FAST_ENV = "MALARIA_LAB_FAST"
WORK_ENV = "MALARIA_LAB_WORK"
REFERENCE_ENV = "MALARIA_LAB_REFERENCE"
DATA_ENV = "MALARIA_LAB_DATA"
# A mounted Google Drive (or any folder that outlives the session) to keep the work folder in.
DRIVE_ENV = "MALARIA_LAB_DRIVE"
COLAB_DRIVE = Path("/content/drive/MyDrive")
IMAGE_SIZE = 64
# 20 patients, so that validation and test get a few each even on the embedded data.
EMBEDDED = dict(per_class=360, patients=20, seed=0)
# Fast mode: at most this many images per part, and this many epochs.
FAST_LIMITS = {"train": 192, "val": 64, "test": 96}
FAST_EPOCHS = 2
# Below this much memory (Binder: 2 GB), at most this many images per part: about 110 MB decoded.
LOW_MEMORY_GB = 3.0
LOW_MEMORY_LIMITS = {"train": 6000, "val": 1500, "test": 1500}
REFERENCE_VERSION = 1


def _truthy(value):
    return str(value or "").strip().lower() not in ("", "0", "false", "no", "off")


def grading_mode():
    """``"validate"`` or ``"autograde"`` while nbgrader runs the notebook, else None."""
    return os.environ.get("NBGRADER_EXECUTION") or None


def fast_mode():
    """True under nbgrader, or with ``MALARIA_LAB_FAST=1`` (CI, Binder)."""
    return bool(grading_mode()) or _truthy(os.environ.get(FAST_ENV))


def in_colab():
    """True inside a Google Colab runtime."""
    return "google.colab" in sys.modules or "COLAB_RELEASE_TAG" in os.environ


def drive_dir():
    """The mounted Google Drive folder (``$MALARIA_LAB_DRIVE``, or My Drive in Colab), else None."""
    env = os.environ.get(DRIVE_ENV)
    if env:
        root = Path(env).expanduser()
    elif in_colab():
        root = COLAB_DRIVE
    else:
        return None
    return root if root.is_dir() else None


def work_dir():
    """Where the course keeps what each stage makes (see the module docstring)."""
    if grading_mode() == "autograde":
        return Path.cwd() / "malaria_lab_work"
    env = os.environ.get(WORK_ENV)
    if env:
        return Path(env).expanduser()
    drive = drive_dir()
    return (drive if drive is not None else Path.home()) / "malaria_lab_work"


def local_images_dir():
    """Where images unpack when the work folder is on Google Drive, which is slow with thousands
    of small files: this machine's own disk."""
    return Path.home() / "malaria_lab_data"


def memory_gb():
    """This machine's memory in GB, container limits (cgroup, Binder's ``MEM_LIMIT``) included."""
    from .magics import memory

    total, _ = memory()
    return None if total is None else total / 1024**3


def reference_dir():
    """Where reference artifacts are made once and kept."""
    env = os.environ.get(REFERENCE_ENV)
    if env:
        return Path(env).expanduser()
    from .pipeline import default_cache_dir

    return default_cache_dir() / "course"


def embedded_data():
    """The embedded synthetic data set (the ``cell_images`` folder), made on first use."""
    from .data.synth import synthesize

    name = "synthetic-{per_class}x2-{patients}p-seed{seed}".format(**EMBEDDED)
    return synthesize(reference_dir() / name, **EMBEDDED)


def _has_images(path):
    from .data.layout import find_images

    try:
        return bool(find_images(path))
    except MalariaLabError:
        return False


def _unusable(rows):
    """Why a manifest cannot be trained and evaluated on, or None when it can."""
    from .data.layout import CLASSES

    if not rows:
        return "it is empty"
    if not all(Path(r.path.split("::")[0]).exists() for r in rows[:50]):
        return "it lists images that are not there"
    for part in ("train", "val", "test"):
        labels = {r.label for r in rows if r.split == part}
        if not labels:
            return f"its {part} part is empty"
        if labels != set(CLASSES):
            return f"its {part} part has cells of one class only"
    return None


def _say(message):
    print(message, flush=True)


class Course:
    """One learner's course: where things are, and each stage's result or its fallback."""

    def __init__(self, stage=None, work=None, fast=None, log=_say, memory=None):
        self.stage = stage
        self.work = Path(work) if work is not None else work_dir()
        self.fast = fast_mode() if fast is None else bool(fast)
        self.memory_gb = memory_gb() if memory is None else float(memory)
        self.low_memory = self.memory_gb is not None and self.memory_gb < LOW_MEMORY_GB
        self.image_size = IMAGE_SIZE
        self.log = log
        self.work.mkdir(parents=True, exist_ok=True)

    # Where each stage keeps its results.
    @property
    def data_dir(self):
        return self.work / "data"

    @property
    def on_drive(self):
        """True when the work folder is on a mounted Google Drive."""
        drive = drive_dir()
        return drive is not None and self.work.resolve().is_relative_to(drive.resolve())

    @property
    def images_dir(self):
        """Where stage 1 unpacks the images: beside the zip, or on this machine's own disk when
        the work folder is on Google Drive, which is slow with thousands of small files."""
        return local_images_dir() if self.on_drive else self.data_dir

    @property
    def manifest_path(self):
        return self.work / "manifest.csv"

    @property
    def augmentation_path(self):
        return self.work / "augmentation.json"

    @property
    def model_path(self):
        return self.work / "cnn.keras"

    @property
    def train_dir(self):
        return self.work / "train"

    @property
    def eval_dir(self):
        return self.work / "evaluate"

    def __repr__(self):
        mode = "fast mode" if self.fast else "full mode"
        return f"<Course stage={self.stage} work={self.work} ({mode})>"

    def describe(self):
        lines = [f"Work folder: {self.work}"]
        if self.on_drive:
            lines.append("It is on your Google Drive: your results, the download and training "
                         "checkpoints survive a disconnect, and the next notebooks find them.")
        elif in_colab() and grading_mode() is None:
            lines.append("Google Drive is not mounted: this folder goes when the Colab session "
                         "ends, and the next notebook (on another machine) will not find it. "
                         "Run the first cell again and allow access to Drive to keep your work.")
        if self.fast:
            why = f"nbgrader {grading_mode()}" if grading_mode() else f"{FAST_ENV}=1"
            lines.append(f"Fast mode ({why}): small subsets and {FAST_EPOCHS} epochs of training.")
        if self.low_memory:
            fits = ("fast mode's small subsets fit in it" if self.fast else
                    "so that training fits, each part is cut to at most "
                    + ", ".join(f"{n} {part}" for part, n in LOW_MEMORY_LIMITS.items()) + " cells")
            lines.append(f"This machine has {self.memory_gb:.1f} GB of memory (Binder-sized): {fits}. "
                         "For the full data set, use Colab or a machine with more memory.")
        return "\n".join(lines)

    # Stage 1: data.
    def data(self, quiet=False):
        """The data set to use: $MALARIA_LAB_DATA, else stage 1's download, else the embedded one."""
        env = os.environ.get(DATA_ENV)
        if env and _has_images(env):
            path = Path(env).expanduser()
            return path / "cell_images" if (path / "cell_images").is_dir() else path
        for folder in dict.fromkeys((self.data_dir, self.images_dir)):
            downloaded = folder / "cell_images"
            if downloaded.is_dir() and _has_images(downloaded):
                return downloaded
        archive = self.data_dir / "downloads" / "cell_images.zip"
        if self.on_drive and archive.is_file():
            from .data.extract import extract

            self.log(f"Unpacking the data set you downloaded earlier ({archive}, on your Google "
                     f"Drive) into {self.images_dir}: about a minute, once per session.")
            return extract(archive, self.images_dir, log=lambda _: None)
        path = embedded_data()
        if not quiet:
            self.log(f"Using the embedded synthetic data set ({EMBEDDED['per_class']} cells per class "
                     f"from {EMBEDDED['patients']} patients), since no downloaded data was found "
                     f"in {self.data_dir}.")
        return path

    def download(self, progress=True):
        """Stage 1's official download: the NIH zip, verified, into the work folder's
        ``data/downloads``, unpacked into :attr:`images_dir`; nothing is fetched twice.
        A data set named by ``$MALARIA_LAB_DATA`` is used instead."""
        from .data.download import NIH_SHA256, NIH_SIZE, NIH_URL, download, fetch
        from .data.extract import completed, extract

        if os.environ.get(DATA_ENV) and _has_images(os.environ[DATA_ENV]):
            self.log(f"Using the data set at ${DATA_ENV}.")
            return self.data(quiet=True)
        if not self.on_drive:
            return download(self.data_dir, progress=progress, log=self.log)
        final = self.images_dir / "cell_images"
        if completed(final) is not None:
            self.log(f"Already downloaded and unpacked: {final}")
            return final
        archive = fetch(NIH_URL, self.data_dir / "downloads" / "cell_images.zip", sha256=NIH_SHA256,
                        size=NIH_SIZE, progress=progress, log=self.log)
        return extract(archive, self.images_dir, log=self.log, progress=progress,
                       meta={"source": "nih", "url": NIH_URL, "sha256": NIH_SHA256})

    def images(self):
        from .data.layout import find_images

        return find_images(self.data(quiet=True))

    # Stage 2: the manifest.
    def reference_rows(self):
        """The reference patient-level split of the data in use (made once, then read)."""
        from .split import read_manifest, split_by_patient, write_manifest

        data = self.data(quiet=True)
        key = hashlib.sha256(str(Path(data).resolve()).encode()).hexdigest()[:12]
        path = reference_dir() / f"manifest-{key}.csv"
        if not path.is_file():
            write_manifest(split_by_patient(self.images(), seed=0), path)
        return read_manifest(path)

    def rows(self):
        """Stage 2's manifest rows, or the reference split when it is missing or broken."""
        from .split import read_manifest

        if self.manifest_path.is_file():
            try:
                rows = read_manifest(self.manifest_path)
                why = _unusable(rows)
                if why is None:
                    return rows
            except MalariaLabError as err:
                why = str(err)
            self.log(f"Your manifest {self.manifest_path} cannot be used ({why}); using the "
                     "reference patient-level split instead.")
        else:
            self.log(f"No manifest from stage 2 at {self.manifest_path}; using the reference "
                     "patient-level split instead (finish stage 2 to use yours).")
        return self.reference_rows()

    def arrays(self, part, rows=None):
        """The decoded images of one part (``train``, ``val``, ``test``); a subset in fast mode."""
        from .pipeline import load_arrays

        rows = [r for r in (rows if rows is not None else self.rows()) if r.split == part]
        if not rows:
            raise MalariaLabError(f"The {part} part of the split is empty.",
                                  "Redo stage 2 so that every part gets at least one patient.")
        limits = FAST_LIMITS if self.fast else LOW_MEMORY_LIMITS if self.low_memory else None
        if limits and len(rows) > limits[part]:
            keep = np.sort(np.random.default_rng(0).permutation(len(rows))[: limits[part]])
            rows = [rows[i] for i in keep]
        return load_arrays(rows, self.image_size)

    def batches(self, part, batch_size=32, arrays=None):
        """A Keras PyDataset of one part (shuffled for ``train``)."""
        from .pipeline import make_dataset

        arrays = arrays if arrays is not None else self.arrays(part)
        return make_dataset(arrays.x, arrays.y, batch_size, shuffle=(part == "train"), seed=0)

    @property
    def recipe(self):
        """The training recipe the course follows: the reference one, or the fast one in fast mode."""
        from . import train

        return train.RECIPES["fast" if self.fast else "reference"].but(image_size=self.image_size)

    def learning_rate(self, steps_per_epoch, epochs):
        """The recipe's learning-rate schedule over ``epochs``: one warm-up epoch, then cosine decay."""
        from . import train

        return train.learning_rate_schedule(self.recipe.but(epochs=int(epochs)), int(steps_per_epoch))

    def epochs(self, n):
        """``n`` epochs, or a couple in fast mode."""
        return min(int(n), FAST_EPOCHS) if self.fast else int(n)

    # Stage 3: augmentation.
    def save_augmentation(self, augmentation):
        """Keep stage 3's augmentation (its Keras config) for stages 4 and 5."""
        import keras

        write_json(self.augmentation_path, keras.saving.serialize_keras_object(augmentation))
        return self.augmentation_path

    def augmentation(self):
        """Stage 3's augmentation, or the reference one when it is missing."""
        import keras

        from . import layers  # noqa: F401  (registers RandomRotate90 for deserialising)
        from .pipeline import make_augmenter

        if self.augmentation_path.is_file():
            try:
                config = json.loads(self.augmentation_path.read_text())
                return keras.saving.deserialize_keras_object(config)
            except Exception as err:  # a hand-edited or foreign file: fall back, say why
                self.log(f"Could not rebuild your augmentation from {self.augmentation_path} "
                         f"({type(err).__name__}: {err}); using the reference one instead.")
        else:
            self.log(f"No augmentation from stage 3 at {self.augmentation_path}; using the "
                     "reference one instead (finish stage 3 to use yours).")
        return make_augmenter()

    # Stage 4: the network.
    def save_model(self, model):
        """Keep stage 4's (untrained) network for stage 5."""
        self.model_path.parent.mkdir(parents=True, exist_ok=True)
        model.save(self.model_path)
        return self.model_path

    def untrained_model(self):
        """Stage 4's network, or the reference CNN (with the augmentation in use) when missing."""
        from .models import load_model

        if self.model_path.is_file():
            try:
                return load_model(self.model_path, compile=False)
            except Exception as err:
                self.log(f"Could not load your network from {self.model_path} "
                         f"({type(err).__name__}: {err}); using the reference CNN instead.")
        else:
            self.log(f"No network from stage 4 at {self.model_path}; using the reference CNN "
                     "instead (finish stage 4 to use yours).")
        from .models import reference_cnn

        return reference_cnn(self.image_size, augmentation=self.augmentation())

    # Stage 5: training.
    @property
    def best_model_path(self):
        return self.train_dir / "model.keras"

    @property
    def history_path(self):
        return self.train_dir / "history.json"

    def save_history(self, history):
        """Keep a training history (``fit(...).history`` or a dict) for stage 6."""
        history = getattr(history, "history", history)
        plain = {k: [float(v) for v in vals] for k, vals in dict(history).items()}
        write_json(self.history_path, plain)
        return self.history_path

    def _reference_training(self):
        """A reference model trained on the reference split (made once, then reused)."""
        from . import train
        from .models import reference_cnn
        from .pipeline import make_augmenter

        data = self.data(quiet=True)
        small = "|low-memory" if self.low_memory and not self.fast else ""
        key = hashlib.sha256(
            f"{REFERENCE_VERSION}|{Path(data).resolve()}|{self.fast}|{self.image_size}{small}".encode()
        ).hexdigest()[:12]
        out = reference_dir() / f"trained-{key}"
        if not (out / "model.keras").is_file() or not (out / "history.json").is_file():
            self.log("Training the reference model once (it is kept for next time)...")
            rows = self.reference_rows()
            recipe = train.RECIPES["fast"].but(image_size=self.image_size)
            epochs = FAST_EPOCHS + 2 if self.fast else recipe.epochs
            model = reference_cnn(self.image_size, augmentation=make_augmenter(seed=0))
            from .quiet import silenced_stderr

            with silenced_stderr():
                train.fit(model, self.arrays("train", rows), self.arrays("val", rows), out, recipe,
                          resume=False, verbose=0, epochs=epochs)
        return out

    def trained_model(self):
        """Stage 5's best checkpoint, or the reference trained model when it is missing."""
        from .models import load_model

        if self.best_model_path.is_file():
            try:
                return load_model(self.best_model_path)
            except Exception as err:
                self.log(f"Could not load your trained model from {self.best_model_path} "
                         f"({type(err).__name__}: {err}); using the reference one instead.")
        else:
            self.log(f"No trained model from stage 5 at {self.best_model_path}; using a reference "
                     "model instead (finish stage 5 to use yours).")
        return load_model(self._reference_training() / "model.keras")

    def history(self):
        """Stage 5's training history, or the reference one's."""
        path = self.history_path
        if not path.is_file():
            path = self._reference_training() / "history.json"
        return json.loads(Path(path).read_text())


def setup(stage, keras=True):
    """Start a stage's notebook: quiet TensorFlow, import Keras now, print where work goes.

    Importing Keras here, in an ungraded set-up cell, keeps TensorFlow's start-up log lines out
    of graded cells.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if keras:
        from .quiet import import_keras

        import_keras()
    course = Course(stage)
    _say(course.describe())
    return course


# Pictures, shown as PNG so that they look the same in Jupyter, Colab and exported HTML.


def show(fig):
    """Display a matplotlib figure in the notebook (and close it)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=fig.dpi)
    try:
        import matplotlib.pyplot as plt

        plt.close(fig)
    except Exception:
        pass
    try:
        from IPython.display import Image, display

        display(Image(buffer.getvalue()))
    except ImportError:  # outside IPython: nothing to show on
        pass


def image_grid(images, titles=None, cols=8, size=1.3, title=None):
    """A figure with ``images`` (uint8 HxWx3 arrays) in a grid, with optional titles."""
    from matplotlib.figure import Figure

    images = list(images)
    cols = max(1, min(cols, len(images)))
    rows = max(1, -(-len(images) // cols))
    fig = Figure(figsize=(cols * size, rows * (size + (0.25 if titles else 0)) + (0.3 if title else 0)),
                 dpi=100, layout="constrained")
    axes = np.atleast_1d(fig.subplots(rows, cols)).reshape(-1)
    for ax in axes:
        ax.axis("off")
    for i, (ax, image) in enumerate(zip(axes, images)):
        ax.imshow(np.clip(np.asarray(image), 0, 255).astype("uint8"))
        if titles:
            ax.set_title(str(titles[i]), fontsize=7)
    if title:
        fig.suptitle(title, fontsize=9)
    return fig


def bar_chart(counts, title=None, xlabel=None, ylabel=None, horizontal=False, size=(7, 3)):
    """A figure with one bar per key of ``counts`` (a dict)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, dpi=100, layout="constrained")
    ax = fig.subplots()
    keys = [str(k) for k in counts]
    values = list(counts.values())
    (ax.barh if horizontal else ax.bar)(keys, values, color="#a33a5a")
    if not horizontal:
        ax.tick_params(axis="x", labelrotation=60, labelsize=7)
    ax.set(title=title or "", xlabel=xlabel or "", ylabel=ylabel or "")
    return fig


def schedule_chart(schedule, steps_per_epoch, epochs, size=(6, 2.6)):
    """A figure of a learning-rate schedule, epoch by epoch."""
    import keras
    from matplotlib.figure import Figure

    total = int(steps_per_epoch) * int(epochs)
    steps = np.unique(np.linspace(0, total, min(total + 1, 200)).astype(int))
    rates = [float(keras.ops.convert_to_numpy(schedule(int(step)))) if callable(schedule)
             else float(schedule) for step in steps]
    fig = Figure(figsize=size, dpi=100, layout="constrained")
    ax = fig.subplots()
    ax.plot(steps / max(1, int(steps_per_epoch)), rates, color="#a33a5a")
    ax.set(xlabel="epoch", ylabel="learning rate", title="Learning rate during training")
    ax.xaxis.get_major_locator().set_params(integer=True)
    return fig


def split_chart(rows, title=None, limit=40):
    """A figure with one bar per patient, coloured by the parts its cells are in."""
    from collections import Counter, defaultdict

    from matplotlib.figure import Figure

    counts = defaultdict(Counter)
    for row in rows:
        counts[row.patient][row.split] += 1
    patients = sorted(counts, key=lambda p: (-sum(counts[p].values()), p))[:limit]
    fig = Figure(figsize=(8, 3.2), dpi=100, layout="constrained")
    ax = fig.subplots()
    bottom = np.zeros(len(patients))
    for part, colour in (("train", "#4c72b0"), ("val", "#dd8452"), ("test", "#c44e52")):
        values = np.array([counts[p][part] for p in patients], dtype=float)
        ax.bar(range(len(patients)), values, bottom=bottom, color=colour, label=part)
        bottom += values
    ax.set_xticks(range(len(patients)), patients, rotation=70, fontsize=6)
    ax.set(ylabel="cells", title=title or "cells per patient, by part")
    ax.legend(fontsize=8)
    return fig


__all__ = [
    "split_chart", "STAGES", "Course", "setup", "fast_mode", "grading_mode", "work_dir", "reference_dir",
    "embedded_data", "show", "image_grid", "bar_chart", "FAST_ENV", "WORK_ENV", "drive_dir",
    "in_colab", "memory_gb",
]

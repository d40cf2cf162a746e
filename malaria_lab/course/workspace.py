"""One learner's course: where each stage keeps what it makes, and a fallback when an earlier
stage's result is missing, so a learner stuck at stage 2 can still do stages 3 to 6.

Every notebook starts with ``course = setup("03_augment")``; the :class:`Course` it returns
reads the modes and folders of :mod:`malaria_lab.settings`, and says at set-up which mode is on,
what it costs and how to get the full run. On a machine with less than 3 GB (Binder gives 2 GB)
small mode is the default: subsets and epochs that fit, with a model that still learns.
Data: ``$MALARIA_LAB_DATA`` if set (a folder: ``cell_images`` or the one holding it), else what
stage 1 downloaded into the work folder, else the course's synthetic data set (made offline in
seconds).
"""

import json
import os
from pathlib import Path

from .. import backend, machine, settings
from ..atomic import write_json
from ..data import download as nih
from ..data import locate
from ..data.extract import completed, extract
from ..data.layout import CLASSES, find_images
from ..data.synth import COURSE_SYNTHETIC
from ..errors import MalariaLabError
from ..pipeline import make_augmenter, make_dataset
from ..quiet import import_keras
from ..settings import (
    DATA_ENV,
    IMAGE_SIZE,
    LOW_MEMORY_GB,
    MODE_ENV,
    MODE_EPOCHS,
    MODE_LIMITS,
    drive_dir,
    grading_mode,
    in_colab,
    local_images_dir,
    work_dir,
)
from ..split import read_manifest
from . import fallbacks


def _unusable(rows):
    """Why a manifest cannot be trained and evaluated on, or None when it can."""
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


# What each mode trains on, and (measured on the NIH data, see benchmarks/README.md) what it costs.
LIMITS, EPOCHS = MODE_LIMITS, MODE_EPOCHS
RECIPE = {"grading": "fast", "small": "small", "full": "reference"}
COST = {
    "grading": "its model barely learns (fine for grading, which checks your code, not the model)",
    "small": "on the full NIH data it scores about {small_accuracy} test accuracy where the full run "
             "scores about {full_accuracy}",
    "full": None,
}
MEASURED = {"small_accuracy": "0.94", "full_accuracy": "0.96"}


def _say(message):
    print(message, flush=True)


class Course:
    """One learner's course: where things are, and each stage's result or its fallback."""

    def __init__(self, stage=None, work=None, log=_say, memory=None, mode=None):
        self.stage = stage
        self.work = Path(work) if work is not None else work_dir()
        self.memory_gb = machine.memory_gb() if memory is None else float(memory)
        self.low_memory = self.memory_gb is not None and self.memory_gb < LOW_MEMORY_GB
        resolved = settings.resolve_mode(mode, self.memory_gb)
        if resolved.problem:
            raise MalariaLabError(*resolved.problem)
        self.mode, self._why = resolved.name, resolved.why
        self.grading = resolved.grading
        self.small = self.mode == "small"
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

    @property
    def fast(self):
        """The same as :attr:`grading`: the name that notebooks released before it had use."""
        return self.grading

    def __repr__(self):
        return f"<Course stage={self.stage} work={self.work} ({self.mode} mode)>"

    def describe(self):
        lines = [f"Work folder: {self.work}"]
        if self.on_drive:
            lines.append("It is on your Google Drive: your results, the download and training "
                         "checkpoints survive a disconnect, and the next notebooks find them.")
        elif in_colab() and grading_mode() is None:
            lines.append("Google Drive is not mounted: this folder goes when the Colab session "
                         "ends, and the next notebook (on another machine) will not find it. "
                         "Run the first cell again and allow access to Drive to keep your work.")
        lines.append(self.describe_mode())
        return "\n".join(lines)

    def describe_mode(self):
        """Which mode is on and why, what it trains on, what it costs, and how to get the full run."""
        if self.mode == "full":
            return "Full mode: every cell of each part, and the recipe's full training."
        why = self._why or f"this machine has {self.memory_gb:.1f} GB of memory"
        limits = ", ".join(f"{n} {part}" for part, n in LIMITS[self.mode].items())
        cost = COST[self.mode].format(**MEASURED)
        full = (f"For the full run, set {MODE_ENV}=full before setup() on a machine with 3 GB or more "
                "(Colab has 12 GB)" if self.low_memory else f"For the full run, set {MODE_ENV}=full before setup()")
        return (f"{self.mode.capitalize()} mode ({why}): at most {limits} cells and {EPOCHS[self.mode]} epochs "
                f"of training; {cost}. {full}. The checks grade the same way in every mode.")

    # Stage 1: data.
    def data(self, quiet=False):
        """The data set to use: $MALARIA_LAB_DATA, else stage 1's download, else the embedded one."""
        found = locate.find_data(locate.places(here=False, work_data=self.data_dir, unpacked=self.images_dir))
        if found is not None:
            return locate.cell_images(found.path)
        archive = self.data_dir / "downloads" / "cell_images.zip"
        if self.on_drive and archive.is_file():
            self.log(f"Unpacking the data set you downloaded earlier ({archive}, on your Google "
                     f"Drive) into {self.images_dir}: about a minute, once per session.")
            return extract(archive, self.images_dir, log=lambda _: None)
        path = fallbacks.synthetic_data()
        if not quiet:
            self.log(f"Using the embedded synthetic data set ({COURSE_SYNTHETIC['per_class']} cells "
                     f"per class from {COURSE_SYNTHETIC['patients']} patients), since no downloaded "
                     f"data was found in {self.data_dir}.")
        return path

    def download(self, progress=True):
        """Stage 1's official download: the NIH zip, verified, into the work folder's
        ``data/downloads``, unpacked into :attr:`images_dir`; nothing is fetched twice.
        A data set named by ``$MALARIA_LAB_DATA`` is used instead."""
        if os.environ.get(DATA_ENV) and locate.has_images(os.environ[DATA_ENV]):
            self.log(f"Using the data set at ${DATA_ENV}.")
            return self.data(quiet=True)
        if not self.on_drive:
            return nih.download(self.data_dir, progress=progress, log=self.log)
        final = self.images_dir / "cell_images"
        if completed(final) is not None:
            self.log(f"Already downloaded and unpacked: {final}")
            return final
        archive = nih.fetch(nih.NIH_URL, self.data_dir / "downloads" / "cell_images.zip",
                            sha256=nih.NIH_SHA256, size=nih.NIH_SIZE, progress=progress, log=self.log)
        return extract(archive, self.images_dir, log=self.log, progress=progress,
                       meta={"source": "nih", "url": nih.NIH_URL, "sha256": nih.NIH_SHA256})

    def images(self):
        return find_images(self.data(quiet=True))

    # Stage 2: the manifest.
    def rows(self):
        """Stage 2's manifest rows, or the fallback split when it is missing or broken."""
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
        return fallbacks.split_rows(self.data(quiet=True))

    def arrays(self, part, rows=None):
        """The decoded images of one part (``train``, ``val``, ``test``); a subset except in full mode."""
        return fallbacks.mode_arrays(rows if rows is not None else self.rows(), part, self.mode, self.image_size)

    def batches(self, part, batch_size=32, arrays=None):
        """A Keras PyDataset of one part (shuffled for ``train``)."""
        arrays = arrays if arrays is not None else self.arrays(part)
        return make_dataset(arrays.x, arrays.y, batch_size, shuffle=(part == "train"), seed=0)

    @property
    def recipe(self):
        """The training recipe the course follows in this mode (the reference one in full mode)."""
        from .. import train  # imports Keras: only once a notebook trains

        return train.RECIPES[RECIPE[self.mode]].but(image_size=self.image_size)

    def learning_rate(self, steps_per_epoch, epochs):
        """The recipe's learning-rate schedule over ``epochs``: one warm-up epoch, then cosine decay."""
        from .. import train  # imports Keras, see recipe

        return train.learning_rate_schedule(self.recipe.but(epochs=int(epochs)), int(steps_per_epoch))

    def epochs(self, n):
        """``n`` epochs, at most the mode's (two in grading mode)."""
        cap = EPOCHS[self.mode]
        return min(int(n), cap) if cap else int(n)

    # Stage 3: augmentation.
    def save_augmentation(self, augmentation):
        """Keep stage 3's augmentation (its Keras config) for stages 4 and 5."""
        import keras  # stage 3 has loaded Keras already; stages 1 and 2 never need it

        write_json(self.augmentation_path, keras.saving.serialize_keras_object(augmentation))
        return self.augmentation_path

    def augmentation(self):
        """Stage 3's augmentation, or the reference one when it is missing."""
        import keras  # see save_augmentation

        from .. import layers  # noqa: F401  (imports Keras; registers RandomRotate90 for deserialising)

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
        from ..models import load_model, reference_cnn  # imports Keras: stages 4 to 6 only

        if self.model_path.is_file():
            try:
                return load_model(self.model_path, compile=False)
            except Exception as err:
                self.log(f"Could not load your network from {self.model_path} "
                         f"({type(err).__name__}: {err}); using the reference CNN instead.")
        else:
            self.log(f"No network from stage 4 at {self.model_path}; using the reference CNN "
                     "instead (finish stage 4 to use yours).")
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

    def trained_model(self):
        """Stage 5's best checkpoint, or the reference trained model when it is missing."""
        from ..models import load_model  # imports Keras, see untrained_model

        if self.best_model_path.is_file():
            try:
                return load_model(self.best_model_path)
            except Exception as err:
                self.log(f"Could not load your trained model from {self.best_model_path} "
                         f"({type(err).__name__}: {err}); using the reference one instead.")
        else:
            self.log(f"No trained model from stage 5 at {self.best_model_path}; using a reference "
                     "model instead (finish stage 5 to use yours).")
        return load_model(self._trained() / "model.keras")

    def _trained(self):
        return fallbacks.trained_dir(self.data(quiet=True), self.mode, self.image_size, self.log)

    def history(self):
        """Stage 5's training history, or the reference one's."""
        path = self.history_path
        if not path.is_file():
            path = self._trained() / "history.json"
        return json.loads(Path(path).read_text())


def setup(stage, keras=True):
    """Start a stage's notebook: quiet TensorFlow, import Keras now, print where work goes.

    Importing Keras here, in an ungraded set-up cell, keeps TensorFlow's start-up log lines out
    of graded cells. A backend that is unknown or not installed stops here with one line saying
    what to do (a stage without Keras only notes it).
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if keras:
        import_keras()
    else:
        try:
            backend.check()
        except MalariaLabError as err:
            _say(f"Note: {err} This stage does not need Keras; the next ones do.")
    course = Course(stage)
    _say(course.describe())
    return course

"""Benchmark: the 2020 tutorial's recipe against ours, on the same images and the same
patient-disjoint split, in one run. Prints images per second per epoch, wall time and test scores.

    python benchmarks/compare_recipes.py --data ../shared/data/nih-cells-sample.zip --out runs/bench

The tutorial's recipe is run faithfully, with the Keras 3 fixes it needs:
``ImageDataGenerator`` (now only ``tf.keras.preprocessing.image``; scipy for zoom) reading
directories, 100 px, its CNN, ``RMSprop(learning_rate=1e-3)`` (was ``lr=``), batch 32, early
stopping with patience 3, a checkpoint ending in ``.keras``. Its directories are symbolic links
made from our manifest: the original moved the user's files, this moves nothing.
"""

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from malaria_lab.quiet import import_keras  # noqa: E402

keras = import_keras()

from malaria_lab import evaluate  # noqa: E402
from malaria_lab.data.extract import extract  # noqa: E402
from malaria_lab.data.layout import find_images  # noqa: E402
from malaria_lab.models import tutorial_cnn  # noqa: E402
from malaria_lab.pipeline import load_arrays  # noqa: E402
from malaria_lab.split import describe, split_by_patient, write_manifest  # noqa: E402
from malaria_lab.train import get_recipe  # noqa: E402
from malaria_lab.workflow import train_and_calibrate  # noqa: E402


class EpochTimer(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self.start)


def link_tree(rows, root):
    """train/val/test folders of class folders, filled with symbolic links to the images."""
    for row in rows:
        target = root / row.split / row.label / Path(row.path).name
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists():
            os.symlink(os.path.abspath(row.path), target)
    return root


def tutorial(rows, out, max_epochs, bn_momentum=0.99):
    from tensorflow.keras.preprocessing.image import ImageDataGenerator

    start = time.perf_counter()
    tree = link_tree(rows, out / "tutorial_dirs")
    # The model rescales inside (Rescaling layer), so the generators pass raw 0-255 pixels.
    train_gen = ImageDataGenerator(shear_range=0.2, zoom_range=0.2, horizontal_flip=True)
    plain = ImageDataGenerator()
    flow = dict(target_size=(100, 100), batch_size=32, class_mode="binary",
                classes=["Uninfected", "Parasitized"])
    train = train_gen.flow_from_directory(tree / "train", shuffle=True, seed=0, **flow)
    val = plain.flow_from_directory(tree / "val", shuffle=False, **flow)
    test = plain.flow_from_directory(tree / "test", shuffle=False, **flow)
    keras.utils.set_random_seed(0)
    model = tutorial_cnn(image_size=100, bn_momentum=bn_momentum)
    model.compile(optimizer=keras.optimizers.RMSprop(learning_rate=1e-3), loss="binary_crossentropy",
                  metrics=["accuracy"])
    timer = EpochTimer()
    model.fit(train, validation_data=val, epochs=max_epochs, verbose=2, callbacks=[
        timer,
        keras.callbacks.EarlyStopping(monitor="val_loss", patience=3, restore_best_weights=True),
        keras.callbacks.ModelCheckpoint(str(out / f"tutorial_bn{bn_momentum}.keras"), save_best_only=True),
    ])
    p = model.predict(test, verbose=0).reshape(-1)
    report = evaluate.metrics(test.classes, p, 0.5)
    return dict(report, wall=time.perf_counter() - start, epochs=len(timer.seconds),
                ips=statistics.median(train.n / s for s in timer.seconds), n_test=int(test.n))


def ours(rows, out, recipe):
    start = time.perf_counter()
    arrays = load_arrays(rows, recipe.image_size, cache_dir=out / "cache", progress=True)
    decoded = time.perf_counter() - start
    parts = arrays.parts(rows)
    model, summary = train_and_calibrate(parts["train"], parts["val"], out / "ours", recipe, verbose=2)
    report = evaluate.evaluate(model, parts["test"], threshold=summary["threshold"], tta=recipe.tta)
    return dict(report, wall=time.perf_counter() - start, epochs=summary["epochs_run"], decode=decoded,
                ips=statistics.median(summary["images_per_second"]))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, type=Path)
    parser.add_argument("--out", type=Path, default=Path("runs/bench"))
    parser.add_argument("--recipe", default="reference")
    parser.add_argument("--max-epochs", type=int, default=25, help="cap for the tutorial's early stopping")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-bn-fix", action="store_true",
                        help="skip the extra run of the tutorial's recipe with batch-norm momentum 0.9")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    data = args.data
    if data.is_file():  # the tutorial reads directories, so a zip is extracted once
        data = extract(data, args.out / "extracted") if not (args.out / "extracted" / "cell_images").exists() \
            else args.out / "extracted" / "cell_images"
    rows = split_by_patient(find_images(data), seed=args.seed)
    write_manifest(rows, args.out / "manifest.csv")
    print(describe(rows), flush=True)
    results = {"tutorial": tutorial(rows, args.out, args.max_epochs)}
    if not args.no_bn_fix:
        # The tutorial's BN momentum 0.99 lets validation sit at the majority class on small
        # data; this row shows how much of the gap that one setting explains.
        results["tutorial, BN momentum 0.9"] = tutorial(rows, args.out, args.max_epochs, bn_momentum=0.9)
    results["ours"] = ours(rows, args.out, get_recipe(args.recipe))
    (args.out / "results.json").write_text(json.dumps(results, indent=2, default=float))
    print(f"\nSame {len(rows)} images, patient-disjoint split (seed {args.seed}), "
          f"backend {keras.backend.backend()}, {os.cpu_count()} CPU cores\n")
    print("| recipe | images/s per epoch | epochs | wall time | test accuracy | AUC | sensitivity | specificity |")
    print("|---|---|---|---|---|---|---|---|")
    for name, r in results.items():
        print(f"| {name} | {r['ips']:.0f} | {r['epochs']} | {r['wall'] / 60:.1f} min | {r['accuracy']:.3f} | "
              f"{r['auc']:.3f} | {r['sensitivity']:.3f} | {r['specificity']:.3f} |")


if __name__ == "__main__":
    main()

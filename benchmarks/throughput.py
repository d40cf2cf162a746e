"""Training throughput of a recipe, in images per second, with the data decoded once and held
in memory: the figure to compare across machines (2 CPU cores, a GPU) and backends.

    KERAS_BACKEND=torch python benchmarks/throughput.py --data DATA --batch-sizes 64 256 1024

Each batch size trains for ``--epochs`` epochs; the first is a warm-up and is not counted.
"""

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from malaria_lab.quiet import import_keras  # noqa: E402

keras = import_keras()

from malaria_lab.data.layout import find_images  # noqa: E402
from malaria_lab.machine import device  # noqa: E402
from malaria_lab.pipeline import load_arrays, make_dataset  # noqa: E402
from malaria_lab.precision import CHOICES, resolve  # noqa: E402
from malaria_lab.split import Row  # noqa: E402
from malaria_lab.train import build_model, compile_model, get_recipe  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, type=Path)
    parser.add_argument("--recipe", default="reference")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[64, 256, 1024])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2, help="threads that prepare batches")
    parser.add_argument("--precision", choices=CHOICES,
                        help="float32, mixed_bfloat16 or auto (default: the recipe's own)")
    args = parser.parse_args()
    recipe = get_recipe(args.recipe)
    recipe = recipe.but(precision=args.precision or recipe.precision)
    start = time.perf_counter()
    rows = [Row(r.path, r.label, r.patient, "train") for r in find_images(args.data)]
    arrays = load_arrays(rows, recipe.image_size, use_cache=False)
    decode = time.perf_counter() - start
    print(f"{len(arrays)} images decoded at {recipe.image_size} px in {decode:.1f} s; "
          f"backend {keras.backend.backend()}, {resolve(recipe.precision)}, {args.workers} loader threads, "
          f"{device()['used']} ({os.cpu_count()} CPU cores)", flush=True)
    print("| batch size | images/s | seconds per epoch |\n|---|---|---|")
    for batch_size in args.batch_sizes:
        r = recipe.but(batch_size=batch_size)
        data = make_dataset(arrays.x, arrays.y, batch_size, shuffle=True, workers=args.workers)
        model = compile_model(build_model(r), r, len(data))
        times = []

        class Timer(keras.callbacks.Callback):
            def on_epoch_begin(self, epoch, logs=None):
                self.t = time.perf_counter()

            def on_epoch_end(self, epoch, logs=None):
                times.append(time.perf_counter() - self.t)

        model.fit(data, epochs=args.epochs, verbose=0, callbacks=[Timer()])
        counted = times[1:] or times
        per_epoch = sum(counted) / len(counted)
        print(f"| {batch_size} | {len(arrays) / per_epoch:,.0f} | {per_epoch:.2f} |", flush=True)


if __name__ == "__main__":
    main()

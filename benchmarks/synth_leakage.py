"""Does the synthetic data leak like the real one? Random vs patient-level split accuracy.

Synthesises a data set, trains the same small CNN on a random image-level 70/30 split and on a
patient-level 70/30 split, and prints both test accuracies. The random split should score
clearly higher (near-duplicate cells and patient style leak across it); the patient split
should stay informative (roughly 0.75-0.95).

    python benchmarks/synth_leakage.py [--per-class 600] [--patients 12] [--seed 0] [--epochs 8]
"""

import argparse
import os
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
from PIL import Image

from malaria_lab.data.layout import find_images
from malaria_lab.data.synth import synthesize

SIZE = 48


def load(root):
    refs = find_images(root)
    small = [Image.open(r.path).convert("RGB").resize((SIZE, SIZE), Image.BILINEAR) for r in refs]
    x = np.stack([np.asarray(im) for im in small]).astype("float32") / 255.0
    y = np.array([r.target for r in refs], dtype="float32")
    groups = np.array([r.patient for r in refs])
    return x, y, groups


def random_split(rng, n):
    order = rng.permutation(n)
    cut = int(round(0.7 * n))
    return order[:cut], order[cut:]


def patient_split(rng, y, groups):
    """Whole patients to test, ~30% of images with both classes near their overall share."""
    patients = np.unique(groups)
    for _ in range(1000):
        test, count = [], 0
        for p in rng.permutation(patients):
            if count >= 0.3 * len(y):
                break
            test.append(p)
            count += int((groups == p).sum())
        mask = np.isin(groups, test)
        if 0.2 <= mask.mean() <= 0.4 and abs(y[mask].mean() - y.mean()) < 0.15:
            return np.flatnonzero(~mask), np.flatnonzero(mask)
    raise SystemExit("could not find a patient split with both classes on each side")


def build_model(lr):
    import keras
    from keras import layers

    blocks = []
    for filters in (16, 32, 64):
        blocks += [
            layers.Conv2D(filters, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(),
        ]
    model = keras.Sequential(
        [
            keras.Input((SIZE, SIZE, 3)),
            # [0, 1] -> [-1, 1]: on black-cornered crops, plain [0, 1] input stalls for epochs
            layers.Rescaling(2.0, offset=-1.0),
            *blocks,
            layers.Flatten(),
            layers.Dropout(0.3),
            layers.Dense(64, activation="relu"),
            layers.Dense(1, activation="sigmoid"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(lr), loss="binary_crossentropy", metrics=["accuracy"]
    )
    return model


def train_eval(x, y, train, test, args, seed):
    """Test accuracy of a fresh model, and its hits per test image."""
    import keras

    keras.utils.set_random_seed(seed)
    model = build_model(args.lr)
    model.fit(x[train], y[train], epochs=args.epochs, batch_size=args.batch, verbose=0)
    hits = (model.predict(x[test], batch_size=256, verbose=0)[:, 0] > 0.5) == (y[test] > 0.5)
    return float(hits.mean()), hits


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-class", type=int, default=600)
    parser.add_argument("--patients", type=int, default=12)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--repeats", type=int, default=3, help="splits of each kind to average")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        root = synthesize(tmp, per_class=args.per_class, patients=args.patients, seed=args.seed)
        made = time.perf_counter() - start
        x, y, groups = load(root)
    n = len(y)
    print(f"synth: {n} images, {len(np.unique(groups))} patients in {made:.1f} s "
          f"({1000 * made / n:.1f} s per 1,000 images)")

    results = {"random": [], "patient": []}
    start = time.perf_counter()
    for r in range(args.repeats):
        rng = np.random.default_rng(100 + r)
        tr, te = random_split(rng, n)
        acc, _ = train_eval(x, y, tr, te, args, r)
        results["random"].append(acc)
        tr, te = patient_split(rng, y, groups)
        acc, hits = train_eval(x, y, tr, te, args, r)
        results["patient"].append(acc)
        per = ", ".join(
            f"{p}: {hits[groups[te] == p].mean():.2f} of {(groups[te] == p).sum()} "
            f"({y[te][groups[te] == p].mean():.0%} pos)"
            for p in np.unique(groups[te])
        )
        print(f"  split {r}: random {results['random'][-1]:.3f}  patient {acc:.3f}  [{per}]")
    rand, pat = np.mean(results["random"]), np.mean(results["patient"])
    print(f"random split accuracy:  {rand:.3f}")
    print(f"patient split accuracy: {pat:.3f}")
    print(f"gap (random - patient): {rand - pat:+.3f}")
    print(f"training wall time: {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()

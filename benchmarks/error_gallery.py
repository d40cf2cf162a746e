"""A random sample of a cross-validation run's mistakes, at the images' own resolution, to look at.

    python benchmarks/error_gallery.py --cv runs/cv --recipe reference --out runs/gallery

Reads each fold's kept test cells (``cross_validate.py`` keeps their paths, labels, probabilities
and the fold's threshold) and draws ``--n`` missed parasitized cells, ``--n`` false alarms, and a
smaller sample of cells called right, for comparison. Each sheet numbers its cells; `sample.csv`
lists them under those numbers with a blank ``verdict`` column, so whoever looks can record which
mistakes are the model's and which are the label's. A random sample, not the most confident
mistakes, so that the counts estimate rates over all the mistakes.
"""

import argparse
import csv
import io
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from matplotlib.figure import Figure  # noqa: E402
from PIL import Image  # noqa: E402

from malaria_lab.atomic import atomic_path  # noqa: E402
from malaria_lab.data.layout import read_bytes  # noqa: E402

SHEETS = {  # sheet: (label, called parasitized)
    "missed_parasitized": (1, False),
    "false_alarms": (0, True),
    "correct_parasitized": (1, True),
    "correct_uninfected": (0, False),
}


def kept_cells(cv_dir, recipe):
    """Every test cell of the run's folds: path, patient, fold, label, probability, call."""
    files = sorted(Path(cv_dir).glob(f"{recipe}-fold*/probabilities.npz"))
    if not files:
        raise SystemExit(f"No folds of {recipe!r} in {cv_dir}: run cross_validate.py with --out {cv_dir} first.")
    cells = []
    for f in files:
        z = np.load(f)
        if "paths_test" not in z:
            raise SystemExit(f"{f} keeps no cell paths (an older run): run that fold again.")
        fold = f.parent.name.rsplit("-fold", 1)[1]
        for path, patient, y, p in zip(z["paths_test"], z["patients_test"], z["y_test"], z["p_test"]):
            cells.append({"path": str(path), "patient": str(patient), "fold": fold, "label": int(y),
                          "probability": float(p), "called": bool(p >= float(z["threshold"]))})
    return cells


def sample(cells, n, n_correct, seed=0):
    """``{sheet: (cells drawn, cells of that kind)}``: up to ``n`` of each kind of mistake and
    ``n_correct`` of each right call."""
    rng = np.random.default_rng(seed)
    picked = {}
    for sheet, (label, called) in SHEETS.items():
        pool = [c for c in cells if c["label"] == label and c["called"] == called]
        k = min(len(pool), n if label != called else n_correct)
        picked[sheet] = ([pool[i] for i in sorted(rng.choice(len(pool), k, replace=False))], len(pool))
    return picked


def sheet(cells, title, cols=8):
    """The cells in a numbered grid, each at its own resolution scaled to fit its square."""
    rows = max(1, -(-len(cells) // cols))
    fig = Figure(figsize=(cols * 1.3, rows * 1.45 + 0.4), dpi=100, layout="constrained")
    axes = np.atleast_1d(fig.subplots(rows, cols)).reshape(-1)
    for ax in axes:
        ax.axis("off")
    for i, (ax, cell) in enumerate(zip(axes, cells)):
        with Image.open(io.BytesIO(read_bytes(cell["path"]))) as image:
            ax.imshow(np.asarray(image.convert("RGB")))
        ax.set_title(f"{i}  p={cell['probability']:.2f}", fontsize=7)
    fig.suptitle(title, fontsize=9)
    return fig


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cv", required=True, type=Path, help="the --out folder of cross_validate.py")
    parser.add_argument("--recipe", default="reference", help="the recipe (or variant) name in that folder")
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--n", type=int, default=48, help="mistakes of each kind to draw")
    parser.add_argument("--correct", type=int, default=16, help="right calls of each class to draw")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    cells = kept_cells(args.cv, args.recipe)
    picked = sample(cells, args.n, args.correct, args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    for name, (chosen, total) in picked.items():
        title = f"{args.recipe}: {name.replace('_', ' ')}, {len(chosen)} drawn of {total}"
        with atomic_path(args.out / f"{name}.png") as tmp:
            sheet(chosen, title).savefig(tmp, format="png")
        print(f"{args.out / f'{name}.png'}: {len(chosen)} of {total}")
    fields = ["sheet", "number", "fold", "patient", "label", "probability", "path", "verdict"]
    with atomic_path(args.out / "sample.csv") as tmp:
        with open(tmp, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fields, extrasaction="ignore")
            writer.writeheader()
            for name, (chosen, _) in picked.items():
                for i, cell in enumerate(chosen):
                    writer.writerow(dict(cell, sheet=name, number=i, probability=f"{cell['probability']:.4f}",
                                         verdict=""))
    print(f"{args.out / 'sample.csv'}: the drawn cells by sheet and number, with a verdict column to fill in")


if __name__ == "__main__":
    main()

"""The course's modes side by side: each stage's wall time, stage 5's training time and its
validation accuracy and AUC, stage 6's test scores and threshold, and peak memory.

    python benchmarks/modes.py --modes grading small [--data DATA] [--out runs/modes]

Runs ``malaria-lab reference --mode MODE`` (the six notebooks with their reference solutions, one
fresh kernel each) once per mode, on the embedded data set unless ``--data`` names a real one.
Peak memory is the largest resident size of any process of the run (the stage kernels).
"""

import argparse
import json
import subprocess
import sys
import tempfile
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from malaria_lab.settings import MODES, STAGES  # noqa: E402

FIT_CELL = "code-18"
# Runs a command and prints, last on stderr, the largest resident size (KB) of any process it ran.
PEAK = ("import resource, subprocess, sys; code = subprocess.run(sys.argv[1:]).returncode; "
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); sys.exit(code)")


def fit_seconds(notebook):
    """Seconds the stage-5 training cell ran, from nbclient's timing metadata."""
    nb = json.loads(Path(notebook).read_text())
    cell = next(c for c in nb["cells"] if c.get("id") == FIT_CELL)
    timing = cell["metadata"]["execution"]
    start, end = (datetime.fromisoformat(timing[k].replace("Z", "+00:00"))
                  for k in ("iopub.execute_input", "shell.execute_reply"))
    return (end - start).total_seconds()


def run(mode, data, out):
    args = [sys.executable, "-m", "malaria_lab", "reference", "--mode", mode, "--out", str(out)]
    args += ["--data", str(data)] if data else ["--embedded"]
    done = subprocess.run([sys.executable, "-c", PEAK, *args], capture_output=True, text=True)
    peak_mb = int(done.stderr.strip().splitlines()[-1]) / 1024
    if done.returncode != 0:
        raise SystemExit(f"{mode}: malaria-lab reference failed:\n{done.stderr[-3000:]}")
    report = json.loads((out / "report.json").read_text())
    history = json.loads((out / "work" / "train" / "history.json").read_text())
    best = max(range(len(history["val_auc"])), key=lambda i: history["val_auc"][i])
    return {
        "mode": mode, "stages": {s["stage"]: s["seconds"] for s in report["stages"]},
        "total": report["total_seconds"], "fit": fit_seconds(out / "notebooks" / "05_train.ipynb"),
        "epochs": len(history["loss"]), "val_accuracy": history["val_accuracy"][-1],
        "val_auc": history["val_auc"][-1], "best_val_auc": history["val_auc"][best],
        "test": report.get("test", {}), "peak_mb": peak_mb,
        "data": report["data"],
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modes", nargs="+", choices=MODES, default=["grading", "small"])
    parser.add_argument("--data", type=Path, help="a folder holding cell_images/ (default: the embedded data)")
    parser.add_argument("--out", type=Path, help="keep each run in OUT/MODE (default: a temporary folder)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="malaria-lab-modes-") as tmp:
        root = args.out or Path(tmp)
        rows = [run(mode, args.data, root / mode) for mode in args.modes]
    first = rows[0]["data"]
    print(f"{first['kind']} data, {first['images']} images; one run per mode, 2 CPU cores as measured\n")
    print("| mode | " + " | ".join(STAGES) + " | total (s) | stage 5 training (s) | epochs | val accuracy | val AUC "
          "| test accuracy | test AUC | test sensitivity | threshold | peak memory (MB) |")
    print("|---" * (len(STAGES) + 11) + "|")
    for r in rows:
        t = r["test"]
        print(f"| {r['mode']} | " + " | ".join(f"{r['stages'].get(s, float('nan')):.1f}" for s in STAGES)
              + f" | {r['total']:.0f} | {r['fit']:.1f} | {r['epochs']} | {r['val_accuracy']:.3f} | "
              f"{r['val_auc']:.3f} | "
              f"{t.get('accuracy', float('nan')):.3f} | {t.get('auc', float('nan')):.3f} | "
              f"{t.get('sensitivity', float('nan')):.3f} | {t.get('threshold', float('nan')):.4f} | "
              f"{r['peak_mb']:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

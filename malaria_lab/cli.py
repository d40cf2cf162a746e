"""The ``malaria-lab`` command line: a stable interface for instructors' scripts and our checks.

Every error a user can fix exits with status 2 and one line on stderr saying what was wrong and
what to do.
"""

import argparse
import errno
import sys
import warnings
from pathlib import Path

from ._version import __version__
from .atomic import to_json
from .backend import check as check_backend
from .cli_course import add_commands as add_course_commands
from .data import scan as scanning
from .data.download import download
from .data.synth import synthesize
from .errors import MalariaLabError
from .outputs import check_out_file
from .precision import CHOICES as PRECISIONS
from .recipes import get_recipe
from .settings import MODES
from .split import HEADER, check_leakage, describe, split_dataset, write_manifest
from .workflow import evaluate_on, run_all, train_on


def _download(args):
    download(args.dest, source=args.source, url=args.url, sha256=args.sha256, progress=not args.quiet)


def _synth(args):
    root = synthesize(args.out, per_class=args.per_class, patients=args.patients, seed=args.seed,
                      progress=not args.quiet)
    print(f"Synthetic cells in {root}")


def _scan(args):
    try:
        report = scanning.scan(args.path, progress=not args.quiet and not args.json, patients=args.patients)
    except MalariaLabError as err:
        if args.json:  # a script reading stdout still gets JSON
            print(to_json({"path": str(args.path), "error": str(err)}))
        raise
    print(to_json(report) if args.json else scanning.format_report(report))


def _split(args):
    check_out_file(args.out, "--out", header=HEADER)
    rows = split_dataset(args.path, seed=args.seed, by=args.by, patients=args.patients,
                         fractions=(args.train, args.val, round(1 - args.train - args.val, 6)))
    write_manifest(rows, args.out)
    print(describe(rows))
    print(check_leakage(rows, hashes=not args.no_hash).summary())
    print(f"Manifest: {args.out}")


def _train(args):
    recipe = get_recipe(args.recipe)
    if args.precision:
        recipe = recipe.but(precision=args.precision)
    train_on(args.data, args.out, recipe=recipe, seed=args.seed, val_fraction=args.validation,
             verbose=_verbosity(args), patients=args.patients, force=args.force)


def _evaluate(args):
    evaluate_on(args.model, args.data, args.out, threshold=args.threshold,
                tta=None if args.tta is None else args.tta == "on", progress=not args.quiet,
                patients=args.patients)


def _run(args):
    run_all(args.data, args.out, recipe=args.recipe, seed=args.seed, verbose=_verbosity(args),
            patients=args.patients, force=args.force)


def _reference(args):
    from .instructor.reference import run  # the reference run loads nbformat and nbclient

    run(args.out, data=args.data, mode=args.mode, course=args.course,
        timeout=args.timeout, require_gpu=args.require_gpu, embedded=args.embedded,
        log=(lambda _: None) if args.quiet else print)


def _verbosity(args):
    return 0 if args.quiet else 2


def parser():
    p = argparse.ArgumentParser(
        prog="malaria-lab",
        description="Build a malaria detector from blood-smear cell images, end to end.",
    )
    p.add_argument("--version", action="version", version=f"malaria-lab {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    data_help = "a folder holding cell_images/ (or that folder, or such a zip)"

    def command(name, func, help):
        c = sub.add_parser(name, help=help, description=help)
        c.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
        c.set_defaults(func=func)
        return c

    def patients(c):
        c.add_argument("--patients", nargs="+", type=Path, metavar="FILE",
                       help="who each image is from, instead of its file name: a CSV with columns "
                            "file,patient (optionally class), or NIH's patientid_cellmapping_*.csv")

    def force(c):
        c.add_argument("--force", action="store_true",
                       help="start over in an --out folder that holds a run of other data or settings "
                            "(only its run files are replaced)")

    c = command("download", _download, "Download and verify the NIH cell images into DEST/cell_images.")
    c.add_argument("--dest", required=True, type=Path)
    c.add_argument("--source", choices=("nih", "kaggle"), default="nih")
    c.add_argument("--url", help="any URL of a zip in the official layout")
    c.add_argument("--sha256", help="expected sha256 of the file at --url")

    c = command("synth", _synth, "Make the embedded synthetic data set (offline), same layout as NIH's.")
    c.add_argument("--out", required=True, type=Path)
    c.add_argument("--per-class", type=int, default=300)
    c.add_argument("--patients", type=int, default=8)
    c.add_argument("--seed", type=int, default=0)

    c = command("scan", _scan, "Report on a data set: classes, patients, sizes, bad and duplicate files.")
    c.add_argument("path", type=Path, help=data_help)
    c.add_argument("--json", action="store_true", help="print the report as JSON")
    patients(c)

    c = command("split", _split, "Split by patient into train/val/test; write a manifest CSV (moves nothing).")
    c.add_argument("path", type=Path, help=data_help)
    c.add_argument("--out", required=True, type=Path, help="manifest CSV to write")
    c.add_argument("--seed", type=int, default=0)
    c.add_argument("--train", type=float, default=0.7, help="share of images for training")
    c.add_argument("--val", type=float, default=0.15, help="share for validation (the rest is test)")
    c.add_argument("--by", choices=("patient", "image"), default="patient",
                   help="'image' is the tutorial's leaky random split, for demonstrations only")
    c.add_argument("--no-hash", action="store_true", help="skip the duplicate-image check")
    patients(c)

    c = command("train", _train, "Train on data (with the recipe's patient-level validation split, if any); "
                "writes OUT/model.keras.")
    c.add_argument("--data", required=True, nargs="+", type=Path, help=data_help + "; several allowed")
    c.add_argument("--out", required=True, type=Path)
    c.add_argument("--recipe", default="reference", help="reference (default), tutorial or fast")
    c.add_argument("--precision", choices=PRECISIONS,
                   help="compute in float32 (every recipe's default) or bfloat16; auto: bfloat16 "
                        "where the CPU has it natively (about a quarter faster there)")
    c.add_argument("--validation", type=float, metavar="SHARE",
                   help="share of patients held out to stop early and choose the threshold on (default: the "
                        "recipe's; reference: 0, every patient trains and the threshold is 0.45)")
    c.add_argument("--seed", type=int, default=0)
    patients(c)
    force(c)

    c = command("evaluate", _evaluate, "Evaluate a saved model on data; writes OUT/report.json and plots.")
    c.add_argument("--model", required=True, type=Path)
    c.add_argument("--data", required=True, type=Path, help=data_help)
    c.add_argument("--out", required=True, type=Path)
    c.add_argument("--threshold", type=float, help="decision threshold (default: the one chosen in training)")
    c.add_argument("--tta", choices=("on", "off"), help="average over flips (default: as in training)")
    patients(c)

    c = command("run", _run, "Every stage end to end (on embedded synthetic data when no data set is found).")
    c.add_argument("--data", type=Path, help=data_help + " (default: $MALARIA_LAB_DATA, ./data, else synthetic)")
    c.add_argument("--out", type=Path, default=Path("runs/latest"))
    c.add_argument("--recipe", help="reference, tutorial or fast (default: fast on synthetic data, else reference)")
    c.add_argument("--seed", type=int, default=0)
    patients(c)
    force(c)

    c = command("reference", _reference, "Run the course's six source notebooks (the reference solutions) "
                "in order; write OUT/report.json: stage times, test scores, device.")
    c.add_argument("--out", type=Path, default=Path("runs/reference"))
    c.add_argument("--data", type=Path, help="a folder holding cell_images/ (default: $MALARIA_LAB_DATA, "
                   "./data, else the embedded synthetic set; nothing is downloaded)")
    c.add_argument("--mode", choices=MODES, help="grading (tiny subsets, 2 epochs, as in CI), small (about a "
                   "minute of training, for 2 GB machines) or full (default: $MALARIA_LAB_MODE, else full)")
    c.add_argument("--embedded", action="store_true", help="the embedded data set even if a real one is found")
    c.add_argument("--course", type=Path, help="the course folder (default: the repository's course/)")
    c.add_argument("--timeout", type=int, help="seconds one cell may run (default: no limit)")
    c.add_argument("--require-gpu", action="store_true", help="stop unless Keras sees a GPU")

    add_course_commands(sub, command)
    return p


# Failures of the user's files and folders, not of the program: said in one line, like MalariaLabError.
_USER_ERRNOS = {errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOTDIR, errno.EISDIR, errno.EEXIST,
                errno.ENOENT, errno.ENOSPC, errno.EDQUOT, errno.ENAMETOOLONG, errno.ELOOP, errno.EFBIG,
                errno.EIO}


KERAS_COMMANDS = ("train", "evaluate", "run", "reference")


def _one_line_warnings(command):
    """Warnings as one line naming the command, without the Python source line Python adds."""
    def show(message, category, filename, lineno, line=None):
        return f"malaria-lab {command}: warning: {message}\n"

    return show


def main(argv=None):
    args = parser().parse_args(argv)
    warnings.formatwarning = _one_line_warnings(args.command)
    try:
        if args.command in KERAS_COMMANDS:  # a wrong backend is said before anything else is read
            check_backend()
        code = args.func(args)
    except MalariaLabError as err:
        print(f"malaria-lab {args.command}: error: {err}", file=sys.stderr)
        return 2
    except OSError as err:
        if err.errno not in _USER_ERRNOS:
            raise
        where = " -> ".join(str(f) for f in (err.filename, err.filename2) if f is not None)
        print(f"malaria-lab {args.command}: error: {err.strerror or err}{f': {where}' if where else ''}. "
              "Check the path, its permissions and the free disk space, then run again.", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"malaria-lab {args.command}: interrupted; run the same command again to resume.",
              file=sys.stderr)
        return 130
    return code or 0


if __name__ == "__main__":
    sys.exit(main())

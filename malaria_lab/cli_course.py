"""``malaria-lab course``: the instructor's entry point.

* ``build``: the stages' text notebooks -> nbgrader's source notebooks -> the student release;
* ``check``: exit 1 when anything generated is stale, saying which file to edit instead;
* ``submission``: a test submission (reference answers, a declared mistake, untouched) put where
  nbgrader collects it, for a dry run of the grading;
* ``collect``: an LMS's bulk download of an assignment, put in ``submitted/`` and the gradebook;
* ``grade``: autograde, feedback and grades for every submission;
* ``report``: the class report (what the class got wrong, per exercise) and grades for the LMS;
* ``solutions``: a stage's solutions notebook, to hand out after the deadline in a graded course.
"""

import sys
from pathlib import Path

from .checks import load_stage
from .errors import MalariaLabError
from .instructor.collect_roster import HELP as ROSTER_HELP
from .instructor.coursedir import STUDENT_ID
from .instructor.reference import course_dir
from .settings import STAGES


def default_course_dir():
    """``./course`` when it is a course folder, else the repository's ``course/``."""
    here = Path("course")
    return here if (here / "nbgrader_config.py").is_file() else course_dir()


def _course(path):
    path = Path(path) if path is not None else default_course_dir()
    if not (path / "nbgrader_config.py").is_file():
        raise MalariaLabError(f"{path} is not a course folder (it has no nbgrader_config.py).",
                              "Give the course folder, e.g. `malaria-lab course build course/`.")
    return path


def _stages(names):
    if not names:
        return STAGES
    unknown = [s for s in names if s not in STAGES]
    if unknown:
        raise MalariaLabError(f"No stage {unknown[0]!r}.", f"Use one of {', '.join(STAGES)}.")
    return tuple(names)


def _build(args):
    # jupytext, nbformat and nbgrader's tools load only for the command that needs them.
    from .instructor.authoring import write_sources
    from .instructor.course_settings import read, set_repository
    from .instructor.release import build_release

    course, stages = _course(args.course_dir), _stages(args.stage)
    if args.repo or args.branch:
        settings = set_repository(course, args.repo or read(course).repository, args.branch)
        print(f"course.toml: the course lives at {settings.repository}, branch {settings.branch}")
    changed = write_sources(course, stages)
    if not args.no_release:
        changed += build_release(course, stages)  # runs nbgrader: seconds per stage
    for path in changed:
        print("wrote", path)
    print("Up to date." if not changed else f"{len(changed)} file(s) written; commit them with the text.")
    return 0


def _check(args):
    # jupytext, nbformat and nbgrader's tools load only for the command that needs them.
    from .instructor.authoring import pointing_elsewhere, stale_sources
    from .instructor.release import stale_release

    course, stages = _course(args.course_dir), _stages(args.stage)
    elsewhere = [] if args.no_release else pointing_elsewhere(course, stages)
    if elsewhere:
        more = f" (and {len(elsewhere) - 1} more)" if len(elsewhere) > 1 else ""
        print(f"error: {elsewhere[0]}{more}", file=sys.stderr)
        return 2
    problems = stale_sources(course, stages)
    if not problems and not args.no_release:
        stale = stale_release(course, stages)
        problems += [f"{course / 'release' / rel} is stale: run `malaria-lab course build`." for rel in stale]
    for line in problems:
        print(line)
    if problems:
        return 1
    print("The source and release notebooks are what the text notebooks build.")
    return 0


def _answers(args, stage):
    if args.answers in ("solution", "untouched") and not args.mistake:
        return args.answers
    plan = {}
    decl = load_stage(stage)
    for item in args.mistake or []:
        ex_id, _, k = item.partition("=")
        if ex_id not in decl.exercises or not k.isdigit() or int(k) >= len(decl[ex_id].mistakes):
            raise MalariaLabError(f"--mistake {item}: {stage} has no mistake {k or '?'} for {ex_id!r}.",
                                  "Give EXERCISE=K, with K counting the exercise's declared mistakes from 0.")
        plan[ex_id] = ("mistake", int(k))
    if args.answers == "untouched":
        plan.update({ex_id: "untouched" for ex_id in decl.exercises if ex_id not in plan})
    return plan


def _submission(args):
    # jupytext, nbformat and nbgrader's tools load only for the command that needs them.
    from .instructor import coursedir
    from .instructor.submissions import make_submission, write_submission

    course, [stage] = _course(args.course_dir), _stages([args.stage])
    if not STUDENT_ID.fullmatch(args.student):
        raise MalariaLabError(f"Student id {args.student!r} is not a plain name.",
                              "Use letters, digits and . _ @ - only (it becomes a folder name).")
    release = coursedir.notebook(course, coursedir.Kind.RELEASE, stage)
    if not release.is_file():
        raise MalariaLabError(f"No release notebook at {release}.", "Run `malaria-lab course build` first.")
    path = write_submission(course, args.student, stage, make_submission(release, stage, _answers(args, stage)))
    print("wrote", path)
    return 0


def _collect(args):
    # The collector loads nbgrader's gradebook (SQLAlchemy) to add the students.
    from .instructor.collect import collect, format_result

    course, stages = _course(args.course_dir), _stages(args.stage) if args.stage else ()
    result = collect(course, args.download, lms=args.lms, roster=args.roster, stages=stages, force=args.force,
                     zone=args.timezone)
    print(format_result(result, args.download))
    return 1 if result.failed else 0


def _grade(args):
    # The grader loads nbgrader, jupyter_client and, for the fallback model, Keras.
    from .instructor.grader.classgrade import grade
    from .instructor.grader.sandbox import Limits

    course, stages = _course(args.course_dir), _stages(args.stage)
    for student in args.student or []:
        if not STUDENT_ID.fullmatch(student):
            raise MalariaLabError(f"Student id {student!r} is not a plain name.",
                                  "Use letters, digits and . _ @ - only.")
    if any(v is not None and v <= 0 for v in (args.timeout, args.memory, args.notebook_timeout)):
        raise MalariaLabError("--timeout, --notebook-timeout and --memory must be positive.",
                              "Give seconds per cell, seconds per notebook and GB per job.")
    if args.workers is not None and args.workers < 1:
        raise MalariaLabError("--workers must be at least 1.", "Give how many jobs run at once.")
    limits = Limits(**{k: v for k, v in {"cell_seconds": args.timeout, "memory_gb": args.memory}.items()
                       if v is not None})
    if args.notebook_timeout is not None:
        limits = Limits(**dict(limits.to_dict(), notebook_seconds=args.notebook_timeout))
    elif args.timeout is not None:
        limits = Limits(**dict(limits.to_dict(), notebook_seconds=max(limits.notebook_seconds, 6 * args.timeout)))
    summary = grade(course, stages=stages, students=args.student, workers=args.workers, scheduler=args.scheduler,
                    limits=limits, force=args.force, sandboxed=not args.no_sandbox, progress=not args.quiet)
    return 0 if summary["failed"] == 0 else 1


def _report(args):
    # The report loads matplotlib (and nbgrader, for the gradebook) only when asked for.
    from .instructor.report import build_report

    course, stages = _course(args.course_dir), _stages(args.stage)
    report = build_report(course, args.out, stages, lms=args.lms, anonymise=args.anonymise)
    for path, why in report.skipped:
        print(f"malaria-lab course report: skipped {path}: {why}", file=sys.stderr)
    for path in report.files:
        print("wrote", path)
    return 0


def _solutions(args):
    # nbformat loads only for the command that needs it.
    from .instructor.solutions import write_solutions

    course, [stage] = _course(args.course_dir), _stages([args.stage])
    if args.out is not None and args.out.suffix != ".ipynb":
        raise MalariaLabError(f"--out {args.out} is not a notebook file name.", "Give a path ending in .ipynb.")
    path = write_solutions(course, stage, args.out)
    print("wrote", path)
    print("Hand it out (LMS, nbgrader release_assignment, or commit it for Colab and Binder): students open it "
          "beside their own notebook.")
    return 0


def add_commands(sub, command):
    """Add ``course`` and its subcommands to the ``malaria-lab`` parser."""
    group = command("course", None, "Instructors: build, check and grade the course (run `malaria-lab course -h`).")
    actions = group.add_subparsers(dest="course_command", required=True, metavar="ACTION")

    def action(name, func, help, first=None):
        a = actions.add_parser(name, help=help, description=help)
        a.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
        if first:  # a positional argument that comes before the course folder
            a.add_argument(*first[0], **first[1])
        a.add_argument("course_dir", nargs="?", type=Path, metavar="COURSE_DIR",
                       help="the course folder (default: ./course, else the repository's)")
        a.set_defaults(func=func)
        return a

    a = action("build", _build, "Build nbgrader's source notebooks from the text notebooks "
               "(course/stages/*.md) and the student release from those.")
    a.add_argument("--stage", action="append", help="only this stage (repeatable)")
    a.add_argument("--no-release", action="store_true", help="build the source notebooks only (no nbgrader)")
    a.add_argument("--repo", metavar="OWNER/NAME", help="the GitHub repository the course lives in (written to "
                   "course.toml: badges, set-up cell, site)")
    a.add_argument("--branch", help="its branch (written to course.toml; default: the one there)")

    a = action("check", _check, "Exit 1 when a generated notebook (source or release) is stale, "
               "saying which file to edit instead; exit 2 when the release points to another repository "
               "than course.toml's.")
    a.add_argument("--stage", action="append", help="only this stage (repeatable)")
    a.add_argument("--no-release", action="store_true", help="check the source notebooks only (no nbgrader)")

    a = action("submission", _submission, "Put a test submission where nbgrader collects it: "
               "submitted/STUDENT/STAGE/STAGE.ipynb.")
    a.add_argument("--student", required=True)
    a.add_argument("--stage", required=True)
    a.add_argument("--answers", choices=("solution", "untouched"), default="solution",
                   help="every exercise solved (default) or left as released")
    a.add_argument("--mistake", action="append", metavar="EXERCISE=K",
                   help="answer EXERCISE with its K-th declared typical mistake (repeatable)")

    a = action("collect", _collect, "Put an LMS's bulk download of an assignment (the zip, or the folder it "
               "unzips to) in submitted/<student>/<stage>/<stage>.ipynb, whatever the files are called: the student "
               "from the LMS's naming and the roster, the stage from each notebook's content; the students into "
               "gradebook.db. Ends with a table of every file; exit 1 when any was not imported.",
               first=(("download",), {"type": Path, "metavar": "DOWNLOAD", "help": "the LMS's zip, or its folder"}))
    a.add_argument("--lms", choices=("auto", "canvas", "moodle", "blackboard", "brightspace"), default="auto",
                   help="whose naming the files follow (default: told from the names)")
    a.add_argument("--roster", type=Path, metavar="FILE", help=ROSTER_HELP + " (needed for Canvas, Moodle, "
                   "Brightspace)")
    a.add_argument("--stage", action="append", help="only hand-ins of this stage (repeatable); others are named")
    a.add_argument("--force", action="store_true", help="replace hand-ins already in submitted/ (and the gradebook's "
                   "names and e-mails where the roster differs)")
    a.add_argument("--timezone", metavar="ZONE", help="the time zone of the times in the LMS's file names "
                   "(Blackboard, Brightspace; default: this computer's)")

    a = action("grade", _grade, "Grade every submission in nbgrader's submitted/, each in a sandbox, in "
               "parallel: gradebook, autograded/, feedback/ and a JSON record per job (grading/jobs/).")
    a.add_argument("--stage", action="append", help="only this stage (repeatable)")
    a.add_argument("--student", action="append", help="only this student (repeatable)")
    a.add_argument("--workers", type=int, help="jobs at once on this machine (default: from cores and memory)")
    a.add_argument("--scheduler", metavar="ADDRESS", help="run the jobs on a Dask cluster (tcp://host:8786)")
    a.add_argument("--timeout", type=float, metavar="S", help="seconds one cell may run (default 120)")
    a.add_argument("--notebook-timeout", type=float, metavar="S",
                   help="seconds one notebook may run, its checks included (default 900, or 6 x --timeout)")
    a.add_argument("--memory", type=float, metavar="GB", help="memory one job may use (default 3)")
    a.add_argument("--force", action="store_true", help="grade again what is unchanged since last time")
    a.add_argument("--no-sandbox", action="store_true",
                   help="run students' code without the sandbox (with your rights): only where bubblewrap cannot run")

    a = action("report", _report, "The class report from the grading records: OUT/index.html, the "
               "figures as CSV, and the grades for the LMS.")
    a.add_argument("--out", required=True, type=Path, help="the report's folder (made if missing)")
    a.add_argument("--stage", action="append", help="only this stage (repeatable)")
    a.add_argument("--lms", choices=("canvas", "generic"), default="canvas",
                   help="canvas.csv in Canvas's gradebook layout (default), or grades.csv, one row per student")
    a.add_argument("--anonymise", action="store_true", help="students under stable pseudonyms, for sharing")

    a = action("solutions", _solutions, "Write a stage's solutions notebook, to release to the class after the "
               "deadline (a graded course withholds solutions until then).")
    a.add_argument("--stage", required=True)
    a.add_argument("--out", type=Path,
                   help="where to write it (default: COURSE_DIR/solutions/STAGE/STAGE_solutions.ipynb)")
    return group

"""``python -m autograder``: the kit's one command line, a thin argparse layer over the commands' ``run(*, ...)``.

Every command's arguments, help and errors are here (``Error: ...`` with the fix, exit 2; a traceback only with
``--debug``); a command that works on a course opens it once here and passes it down.
"""
from __future__ import annotations

import argparse
import os
import sys
import traceback
from pathlib import Path
from typing import Any

from autograder.course.directory import Course, ensure_tools_on_path
from autograder.course.settings import default
from autograder.errors import UserError


def _root(args: argparse.Namespace) -> Path:
    return Path(args.root or os.environ.get("AUTOGRADER_ROOT") or ".").resolve()


def _course(args: argparse.Namespace) -> Course:
    """The course of this command, opened once (its config read once) and passed down."""
    return Course.open(_root(args), getattr(args, "db", None))


def cmd_grade(args: argparse.Namespace) -> int:
    if args.gpus and not args.container:
        raise UserError("--gpus needs --container IMAGE", "add --container unet-grader:gpu (built with `make image GPU=1`)")
    course = _course(args)
    server = None
    if not args.no_warm and not args.container and course.settings.warm:
        # Start the fork server before the heavy imports below, so that its own imports overlap them.
        from autograder.host import forkserver

        server = forkserver.for_assignment(course.root, args.assignment,
                                           args.jobs or course.settings.jobs or os.cpu_count() or 1)
    try:
        from autograder.host import grade
        from autograder.host.container import Options, docker_binary

        container = Options(args.container, args.gpus, docker_binary(course.settings.docker)) if args.container else None
        limits = course.limits()
        limits.memory_mb = args.memory or limits.memory_mb
        limits.nproc = args.nproc or limits.nproc
        grade.run(course=course, assignment=args.assignment, jobs=args.jobs, students=args.student,
                  timeout=args.timeout, force=args.force, submission_timeout=args.submission_timeout,
                  limits=limits, progress=not args.no_progress, container=container, warm=not args.no_warm,
                  server=server, confine=not args.no_sandbox)
    finally:
        if server is not None:
            server.close()
    from autograder.instructor import mistakes_report

    try:  # the grades are in; a report that cannot be written is a warning, not a failed grading run
        print(f"mistakes report: {mistakes_report.run(course=course, assignment=args.assignment)['html']}")
    except (UserError, OSError) as exc:
        print(f"warning: no mistakes report ({exc}); run `python -m autograder report {args.assignment}`",
              file=sys.stderr)
    return 0


def cmd_shard(args: argparse.Namespace) -> int:
    from autograder.host import shard

    done = shard.run(assignment=args.assignment, index=args.index, count=args.count, submitted=Path(args.submitted),
                     out=Path(args.out), course=Path(args.course) if args.course else None, jobs=args.jobs,
                     timeout=args.timeout, confine=not args.no_sandbox)
    print(f"shard {args.index} of {args.count}: {len(done)} submissions in {args.out}")
    return 0


def cmd_gradescope(args: argparse.Namespace) -> int:
    from autograder.platforms import lms

    doc = lms.run_gradescope(submission=Path(args.submission), results_dir=Path(args.results),
                             assignment=args.assignment, timeout=args.timeout)
    print(f"score {doc['score']:g}: {Path(args.results) / 'results.json'}")
    return 0


def cmd_coursera(args: argparse.Namespace) -> int:
    from autograder.platforms import lms

    doc = lms.run_coursera(submission=Path(args.submission), feedback=Path(args.feedback),
                           assignment=args.assignment, timeout=args.timeout)
    print(f"fractionalScore {doc['fractionalScore']:g}: {args.feedback}")
    return 0


def cmd_feedback(args: argparse.Namespace) -> int:
    from autograder.instructor import feedback

    course = _course(args)
    files = feedback.run(course=course, assignment=args.assignment, students=args.student)
    print(f"{len(files)} feedback files in {course.root / 'feedback'}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from autograder.instructor import export

    done = export.run(course=_course(args), fmt=args.format, roster=args.roster, assignments=args.assignment,
                      out=args.out)
    if done.left_out:
        print(f"left out (not in the roster {args.roster}): {' '.join(done.left_out)}", file=sys.stderr)
    print(f"{args.format} export of {', '.join(done.assignments)} ({done.students} students): {done.path}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from autograder.instructor import mistakes_report

    paths = mistakes_report.run(course=_course(args), assignment=args.assignment)
    print(f"mistakes report: {paths['html']} (and {paths['csv'].name}, {paths['png'].name})")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from autograder.host import check

    status, exercises, _ = check.run(course=_course(args), notebook=Path(args.notebook), timeout=args.timeout,
                                     assignment=args.assignment)
    return 0 if exercises and all(e.passed for e in exercises) else 1


def cmd_collect(args: argparse.Namespace) -> int:
    from autograder.host import collect

    counts = collect.run(course=_course(args), folder=Path(args.folder))
    print(f"{counts['applied']} results applied, {counts['rejected']} rejected")
    if counts["rejected"]:
        print(f"Error: {counts['rejected']} result files were rejected (named above) — fix or remove them, "
              "then run collect again", file=sys.stderr)
        return 1
    return 0


def cmd_slurm(args: argparse.Namespace) -> int:
    from autograder.platforms.slurm import array

    return array.run(course=_course(args), assignment=args.assignment, shards=args.shards, partition=args.partition,
                     gpus_per_shard=args.gpus_per_shard, cpus_per_shard=args.cpus_per_shard, mem=args.mem,
                     time_limit=args.time, image=args.image, wait=args.wait, dry_run=args.dry_run,
                     collect_only=args.collect)


def cmd_slurm_demo(args: argparse.Namespace) -> int:
    from autograder.platforms.slurm import demo

    return demo.run(root=_root(args), assignment=args.assignment)


def cmd_lab(args: argparse.Namespace) -> int:
    from autograder.instructor import lab

    given = args.root or os.environ.get("AUTOGRADER_ROOT")
    return lab.run(root=Path(given).resolve() if given else None, instructor=args.instructor, port=args.port,
                   open_browser=not args.no_browser, notebook_dir=args.notebook_dir)


def cmd_gradescope_zip(args: argparse.Namespace) -> int:
    from autograder.platforms import gradescope_zip

    path = gradescope_zip.run(root=_root(args), assignment=args.assignment, out=args.out)
    print(f"Gradescope autograder: {path} (upload it as the assignment's autograder zip)")
    return 0


def cmd_release(args: argparse.Namespace) -> int:
    from autograder.instructor import release

    release.run(root=_root(args), assignments=args.assignments or None, verify=args.verify)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from autograder.instructor import demo

    return demo.run(root=_root(args), assignment=args.assignment)


def cmd_hub(args: argparse.Namespace) -> int:
    from autograder.platforms.hub import run as hub

    return hub.run(root=_root(args), roster=args.roster, ip=args.ip, port=args.port, config_only=args.config_only,
                   state=args.state, exchange=args.exchange)


def _grading_commands(sub: Any) -> None:
    """grade, check, collect, shard: grading on this machine (host/)."""
    g = sub.add_parser("grade", help="grade every submission of an assignment in parallel")
    g.add_argument("assignment")
    g.add_argument("--jobs", "-j", type=int, help="parallel workers (default: c.Autograder.jobs; 0 or unset: one per core)")
    g.add_argument("--student", nargs="+", action="extend", metavar="ID", help="only these students")
    g.add_argument("--timeout", type=float, help="per-cell time limit in seconds (default: nbgrader's "
                   f"ExecutePreprocessor.timeout, else c.Autograder.cell_timeout, {default('cell_timeout'):g} s)")
    g.add_argument("--submission-timeout", type=float, help="time limit for a whole submission "
                   f"(default: c.Autograder.submission_timeout, {default('submission_timeout'):g} s)")
    g.add_argument("--memory", type=int, help=f"memory limit per submission in MiB (default: c.Autograder.memory_mb, "
                                              f"{default('memory_mb')})")
    g.add_argument("--nproc", type=int, help=f"process/thread limit per submission (default: c.Autograder.nproc, "
                                             f"{default('nproc')})")
    g.add_argument("--force", action="store_true", help="regrade submissions already graded")
    g.add_argument("--db", help="gradebook URL (default: nbgrader config, else sqlite:///ROOT/gradebook.db)")
    g.add_argument("--no-progress", action="store_true", help="no progress bar")
    g.add_argument("--no-warm", action="store_true",
                   help="start every worker and kernel afresh instead of forking them from a server that has "
                        "imported the assignment's packages (slower; for comparison and debugging)")
    g.add_argument("--container", metavar="IMAGE",
                   help="grade each submission in its own container of this image (make image: unet-grader:cpu)")
    g.add_argument("--gpus", metavar="all", help="give the containers GPUs (docker run --gpus); CPU when none")
    g.add_argument("--no-sandbox", action="store_true",
                   help="grade with student code unconfined (only where the sandbox cannot be set up; "
                        "said in the summary and in grades.csv)")
    g.set_defaults(func=cmd_grade)

    c = sub.add_parser("check", help="grade one notebook with the hidden tests; exit 0 when every exercise passes")
    c.add_argument("notebook", help="the notebook, whatever its file name (the assignment is recognised from its cells)")
    c.add_argument("--assignment", help="grade it as this assignment (default: recognised from the notebook)")
    c.add_argument("--timeout", type=float, help="per-cell time limit in seconds")
    c.set_defaults(func=cmd_check)

    co = sub.add_parser("collect", help="merge result JSON files from a folder into the gradebook")
    co.add_argument("folder")
    co.add_argument("--db")
    co.set_defaults(func=cmd_collect)

    sh = sub.add_parser("shard", help="grade shard INDEX of COUNT into per-submission result JSON (for collect)")
    sh.add_argument("assignment")
    sh.add_argument("--index", type=int, required=True, help="this shard (0-based; JOB_COMPLETION_INDEX)")
    sh.add_argument("--count", type=int, required=True, help="number of shards")
    sh.add_argument("--submitted", required=True, help="folder holding <student>/<assignment>/")
    sh.add_argument("--out", required=True, help="folder for <student>/result.json")
    sh.add_argument("--course", help="course with the assignment's definition (default: $AUTOGRADER_COURSE)")
    sh.add_argument("--jobs", "-j", type=int, help="parallel workers in this shard (default: one per core)")
    sh.add_argument("--timeout", type=float, help="per-cell time limit in seconds")
    sh.add_argument("--no-sandbox", action="store_true", help="student code unconfined (said in each result's reason)")
    sh.set_defaults(func=cmd_shard)


def _instructor_commands(sub: Any) -> None:
    """feedback, export, report, release, demo, lab: the instructor's tools (instructor/)."""
    f = sub.add_parser("feedback", help="per-student HTML feedback (nbgrader generate_feedback)")
    f.add_argument("assignment")
    f.add_argument("--student", nargs="+", action="extend", metavar="ID")
    f.add_argument("--db")
    f.set_defaults(func=cmd_feedback)

    e = sub.add_parser("export", help="grades for the LMS: Canvas or Moodle import CSV, or nbgrader's CSV")
    e.add_argument("--format", choices=["csv", "canvas", "moodle"], default="csv",
                   help="canvas/moodle: the LMS's grade import CSV; csv: nbgrader's export (default)")
    e.add_argument("--roster", type=Path, help="CSV: student_id, lms_id, email, name, sis_user_id, sis_login_id, section")
    e.add_argument("--assignment", action="append", metavar="NAME", help="only this assignment (repeatable)")
    e.add_argument("--out", "--to", dest="out", type=Path,
                   help="file to write (default gradebook.csv, grades-canvas.csv or grades-moodle.csv)")
    e.add_argument("--db")
    e.set_defaults(func=cmd_export)

    rp = sub.add_parser("report", help="the cohort's mistakes per check: reports/ASSIGNMENT/mistakes.html and .csv")
    rp.add_argument("assignment")
    rp.add_argument("--db")
    rp.set_defaults(func=cmd_report)

    r = sub.add_parser("release", help="regenerate release/ and references/ from source/ (nbgrader generate_assignment), "
                                       "after grading the solution (full marks) and the empty notebook (0)")
    r.add_argument("assignments", nargs="*", metavar="ASSIGNMENT")
    r.add_argument("--no-verify", dest="verify", action="store_false",
                   help="skip grading the solution and the empty notebook before writing the release")
    r.set_defaults(func=cmd_release)

    d = sub.add_parser("demo", help="the `make demo` job: release, grade the examples, print grades")
    d.add_argument("assignment", nargs="?", default="unet", help="an assignment of source/ (default: unet)")
    d.set_defaults(func=cmd_demo)

    la = sub.add_parser("lab", help="JupyterLab with nbgrader: the student's seat, or the instructor's (--instructor)")
    la.add_argument("--instructor", action="store_true",
                    help="open the course root with Formgrader, Create Assignment and Course List")
    la.add_argument("--port", type=int, help="port on 127.0.0.1 (default: 8888 or the next free one)")
    la.add_argument("--no-browser", action="store_true", help="do not open a web browser")
    la.add_argument("--notebook-dir", type=Path, help="folder to open (default: release/, or the root with --instructor)")
    la.set_defaults(func=cmd_lab)

    hb = sub.add_parser("hub", help="a real JupyterHub for the course on this machine (PAM accounts, the Formgrader as a "
                                    "service, a private exchange); --config-only DIR: the same for an existing hub")
    hb.add_argument("--roster", type=Path, help="CSV with a student_id column: one Unix account and hub user each")
    hb.add_argument("--ip", default="127.0.0.1", help="address to listen on (default: 127.0.0.1, this machine only)")
    hb.add_argument("--port", type=int, default=8000, help="the hub's port (default: 8000; it also takes the next three)")
    hb.add_argument("--config-only", type=Path, metavar="DIR",
                    help="only write the configuration into DIR (TLJH, Zero to JupyterHub, exchange set-up script)")
    hb.add_argument("--state", type=Path, help="the hub's folder (default: c.CourseHub.state)")
    hb.add_argument("--exchange", type=Path, help="the exchange folder (default: c.CourseHub.exchange)")
    hb.set_defaults(func=cmd_hub)


def _platform_commands(sub: Any) -> None:
    """slurm, slurm-demo, gradescope, coursera, gradescope-zip: the platforms' entries (platforms/)."""
    sl = sub.add_parser("slurm", help="grade as a SLURM array job of --shards tasks; --wait follows it and merges")
    sl.add_argument("assignment")
    sl.add_argument("--shards", type=int, help="array tasks, each grading every N-th student")
    sl.add_argument("--partition", help="SLURM partition (default: the cluster's default; see `sinfo -s`)")
    sl.add_argument("--gpus-per-shard", type=int, default=0, help="GPUs per task (#SBATCH --gres=gpu:G)")
    sl.add_argument("--cpus-per-shard", type=int, default=1, help="CPUs per task = submissions graded at once (1)")
    sl.add_argument("--mem", help="memory per task, e.g. 6G (#SBATCH --mem)")
    sl.add_argument("--time", help="time limit per task, e.g. 2:00:00 (#SBATCH --time)")
    sl.add_argument("--image", help="grade inside this Apptainer/Singularity image (e.g. unet-grader.sif)")
    sl.add_argument("--wait", action="store_true", help="follow the array until it ends, then merge the results")
    sl.add_argument("--dry-run", action="store_true", help="write and print the sbatch script, submit nothing")
    sl.add_argument("--collect", action="store_true", help="only merge the finished array (with --wait: once it ends)")
    sl.add_argument("--db", help="gradebook URL (default: nbgrader config, else sqlite:///ROOT/gradebook.db)")
    sl.set_defaults(func=cmd_slurm)

    sd = sub.add_parser("slurm-demo", help="the `make slurm-demo` job: the demo's submissions as a SLURM array job "
                                           "(a one-machine cluster when none answers), then the demo's table")
    sd.add_argument("assignment", nargs="?", default="unet", help="an assignment with demo examples (default: unet)")
    sd.set_defaults(func=cmd_slurm_demo)

    gs = sub.add_parser("gradescope", help="Gradescope entry: grade the upload, write results.json")
    gs.add_argument("--submission", default="/autograder/submission")
    gs.add_argument("--results", default="/autograder/results")
    gs.add_argument("--assignment", help="default: $AUTOGRADER_ASSIGNMENT, else from the notebook name")
    gs.add_argument("--timeout", type=float, help="per-cell time limit in seconds")
    gs.set_defaults(func=cmd_gradescope)

    cs = sub.add_parser("coursera", help="Coursera custom-grader entry: grade the upload, write feedback.json")
    cs.add_argument("--submission", default="/shared/submission")
    cs.add_argument("--feedback", default="/shared/feedback.json")
    cs.add_argument("--assignment", help="default: $AUTOGRADER_ASSIGNMENT, else from the notebook name")
    cs.add_argument("--timeout", type=float, help="per-cell time limit in seconds")
    cs.set_defaults(func=cmd_coursera)

    gz = sub.add_parser("gradescope-zip", help="build gradescope-ASSIGNMENT.zip for Gradescope's own image")
    gz.add_argument("assignment", nargs="?", default="unet")
    gz.add_argument("--out", type=Path, help="where to write the zip (default: the course root)")
    gz.set_defaults(func=cmd_gradescope_zip)


def parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for tests and --help)."""
    p = argparse.ArgumentParser(prog="python -m autograder", description="Parallel, sandboxed nbgrader autograding.")
    p.add_argument("--root", help="course directory (default: $AUTOGRADER_ROOT, else the current folder; for lab: "
                                  "the current folder when it is a course, else the kit)")
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _grading_commands(sub)
    _instructor_commands(sub)
    _platform_commands(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the command line; user errors print one line and exit 2."""
    args = parser().parse_args(argv)
    ensure_tools_on_path()  # nbgrader's gradebook runs `alembic` from PATH: this environment's, first
    try:
        return int(args.func(args) or 0)
    except UserError as exc:
        if args.debug:
            traceback.print_exc()
        print(f"Error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("Error: interrupted — run the same command again to finish the rest", file=sys.stderr)
        return 130
    except Exception as exc:
        if args.debug:
            raise
        print(f"Error: {type(exc).__name__}: {exc} — rerun with --debug for the traceback", file=sys.stderr)
        return 1

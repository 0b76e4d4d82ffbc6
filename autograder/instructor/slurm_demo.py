"""``make slurm-demo``: grade the demo submissions of ``make demo`` as a SLURM array job of 2 shards.

When no SLURM controller answers, a one-machine cluster is started for the run in a temporary folder
(:mod:`autograder.platforms.slurm.cluster`) and stopped afterwards, whatever happens. The grades table
is the one ``make demo`` prints.
"""
from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

from autograder.instructor import demo, examples, release

__all__ = ["run"]


def _grade(root: Path, assignment: str, shards: int) -> int:
    from autograder.host import slurm

    for example in examples.ASSIGNMENTS[assignment][1]:  # grade the examples afresh, as make demo does
        shutil.rmtree(root / "results" / assignment / example.student, ignore_errors=True)
    started = time.monotonic()
    code = slurm.run(root=root, assignment=assignment, shards=shards, wait=True, poll_s=2)
    print(f"     array job of {shards} shards: {time.monotonic() - started:.0f} s from sbatch to merged")
    return code


def _print_table(root: Path, assignment: str) -> bool:
    from autograder.course import definition
    from autograder.course.directory import Course
    from autograder.host import report, store

    course = Course.open(root)
    spec = definition.read(course.db_url, course.course_id, assignment)
    cases = examples.ASSIGNMENTS[assignment][1]
    table = report.rows(db_url=course.db_url, course_id=course.course_id, definition=spec,
                        students=[e.student for e in cases], ledger=store.load_ledger(course, assignment))
    return demo.print_table(definition=spec, rows={row["student_id"]: row for row in table})


def run(*, root: Path, assignment: str = "unet", shards: int = 2) -> int:
    """Grade the examples of ``assignment`` as a SLURM array job and print the demo's table; return the exit code."""
    from autograder.platforms.slurm import cluster

    own = None
    if not cluster.answers():
        why = cluster.missing()
        if why:
            print(f"Error: no SLURM controller answers and none can be started here: {why}")
            return 2
    print("1/4  Regenerating release/ from source/ ...")
    release.run(root=root, verify=False)  # the demo grades the solution and the empty notebook itself
    print("2/4  Writing example submissions ...")
    for path in examples.write_examples(root=root, assignment=assignment):
        print(f"     {path.relative_to(root)}")
    old_conf = os.environ.get("SLURM_CONF")
    with tempfile.TemporaryDirectory(prefix="ag-slurm-") as tmp:
        try:
            if not cluster.answers():
                print("3/4  Starting a one-machine SLURM cluster (munged, slurmctld, slurmd) ...")
                own = cluster.start(Path(tmp))
                os.environ["SLURM_CONF"] = str(own.conf)
                print(f"     {own.conf}")
            print(f"4/4  Grading them as an array job of {shards} shards ...")
            code = _grade(root, assignment, shards)
        finally:
            if own is not None:
                own.stop()
                print("     cluster stopped")
                if old_conf is None:
                    os.environ.pop("SLURM_CONF", None)
                else:
                    os.environ["SLURM_CONF"] = old_conf
    all_expected = _print_table(root, assignment)
    print(f"\nGrades:    {root / 'grades.csv'}")
    print(f"Shards:    {root / 'results' / assignment}/<student>/  (logs in {root / 'slurm' / assignment})")
    if code or not all_expected:
        print("Error: some example submissions did not get their expected scores (see the table above).")
        return code or 1
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m autograder.instructor.slurm_demo [ASSIGNMENT]`` in the course root (what make slurm-demo runs)."""
    import argparse
    import sys

    from autograder.errors import UserError

    p = argparse.ArgumentParser(prog="python -m autograder.instructor.slurm_demo", description=__doc__.splitlines()[0])
    p.add_argument("assignment", nargs="?", default="unet", choices=sorted(examples.ASSIGNMENTS))
    p.add_argument("--root", type=Path, default=Path.cwd())
    args = p.parse_args(argv)
    try:
        return run(root=args.root.resolve(), assignment=args.assignment)
    except UserError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())

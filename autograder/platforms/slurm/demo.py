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

from autograder.course import definition
from autograder.course.directory import Course
from autograder.host import grades_table, store
from autograder.errors import UserError
from autograder.instructor import demo, examples, release
from autograder.platforms.slurm import array, cluster

__all__ = ["run"]


def _grade(course: Course, assignment: str, shards: int) -> int:
    for example in examples.ASSIGNMENTS[assignment][1]:  # grade the examples afresh, as make demo does
        shutil.rmtree(course.root / "results" / assignment / example.student, ignore_errors=True)
    started = time.monotonic()
    code = array.run(course=course, assignment=assignment, shards=shards, wait=True, poll_s=2)
    print(f"     array job of {shards} shards: {time.monotonic() - started:.0f} s from sbatch to merged")
    return code


def _print_table(course: Course, assignment: str) -> bool:
    spec = definition.read(course.db_url, course.course_id, assignment)
    cases = examples.ASSIGNMENTS[assignment][1]
    table = grades_table.rows(db_url=course.db_url, course_id=course.course_id, definition=spec,
                        students=[e.student for e in cases], ledger=store.load_ledger(course, assignment))
    return demo.print_table(definition=spec, rows={row["student_id"]: row for row in table})


def run(*, root: Path, assignment: str = "unet", shards: int = 2) -> int:
    """Grade the examples of ``assignment`` as a SLURM array job and print the demo's table; return the exit code."""
    if assignment not in examples.ASSIGNMENTS:
        raise UserError(f"no demo examples for {assignment!r}", f"use one of: {', '.join(sorted(examples.ASSIGNMENTS))}")
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
    course = Course.open(root)
    old_conf = os.environ.get("SLURM_CONF")
    with tempfile.TemporaryDirectory(prefix="ag-slurm-") as tmp:
        try:
            if not cluster.answers():
                print("3/4  Starting a one-machine SLURM cluster (munged, slurmctld, slurmd) ...")
                own = cluster.start(Path(tmp))
                os.environ["SLURM_CONF"] = str(own.conf)
                print(f"     {own.conf}")
            print(f"4/4  Grading them as an array job of {shards} shards ...")
            code = _grade(course, assignment, shards)
        finally:
            if own is not None:
                own.stop()
                print("     cluster stopped")
                if old_conf is None:
                    os.environ.pop("SLURM_CONF", None)
                else:
                    os.environ["SLURM_CONF"] = old_conf
    all_expected = _print_table(course, assignment)
    print(f"\nGrades:    {root / 'grades.csv'}")
    print(f"Shards:    {root / 'results' / assignment}/<student>/  (logs in {root / 'slurm' / assignment})")
    if code or not all_expected:
        print("Error: some example submissions did not get their expected scores (see the table above).")
        return code or 1
    return 0

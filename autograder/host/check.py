"""``check NOTEBOOK``: grade one notebook with the full autograder (hidden tests included).

The assignment is recognised from the notebook's content (:mod:`autograder.course.identify`), so a
copy called ``Image_segmentation_Unet-Copy1.ipynb`` or ``... (2).ipynb`` is checked like the original.
A private copy of the course's ``source/<assignment>/`` is released with nbgrader into a
temporary course, the notebook is submitted there under its released name as student ``check``
and graded by :func:`autograder.host.grade.run` (same sandbox); nothing in the course changes.
Each failed exercise is reported with the first explanation of its failing check (names, scores
and explanations only: never a hidden check's source).
"""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from nbgrader.api import Gradebook

from autograder.course import definition as definitions
from autograder.host import grade
from autograder.course import scratch as scratch_course
from autograder.course.directory import Course
from autograder.errors import UserError
from autograder.course.exercises import Exercise, evaluate
from autograder.course.explanations import Failure, read_failures
from autograder.course.identify import course_signatures, identify
from autograder.course.nbgrader_app import run_app

STUDENT = "check"


def find_assignment(root: Path, notebook: Path, assignment: str | None = None) -> tuple[str, str]:
    """``(assignment, released notebook stem)`` the notebook was made from, recognised by its nbgrader cells."""
    assignments = sorted(p.name for p in (root / "source").iterdir() if p.is_dir()) if (root / "source").is_dir() else []
    if assignment is not None and assignment not in assignments:
        raise UserError(f"assignment {assignment!r} is not in {root / 'source'}",
                        f"use one of: {', '.join(assignments) or '(none)'}")
    signatures = course_signatures(root, [assignment] if assignment else assignments)
    return identify(notebook, signatures)


def run(*, root: Path, notebook: Path, timeout: float | None = None, quiet: bool = False,
        assignment: str | None = None) -> tuple[str, list[Exercise], dict]:
    """Grade ``notebook``; return (status, exercises, grades.csv row) and print a report unless quiet.

    ``assignment``: the assignment to grade it as (default: recognised from the notebook's cells).
    """
    course = Course.open(Path(root))
    notebook = Path(notebook).resolve()
    if not notebook.exists():
        raise UserError(f"notebook {notebook} does not exist", "pass the path of a .ipynb file")
    assignment, stem = find_assignment(course.root, notebook, assignment)
    with tempfile.TemporaryDirectory(prefix="ag-check-") as tmp:
        temp = Course.open(_make_course(course, assignment, Path(tmp)), f"sqlite:///{Path(tmp) / 'course' / 'gradebook.db'}")
        run_app(temp, ["generate_assignment", assignment, "--force"])
        sub = temp.submission_dir(STUDENT, assignment)
        sub.mkdir(parents=True)
        shutil.copyfile(notebook, sub / f"{stem}.ipynb")
        try:
            rows = grade.run(root=temp.root, assignment=assignment, jobs=1, timeout=timeout, db_url=temp.db_url,
                             progress=False, quiet=True)
        except grade.SandboxUnavailable as refused:  # a self-learner's own notebook on their own machine: said
            if not quiet:
                print("Note: the notebook runs unconfined here, as in Jupyter "
                      f"(the grading sandbox cannot be set up: {refused.why})")
            rows = grade.run(root=temp.root, assignment=assignment, jobs=1, timeout=timeout, db_url=temp.db_url,
                             progress=False, quiet=True, confine=False)
        definition = definitions.read(temp.db_url, temp.course_id, assignment)
        with Gradebook(temp.db_url, temp.course_id) as gb:
            sub_row = gb.find_submission(assignment, STUDENT)
            scores = {g.cell.name: g.score for nb in sub_row.notebooks for g in nb.grades}
        found, _ = read_failures(temp.autograded_dir(STUDENT, assignment), [nb.name for nb in definition.notebooks])
    explained = {gid: failure for cells in found.values() for gid, failure in cells.items()}
    row = rows[0]
    exercises = evaluate(definition, scores)
    if not quiet:
        as_name = "" if notebook.name == f"{stem}.ipynb" else f" as {stem}.ipynb"
        print(f"{notebook.name} ({assignment}{as_name}): {row['status']}, score {row['score']}/{row['max_score']}")
        reason = "; ".join(r for r in row["reason"].split("; ") if r and r != grade.UNCONFINED)  # said above
        if reason:
            print(f"  {reason}")
        for ex in exercises:
            tests = ", ".join(f"{t} {s if s is not None else '-'}/{m:g}" for t, (s, m) in ex.tests.items())
            print(f"  {'PASS' if ex.passed else 'FAIL'}  {ex.name:<24} {tests}")
            why = next((explained[t] for t, (sc, m) in ex.tests.items() if t in explained and (sc or 0) < m), None)
            if not ex.passed and why is not None:
                print(f"        {'hidden' if _hidden(why) else 'public'} check {why.grade_id}: {why.first}")
    return row["status"], exercises, row


def _hidden(failure: Failure) -> bool:
    """Whether the failure is a hidden check's (its explanation is shown; its source never is)."""
    return failure.grade_id.endswith("_hidden")


def _make_course(course: Course, assignment: str, tmp: Path) -> Path:
    return scratch_course.build(tmp / "course", origin=course.root, assignment=assignment, source="all", data=True)

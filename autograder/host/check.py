"""``check NOTEBOOK``: grade one notebook with the full autograder (hidden tests included).

The assignment is recognised from the notebook's content (:mod:`autograder.course.identify`), so a
copy called ``Image_segmentation_Unet-Copy1.ipynb`` or ``... (2).ipynb`` is checked like the original.
The notebook is graded under its released name as student ``check`` in a scratch course released
afresh from ``source/<assignment>/`` (:func:`autograder.host.scratch_grade.graded`: the same grader and
sandbox as ``grade``); nothing in the course changes.
Each failed exercise is reported with the first explanation of its failing check (names, scores
and explanations only: never a hidden check's source).
"""
from __future__ import annotations

from pathlib import Path

from nbgrader.api import Gradebook

from autograder.course.directory import Course
from autograder.course.exercise_scores import ExerciseScore, evaluate
from autograder.course.explanations import Failure, read_failures
from autograder.course.identify import course_signatures, recognise
from autograder.errors import UserError
from autograder.host import grade, scratch_grade

STUDENT = "check"


def run(*, course: Course, notebook: Path, timeout: float | None = None, quiet: bool = False,
        assignment: str | None = None) -> tuple[str, list[ExerciseScore], dict]:
    """Grade ``notebook``; return (status, exercises, grades.csv row) and print a report unless quiet.

    ``assignment``: the assignment to grade it as (default: recognised from the notebook's cells).
    """
    notebook = Path(notebook).resolve()
    if not notebook.exists():
        raise UserError(f"notebook {notebook} does not exist", "pass the path of a .ipynb file")
    assignment, stems = recognise([notebook], course_signatures(course), assignment)
    stem = stems[notebook]

    def unconfined(why: str) -> None:  # a self-learner's own notebook on their own machine: said
        if not quiet:
            print(f"Note: the notebook runs unconfined here, as in Jupyter (the grading sandbox cannot be set up: {why})")

    with scratch_grade.graded(origin=course, assignment=assignment, submissions={STUDENT: {f"{stem}.ipynb": notebook}},
                              regenerate=True, data=True, timeout=timeout, unconfined_ok=unconfined) as done:
        temp, definition = done.course, done.definition
        with Gradebook(temp.db_url, temp.course_id) as gb:
            sub_row = gb.find_submission(assignment, STUDENT)
            scores = {g.cell.name: g.score for nb in sub_row.notebooks for g in nb.grades}
        found, _ = read_failures(temp.autograded_dir(STUDENT, assignment), [nb.name for nb in definition.notebooks])
        row = done.row(STUDENT)
    explained = {gid: failure for cells in found.values() for gid, failure in cells.items()}
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

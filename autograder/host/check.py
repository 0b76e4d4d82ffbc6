"""``check NOTEBOOK``: grade one notebook with the full autograder (hidden tests included).

A private copy of the course's ``source/<assignment>/`` is released with nbgrader into a
temporary course, the notebook is submitted there as student ``check`` and graded by
:func:`autograder.host.grade.run` (same sandbox); nothing in the course changes.
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
from autograder.course.nbgrader_app import run_app

STUDENT = "check"


def find_assignment(root: Path, notebook: Path) -> str:
    """The assignment whose source has a notebook of the same name."""
    hits = sorted(p.parent.name for p in (root / "source").glob(f"*/{notebook.name}"))
    if len(hits) != 1:
        found = "no assignment" if not hits else f"several assignments ({', '.join(hits)})"
        raise UserError(f"{notebook.name}: {found} in {root / 'source'} has a notebook of that name",
                        "name the notebook as released (e.g. Image_segmentation_Unet.ipynb)")
    return hits[0]


def run(*, root: Path, notebook: Path, timeout: float | None = None, quiet: bool = False) -> tuple[str, list[Exercise], dict]:
    """Grade ``notebook``; return (status, exercises, grades.csv row) and print a report unless quiet."""
    course = Course.open(Path(root))
    notebook = Path(notebook).resolve()
    if not notebook.is_file():
        raise UserError(f"notebook {notebook} does not exist", "pass the path of a .ipynb file")
    assignment = find_assignment(course.root, notebook)
    with tempfile.TemporaryDirectory(prefix="ag-check-") as tmp:
        temp = Course.open(_make_course(course, assignment, Path(tmp)), f"sqlite:///{Path(tmp) / 'course' / 'gradebook.db'}")
        run_app(temp, ["generate_assignment", assignment, "--force"])
        sub = temp.submission_dir(STUDENT, assignment)
        sub.mkdir(parents=True)
        shutil.copyfile(notebook, sub / notebook.name)
        rows = grade.run(root=temp.root, assignment=assignment, jobs=1, timeout=timeout, db_url=temp.db_url,
                         protect=[course.root], progress=False, quiet=True)
        definition = definitions.read(temp.db_url, temp.course_id, assignment)
        with Gradebook(temp.db_url, temp.course_id) as gb:
            sub_row = gb.find_submission(assignment, STUDENT)
            scores = {g.cell.name: g.score for nb in sub_row.notebooks for g in nb.grades}
    row = rows[0]
    exercises = evaluate(definition, scores)
    if not quiet:
        print(f"{notebook.name} ({assignment}): {row['status']}, score {row['score']}/{row['max_score']}")
        if row["reason"]:
            print(f"  {row['reason']}")
        for ex in exercises:
            tests = ", ".join(f"{t} {s if s is not None else '-'}/{m:g}" for t, (s, m) in ex.tests.items())
            print(f"  {'PASS' if ex.passed else 'FAIL'}  {ex.name:<24} {tests}")
    return row["status"], exercises, row


def _make_course(course: Course, assignment: str, tmp: Path) -> Path:
    return scratch_course.build(tmp / "course", origin=course.root, assignment=assignment, source="all", data=True)

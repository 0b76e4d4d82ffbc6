"""A graded batch of the toy assignment with known mistakes, merged into a course by the real ``collect``.

Each student is a result JSON (the contract ``collect`` reads) plus, where graded, the graded notebook:
the released toy notebook whose check cells carry the error outputs a grading run would leave. No
kernel runs, so the report's grouping can be tested on exactly known explanations.
"""
from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import toy

from autograder.course.directory import Course
from autograder.contracts import results
from autograder.contracts.results import CellGrade, NotebookResult, Result
from autograder.host import collect

TRACEBACK_SECRET = "TRACEBACK-ONLY-9d2e"


@dataclass
class Student:
    """One made-up submission: scores per check cell, errors per check cell (ename, evalue)."""

    status: str = "graded"
    scores: dict[str, float] = field(default_factory=dict)
    errors: dict[str, tuple[str, str]] = field(default_factory=dict)
    notebook: bool = True
    late_penalty: float | None = None
    reason: str = ""


FULL = dict(toy.MAX)
RELU3 = "layer 3 (Conv2D): activation is 'linear', expected 'relu'"
RELU5 = "layer 5 (Conv2D): activation is 'linear', expected 'relu'"
SIGMOID5 = "layer 5 (Conv2D): activation is 'linear', expected 'sigmoid'"
XSS = "<script>alert(1)</script> returned 4, expected 3"

BATCH: dict[str, Student] = {
    "s_ok": Student(scores=FULL),
    "s_relu3": Student(scores={**FULL, "test_square": 0}, errors={"test_square": ("AssertionError", RELU3)}),
    "s_relu5": Student(scores={**FULL, "test_square": 0},
                       errors={"test_square": ("AssertionError", "Your model does not match:\n- " + RELU5)}),
    "s_sigmoid": Student(scores={**FULL, "test_square": 0}, errors={"test_square": ("AssertionError", SIGMOID5)}),
    "s_name_add": Student(scores={**FULL, "test_add": 0},
                          errors={"test_add": ("NameError", "name 'add' is not defined")}),
    "s_name_plus": Student(scores={**FULL, "test_add": 0},
                           errors={"test_add": ("NameError", "name 'plus' is not defined")}),
    "s_xss": Student(scores={**FULL, "test_add_2": 0}, errors={"test_add_2": ("AssertionError", XSS)}),
    "s_timeout": Student(status="timeout", scores={k: 0 for k in FULL}, notebook=False,
                         reason="cell 3 ran past its time limit (30 s)"),
    "s_nofile": Student(scores={**FULL, "test_add": 0}, notebook=False),
    "s_late": Student(scores=FULL, late_penalty=2.0),
}


def graded_notebook(course: Path, errors: dict[str, tuple[str, str]]) -> nbformat.NotebookNode:
    """The released notebook with an error output in each check cell of ``errors``."""
    nb = toy.released(course)
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid in errors:
            ename, evalue = errors[gid]
            cell.outputs = [nbformat.v4.new_output("error", ename=ename, evalue=evalue, traceback=[
                f"Traceback (most recent call last) {TRACEBACK_SECRET}", f"{ename}: {evalue}"])]
    return nb


def merge(course: Path, folder: Path, batch: dict[str, Student] = BATCH, db_url: str | None = None) -> None:
    """Write the batch's results into ``folder`` and merge them into ``course`` with ``collect``."""
    for student, s in batch.items():
        where = folder / student
        where.mkdir(parents=True)
        if s.notebook:
            (where / "graded").mkdir()
            nbformat.write(graded_notebook(course, s.errors), where / "graded" / toy.NOTEBOOK)
        grades = {gid: CellGrade(auto_score=float(s.scores.get(gid, 0.0)), max_score=m) for gid, m in toy.MAX.items()}
        result = Result(assignment=toy.ASSIGNMENT, student=student, status=s.status, reason=s.reason,
                        fingerprint="f" * 64, autograded_dir="graded" if s.notebook else None,
                        notebooks={"toy": NotebookResult(grades=grades, late_penalty=s.late_penalty)})
        results.write(where / "result.json", result)
    counts = collect.run(course=Course.open(course, db_url), folder=folder)
    assert counts == {"applied": len(batch), "rejected": 0}, counts


def drop(course: Path) -> None:
    """Remove what grading wrote (for the before-grading cases)."""
    for name in ("autograded", "submitted"):
        shutil.rmtree(course / name, ignore_errors=True)

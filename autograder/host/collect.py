"""``collect``: merge per-submission result JSON files (see :mod:`autograder.contracts.results`) into the gradebook.

For results graded elsewhere (a cluster or a grading container): each ``*.json`` in the folder
(searched recursively, skipping ``autograded/`` folders) is one submission; its ``autograded_dir``, relative to the JSON file,
holds the graded notebooks. Results are applied in the same crash-safe way as ``grade``.

Result files are untrusted input: each is validated (:func:`autograder.contracts.results.read`, then
against the assignment and its graded folder) before anything is written; a bad one is named on
stderr (``rejected FILE: reason``) and the others are still applied. Only the course root is
written to. ``grades.csv`` is merged per assignment (:func:`autograder.host.grades_table.write_csv`), so a
collect of several assignments keeps the rows of each.
"""
from __future__ import annotations

import sys
import warnings
from pathlib import Path

from nbgrader.api import Gradebook

from autograder.course import definition as definitions
from autograder.host import grades_table, store
from autograder.contracts import results
from autograder.contracts.fields import ContractError, show_path
from autograder.course.directory import Course
from autograder.errors import UserError

# nbgrader's add_submission builds rows before adding them; SQLAlchemy warns, harmlessly (as in grade).
warnings.filterwarnings("ignore", message=".*not in session.*")


def run(*, course: Course, folder: Path) -> dict[str, int]:
    """Apply every result in ``folder`` to ``course``; return counts ``{"applied": n, "rejected": m}``."""
    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(f"results folder {folder} does not exist", "pass the folder holding the result JSON files")
    # a result's own autograded/ folder holds the student's files, never results
    files = sorted(p for p in folder.rglob("*.json") if "autograded" not in p.relative_to(folder).parts[:-1])
    if not files:
        raise UserError(f"no result JSON files in {folder}", "point collect at the folder the graders wrote to")
    base = folder.resolve()
    defs: dict[str, definitions.AssignmentDef] = {}
    counts = {"applied": 0, "rejected": 0}
    with Gradebook(course.db_url, course.course_id) as gb:
        for path in files:
            try:
                result = results.read(path)
                if result.assignment not in defs:
                    defs[result.assignment] = definitions.read(course.db_url, course.course_id, result.assignment)
                graded = (path.parent / result.autograded_dir).resolve() if result.autograded_dir else None
                if graded is not None and not graded.is_relative_to(base):
                    raise ContractError(f"autograded_dir {result.autograded_dir!r} points outside {folder}")
                store.commit(course, gb, defs[result.assignment], result, graded)
                counts["applied"] += 1
            except (ContractError, UserError, OSError) as exc:
                reason = exc.reason if isinstance(exc, ContractError) else str(exc)
                print(f"rejected {show_path(path)}: {' '.join(reason.split())}", file=sys.stderr)
                counts["rejected"] += 1
    for name, definition in defs.items():
        ledger = store.load_ledger(course, name)
        table = grades_table.rows(db_url=course.db_url, course_id=course.course_id, definition=definition,
                            students=sorted(set(course.students(name)) | set(ledger)), ledger=ledger)
        grades_table.write_csv(course.root / "grades.csv", table, definition, merge=True)
    return counts

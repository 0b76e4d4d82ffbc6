"""``collect``: merge per-submission result JSON files (see :mod:`autograder.results`) into the gradebook.

For results graded elsewhere (a cluster or a grading container): each ``*.json`` in the folder
(searched recursively, skipping ``autograded/`` folders) is one submission; its ``autograded_dir``, relative to the JSON file,
holds the graded notebooks. Results are applied in the same crash-safe way as ``grade``.
"""
from __future__ import annotations

from pathlib import Path

from nbgrader.api import Gradebook

from autograder import definition as definitions
from autograder import report, results, store
from autograder.course import Course
from autograder.errors import UserError


def run(*, root: Path, folder: Path, db_url: str | None = None) -> dict[str, int]:
    """Apply every result in ``folder``; return counts ``{"applied": n, "rejected": m}``."""
    course = Course.open(Path(root), db_url)
    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(f"results folder {folder} does not exist", "pass the folder holding the result JSON files")
    # a result's own autograded/ folder holds the student's files, never results
    files = sorted(p for p in folder.rglob("*.json") if "autograded" not in p.relative_to(folder).parts[:-1])
    if not files:
        raise UserError(f"no result JSON files in {folder}", "point collect at the folder the graders wrote to")
    defs: dict[str, definitions.AssignmentDef] = {}
    counts = {"applied": 0, "rejected": 0}
    with Gradebook(course.db_url, course.course_id) as gb:
        for path in files:
            try:
                result = results.read(path)
                if result.assignment not in defs:
                    defs[result.assignment] = definitions.read(course.db_url, course.course_id, result.assignment)
                graded = (path.parent / result.autograded_dir).resolve() if result.autograded_dir else None
                if graded is not None and not graded.is_relative_to(folder.resolve()):
                    raise results.ResultError(f"autograded_dir {result.autograded_dir} points outside {folder}")
                store.commit(course, gb, defs[result.assignment], result, graded)
                counts["applied"] += 1
            except (results.ResultError, UserError) as exc:
                print(f"rejected {path}: {exc}")
                counts["rejected"] += 1
    for name, definition in defs.items():
        table = report.rows(db_url=course.db_url, course_id=course.course_id, definition=definition,
                            students=course.students(name) or sorted(store.load_ledger(course, name)),
                            ledger=store.load_ledger(course, name))
        report.write_csv(course.root / "grades.csv", table, definition)
    return counts

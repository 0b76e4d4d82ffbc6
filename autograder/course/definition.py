"""An assignment's definition (notebooks and nbgrader cells), as stored by generate_assignment.

Read once from the course gradebook, it seeds each worker's private scratch gradebook, so a
worker never opens the course gradebook.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from nbgrader.api import Gradebook, MissingEntry

from autograder.course import exercise_book, new_gradebook
from autograder.errors import UserError


@dataclass
class NotebookDef:
    """One notebook's nbgrader cells."""

    name: str
    kernelspec: str | None = None
    grade_cells: list[dict[str, Any]] = field(default_factory=list)  # name, max_score, cell_type
    solution_cells: list[str] = field(default_factory=list)
    task_cells: list[dict[str, Any]] = field(default_factory=list)  # name, max_score, cell_type
    source_cells: list[dict[str, Any]] = field(default_factory=list)  # name, cell_type, locked, source, checksum


@dataclass
class AssignmentDef:
    """An assignment's notebooks, in name order."""

    name: str
    duedate: str | None
    notebooks: list[NotebookDef]
    #: notebook -> the bundle the release stored for the grader (exercise specs, solutions, frozen references)
    exercises: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "AssignmentDef":
        """Inverse of :meth:`to_json`."""
        bundles = data.get("exercises") or {}
        if not isinstance(bundles, dict):
            raise UserError("the assignment definition's exercises are not an object", "regenerate the job")
        return cls(data["name"], data.get("duedate"), [NotebookDef(**nb) for nb in data["notebooks"]],
                   {str(k): exercise_book.validate_bundle(v, f"bundle {k}") for k, v in bundles.items()})

    def max_scores(self) -> dict[str, dict[str, float]]:
        """notebook -> graded cell -> max score (grade and task cells)."""
        return {nb.name: {c["name"]: float(c["max_score"]) for c in nb.grade_cells + nb.task_cells}
                for nb in self.notebooks}


def read(db_url: str, course_id: str, assignment: str) -> AssignmentDef:
    """Read the assignment from the gradebook; a missing assignment is a :class:`UserError`."""
    with Gradebook(db_url, course_id) as gb:
        try:
            a = gb.find_assignment(assignment)
        except MissingEntry:
            raise UserError(
                f"assignment '{assignment}' is not in the gradebook {_safe(db_url)}",
                f"run `python -m autograder release {assignment}` (nbgrader generate_assignment) first") from None
        notebooks = []
        for nb in sorted(a.notebooks, key=lambda n: n.name):
            notebooks.append(NotebookDef(
                name=nb.name, kernelspec=nb.kernelspec,
                grade_cells=[{"name": c.name, "max_score": c.max_score, "cell_type": c.cell_type} for c in nb.grade_cells],
                solution_cells=[c.name for c in nb.solution_cells],
                task_cells=[{"name": c.name, "max_score": c.max_score, "cell_type": c.cell_type} for c in nb.task_cells],
                source_cells=[{"name": c.name, "cell_type": c.cell_type, "locked": c.locked,
                               "source": c.source, "checksum": c.checksum} for c in nb.source_cells],
            ))
        if not notebooks:
            raise UserError(f"assignment '{assignment}' has no notebooks in the gradebook {_safe(db_url)}",
                            f"run `python -m autograder release {assignment}` first")
        duedate = a.duedate.isoformat() if a.duedate else None
        return AssignmentDef(assignment, duedate, notebooks)


def seed(db_url: str, course_id: str, definition: AssignmentDef) -> None:
    """Create the assignment in a (scratch) gradebook exactly as the course gradebook has it."""
    new_gradebook.create(db_url, course_id)
    with Gradebook(db_url, course_id) as gb:
        gb.update_or_create_assignment(definition.name, duedate=definition.duedate)
        for nb in definition.notebooks:
            gb.update_or_create_notebook(nb.name, definition.name, kernelspec=nb.kernelspec)
            for c in nb.source_cells:
                gb.update_or_create_source_cell(c["name"], nb.name, definition.name, cell_type=c["cell_type"],
                                                locked=c["locked"], source=c["source"], checksum=c["checksum"])
            for c in nb.grade_cells:
                gb.update_or_create_grade_cell(c["name"], nb.name, definition.name,
                                               max_score=c["max_score"], cell_type=c["cell_type"])
            for name in nb.solution_cells:
                gb.update_or_create_solution_cell(name, nb.name, definition.name)
            for c in nb.task_cells:
                gb.update_or_create_task_cell(c["name"], nb.name, definition.name,
                                              max_score=c["max_score"], cell_type=c["cell_type"])


def _safe(db_url: str) -> str:
    """The URL without a password."""
    if "@" in db_url and "://" in db_url:
        scheme, rest = db_url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        return f"{scheme}://{creds.split(':', 1)[0]}@{host}"
    return db_url

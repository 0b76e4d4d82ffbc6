"""What a submission that could not be graded gets: zero scores and its notebooks with the reason on top.

Used by the grading process (a worker that died) and by the worker (a submission it refused).
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import nbformat

from autograder.contracts.results import CellGrade, NotebookResult
from autograder.course.definition import AssignmentDef

__all__ = ["zero_scores", "banner", "placeholder_notebooks"]


def zero_scores(definition: AssignmentDef) -> dict[str, NotebookResult]:
    """Zero for every graded cell (what nbgrader gives a missing notebook)."""
    return {name: NotebookResult(grades={n: CellGrade(0.0, m) for n, m in scores.items()})
            for name, scores in definition.max_scores().items()}


def banner(path: Path, status: str, reason: str) -> None:
    """Put the autograder's status at the top of a graded notebook (it shows in the feedback)."""
    nb = nbformat.read(path, as_version=4)
    cell = nbformat.v4.new_markdown_cell(f"**Autograder: {status}.** {reason}")
    cell.metadata["autograder"] = {"status": status}
    nb.cells.insert(0, cell)
    os.chmod(path, 0o644)
    nbformat.write(nb, path)
    os.chmod(path, 0o444)


def placeholder_notebooks(out: Path, release: Path, definition: AssignmentDef, status: str, reason: str) -> None:
    """For a submission that could not run: the released notebooks (from ``release``) in ``out``, the reason on top."""
    out.mkdir(parents=True, exist_ok=True)
    for nb in definition.notebooks:
        src = release / f"{nb.name}.ipynb"
        if src.is_file():
            target = out / src.name
            shutil.copyfile(src, target)
            banner(target, status, reason)

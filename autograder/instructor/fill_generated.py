"""``FillGenerated``: the nbgrader preprocessor that turns a source notebook's exercises into what is released.

First in ``GenerateAssignment.preprocessors`` (``nbgrader_config.py``), so plain ``nbgrader generate_assignment``
does it too: the check cells' generated blocks are filled from the solution cells
(:mod:`autograder.instructor.exercise_release`), the grader's bundle is written to
``references/<assignment>/<notebook>.json``, and the exercise metadata (its demo examples quote the solution) is
removed from the copy that is released and saved in the gradebook.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from nbconvert.preprocessors import Preprocessor
from nbformat import NotebookNode
from traitlets import Bool

from autograder.course import exercise_book

__all__ = ["FillGenerated", "strip_metadata"]


def strip_metadata(nb: NotebookNode) -> None:
    """Remove the exercise definitions from a notebook about to be released (in place)."""
    nb.metadata.pop("exercises", None)
    for cell in nb.cells:
        cell.get("metadata", {}).pop("exercise", None)


class FillGenerated(Preprocessor):
    """Fill the check cells from the solutions, store the grader's bundle, strip the definitions."""

    enabled = Bool(True, help="nbconvert skips a preprocessor that is not enabled").tag(config=True)

    def preprocess(self, nb: NotebookNode, resources: dict[str, Any]) -> tuple[NotebookNode, dict[str, Any]]:
        """Generate, write the bundle, and return the notebook to release."""
        if not exercise_book.has_exercises(nb):
            return nb, resources
        from autograder.instructor import exercise_release

        info = resources.get("nbgrader", {})
        assignment, notebook = str(info.get("assignment") or ""), str(info.get("notebook") or "")
        root = Path(str(self.config.get("CourseDirectory", {}).get("root") or os.getcwd()))
        path = root / "source" / assignment / f"{notebook}.ipynb"
        generated = exercise_release.generate(exercise_book.read(path, nb))
        exercise_release.apply(nb, generated)
        exercise_release.write_bundle(root, assignment, notebook, generated.bundle)
        strip_metadata(nb)
        return nb, resources

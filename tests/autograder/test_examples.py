"""nbgrader's own autograde gives every example submission of the unet assignment its expected scores."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from nbgrader.api import Gradebook

from autograder import examples

pytestmark = pytest.mark.slow
NOTEBOOK = "Image_segmentation_Unet.ipynb"


def nbgrader(course: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, capture_output=True, text=True,
                          check=True)


def test_examples_break_only_what_they_say(course_root: Path) -> None:
    answers = examples.answer_sources(course_root / "source/unet" / NOTEBOOK)
    for example in examples.UNET_EXAMPLES:
        nb = examples.build_submission(example, course_root / "release/unet" / NOTEBOOK, answers)
        cells = {c.metadata.get("nbgrader", {}).get("grade_id"): c.source for c in nb.cells}
        for grade_id, code in answers.items():
            if grade_id in example.untouched:
                assert "raise NotImplementedError()" in cells[grade_id]
            elif grade_id not in example.edits:
                assert cells[grade_id] == code


def test_stale_edit_is_refused(course_root: Path) -> None:
    broken = examples.Example("x", "edit that no longer matches", edits={"conv_block": [("no such code", "")]})
    answers = examples.answer_sources(course_root / "source/unet" / NOTEBOOK)
    with pytest.raises(ValueError, match="not in the solution of conv_block"):
        examples.build_submission(broken, course_root / "release/unet" / NOTEBOOK, answers)


def test_nbgrader_autograde_scores_each_exercise_independently(scratch_course: Path) -> None:
    nbgrader(scratch_course, "generate_assignment", "unet", "--force")
    examples.write_examples(root=scratch_course)
    nbgrader(scratch_course, "autograde", "unet")
    with Gradebook(f"sqlite:///{scratch_course / 'gradebook.db'}") as gb:
        for example in examples.UNET_EXAMPLES:
            got = {}
            for grade in gb.find_submission_notebook(NOTEBOOK.removesuffix(".ipynb"), "unet", example.student).grades:
                if grade.cell.name.startswith("test_"):
                    got[grade.cell.name] = grade.score
            assert got == example.expected, example.student
    nbgrader(scratch_course, "generate_feedback", "unet")
    for example in examples.UNET_EXAMPLES:
        page = scratch_course / "feedback" / example.student / "unet" / NOTEBOOK.replace(".ipynb", ".html")
        assert page.is_file()

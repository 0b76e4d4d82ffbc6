"""nbgrader's own autograde gives every example submission its expected score in every test cell."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from nbgrader.api import Gradebook

from autograder.course import scratch
from autograder.instructor import examples


def nbgrader(course: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, capture_output=True, text=True,
                          check=True)


@pytest.mark.parametrize("assignment", sorted(examples.ASSIGNMENTS))
def test_examples_break_only_what_they_say(course_root: Path, assignment: str) -> None:
    notebook, cases = examples.ASSIGNMENTS[assignment]
    answers = examples.answer_sources(course_root / "source" / assignment / notebook)
    for example in cases:
        nb = examples.build_submission(example, course_root / "release" / assignment / notebook, answers)
        cells = {c.metadata.get("nbgrader", {}).get("grade_id"): c.source for c in nb.cells}
        for gid, code in answers.items():
            if gid in example.untouched:
                assert "raise NotImplementedError()" in cells[gid]
            elif gid not in example.edits:
                assert cells[gid] == code
            else:
                assert cells[gid] != code


def test_stale_edit_is_refused(course_root: Path) -> None:
    broken = examples.Example("x", "edit that no longer matches", edits={"conv_block": [("no such code", "")]})
    answers = examples.answer_sources(course_root / "source/unet/Image_segmentation_Unet.ipynb")
    with pytest.raises(ValueError, match="not in the solution of conv_block"):
        examples.build_submission(broken, course_root / "release/unet/Image_segmentation_Unet.ipynb", answers)


@pytest.mark.slow
@pytest.mark.parametrize("assignment", sorted(examples.ASSIGNMENTS))
def test_nbgrader_autograde_scores_each_exercise_independently(course_root: Path, tmp_path: Path,
                                                               assignment: str) -> None:
    course = scratch.build(tmp_path / "course", origin=course_root, assignment=assignment, source="all")
    notebook, cases = examples.ASSIGNMENTS[assignment]
    nbgrader(course, "generate_assignment", assignment, "--force")
    examples.write_examples(root=course, assignment=assignment)
    nbgrader(course, "autograde", assignment)
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        for example in cases:
            grades = gb.find_submission_notebook(notebook.removesuffix(".ipynb"), assignment, example.student).grades
            got = {g.cell.name: g.score for g in grades if g.cell.name.startswith("test_")}
            assert got == example.expected, example.student
    nbgrader(course, "generate_feedback", assignment)
    for example in cases:
        assert (course / "feedback" / example.student / assignment / notebook.replace(".ipynb", ".html")).is_file()

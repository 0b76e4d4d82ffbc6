"""Every example submission gets its declared score in every check cell: from the kit's grader (the shared graded
batch, all examples of every assignment) and, on a sample, from plain ``nbgrader autograde``."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Callable

import nbformat
import pytest
from nbgrader.api import Gradebook

import batches
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


def _check_scores(course: Path, assignment: str, student: str) -> dict[str, float | None]:
    """grade_id -> score of every check cell (``test_*``) of one student's submission, from the gradebook."""
    notebook = examples.ASSIGNMENTS[assignment][0].removesuffix(".ipynb")
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        grades = gb.find_submission_notebook(notebook, assignment, student).grades
        return {g.cell.name: g.score for g in grades if g.cell.name.startswith("test_")}


@pytest.mark.slow
@pytest.mark.parametrize("assignment", sorted(examples.ASSIGNMENTS))
def test_the_kit_grades_every_example_as_declared(graded_course: Callable[[str], Path], assignment: str) -> None:
    course = graded_course(assignment)
    for example in examples.ASSIGNMENTS[assignment][1]:
        assert _check_scores(course, assignment, example.student) == example.expected, example.student


#: the sample plain nbgrader grades: per assignment its first declared mistake, which fails one exercise's checks
#: and passes the others' -- so both a lost and a kept score are compared, cell by cell.
SAMPLE = {name: next(e for e in cases if e.student.startswith("demo-mistake"))
          for name, (_, cases) in examples.ASSIGNMENTS.items()}


@pytest.mark.slow
@pytest.mark.parametrize("assignment", sorted(examples.ASSIGNMENTS))
def test_nbgrader_autograde_scores_each_exercise_independently(released_course: Callable[[str], Path],
                                                               graded_course: Callable[[str], Path],
                                                               tmp_path: Path, assignment: str) -> None:
    """Parity on a sample: plain ``nbgrader autograde`` gives the sample's submission the scores its example
    declares, the same as the kit's grader gave it in the shared batch, and ``generate_feedback`` works on it."""
    course = batches.copy(released_course(assignment), tmp_path / "course")
    notebook, _ = examples.ASSIGNMENTS[assignment]
    example = SAMPLE[assignment]
    answers = examples.answer_sources(course / "source" / assignment / notebook)
    target = course / "submitted" / example.student / assignment / notebook
    target.parent.mkdir(parents=True)
    nbformat.write(examples.build_submission(example, course / "release" / assignment / notebook, answers), target)
    nbgrader(course, "autograde", assignment)
    theirs = _check_scores(course, assignment, example.student)
    assert theirs == example.expected
    assert theirs == _check_scores(graded_course(assignment), assignment, example.student)
    nbgrader(course, "generate_feedback", assignment)
    assert (course / "feedback" / example.student / assignment / notebook.replace(".ipynb", ".html")).is_file()

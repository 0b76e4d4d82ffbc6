"""Student-facing outputs never carry a hidden check: the kit's feedback, nbgrader's own generate_feedback,
and the Gradescope and Coursera documents, for a correct, a mistaken and a crashed submission of each assignment.

What counts as a hidden check's code (the "needles"): every line of every ``### BEGIN HIDDEN TESTS`` …
``### END HIDDEN TESTS`` region of the *source* notebook, stripped, that has at least 12 characters (shorter
lines such as ``)``, ``else:`` or ``return out`` are too common to prove anything) and that is not also a line
of the *released* notebook (a line the students already have is no secret). A page is searched as it is, with
its tags removed and its entities unescaped, so neither highlighting spans nor ``&quot;`` hide a quote.
"""
from __future__ import annotations

import html
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Callable

import nbformat
import pytest
from nbconvert import HTMLExporter

import batches
from autograder.course import definition as definitions
from autograder.course.directory import Course
from autograder.host import store
from autograder.course import exercise_book
from autograder.instructor import examples, feedback
from autograder.course.explanations import read_failures
from autograder.platforms import lms
from test_utils import strip_ansi

REPO = Path(__file__).resolve().parents[3]
MIN_CHARS = 12
REGION = re.compile(r"### BEGIN HIDDEN TESTS[^\n]*\n(.*?)### END HIDDEN TESTS", re.DOTALL)
#: assignment -> its first declared mistake (the source notebook's examples), a submission that loses one exercise
MISTAKEN = {name: next(e.student for e in cases if e.student.startswith("demo-mistake"))
            for name, (_, cases) in examples.ASSIGNMENTS.items()}
CRASHED = batches.CRASHED  # kills its kernel in the first answer cell


def needles(assignment: str) -> frozenset[str]:
    """The hidden-region lines of the source notebook that must never reach a student (see the module docstring)."""
    notebook = examples.ASSIGNMENTS[assignment][0]
    source = nbformat.read(REPO / "source" / assignment / notebook, as_version=4)
    released = nbformat.read(REPO / "release" / assignment / notebook, as_version=4)
    public = {line.strip() for cell in released.cells for line in cell.source.splitlines()}
    lines = {line.strip() for cell in source.cells for region in REGION.findall(cell.source)
             for line in region.splitlines()}
    return frozenset(line for line in lines - public if len(line) >= MIN_CHARS)


def found_in(text: str, secret: frozenset[str]) -> list[str]:
    """The needles in ``text``, searched raw and as tag-stripped, unescaped text."""
    plain = html.unescape(re.sub(r"<[^>]*>", "", text))
    return sorted(line for line in secret if line in text or line in plain)


@pytest.fixture
def graded(graded_course: Callable[[str], Path], assignment: str) -> Path:
    """The shared graded batch of the test's assignment (read-only): a correct, a mistaken, a crashed submission
    among others, graded once per run by the kit's grader."""
    return graded_course(assignment)


@pytest.fixture
def with_feedback(graded: Path, tmp_path: Path, assignment: str) -> tuple[Path, list[Path]]:
    """A copy of the graded batch with the kit's feedback written: (the course, the pages)."""
    course = batches.copy(graded, tmp_path / "course")
    return course, feedback.run(course=Course.open(course), assignment=assignment)


STUDENTS = ("demo-correct", "mistaken", CRASHED)


def _student(assignment: str, who: str) -> str:
    return MISTAKEN[assignment] if who == "mistaken" else who


def _page(root: Path, assignment: str, student: str) -> str:
    notebook = examples.ASSIGNMENTS[assignment][0].removesuffix(".ipynb")
    return (root / "feedback" / student / assignment / f"{notebook}.html").read_text(encoding="utf-8")


@pytest.mark.slow
@pytest.mark.parametrize("assignment", sorted(examples.ASSIGNMENTS))
def test_the_needles_are_in_what_instructors_see(graded: Path, assignment: str) -> None:
    """The leak check can fail: the autograded notebook, converted as it is, quotes every needle."""
    secret = needles(assignment)
    assert len(secret) >= 3, secret
    notebook = examples.ASSIGNMENTS[assignment][0]
    ledger = store.load_ledger(Course.open(graded), assignment)
    assert sorted(ledger) == sorted(batches.students(assignment))
    assert {s: ledger[s].status for s in ("demo-correct", MISTAKEN[assignment], CRASHED)} == {
        "demo-correct": "graded", MISTAKEN[assignment]: "graded", CRASHED: "kernel_died"}, {
        s: r.reason for s, r in ledger.items()}
    page, _ = HTMLExporter().from_filename(str(graded / "autograded" / _student(assignment, "mistaken")
                                               / assignment / notebook))
    assert found_in(page, secret) == sorted(secret)


@pytest.mark.slow
@pytest.mark.parametrize("assignment", sorted(examples.ASSIGNMENTS))
def test_kit_feedback_shows_names_scores_explanations_never_hidden_code(with_feedback: tuple[Path, list[Path]],
                                                                       assignment: str) -> None:
    graded, files = with_feedback
    assert len(files) == len(batches.students(assignment))
    secret = needles(assignment)
    for who in STUDENTS:
        page = _page(graded, assignment, _student(assignment, who))
        assert found_in(page, secret) == [], who
        assert "BEGIN HIDDEN TESTS" not in page
        assert 'id="feedback-summary"' in page and page.index("feedback-summary") < page.index("Grade cell:")
        text = html.unescape(re.sub(r"<[^>]*>", "", page))
        for hidden in (c for c in _hidden_ids(graded, assignment)):
            assert f"Hidden check {hidden}:" in text
    n = len(exercise_book.read(REPO / "source" / assignment / examples.ASSIGNMENTS[assignment][0]).entries)
    correct = html.unescape(re.sub(r"<[^>]*>", "", _page(graded, assignment, "demo-correct")))
    assert f"{n} of {n} exercises passed" in correct and "Not passed" not in correct
    mistaken = html.unescape(re.sub(r"<[^>]*>", "", _page(graded, assignment, MISTAKEN[assignment])))
    assert f"{n - 1} of {n} exercises passed" in mistaken and "Rerun the public check of Exercise" in mistaken
    assert "Not passed:" in mistaken  # the hidden check's explanation, under its name
    # the summary leads with the cause the graded notebook's first failure names, not a consequence of it
    found, _ = read_failures(graded / "autograded" / MISTAKEN[assignment] / assignment,
                             [examples.ASSIGNMENTS[assignment][0].removesuffix(".ipynb")])
    first = next(f for cells in found.values() for f in cells.values())
    cause = strip_ansi(first.cause)
    assert cause in mistaken and "output shape" not in cause and "parameters" not in cause, cause
    crashed = html.unescape(re.sub(r"<[^>]*>", "", _page(graded, assignment, CRASHED)))
    assert f"0 of {n} exercises passed" in crashed and "Grading status:" in crashed


@pytest.mark.slow
@pytest.mark.parametrize("assignment", sorted(examples.ASSIGNMENTS))
def test_nbgrader_generate_feedback_uses_the_course_filter(graded: Path, tmp_path: Path, assignment: str) -> None:
    course = batches.copy(graded, tmp_path / "course")
    env = {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "TF_CPP_MIN_LOG_LEVEL": "2", "HOME": str(tmp_path)}
    done = subprocess.run(["nbgrader", "generate_feedback", assignment, "--force"], cwd=course, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    secret = needles(assignment)
    for who in STUDENTS:
        page = _page(course, assignment, _student(assignment, who))
        assert found_in(page, secret) == [], who
        assert 'id="feedback-summary"' in page


@pytest.mark.slow
@pytest.mark.parametrize("assignment", sorted(examples.ASSIGNMENTS))
def test_gradescope_and_coursera_documents_never_quote_hidden_code(graded: Path, assignment: str) -> None:
    course = Course.open(graded)
    definition = definitions.read(course.db_url, course.course_id, assignment)
    secret = needles(assignment)
    for who in STUDENTS:
        outcome = lms.graded_outcome(course, definition, _student(assignment, who))
        gradescope = lms.gradescope_results(outcome, 1.0)
        coursera = lms.coursera_feedback(outcome)
        assert found_in(json.dumps(gradescope), secret) == [] and found_in(coursera["feedback"], secret) == [], who
        for test in gradescope["tests"]:
            assert test["output"] and "Traceback" not in test["output"] and "---->" not in test["output"]
    mistaken = lms.gradescope_results(lms.graded_outcome(course, definition, MISTAKEN[assignment]), 1.0)
    failed_hidden = [t for t in mistaken["tests"] if "hidden" in t["name"] and t["score"] < t["max_score"]]
    assert len(failed_hidden) == 1 and failed_hidden[0]["output"] != "Not passed."


@pytest.mark.slow
@pytest.mark.parametrize("assignment", ["unet"])
def test_a_corrupt_graded_notebook_gets_a_notice_and_the_others_their_feedback(
        graded: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], assignment: str) -> None:
    course = batches.copy(graded, tmp_path / "course")
    notebook = examples.ASSIGNMENTS["unet"][0]
    (course / "autograded" / "demo-correct" / "unet" / notebook).write_text('{"cells": [', encoding="utf-8")
    files = feedback.run(course=Course.open(course), assignment="unet")
    assert len(files) == len(batches.students("unet"))
    assert "cannot be read" in _page(course, "unet", "demo-correct")
    assert 'id="feedback-summary"' in _page(course, "unet", MISTAKEN["unet"])
    err = capsys.readouterr().err
    assert "demo-correct" in err and "python -m autograder grade unet --student demo-correct" in err


def _hidden_ids(root: Path, assignment: str) -> list[str]:
    notebook = examples.ASSIGNMENTS[assignment][0]
    nb = nbformat.read(root / "source" / assignment / notebook, as_version=4)
    return [c.metadata["nbgrader"]["grade_id"] for c in nb.cells
            if c.metadata.get("nbgrader", {}).get("grade_id", "").endswith("_hidden")]

"""Plain ``nbgrader autograde`` (what the Formgrader's Autograde button runs) grades confined, on the real unet course.

The course's ``nbgrader_config.py`` runs each kernel through :class:`autograder.run.confined_execute.ConfinedExecute`:
a submission that searches the machine for the solution (``tests/autograder/scanner.py``) finds nothing and scores 0
on ``conv_block`` while an honest one keeps full marks; with the explicit opt-out the same scanner does find the
solution (the probe is not blind); and where no sandbox can be set up, no student code runs at all.
"""
from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path
from typing import Callable

import nbformat
import pytest
import toy
from nbgrader.api import Gradebook
from scanner import found_solution, scanner_notebook

import batches
from autograder.instructor import examples
from autograder.run.confined_execute import OPT_OUT, UNCONFINED
from autograder.sandbox import limits as sandbox

pytestmark = pytest.mark.slow

ASSIGNMENT = "unet"
NOTEBOOK = examples.ASSIGNMENTS[ASSIGNMENT][0]
REPO = toy.REPO
CONV = ("test_conv_block", "test_conv_block_hidden")
NO_NAMESPACES = REPO / "tests" / "autograder" / "sandbox" / "no_namespaces.py"


def _course(released_course: Callable[[str], Path], tmp_path: Path, submissions: dict[str, nbformat.NotebookNode]) -> Path:
    course = batches.copy(released_course(ASSIGNMENT), tmp_path / "course")
    for student, nb in submissions.items():
        target = course / "submitted" / student / ASSIGNMENT / NOTEBOOK
        target.parent.mkdir(parents=True)
        nbformat.write(nb, target)
    return course


def _honest(course: Path) -> nbformat.NotebookNode:
    answers = examples.answer_sources(course / "source" / ASSIGNMENT / NOTEBOOK)
    return examples.build_submission(examples.Example("honest", "the solution"), course / "release" / ASSIGNMENT / NOTEBOOK,
                                     answers)


def _autograde(course: Path, *args: str, wrap: list[str] | None = None) -> tuple[subprocess.CompletedProcess[str], int]:
    """``nbgrader autograde unet ARGS`` in the course, as an instructor runs it; (the run, its pid)."""
    command = [*(wrap or []), str(toy.VENV_BIN / "nbgrader"), "autograde", ASSIGNMENT, *args]
    proc = subprocess.Popen(command, cwd=course, env=toy.env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out, _ = proc.communicate(timeout=1200)
    return subprocess.CompletedProcess(command, proc.returncode, out, ""), proc.pid


def _scores(course: Path, student: str) -> dict[str, float | None]:
    """grade_id -> auto score of every check cell of the student's notebook, from the course's gradebook."""
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        grades = gb.find_submission_notebook(NOTEBOOK.removesuffix(".ipynb"), ASSIGNMENT, student).grades
        return {g.cell.name: g.auto_score for g in grades}


def _max_scores(course: Path) -> dict[str, float]:
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        nb = gb.find_notebook(NOTEBOOK.removesuffix(".ipynb"), ASSIGNMENT)
        return {cell.name: float(cell.max_score) for cell in nb.grade_cells}


def _graded(course: Path, student: str) -> Path:
    return course / "autograded" / student / ASSIGNMENT / NOTEBOOK


def _left_behind(pid: int) -> list[Path]:
    """Kernel folders and cgroups a finished nbgrader run with this pid did not remove."""
    folders = [p for p in Path("/tmp").glob("ag-nbgrader-*")
               if (p / "owner.pid").is_file() and (p / "owner.pid").read_text().strip() == str(pid)]
    return folders + [d for parent in sandbox.cgroup_parents() for d in parent.glob(f"{pid}-nbgrader-*")]


def test_plain_autograde_confines_student_code(released_course: Callable[[str], Path], tmp_path: Path) -> None:
    """The scanner finds nothing and scores 0 on conv_block; the honest submission keeps full marks."""
    template = released_course(ASSIGNMENT)
    course = _course(released_course, tmp_path, {"honest": _honest(template),
                                                  "scanner": scanner_notebook(template / "release" / ASSIGNMENT / NOTEBOOK, REPO)})
    done, pid = _autograde(course)
    assert done.returncode == 0, done.stdout[-4000:]
    assert UNCONFINED not in done.stdout
    full = _max_scores(course)
    assert _scores(course, "honest") == full, done.stdout[-4000:]
    assert not found_solution(_graded(course, "scanner")), "the confined scanner found a solution"
    assert {cell: _scores(course, "scanner")[cell] for cell in CONV} == {cell: 0 for cell in CONV}
    assert _left_behind(pid) == []


def test_opt_out_runs_unconfined_and_the_scanner_finds_the_solution(released_course: Callable[[str], Path],
                                                                    tmp_path: Path) -> None:
    """The control: with --ConfinedExecute.sandbox=False the same scanner finds the solution and gets 10/10 on
    conv_block (what plain nbgrader gave it before), and the run says that the code ran unconfined."""
    template = released_course(ASSIGNMENT)
    course = _course(released_course, tmp_path, {"scanner": scanner_notebook(template / "release" / ASSIGNMENT / NOTEBOOK, REPO)})
    done, _ = _autograde(course, OPT_OUT)
    assert done.returncode == 0, done.stdout[-4000:]
    warnings = [line for line in done.stdout.splitlines() if UNCONFINED in line]
    assert len(warnings) == 1 and "WARNING" in warnings[0], done.stdout[-4000:]
    assert found_solution(_graded(course, "scanner")), "the scanner is blind: it found nothing even unconfined"
    full = _max_scores(course)
    assert {cell: _scores(course, "scanner")[cell] for cell in CONV} == {cell: full[cell] for cell in CONV}


def test_where_no_sandbox_can_be_set_up_no_student_code_runs(released_course: Callable[[str], Path], tmp_path: Path) -> None:
    """Namespaces forbidden (as in Docker's default seccomp profile): nbgrader autograde logs one line saying why and
    what to do, runs no notebook and leaves no graded copy; the opt-out is the only way to run it there."""
    marker = Path(f"/tmp/ran-{uuid.uuid4().hex[:12]}")  # the submission's code writes it on its first line
    template = released_course(ASSIGNMENT)
    nb = nbformat.read(template / "release" / ASSIGNMENT / NOTEBOOK, as_version=4)
    answer = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "conv_block")
    answer.source = f"open({str(marker)!r}, 'w').close()\n" + answer.source
    course = _course(released_course, tmp_path, {"alice": nb, "bob": nb})
    walled = [sys.executable, str(NO_NAMESPACES)]
    try:
        refused, _ = _autograde(course, wrap=walled)
        errors = [line for line in refused.stdout.splitlines() if "ERROR" in line]
        assert refused.returncode != 0 and len(errors) == 1, refused.stdout[-4000:]
        assert "student code cannot be confined on this machine" in errors[0] and OPT_OUT in errors[0], errors[0]
        assert "Traceback" not in refused.stdout
        assert not marker.exists(), "student code ran although no sandbox could be set up"
        assert not (course / "autograded" / "alice" / ASSIGNMENT).exists()
        assert not (course / "autograded" / "bob").exists(), "the run went on to the next student"
        assert all(score is None for score in _scores(course, "alice").values())
        # the explicit way out still runs it there, unconfined, and says so
        unconfined, _ = _autograde(course, OPT_OUT, "--student", "alice", wrap=walled)
        assert unconfined.returncode == 0, unconfined.stdout[-4000:]
        assert marker.exists() and UNCONFINED in unconfined.stdout
    finally:
        marker.unlink(missing_ok=True)

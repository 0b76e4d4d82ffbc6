"""Grade mutants as students of a scratch copy of the course, with ``python -m autograder grade``.

Each mutant is the *released* notebook (regenerated from ``source/`` in the scratch course, so that its check
cells are the current ones) with every answer cell filled from the instructor's solution and only the mutated
cell replaced (``autograder.instructor.examples.build_submission``); its student id is the mutant's id. The student
``m0000`` hands in the unchanged solution, as a control. An exercise's check cells are the ones the exercise
format names: ``test_<exercise>`` (public) and ``test_<exercise>_hidden``.
"""
from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat

from benchmarks.mutants.generate import REPO, Mutant, assignments

CONTROL = "m0000"


@dataclass(frozen=True)
class Outcome:
    status: str
    caught_public: bool  # the exercise's public check cell lost points
    caught: bool  # any of the exercise's check cells lost points
    lost: tuple[str, ...]  # every check cell that lost points
    collateral: tuple[str, ...]  # cells of other exercises that lost points
    first: str | None = None  # the first explanation the student reads (public check's, else the grader's)
    diagnosed: bool = False  # whether it names the change the mutant made (benchmarks/mutants/diagnosis.py)


def _env() -> dict[str, str]:
    bin_dir = str(Path(sys.executable).parent)
    return {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
            "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(REPO)}


def _autograder(course: Path, *args: str, timeout: float | None = None) -> None:
    cmd = [sys.executable, "-m", "autograder", "--root", str(course), *args]
    done = subprocess.run(cmd, cwd=REPO, env=_env(), capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[1:])} failed (exit {done.returncode}):\n{(done.stdout + done.stderr)[-3000:]}")


def make_course(dest: Path, assignment: str, mutants: list[Mutant], repo: Path = REPO,
                released: Path | None = None) -> Path:
    """A scratch course with ``assignment`` released and one submission per mutant (plus the control).

    ``released``: a course where ``assignment`` is already released from ``repo``'s source (the test suite shares
    one), copied instead of releasing (and verifying) it again.
    """
    from autograder.course import scratch

    if released is not None:
        shutil.copytree(released, dest, symlinks=True)
    else:
        scratch.build(dest, origin=repo, assignment=assignment, release=True, source="all", data=True)
        _autograder(dest, "release", assignment)
    from autograder.instructor.examples import Example, answer_sources, build_submission

    source = assignments(repo)[assignment]
    notebook = source.name
    answers = answer_sources(source)  # every solution cell, the exercises' and any other (e.g. a written answer)
    released = dest / "release" / assignment / notebook  # as generated from source/ just now
    for student, exercise, code, text in [(CONTROL, None, None, "the instructor's solution"),
                                          *[(m.id, m.exercise, m.code, m.description) for m in mutants]]:
        edits = {exercise: [(answers[exercise], code)]} if exercise else {}
        nb = skip_after_checks(build_submission(Example(student, text, edits=edits), released, answers))
        target = dest / "submitted" / student / assignment / notebook
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, target)
    return dest


def skip_after_checks(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Empty the plain code cells after the last check cell (training, figures): they cannot change a check's score.

    Cells run in order, so nothing after the last automatically graded cell reaches its outputs; emptying
    them turns minutes of training per submission into nothing. Cells nbgrader tracks are left as they are.
    """
    graded = [i for i, c in enumerate(nb.cells)
              if c.metadata.get("nbgrader", {}).get("grade") and c.cell_type == "code"]
    for cell in nb.cells[(max(graded) + 1 if graded else len(nb.cells)):]:
        if cell.cell_type == "code" and not cell.metadata.get("nbgrader"):
            cell.source = "# (emptied for the mutation benchmark: it runs after the last check)"
    return nb


# Statuses that say more about the grading machine than about the notebook (e.g. another grader on the same
# machine killing kernels): such submissions are graded once more, one at a time, before they count.
RETRY = ("kernel_died", "timeout", "memory", "error")


def grade(course: Path, assignment: str, jobs: int = 2, retries: int = 1) -> dict[str, dict[str, str]]:
    """Run the batch grader; return grades.csv as student id -> row."""
    _autograder(course, "grade", assignment, "--jobs", str(jobs), "--no-progress")
    for _ in range(retries + 1):
        with (course / "grades.csv").open(newline="") as fh:
            rows = {row["student_id"]: row for row in csv.DictReader(fh)}
        again = sorted(s for s, row in rows.items() if row["status"] in RETRY)
        if not again or _ == retries:
            return rows
        _autograder(course, "grade", assignment, "--jobs", "1", "--no-progress", "--force", "--student", *again)
    return rows


def check_points(assignment: str, repo: Path = REPO) -> dict[str, float]:
    """grade_id -> points of every automatically graded check cell (``test_*``) of the source notebook."""
    nb = nbformat.read(assignments(repo)[assignment], as_version=4)
    meta = [c.metadata.get("nbgrader", {}) for c in nb.cells]
    return {m["grade_id"]: float(m.get("points", 0)) for m in meta
            if m.get("grade") and str(m.get("grade_id", "")).startswith("test_")}


def outcome(exercise: str, row: dict[str, str] | None, points: dict[str, float]) -> Outcome:
    """Which check cells lost points; a missing row or an empty score counts as zero."""
    row = row or {}

    def score(cell: str) -> float:
        try:
            return float(row.get(cell) or 0)
        except ValueError:
            return 0.0

    lost = tuple(c for c, p in points.items() if score(c) < p - 1e-9)
    own = tuple(c for c in lost if c in (f"test_{exercise}", f"test_{exercise}_hidden"))
    return Outcome(row.get("status", "missing"), f"test_{exercise}" in lost, bool(own), lost,
                   tuple(c for c in lost if c not in own))


def diagnose(course: Path, assignment: str, mutants: list[Mutant], outcomes: dict[str, Outcome]) -> dict[str, Outcome]:
    """Each outcome with the first line its student reads, from the graded notebook, and whether it names the mistake."""
    from dataclasses import replace

    from autograder.course import exercise_book
    from autograder.run.judge.references import References
    from benchmarks.mutants import diagnosis
    from benchmarks.mutants.generate import book, solutions

    the_book = book(assignment)
    notebook = the_book.path.stem
    specs = References(exercise_book.load_bundles(course, assignment)[notebook]).specs
    answers = solutions(assignment)
    out = {}
    for m in mutants:
        line = diagnosis.first_line(course / "autograded" / m.id / assignment, notebook, m.exercise)
        target = diagnosis.target(m)
        built = diagnosis.describe_mutant(m, the_book.setup, answers, specs[m.exercise]) \
            if line and target.change == "setting" else []
        ok = diagnosis.diagnosed(m, line, built, diagnosis.in_source(answers[m.exercise], target.cls or ""))
        out[m.id] = replace(outcomes[m.id], first=line, diagnosed=ok)
    return out

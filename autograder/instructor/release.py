"""Regenerate ``release/`` and ``references/`` from ``source/``, and tell whether the committed ones are current.

An exercise is written once, in its source notebook (:mod:`autograder.course.exercise_book`). A release first
generates every check cell's data from the solutions (and refreshes those blocks in ``source/`` too, so the
instructor's notebook runs as it is), then, unless told not to, grades in a scratch copy of the course the
solution notebook (it must score full marks) and the released notebook as handed out (0 on every exercise).
Only then does nbgrader write ``release/<assignment>/``, the gradebook and the grader's ``references/``.
"""
from __future__ import annotations

import filecmp
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat

from autograder.course import exercise_book, new_gradebook
from autograder.course import scratch as scratch_course
from autograder.course.directory import Course, tools_path
from autograder.errors import UserError

__all__ = ["ReleaseError", "refresh_source", "run", "stale_files", "verify"]


class ReleaseError(UserError):
    """nbgrader could not generate an assignment; the message carries nbgrader's own explanation."""


def _generate(root: Path, name: str) -> None:
    course = Course.open(root)
    new_gradebook.create(course.db_url, course.course_id)  # a new gradebook made here costs nbgrader a subprocess
    cmd = [sys.executable, "-m", "nbgrader", "generate_assignment", name, "--force", "--log-level=WARN"]
    # nbgrader runs `alembic` from PATH
    done = subprocess.run(cmd, cwd=root, capture_output=True, text=True, env={**os.environ, "PATH": tools_path()})
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise ReleaseError(f"nbgrader generate_assignment {name} failed in {root}: {last}",
                           f"fix source/{name}/ (run `nbgrader generate_assignment {name} --force` to see the whole log)")


def _exercise_notebooks(root: Path, name: str) -> list[Path]:
    return [p for p in sorted((root / "source" / name).glob("*.ipynb"))
            if exercise_book.has_exercises(nbformat.read(p, as_version=4))]


def refresh_source(*, root: Path, assignment: str) -> list[Path]:
    """Check every exercise of the assignment and rewrite the generated blocks of its source notebooks
    that changed; return those notebooks. A bad definition raises before anything is written."""
    from autograder.instructor import exercise_release

    work = []
    for path in _exercise_notebooks(root, assignment):
        nb = nbformat.read(path, as_version=4)
        generated = exercise_release.generate(exercise_book.read(path, nb))
        work.append((path, nb, exercise_release.apply(nb, generated)))
    for path, nb, changed in work:
        if changed:
            tmp = path.with_name(f".{path.name}.tmp")
            nbformat.write(nb, tmp)
            tmp.replace(path)
    return [path for path, _, changed in work if changed]


def verify(*, course: Course, assignment: str) -> None:
    """Grade the solution notebook (full marks on every exercise) and the released one (0 on every exercise)
    in a scratch copy of ``course``; a :class:`ReleaseError` names the first exercise that does not."""
    from autograder.course import exercise_scores as scored
    from autograder.host import scratch_grade
    from autograder.instructor import examples

    notebooks = _exercise_notebooks(course.root, assignment)
    if not notebooks:
        return

    def submissions(scratch: Course) -> dict[str, dict[str, nbformat.NotebookNode]]:
        """The solution filled into the release just generated in ``scratch``, and that release as handed out."""
        out: dict[str, dict[str, nbformat.NotebookNode]] = {"release-solution": {}, "release-empty": {}}
        for path in notebooks:
            released = scratch.root / "release" / assignment / path.name
            out["release-solution"][path.name] = examples.build_submission(
                examples.Example("solution", ""), released, examples.answer_sources(path))
            out["release-empty"][path.name] = nbformat.read(released, as_version=4)
        return out

    # the instructor's own notebooks, not students': graded by the kit's grader, outside the sandbox
    with scratch_grade.graded(origin=course, assignment=assignment, submissions=submissions,
                              regenerate=True, data=True, jobs=2, confine=False) as done:
        rows, definition = {r["student_id"]: r for r in done.rows}, done.definition
    where = f"source/{assignment}"
    for student, want in (("release-solution", "full marks"), ("release-empty", "0")):
        row = rows.get(student, {})
        if row.get("status") != "graded":
            raise ReleaseError(f"release refused: the {student.split('-')[1]} notebook of {where} could not be graded "
                               f"({row.get('status', 'missing')}: {str(row.get('reason', ''))[:160]})",
                               "run `make check NB=...` on it to see why")
        points = {k: (float(v) if v not in ("", None) else None) for k, v in row.items() if k.startswith("test_")}
        for exercise in scored.evaluate(definition, points):
            got = sum(s or 0 for s, _ in exercise.tests.values())
            full = sum(m for _, m in exercise.tests.values())
            if (want == "full marks" and not exercise.passed) or (want == "0" and got > 0):
                raise ReleaseError(f"release refused: in {where}, the {student.split('-')[1]} notebook scores {got:g} of "
                                   f"{full:g} on {exercise.name}, expected {want}",
                                   f"fix the exercise {exercise.name} (its solution cell, metadata or check cells) in {where}")


def run(*, root: Path, assignments: list[str] | None = None, verify: bool = True) -> list[Path]:
    """Generate ``release/<name>/`` and ``references/<name>/`` for each assignment (all of ``source/`` by
    default) after checking it (``verify``: grade the solution and the empty notebook first); return the folders."""
    course = Course.open(root)
    names = assignments if assignments is not None else course.assignments()
    missing = [n for n in names if not (root / "source" / n).is_dir()]
    if missing:
        have = course.assignments()
        raise ReleaseError(f"no folder source/{missing[0]} in {root}",
                           ("name one of: " + ", ".join(have)) if have else
                           "run this in a course directory (one with source/ASSIGNMENT/), or pass --root")
    for name in names:
        refresh_source(root=root, assignment=name)
        if verify:
            globals()["verify"](course=course, assignment=name)
        old = root / exercise_book.REFERENCES / name
        if old.is_dir():  # an assignment whose exercises were removed leaves no stale references behind
            shutil.rmtree(old)
        _generate(root, name)
    return [root / "release" / n for n in names]


def _tree(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts}


def stale_files(*, root: Path, assignment: str) -> list[str]:
    """Files of ``release/<assignment>`` and ``references/<assignment>`` that differ from what ``source/``
    generates now (empty when in sync). Generated in a scratch copy of the course: the course is left alone."""
    with tempfile.TemporaryDirectory(prefix="release-check-") as scratch:
        course = scratch_course.build(Path(scratch), origin=root, assignment=assignment, source="all", references=False)
        _generate(course, assignment)
        stale = []
        for top in ("release", exercise_book.REFERENCES):
            fresh, committed = course / top / assignment, root / top / assignment
            fresh_files = _tree(fresh) if fresh.is_dir() else set()
            committed_files = _tree(committed) if committed.is_dir() else set()
            changed = {f for f in fresh_files & committed_files
                       if not filecmp.cmp(fresh / f, committed / f, shallow=False)}
            stale += [f"{top}/{assignment}/{f}" for f in sorted(changed | (fresh_files ^ committed_files))]
        return stale

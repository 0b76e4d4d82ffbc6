"""Grade a few notebooks in a private scratch course: the one path behind ``check``, ``shard``, the LMS entries and
the release's own check.

The scratch course is laid out by :func:`autograder.course.scratch.build` from the course it comes from, gets the
assignment's definition (copied from that course's gradebook, or generated afresh from ``source/`` when the
gradebook may not hold it: a fresh clone, a release being checked), receives the submissions and is graded by
:func:`autograder.host.grade.run`, the same grader and sandbox as everywhere else. Nothing in the origin course
changes. The scratch course lives until the ``with`` block ends, so the caller reads what it needs from it.
"""
from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Union

import nbformat

from autograder.course import definition as definitions
from autograder.course import new_gradebook, scratch
from autograder.course.directory import Course
from autograder.course.nbgrader_app import run_app
from autograder.host import grade

__all__ = ["Scratch", "graded"]

#: One student's submission: a folder copied whole, or file name -> a file or a notebook to write there.
Submission = Union[Path, Mapping[str, Union[Path, nbformat.NotebookNode]]]


@dataclass(frozen=True)
class Scratch:
    """The graded scratch course: the course, the grades.csv rows of its students and the assignment's definition."""

    course: Course
    rows: list[dict[str, Any]]
    definition: definitions.AssignmentDef

    def row(self, student: str) -> dict[str, Any]:
        """The grades.csv row of ``student``."""
        return next(r for r in self.rows if r["student_id"] == student)


def _place(target: Path, submission: Submission) -> None:
    if isinstance(submission, Path):
        scratch.copy_files(submission, target)  # regular files only: a link in a submission is not followed
        return
    target.mkdir(parents=True)
    for name, item in submission.items():
        if isinstance(item, Path):
            (target / name).write_bytes(item.read_bytes())
        else:
            nbformat.write(item, target / name)


def _course(origin: Course, assignment: str, root: Path, regenerate: bool, data: bool) -> Course:
    if not regenerate:
        return scratch.private_course(origin, assignment, root)
    scratch.build(root, origin=origin.root, assignment=assignment, source="all", data=data, references=False)
    course = Course.open(root, f"sqlite:///{root / 'gradebook.db'}")
    new_gradebook.create(course.db_url, course.course_id)  # made here, nbgrader would make it with a subprocess
    run_app(course, ["generate_assignment", assignment, "--force"])
    return course


@contextmanager
def graded(*, origin: Course, assignment: str,
           submissions: Mapping[str, Submission] | Callable[[Course], Mapping[str, Submission]], regenerate: bool = False,
           data: bool = False, jobs: int | None = 1, timeout: float | None = None, confine: bool = True,
           unconfined_ok: Callable[[str], None] | None = None) -> Iterator[Scratch]:
    """Grade ``submissions`` (student -> :data:`Submission`) of ``assignment`` in a private copy of ``origin``.

    ``submissions`` may also be a function of the scratch course that returns them, for submissions made from
    its release (the release's own check).

    ``regenerate``: generate the assignment from ``source/`` with nbgrader (else copy its definition from
    ``origin``'s gradebook). ``data``: link the origin's dataset into the copy. ``confine=False`` grades
    unconfined (``--no-sandbox``). ``unconfined_ok``: where the sandbox cannot be set up, it is called with
    the reason and the notebooks are graded unconfined instead of refused (a self-learner's own notebook).
    """
    with tempfile.TemporaryDirectory(prefix="ag-scratch-") as tmp:
        os.chmod(tmp, 0o700)
        old_umask = os.umask(0o077)  # the scratch course (references, gradebook) is this process's alone
        try:
            course = _course(origin, assignment, Path(tmp) / "course", regenerate, data)
            handed_in = submissions(course) if callable(submissions) else submissions
            for student, submission in handed_in.items():
                _place(course.submission_dir(student, assignment), submission)
            try:
                rows = grade.run(course=course, assignment=assignment, jobs=jobs, timeout=timeout, progress=False,
                                 quiet=True, confine=confine, plot=False)
            except grade.SandboxUnavailable as refused:
                if unconfined_ok is None:
                    raise
                unconfined_ok(refused.why)
                rows = grade.run(course=course, assignment=assignment, jobs=jobs, timeout=timeout, progress=False,
                                 quiet=True, confine=False, plot=False)
        finally:
            os.umask(old_umask)
        yield Scratch(course, rows, definitions.read(course.db_url, course.course_id, assignment))

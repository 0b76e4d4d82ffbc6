"""Which mistakes the class made, per check cell: read from the gradebook, the ledger and the graded notebooks.

:mod:`autograder.instructor.mistakes_report` writes them out (the ``report`` command).

Per check cell (a graded code cell that is not a student's answer): how many submissions did not score
full marks, and the explanations of those failures (:func:`autograder.course.explanations.failures`,
the error's name and message, never a traceback) grouped by what they say. Grouping normalises what
changes from student to student and size to size (:func:`normalise`); the values a check expects stay,
so "activation is 'linear', expected 'relu'" and "... expected 'sigmoid'" are two groups. Statuses
(timeouts, kernel deaths, ...) come from the grader's ledger; a submission graded by nbgrader alone
counts as ``graded``. Scores come from the gradebook (SQLite or PostgreSQL); the explanations from
``autograded/<student>/<assignment>/*.ipynb``. When a graded notebook is missing or unreadable (a result
merged by ``collect`` without its notebooks), the failure is grouped under what the ledger says and the
report names those students.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from nbgrader.api import Gradebook

from autograder.contracts.results import STATUSES, Result
from autograder.course import definition as definitions
from autograder.course.directory import Course
from autograder.course.explanations import read_failures
from autograder.errors import UserError
from autograder.host import grades_table
from autograder.host import store

#: Statuses under which the notebook ran to the end.
RAN = ("graded", "restored", "huge_output")

_NUMBER = re.compile(r"(?<![\w.])[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?(?!\w)")
#: quoted names a student or Keras chose: after these words, or ending in Keras's ``_<n>`` suffix
_NAMED = re.compile(r"\b(name|layer|attribute|module|variable|function|argument|keyword argument)\s+'[^'\n]{1,80}'")
_AUTONAME = re.compile(r"'[A-Za-z_][\w]*?_\d+'")
_SPACES = re.compile(r"\s+")


def normalise(text: str) -> str:
    """The group key of an explanation: numbers (layer indices, sizes, shapes, counts) become ``N``,
    quoted names a student or Keras chose become ``'<name>'``; quoted values (``'relu'``,
    ``'same'``, class names) and every other word stay, so different expected values stay apart."""
    text = _NAMED.sub(lambda m: f"{m.group(1)} '<name>'", text)
    text = _AUTONAME.sub("'<name>'", text)
    text = _NUMBER.sub("N", text)
    return _SPACES.sub(" ", text).strip()


@dataclass
class Group:
    """Failures of one check that say the same thing."""

    key: str
    example: str
    students: list[str] = field(default_factory=list)


@dataclass
class Check:
    """One check cell and its failures."""

    notebook: str
    grade_id: str
    max_score: float
    failed: list[str] = field(default_factory=list)
    groups: dict[str, Group] = field(default_factory=dict)

    def sorted_groups(self) -> list[Group]:
        """Largest group first, then by text."""
        return sorted(self.groups.values(), key=lambda g: (-len(g.students), g.key))


@dataclass
class Mistakes:
    """The whole report of one assignment."""

    assignment: str
    students: list[str]
    checks: list[Check]
    statuses: dict[str, list[str]]
    reasons: dict[str, str]
    unexplained: list[str]  # students whose graded notebook could not be read


def collect(*, course: Course, assignment: str) -> Mistakes:
    """Read the gradebook, the ledger and the graded notebooks into a :class:`Mistakes`."""
    with Gradebook(course.db_url, course.course_id) as gb:
        known = sorted(a.name for a in gb.assignments)
        if assignment not in known:
            raise UserError(f"assignment {assignment!r} is not in the gradebook",
                            f"use one of: {', '.join(known)}" if known else "run `python -m autograder release` first")
        submitted = sorted(s.student.id for s in gb.find_assignment(assignment).submissions)
    definition = definitions.read(course.db_url, course.course_id, assignment)
    ledger = store.load_ledger(course, assignment)
    students = sorted(set(submitted) | set(ledger))
    if not students:
        raise UserError(f"no graded submissions of {assignment!r}",
                        f"run `python -m autograder grade {assignment}` (or collect) first")
    # a submission graded by nbgrader autograde has no ledger entry: it counts as graded
    full = {s: ledger.get(s) or Result(assignment=assignment, student=s, status="graded") for s in students}
    rows = {r["student_id"]: r for r in grades_table.rows(db_url=course.db_url, course_id=course.course_id,
                                                           definition=definition, students=students, ledger=full)}
    maxima = definition.max_scores()
    checks = [Check(nb, gid, maxima[nb][gid]) for nb, gid, _ in grades_table.test_columns(definition)
              if _is_check(definition, nb, gid)]
    columns = {(nb, gid): col for nb, gid, col in grades_table.test_columns(definition)}
    statuses: dict[str, list[str]] = {}
    unexplained: list[str] = []
    for student in students:
        status = full[student].status
        statuses.setdefault(status, []).append(student)
        explained, readable = _explanations(course.autograded_dir(student, assignment), definition)
        if not readable and status in RAN:
            unexplained.append(student)
        for check in checks:
            score = rows[student].get(columns[(check.notebook, check.grade_id)], "")
            if score != "" and float(score) >= check.max_score:
                continue
            check.failed.append(student)
            text = explained.get((check.notebook, check.grade_id)) or _fallback(status, full[student].reason, readable)
            group = check.groups.setdefault(normalise(text), Group(normalise(text), text))
            group.students.append(student)
    reasons = {s: full[s].reason for s in students if full[s].reason}
    return Mistakes(assignment, students, checks, statuses, reasons, unexplained)


def _is_check(definition: definitions.AssignmentDef, notebook: str, grade_id: str) -> bool:
    """A graded code cell that is not an answer (manually graded answers and task cells are not checks)."""
    nb = next(n for n in definition.notebooks if n.name == notebook)
    cell = next((c for c in nb.grade_cells if c["name"] == grade_id), None)
    return cell is not None and cell.get("cell_type") == "code" and grade_id not in nb.solution_cells


def _explanations(folder: Path, definition: definitions.AssignmentDef) -> tuple[dict[tuple[str, str], str], bool]:
    """(notebook, grade_id) -> first explanation line, and whether every graded notebook could be read."""
    found, readable = read_failures(folder, [nb.name for nb in definition.notebooks])
    return {(name, gid): failure.cause for name, cells in found.items() for gid, failure in cells.items()}, readable


def _fallback(status: str, reason: str, readable: bool) -> str:
    """What stands for the explanation when the graded notebook has none."""
    if status not in RAN:
        return f"[{status}] {STATUSES.get(status, 'not graded normally')}"
    if not readable:
        return "[no graded notebook] the explanation is not available (graded elsewhere, or the file is missing)"
    return "[no error shown] the cell ran without an error but did not score full marks"

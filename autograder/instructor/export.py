"""``export``: the gradebook's totals in an LMS's grade-import format, or nbgrader's own CSV.

Formats (``--format``):

- ``csv`` — nbgrader's ``CsvExportPlugin`` (one row per student and assignment), as before.
- ``canvas`` — Canvas's gradebook import CSV: ``Student, ID, SIS User ID, SIS Login ID, Section``, then one
  column per assignment (its name; Canvas creates an assignment for a column it does not know), and a
  ``Points Possible`` row under the header (Canvas: "How do I import grades in the Gradebook?").
- ``moodle`` — Moodle's CSV grade import: ``First name, Last name, ID number, Email address``, then one
  column per assignment; on import, map "Email address" to useremail (or "ID number" to useridnumber) and
  each assignment column to its grade item (MoodleDocs, "Grade import").

Totals are nbgrader's: the sum of the cells' scores (a manual score overrides the automatic one) minus
the late penalty nbgrader recorded, never below zero. A student with no submission of an assignment gets an
empty cell (no grade, rather than a zero the instructor did not give). With ``--roster`` the rows are the
roster's students, matched on ``student_id``; gradebook students missing from it are returned in
``left_out`` (the CLI lists them on stderr) and not exported. The file is written atomically.
"""
from __future__ import annotations

import csv
import os
from dataclasses import dataclass, field
from pathlib import Path

from nbgrader.api import Gradebook
from nbgrader.plugins.export import CsvExportPlugin

from autograder.course.directory import Course
from autograder.errors import UserError
from autograder.instructor import roster as rosters

FORMATS = ("csv", "canvas", "moodle")
CANVAS_HEADER = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
CANVAS_POINTS = "Points Possible"
MOODLE_HEADER = ["First name", "Last name", "ID number", "Email address"]
DEFAULT_NAMES = {"csv": "gradebook.csv", "canvas": "grades-canvas.csv", "moodle": "grades-moodle.csv"}


@dataclass
class Exported:
    """What :func:`run` wrote: the file, how many students it holds, who was left out."""

    path: Path
    students: int = 0
    assignments: list[str] = field(default_factory=list)
    left_out: list[str] = field(default_factory=list)


def run(*, course: Course, fmt: str = "csv", roster: Path | None = None, assignments: list[str] | None = None,
        out: Path | None = None) -> Exported:
    """Write the export of format ``fmt`` (see the module doc) and return what was written.

    ``out`` defaults to ``gradebook.csv`` (csv), ``grades-canvas.csv`` or ``grades-moodle.csv`` in the
    course root. Nothing is written when the roster or an assignment name is wrong.
    """
    if fmt not in FORMATS:
        raise UserError(f"unknown export format {fmt!r}", f"use one of: {', '.join(FORMATS)}")
    target = Path(out) if out else course.root / DEFAULT_NAMES[fmt]
    entries = rosters.read(Path(roster), fmt) if roster is not None else None
    with Gradebook(course.db_url, course.course_id) as gb:
        known = [a.name for a in sorted(gb.assignments, key=lambda a: (a.duedate is None, a.duedate, a.name))]
        chosen = _choose(known, assignments)
        if fmt == "csv":
            if entries is not None:
                raise UserError("--roster is used by --format canvas and moodle",
                                "drop --roster, or pick --format canvas or moodle")
            return _nbgrader_csv(gb, target, chosen)
        people, scores, maxima = _totals(gb, chosen)
    if entries is None:
        rows, left_out = list(people.values()), []
    else:
        rows = list(entries.values())
        left_out = sorted(set(people) - set(entries))
    table = [_canvas_row(e, chosen, scores) if fmt == "canvas" else _moodle_row(e, chosen, scores) for e in rows]
    if fmt == "canvas":
        header = CANVAS_HEADER + chosen
        table.insert(0, [CANVAS_POINTS, "", "", "", ""] + [_num(maxima[a]) for a in chosen])
    else:
        header = MOODLE_HEADER + chosen
    _write(target, header, table)
    return Exported(path=target, students=len(rows), assignments=chosen, left_out=left_out)


def _choose(known: list[str], wanted: list[str] | None) -> list[str]:
    if not known:
        raise UserError("the gradebook has no assignments", "run `python -m autograder release` first")
    if not wanted:
        return known
    unknown = [a for a in wanted if a not in known]
    if unknown:
        raise UserError(f"assignment {unknown[0]!r} is not in the gradebook", f"use one of: {', '.join(known)}")
    return list(dict.fromkeys(wanted))


def _nbgrader_csv(gb: Gradebook, target: Path, chosen: list[str]) -> Exported:
    tmp = target.with_name(f".{target.name}.tmp")
    plugin = CsvExportPlugin(to=str(tmp), assignment=chosen)
    try:
        plugin.export(gb)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return Exported(path=target, students=len(gb.students), assignments=chosen)


def _totals(gb: Gradebook, chosen: list[str]) -> tuple[dict[str, rosters.Entry], dict[tuple[str, str], float],
                                                       dict[str, float]]:
    """Students of the gradebook (as roster entries), (student, assignment) -> total, assignment -> max."""
    people = {s.id: rosters.Entry(student_id=s.id, lms_id=s.lms_user_id or "", email=s.email or "",
                                  first_name=s.first_name or "", last_name=s.last_name or "", sis_user_id=s.id)
              for s in sorted(gb.students, key=lambda s: s.id)}
    scores: dict[tuple[str, str], float] = {}
    maxima: dict[str, float] = {}
    for name in chosen:
        assignment = gb.find_assignment(name)
        maxima[name] = float(assignment.max_score or 0.0)
        for sub in assignment.submissions:
            # nbgrader's own rule (CsvExportPlugin): the late penalty comes off the raw score, never below 0
            scores[(sub.student.id, name)] = max(0.0, float(sub.score or 0.0) - float(sub.late_submission_penalty or 0.0))
    return people, scores, maxima


def _cells(e: rosters.Entry, chosen: list[str], scores: dict[tuple[str, str], float]) -> list[str]:
    return [_num(scores[(e.student_id, a)]) if (e.student_id, a) in scores else "" for a in chosen]


def _canvas_row(e: rosters.Entry, chosen: list[str], scores: dict[tuple[str, str], float]) -> list[str]:
    ids = [e.sortable_name, e.lms_id, e.sis_user_id, e.sis_login_id, e.section]
    return [_safe(v) for v in ids] + _cells(e, chosen, scores)


def _moodle_row(e: rosters.Entry, chosen: list[str], scores: dict[tuple[str, str], float]) -> list[str]:
    ids = [e.first_name, e.last_name, e.lms_id or e.student_id, e.email]
    return [_safe(v) for v in ids] + _cells(e, chosen, scores)


def _safe(value: str) -> str:
    """A text cell a spreadsheet will not run as a formula."""
    return f"'{value}" if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def _num(x: float) -> str:
    return f"{round(x, 4):g}"


def _write(target: Path, header: list[str], table: list[list[str]]) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    try:
        with tmp.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(header)
            writer.writerows(table)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)

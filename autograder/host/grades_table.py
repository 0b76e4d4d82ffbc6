"""grades.csv, the end-of-run summary table and the grade-distribution plot."""
from __future__ import annotations

import csv
import os
from collections import Counter
from pathlib import Path
from typing import Any

from nbgrader.api import (Assignment, Grade, Gradebook, GradeCell, Notebook, Student, SubmittedAssignment,
                          SubmittedNotebook, TaskCell)

from autograder.course.definition import AssignmentDef
from autograder.contracts.results import Result

FIXED = ["student_id", "status", "score", "max_score"]


def test_columns(definition: AssignmentDef) -> list[tuple[str, str, str]]:
    """(notebook, grade_id, column name) per graded cell, in notebook order."""
    cols = []
    names = [c["name"] for nb in definition.notebooks for c in nb.grade_cells + nb.task_cells]
    for nb in definition.notebooks:
        graded = {c["name"] for c in nb.grade_cells + nb.task_cells}
        order = [c["name"] for c in nb.source_cells if c["name"] in graded]
        order += sorted(graded - set(order))
        for gid in order:
            col = gid if names.count(gid) == 1 else f"{nb.name}:{gid}"
            cols.append((nb.name, gid, col))
    return cols


def rows(*, db_url: str, course_id: str, definition: AssignmentDef, students: list[str],
         ledger: dict[str, Result]) -> list[dict[str, Any]]:
    """One row per student who submitted: status and reason from the ledger, scores from the gradebook.

    Scores are the gradebook's (a manual score overrides the automatic one), minus any late penalty.
    The gradebook is read in three queries whatever the number of students and cells.
    """
    cols = test_columns(definition)
    max_total = sum(m for scores in definition.max_scores().values() for m in scores.values())
    with Gradebook(db_url, course_id) as gb:
        grades, task_grades, penalties = _scores(gb, definition.name)
    out = []
    for student in students:
        entry = ledger.get(student)
        row: dict[str, Any] = {"student_id": student, "status": entry.status if entry else "pending",
                               "score": "", "max_score": _num(max_total)}
        for _, _, col in cols:
            row[col] = ""
        row["reason"] = entry.reason if entry else "not graded yet"
        if entry:
            total = 0.0
            for nb, gid, col in cols:
                # a grade cell's grade, else a task cell's (nbgrader's Gradebook.find_grade)
                key = (student, nb, gid)
                score = grades[key] if key in grades else task_grades.get(key)
                row[col] = "" if score is None else _num(score)
                total += score or 0.0
            for nb in definition.notebooks:
                total -= penalties.get((student, nb.name)) or 0.0
            row["score"] = _num(max(total, 0.0))
        out.append(row)
    return out


def _scores(gb: Gradebook, assignment: str) -> tuple[dict[tuple[str, str, str], float | None],
                                                     dict[tuple[str, str, str], float | None],
                                                     dict[tuple[str, str], float | None]]:
    """Every submission of ``assignment`` in the gradebook, in three queries.

    (student, notebook, cell) -> score for the grade cells, the same for the task cells, and
    (student, notebook) -> late penalty; the joins are those of ``Gradebook.find_grade`` and
    ``Gradebook.find_submission_notebook``, so each entry is what those would return.
    """
    def graded(cell: type) -> dict[tuple[str, str, str], float | None]:
        query = gb.db.query(Student.id, Notebook.name, cell.name, Grade.score)\
            .select_from(Grade)\
            .join(cell, cell.id == Grade.cell_id)\
            .join(SubmittedNotebook, SubmittedNotebook.id == Grade.notebook_id)\
            .join(Notebook, Notebook.id == SubmittedNotebook.notebook_id)\
            .join(SubmittedAssignment, SubmittedAssignment.id == SubmittedNotebook.assignment_id)\
            .join(Assignment, Assignment.id == SubmittedAssignment.assignment_id)\
            .join(Student, Student.id == SubmittedAssignment.student_id)\
            .filter(Assignment.name == assignment)
        return {(student, nb, gid): score for student, nb, gid, score in query}

    penalties = gb.db.query(Student.id, Notebook.name, SubmittedNotebook.late_submission_penalty)\
        .select_from(SubmittedNotebook)\
        .join(Notebook, Notebook.id == SubmittedNotebook.notebook_id)\
        .join(SubmittedAssignment, SubmittedAssignment.id == SubmittedNotebook.assignment_id)\
        .join(Assignment, Assignment.id == SubmittedAssignment.assignment_id)\
        .join(Student, Student.id == SubmittedAssignment.student_id)\
        .filter(Assignment.name == assignment)
    return graded(GradeCell), graded(TaskCell), {(student, nb): p for student, nb, p in penalties}


def _num(x: float) -> str:
    return f"{x:g}"


def write_csv(path: Path, table: list[dict[str, Any]], definition: AssignmentDef, merge: bool = False) -> None:
    """grades.csv: student_id, status, score, max_score, one column per test cell, reason.

    ``merge`` (``collect``, which may bring several assignments): the rows already in the file
    are kept, merged on ``student_id``: a student in ``table`` gets this assignment's status,
    score, max_score, test cells and reason, and keeps the test-cell columns of the other
    assignments; the header has every assignment's test columns (old ones first).
    """
    cols = [col for _, _, col in test_columns(definition)]
    header = FIXED + cols + ["reason"]
    out = table
    if merge:
        old_header, old_rows = _read_existing(path)
        if old_header:
            old_cols = old_header[len(FIXED):-1]
            header = FIXED + old_cols + [c for c in cols if c not in old_cols] + ["reason"]
            by_student = {r["student_id"]: r for r in old_rows}
            for row in table:
                by_student[row["student_id"]] = {**by_student.get(row["student_id"], {}), **row}
            out = sorted(by_student.values(), key=lambda r: r["student_id"])
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=header, restval="", extrasaction="ignore")
        writer.writeheader()
        writer.writerows(out)
    os.replace(tmp, path)


def _read_existing(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    """The header and rows of a grades.csv written before; nothing when absent or not ours."""
    try:
        with path.open(newline="") as fh:
            reader = csv.DictReader(fh)
            header = list(reader.fieldnames or [])
            rows = [r for r in reader if r.get("student_id")]
    except (OSError, UnicodeDecodeError, csv.Error):
        return [], []
    if header[:len(FIXED)] != FIXED or header[-1:] != ["reason"] or len(set(header)) != len(header):
        return [], []
    return header, rows


def summary(table: list[dict[str, Any]]) -> str:
    """A plain-text table: count and mean score per status."""
    by_status = Counter(r["status"] for r in table)
    lines = [f"{'status':<18}{'count':>7}{'mean score':>12}"]
    for status, count in sorted(by_status.items(), key=lambda kv: (kv[0] != "graded", kv[0])):
        scores = [float(r["score"]) for r in table if r["status"] == status and r["score"] != ""]
        mean = f"{sum(scores) / len(scores):.2f}" if scores else "-"
        lines.append(f"{status:<18}{count:>7}{mean:>12}")
    lines.append(f"{'total':<18}{len(table):>7}")
    return "\n".join(lines)


def plot(path: Path, table: list[dict[str, Any]], title: str) -> None:
    """Histogram of the scores (percent of the maximum) of every row with a score."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pct = [100 * float(r["score"]) / float(r["max_score"]) for r in table
           if r["score"] != "" and float(r["max_score"] or 0) > 0]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.hist(pct, bins=[i * 10 for i in range(11)], color="#4477aa", edgecolor="white")
    ax.set_xlabel("score (% of maximum)")
    ax.set_ylabel("students")
    ax.set_title(f"{title} — {len(pct)} graded")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)

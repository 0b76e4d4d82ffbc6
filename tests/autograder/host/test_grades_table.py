"""grades_table.rows reads the gradebook in a fixed number of queries and builds the rows the old
per-student, per-cell lookups (``Gradebook.find_grade`` / ``find_submission_notebook``) built."""
from __future__ import annotations

import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import pytest
from nbgrader.api import Gradebook, MissingEntry
from sqlalchemy import event
from sqlalchemy.engine import Engine

from autograder.contracts.results import Result
from autograder.course import definition as definitions
from autograder.course.definition import AssignmentDef
from autograder.host import grades_table

COURSE = "toy-course"
ASSIGNMENT = "hw"
# notebook -> (grade cells, task cells), name -> points; test_a is in both notebooks (columns p1:test_a, p2:test_a)
CELLS = {"p1": ({"test_a": 2.0, "test_b": 3.0}, {"task_c": 1.0}),
         "p2": ({"test_a": 1.0, "test_d": 2.0}, {})}


@pytest.fixture(scope="module")
def template(toy_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The toy course's gradebook plus ``hw`` and ``other`` (same notebooks and cells), no students
    (a new gradebook file would cost an ``alembic`` run)."""
    path = tmp_path_factory.mktemp("report-queries") / "gradebook.db"
    shutil.copyfile(toy_template / "gradebook.db", path)
    with Gradebook(f"sqlite:///{path}", COURSE) as gb:
        for name in (ASSIGNMENT, "other"):
            gb.add_assignment(name)
            for nb, (grade_cells, task_cells) in CELLS.items():
                gb.add_notebook(nb, name)
                for cell in sorted({*grade_cells, *task_cells}):
                    gb.add_source_cell(cell, nb, name, cell_type="code", source="", checksum="")
                for cell, points in grade_cells.items():
                    gb.add_grade_cell(cell, nb, name, max_score=points, cell_type="code")
                for cell, points in task_cells.items():
                    gb.add_task_cell(cell, nb, name, max_score=points, cell_type="markdown")
    return path


def _gradebook(template: Path, path: Path, n: int) -> tuple[str, list[str], dict[str, Result]]:
    """The template with ``n`` students in six situations; the students to report (one unknown to
    the gradebook) and the ledger."""
    shutil.copyfile(template, path)
    url = f"sqlite:///{path}"
    students = [f"s{i:02d}" for i in range(n)]
    ledger: dict[str, Result] = {}
    with Gradebook(url, COURSE) as gb:
        for i, student in enumerate(students):
            gb.add_student(student)
            kind = i % 6
            if kind != 3:  # 3: graded (ledger) but nothing in the gradebook
                gb.add_submission(ASSIGNMENT, student)
                gb.add_submission("other", student)  # same names, another assignment: never read
                for nb, (grade_cells, task_cells) in CELLS.items():
                    for cell, points in {**grade_cells, **task_cells}.items():
                        gb.find_grade(cell, nb, "other", student).auto_score = 99.0
                        g = gb.find_grade(cell, nb, ASSIGNMENT, student)
                        if kind == 2 and cell == "test_b":
                            gb.db.delete(g)  # a missing grade row: an empty cell in the csv
                        elif kind == 2 and cell == "test_d":
                            pass  # no score at all: nbgrader counts 0
                        else:
                            g.auto_score = points * ((i % 4) / 4)
                        if kind == 1 and cell == "test_a":
                            g.manual_score, g.extra_credit = points, 0.5
                    if kind in (1, 5):
                        gb.find_submission_notebook(nb, ASSIGNMENT, student).late_submission_penalty = \
                            (0.25 if kind == 1 else 100.0) if nb == "p1" else None
                gb.db.commit()
            if kind != 4:  # 4: in the gradebook, not in the ledger: pending
                status = "graded" if kind != 3 else "error"
                ledger[student] = Result(assignment=ASSIGNMENT, student=student, status=status,
                                         reason="" if status == "graded" else f"failed {student}")
    return url, ["nobody", *students], ledger


def _old_rows(*, db_url: str, course_id: str, definition: AssignmentDef, students: list[str],
              ledger: dict[str, Result]) -> list[dict[str, Any]]:
    """grades_table.rows as it was: one gradebook lookup per student and cell, one per notebook."""
    cols = grades_table.test_columns(definition)
    max_total = sum(m for scores in definition.max_scores().values() for m in scores.values())
    out = []
    with Gradebook(db_url, course_id) as gb:
        for student in students:
            entry = ledger.get(student)
            row: dict[str, Any] = {"student_id": student, "status": entry.status if entry else "pending",
                                   "score": "", "max_score": grades_table._num(max_total)}
            for _, _, col in cols:
                row[col] = ""
            row["reason"] = entry.reason if entry else "not graded yet"
            if entry:
                total = 0.0
                for nb, gid, col in cols:
                    try:
                        score = gb.find_grade(gid, nb, definition.name, student).score
                    except MissingEntry:
                        score = None
                    row[col] = "" if score is None else grades_table._num(score)
                    total += score or 0.0
                for nb in definition.notebooks:
                    try:
                        total -= gb.find_submission_notebook(nb.name, definition.name, student).late_submission_penalty or 0.0
                    except MissingEntry:
                        pass
                row["score"] = grades_table._num(max(total, 0.0))
            out.append(row)
    return out


@contextmanager
def _statements(db: Path) -> Iterator[list[str]]:
    """The SQL statements run on the gradebook file ``db`` (by any engine) inside the block."""
    seen: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        if conn.engine.url.database == str(db):
            seen.append(statement)

    event.listen(Engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(Engine, "before_cursor_execute", count)


def _reads(statements: list[str]) -> list[str]:
    """The statements that read submissions (grades or submitted notebooks)."""
    return [s for s in statements if s.lstrip().upper().startswith("SELECT")
            and ("FROM grade" in s or "FROM submitted_notebook" in s)]


@pytest.mark.parametrize("n", [3, 12])
def test_rows_match_the_per_cell_lookups(template: Path, tmp_path: Path, n: int) -> None:
    url, students, ledger = _gradebook(template, tmp_path / "gradebook.db", n)
    d = definitions.read(url, COURSE, ASSIGNMENT)
    assert sorted(c for _, _, c in grades_table.test_columns(d)) == ["p1:test_a", "p2:test_a", "task_c", "test_b", "test_d"]
    new = grades_table.rows(db_url=url, course_id=COURSE, definition=d, students=students, ledger=ledger)
    old = _old_rows(db_url=url, course_id=COURSE, definition=d, students=students, ledger=ledger)
    assert new == old and [list(r) for r in new] == [list(r) for r in old]  # values and key order
    by_id = {r["student_id"]: r for r in new}
    assert list(by_id) == students
    assert by_id["nobody"] == {"student_id": "nobody", "status": "pending", "score": "", "max_score": "9",
                               "test_b": "", "p1:test_a": "", "task_c": "", "p2:test_a": "", "test_d": "",
                               "reason": "not graded yet"}
    # s01: manual 2 + 0.5 extra credit on p1:test_a, 1 + 0.5 on p2:test_a, a quarter elsewhere, 0.25 late
    assert by_id["s01"] == {"student_id": "s01", "status": "graded", "score": "5.25", "max_score": "9",
                            "test_b": "0.75", "p1:test_a": "2.5", "task_c": "0.25", "p2:test_a": "1.5",
                            "test_d": "0.5", "reason": ""}
    # s02: test_b's grade row is gone (empty), test_d never scored (0)
    assert by_id["s02"] == {"student_id": "s02", "status": "graded", "score": "2", "max_score": "9",
                            "test_b": "", "p1:test_a": "1", "task_c": "0.5", "p2:test_a": "0.5",
                            "test_d": "0", "reason": ""}
    if n > 5:
        assert by_id["s03"]["score"] == "0" and by_id["s03"]["test_b"] == "" and by_id["s03"]["reason"] == "failed s03"
        assert by_id["s04"]["status"] == "pending" and by_id["s04"]["score"] == ""
        assert by_id["s05"]["score"] == "0" and by_id["s05"]["test_b"] == "0.75"  # penalty above the total


def test_rows_query_count_does_not_grow_with_students(template: Path, tmp_path: Path) -> None:
    counts = {}
    for n in (3, 12):
        db = tmp_path / f"gradebook-{n}.db"
        url, students, ledger = _gradebook(template, db, n)
        d = definitions.read(url, COURSE, ASSIGNMENT)
        with _statements(db) as opening:
            Gradebook(url, COURSE).close()
        with _statements(db) as new:
            grades_table.rows(db_url=url, course_id=COURSE, definition=d, students=students, ledger=ledger)
        with _statements(db) as old:
            _old_rows(db_url=url, course_id=COURSE, definition=d, students=students, ledger=ledger)
        # beyond the statements of opening the gradebook (table checks, the course)
        counts[n] = {"rows": len(new) - len(opening), "old": len(old) - len(opening)}
        assert len(_reads(new)) == counts[n]["rows"]
    print(f"statements beyond opening the gradebook: {counts}")
    assert counts[3]["rows"] == counts[12]["rows"] == 3
    assert counts[3]["old"] < counts[12]["old"]  # the per-student, per-cell lookups it replaces

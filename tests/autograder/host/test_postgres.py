"""Grading into a real PostgreSQL gradebook (the suite's server on 127.0.0.1, a fresh database for the test)."""
from __future__ import annotations

from pathlib import Path

import pytest
import toy
from nbgrader.api import Gradebook

from autograder.course.directory import Course
from autograder.host import grade

pytestmark = pytest.mark.postgres


def test_grade_into_postgres(course: Path, postgres_url: str) -> None:
    toy.nbgrader(course, "generate_assignment", "toy", "--force", f"--CourseDirectory.db_url={postgres_url}")
    toy.submit(course, "pg_full", toy.CORRECT)
    toy.submit(course, "pg_half", {"square": toy.CORRECT["square"]})
    toy.submit(course, "pg_bad", raw=b"not a notebook")
    rows = grade.run(course=Course.open(course, postgres_url), assignment="toy", jobs=2, progress=False, quiet=True)
    assert {r["student_id"]: (r["status"], r["score"]) for r in rows} == {
        "pg_full": ("graded", "6"), "pg_half": ("graded", "2"), "pg_bad": ("invalid_notebook", "0")}
    with Gradebook(postgres_url, "toy-course") as gb:
        assert {s.student.id: s.score for s in gb.find_assignment("toy").submissions} == {"pg_full": 6, "pg_half": 2, "pg_bad": 0}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", "toy-course") as gb:
        assert gb.find_assignment("toy").submissions == []  # the SQLite default was not touched
    again = grade.run(course=Course.open(course, postgres_url), assignment="toy", jobs=2, progress=False, quiet=True)
    assert again == rows

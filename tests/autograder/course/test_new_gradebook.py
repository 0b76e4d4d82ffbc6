"""autograder.course.new_gradebook: the gradebook nbgrader would make, made without its subprocess."""
from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from nbgrader.api import Gradebook

from autograder.course import new_gradebook


def _dump(path: Path) -> list[str]:
    with sqlite3.connect(path) as db:
        return list(db.iterdump())


def test_the_same_gradebook_as_nbgraders_own(tmp_path: Path) -> None:
    new_gradebook.create(f"sqlite:///{tmp_path / 'kit.db'}", "a-course")
    with Gradebook(f"sqlite:///{tmp_path / 'nbgrader.db'}", "a-course"):  # runs `alembic heads` (PATH: tests' conftest)
        pass
    kit, theirs = _dump(tmp_path / "kit.db"), _dump(tmp_path / "nbgrader.db")
    assert kit == theirs  # the alembic stamp among them: nbgrader's came from `alembic heads`
    assert any("INSERT INTO \"alembic_version\"" in line for line in kit) and any("a-course" in line for line in kit)


def test_an_existing_gradebook_is_left_as_it_is(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'gradebook.db'}"
    new_gradebook.create(url, "a-course")
    with Gradebook(url, "a-course") as gb:
        gb.add_assignment("hw1")
        gb.add_student("ada")
    before = _dump(tmp_path / "gradebook.db")
    new_gradebook.create(url, "a-course")
    assert _dump(tmp_path / "gradebook.db") == before


def test_a_gradebook_nbgrader_opens_and_fills(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'gradebook.db'}"
    new_gradebook.create(url, "a-course")
    with Gradebook(url, "a-course") as gb:
        gb.add_assignment("hw1")
        gb.add_notebook("nb", "hw1")
        gb.add_grade_cell("t1", "nb", "hw1", max_score=2, cell_type="code")
        assert gb.find_assignment("hw1").max_score == pytest.approx(2)

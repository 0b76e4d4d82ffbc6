"""The roster reader: what it accepts, and one line naming the file, the row and the fix for what it does not."""
from __future__ import annotations

from pathlib import Path

import pytest

from autograder.errors import UserError
from autograder.instructor import roster


def _write(tmp_path: Path, text: str | bytes) -> Path:
    path = tmp_path / "roster.csv"
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return path


def test_reads_ids_names_and_a_byte_order_mark(tmp_path: Path) -> None:
    path = _write(tmp_path, "\ufeffStudent ID,LMS ID,Email,Name,Section\n"
                            "alice,101,alice@uni.edu,\"Liddell, Alice\",A\n\n"
                            "bob,102,bob@uni.edu,Bob Marley,B\n")
    entries = roster.read(path, "canvas")
    assert list(entries) == ["alice", "bob"]
    assert entries["alice"] == roster.Entry("alice", lms_id="101", email="alice@uni.edu", first_name="Alice",
                                            last_name="Liddell", section="A", row=2)
    assert entries["bob"].sortable_name == "Marley, Bob" and entries["bob"].row == 4


@pytest.mark.parametrize(("text", "fmt", "says", "fix"), [
    ("id,email\na,a@x\n", "moodle", "row 1: no column 'student_id'", "the first row must name the columns"),
    ("student_id,name\na,A\n", "canvas", "row 1: canvas needs a column 'lms_id' or 'sis_user_id' or 'sis_login_id'",
     "add one of them"),
    ("student_id,email\na,a@x\nb,b@x\na,c@x\n", "moodle", "row 4: student_id 'a' again (first on row 2)",
     "keep one row per student"),
    ("student_id,email\na,a@x\n,b@x\n", "moodle", "row 3: student_id is empty", "fill in the student's id"),
    ("student_id,email\na,a@x\nb,\n", "moodle", "row 3: 'b' has no email or lms_id", "fill one in"),
    ("student_id,email\na,a@x,extra\n", "moodle", "row 2: 3 fields, the header has 2", "quote fields"),
    ("student_id,email,Email\na,a@x,b@x\n", "moodle", "row 1: column 'email' appears twice", "keep one column"),
    ("", "csv", "row 1: no header row", "the first row must name the columns"),
    ("student_id\n", "csv", "has no students", "add one row per student"),
])
def test_bad_rosters_are_one_line_naming_file_row_and_fix(tmp_path: Path, text: str, fmt: str, says: str,
                                                          fix: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(UserError) as info:
        roster.read(path, fmt)
    assert str(path) in info.value.what and says in info.value.what, info.value.what
    assert fix in info.value.todo and "\n" not in str(info.value)


def test_an_unreadable_encoding_names_the_row(tmp_path: Path) -> None:
    path = _write(tmp_path, "student_id,email\na,a@x\nb,b@x\n".encode() + "j\u00e9r\u00f4me,j@x\n".encode("latin-1"))
    with pytest.raises(UserError) as info:
        roster.read(path, "moodle")
    assert f"roster {path} row 4: byte 0xe9 is not UTF-8 text" == info.value.what
    assert "CSV UTF-8" in info.value.todo


def test_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="cannot be read"):
        roster.read(tmp_path / "nope.csv")

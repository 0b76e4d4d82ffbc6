"""The course roster: a CSV mapping each nbgrader student id to the LMS's ids, e-mail and name.

Columns (header row, case and spaces ignored): ``student_id`` (required: the folder name under
``submitted/``), then any of ``lms_id`` (Canvas's numeric user ID, or Moodle's "ID number"),
``email``, ``name`` (or ``first_name`` and ``last_name``), ``sis_user_id``, ``sis_login_id``,
``section``. Each export format names the identifier columns it needs (:data:`NEEDS`).

The file is untrusted input: it is read as UTF-8 (a byte-order mark is allowed), bounded in size,
and every problem is one :class:`~autograder.errors.UserError` naming the file, the row and the fix.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from autograder.errors import UserError

__all__ = ["COLUMNS", "NEEDS", "Entry", "read"]

#: The columns a roster may have.
COLUMNS = ("student_id", "lms_id", "email", "name", "first_name", "last_name", "sis_user_id", "sis_login_id",
           "section")
#: format -> columns of which each row needs at least one, so the LMS can match the student.
NEEDS: dict[str, tuple[str, ...]] = {
    "canvas": ("lms_id", "sis_user_id", "sis_login_id"),
    "moodle": ("email", "lms_id"),
    "csv": (),
}
MAX_BYTES = 20 * 2**20
MAX_ROWS = 100_000
MAX_FIELD = 500


@dataclass(frozen=True)
class Entry:
    """One student of the roster (empty strings where the roster has no value)."""

    student_id: str
    lms_id: str = ""
    email: str = ""
    first_name: str = ""
    last_name: str = ""
    sis_user_id: str = ""
    sis_login_id: str = ""
    section: str = ""
    row: int = 0

    @property
    def sortable_name(self) -> str:
        """"Last, First" as Canvas shows it; the student id when the roster has no name."""
        if self.last_name and self.first_name:
            return f"{self.last_name}, {self.first_name}"
        return self.last_name or self.first_name or self.student_id


def _key(name: str) -> str:
    return "_".join(name.strip().lower().replace("-", " ").split())


def _text(path: Path) -> str:
    """The file as text; undecodable bytes are reported with their row."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise UserError(f"roster {path} cannot be read ({exc.strerror})", "pass an existing CSV file to --roster") from None
    if size > MAX_BYTES:
        raise UserError(f"roster {path} is {size} bytes, more than {MAX_BYTES}", "pass the class list only")
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        row = data[: exc.start].count(b"\n") + 1
        raise UserError(f"roster {path} row {row}: byte 0x{data[exc.start]:02x} is not UTF-8 text",
                        "save the roster as CSV UTF-8 (in a spreadsheet: Save As → CSV UTF-8)") from None


def read(path: Path, fmt: str = "csv") -> dict[str, Entry]:
    """student_id -> :class:`Entry`, in file order, checked for the export format ``fmt``."""
    path = Path(path)
    fix_header = f"the first row must name the columns: student_id and {' or '.join(NEEDS.get(fmt, ())) or 'any of'} " \
                 f"(allowed: {', '.join(COLUMNS)})"
    reader = csv.reader(io.StringIO(_text(path), newline=""))
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise UserError(f"roster {path} row 1: not CSV ({exc})", fix_header) from None
    if not header or not any(h.strip() for h in header):
        raise UserError(f"roster {path} row 1: no header row", fix_header)
    keys = [_key(h) for h in header]
    dup = sorted({k for k in keys if k and keys.count(k) > 1})
    if dup:
        raise UserError(f"roster {path} row 1: column {dup[0]!r} appears twice", "keep one column of each name")
    if "student_id" not in keys:
        raise UserError(f"roster {path} row 1: no column 'student_id' (found: {', '.join(h for h in keys if h)[:200]})",
                        fix_header)
    needs = NEEDS.get(fmt, ())
    if needs and not any(n in keys for n in needs):
        raise UserError(f"roster {path} row 1: {fmt} needs a column {' or '.join(repr(n) for n in needs)} to match "
                        "students", f"add one of them ({fmt} matches students by it)")
    entries: dict[str, Entry] = {}
    try:
        for number, raw in enumerate(reader, start=2):
            if not any(v.strip() for v in raw):
                continue
            if number > MAX_ROWS:
                raise UserError(f"roster {path} has more than {MAX_ROWS} rows", "pass the class list only")
            if len(raw) > len(keys):
                raise UserError(f"roster {path} row {number}: {len(raw)} fields, the header has {len(keys)}",
                                "quote fields that contain commas, or remove the extra fields")
            values = {k: v.strip() for k, v in zip(keys, raw) if k in COLUMNS}
            if any(len(v) > MAX_FIELD for v in values.values()):
                raise UserError(f"roster {path} row {number}: a field is longer than {MAX_FIELD} characters",
                                "check that the row is a student's ids and name")
            sid = values.get("student_id", "")
            if not sid:
                raise UserError(f"roster {path} row {number}: student_id is empty",
                                "fill in the student's id (the folder name under submitted/) or remove the row")
            if sid in entries:
                raise UserError(f"roster {path} row {number}: student_id {sid!r} again (first on row "
                                f"{entries[sid].row})", "keep one row per student")
            if needs and not any(values.get(n) for n in needs):
                raise UserError(f"roster {path} row {number}: {sid!r} has no {' or '.join(needs)}",
                                f"fill one in ({fmt} matches students by it) or remove the row")
            first, last = values.get("first_name", ""), values.get("last_name", "")
            if not (first or last) and values.get("name"):
                # "Last, First" or "First Last"
                name = values["name"]
                if "," in name:
                    last, first = (p.strip() for p in name.split(",", 1))
                else:
                    first, _, last = name.rpartition(" ")
                    first, last = (first, last) if first else (last, "")
            entries[sid] = Entry(student_id=sid, lms_id=values.get("lms_id", ""), email=values.get("email", ""),
                                 first_name=first, last_name=last, sis_user_id=values.get("sis_user_id", ""),
                                 sis_login_id=values.get("sis_login_id", ""), section=values.get("section", ""),
                                 row=number)
    except csv.Error as exc:
        raise UserError(f"roster {path} row {reader.line_num}: not CSV ({exc})",
                        "check the quotes on that row") from None
    if not entries:
        raise UserError(f"roster {path} has no students", "add one row per student under the header")
    return entries

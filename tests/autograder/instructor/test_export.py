"""export --format canvas|moodle|csv: the LMS's documented import layouts, rosters, late penalties, errors.

The expected layouts, from the LMSs' documentation:

- Canvas, "How do I import grades in the Gradebook?"
  (https://community.canvaslms.com/t5/Instructor-Guide/How-do-I-import-grades-in-the-Gradebook/ta-p/807) and the
  Ohio State guide to it (https://teaching.resources.osu.edu/toolsets/carmencanvas/guides/calculating-final-grades/
  import-csv-file-carmen-grades): the columns Student (name), ID, SIS User ID, SIS Login ID and Section, then one
  column per assignment (a column Canvas does not know becomes a new assignment), and the "Points Possible" row
  of Canvas's own export under the header. Canvas's importer (canvas-lms, app/models/gradebook_importer.rb)
  reads exactly this: a header whose first columns match Student, ID, SIS User ID, SIS Login ID and end with
  Section; assignment columns matched by "Title (id)" or by title, else created; a row whose first cell matches
  /Points Possible/; a student matched by the numeric ID, else SIS User ID, else SIS Login ID, else name.
- Moodle, "Grade import" (https://docs.moodle.org/en/Grade_import): "the import file format is the same as the
  corresponding export format" (First name, Last name, ID number, ..., Email address, one column per grade
  item); on import "Email address" is mapped to useremail or "ID number" to useridnumber, and each grade
  column to its grade item.
"""
from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import toy

sys.path.insert(0, str(Path(__file__).parent))
import graded_batch as gb  # noqa: E402

CANVAS_HEADER = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
MOODLE_HEADER = ["First name", "Last name", "ID number", "Email address"]
ROSTER = ("student_id,lms_id,email,name,sis_user_id,sis_login_id,section\n"
          "s_ok,1001,ok@uni.edu,\"Okafor, Ada\",S-1,ada.okafor,Mon\n"
          "s_relu3,1002,relu@uni.edu,Rui Lu,S-2,rui.lu,Tue\n"
          "s_late,1003,late@uni.edu,Lata Tey,S-3,lata.tey,Mon\n"
          "r_absent,1004,absent@uni.edu,Abe Sent,S-4,abe.sent,Tue\n")


def _cli(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "autograder", "--root", str(root), *args],
                          env=toy.env(), capture_output=True, text=True, timeout=600)


def _rows(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.reader(fh))


def test_canvas_moodle_and_csv_exports(course: Path, tmp_path: Path) -> None:
    gb.merge(course, tmp_path / "results")
    roster = tmp_path / "roster.csv"
    roster.write_text(ROSTER, encoding="utf-8")
    canvas = _cli(course, "export", "--format", "canvas", "--roster", str(roster), "--out", str(tmp_path / "c.csv"))
    assert canvas.returncode == 0, canvas.stderr
    left_out = sorted(set(gb.BATCH) - {"s_ok", "s_relu3", "s_late"})
    assert canvas.stderr.strip() == f"left out (not in the roster {roster}): {' '.join(left_out)}"
    assert _rows(tmp_path / "c.csv") == [
        CANVAS_HEADER + ["toy"],
        ["Points Possible", "", "", "", "", "6"],
        ["Okafor, Ada", "1001", "S-1", "ada.okafor", "Mon", "6"],
        ["Lu, Rui", "1002", "S-2", "rui.lu", "Tue", "4"],       # test_square failed: 6 - 2
        ["Tey, Lata", "1003", "S-3", "lata.tey", "Mon", "4"],   # full marks, late penalty 2 applied
        ["Sent, Abe", "1004", "S-4", "abe.sent", "Tue", ""],    # in the roster, no submission: no grade
    ]
    moodle = _cli(course, "export", "--format", "moodle", "--roster", str(roster), "--assignment", "toy",
                  "--out", str(tmp_path / "m.csv"))
    assert moodle.returncode == 0, moodle.stderr
    assert _rows(tmp_path / "m.csv") == [
        MOODLE_HEADER + ["toy"],
        ["Ada", "Okafor", "1001", "ok@uni.edu", "6"],
        ["Rui", "Lu", "1002", "relu@uni.edu", "4"],
        ["Lata", "Tey", "1003", "late@uni.edu", "4"],
        ["Abe", "Sent", "1004", "absent@uni.edu", ""],
    ]
    # without a roster: every gradebook student, identified by the nbgrader id
    plain = _cli(course, "export", "--format", "canvas")
    assert plain.returncode == 0 and plain.stderr == "", plain.stderr
    rows = _rows(course / "grades-canvas.csv")
    assert rows[0] == CANVAS_HEADER + ["toy"] and len(rows) == 2 + len(gb.BATCH)
    assert ["s_late", "", "s_late", "", "", "4"] in rows
    # nbgrader's own CSV, as before (and the same late-penalty rule)
    old = _cli(course, "export")
    assert old.returncode == 0, old.stderr
    with (course / "gradebook.csv").open() as fh:
        scores = {r["student_id"]: (r["raw_score"], r["late_submission_penalty"], r["score"]) for r in csv.DictReader(fh)}
    assert scores["s_late"] == ("6.0", "2.0", "4.0") and set(scores) == set(gb.BATCH)


def test_wrong_input_writes_nothing(course: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.csv"
    bad = tmp_path / "bad.csv"
    bad.write_text("student_id,lms_id\na,1\na,2\n", encoding="utf-8")
    dup = _cli(course, "export", "--format", "canvas", "--roster", str(bad), "--out", str(out))
    assert dup.returncode == 2 and dup.stderr.count("\n") == 1
    assert dup.stderr.startswith(f"Error: roster {bad} row 3: student_id 'a' again") and "one row per student" in dup.stderr
    missing = tmp_path / "missing.csv"
    missing.write_text("student_id,name\na,A B\n", encoding="utf-8")
    cols = _cli(course, "export", "--format", "moodle", "--roster", str(missing), "--out", str(out))
    assert cols.returncode == 2 and "row 1: moodle needs a column 'email' or 'lms_id'" in cols.stderr
    latin = tmp_path / "latin.csv"
    latin.write_bytes("student_id,email\nj\u00e9,j@x\n".encode("latin-1"))
    enc = _cli(course, "export", "--format", "moodle", "--roster", str(latin), "--out", str(out))
    assert enc.returncode == 2 and "row 2: byte 0xe9 is not UTF-8 text" in enc.stderr and "CSV UTF-8" in enc.stderr
    name = _cli(course, "export", "--format", "canvas", "--assignment", "unet", "--out", str(out))
    assert name.returncode == 2 and "'unet' is not in the gradebook — use one of: toy" in name.stderr
    assert not out.exists() and not list(tmp_path.glob(".*tmp"))

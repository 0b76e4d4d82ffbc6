"""The cohort mistakes report: grouping, counts, statuses, files, CLI errors; end to end; on PostgreSQL."""
from __future__ import annotations

from collections import Counter

import csv
import subprocess
import sys
from pathlib import Path

import pytest
import toy

sys.path.insert(0, str(Path(__file__).parent))
import graded_batch as gb  # noqa: E402

from autograder.course.directory import Course
from autograder.instructor import mistakes, mistakes_report  # noqa: E402



def _cli(root: Path, *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "autograder", "--root", str(root), *args],
                          env=toy.env(), capture_output=True, text=True, timeout=timeout)


def _counts(m: mistakes.Mistakes) -> dict[str, Counter[str]]:
    """grade_id -> Counter(group key -> students)."""
    return {c.grade_id: Counter({g.key: len(g.students) for g in c.groups.values()}) for c in m.checks}


def test_the_public_check_and_the_grader_group_by_the_cause_they_share() -> None:
    """The public check says where it saw a mistake (``(case 1: ...)``), the grader how many more differences it
    found; the report groups by the sentence before that, so one mistake is one group whichever check failed."""
    from autograder.course.explanations import Failure

    public = Failure("test_conv_block", "check", "AssertionError", (
        "conv_block does not match what the exercise asks for:",
        "layer 2 (Conv2D): use_bias is False, expected True (Keras's default) (case 1: inputs (96, 128, 3), "
        "n_filters=32)"))
    hidden = Failure("test_conv_block_hidden", "verdict", "GraderVerdict", (
        "layer 2 (Conv2D): use_bias is False, expected True (Keras's default) (and 2 more differences)",))
    other = Failure("test_conv_block", "check", "AssertionError", (
        "layer 2 (Conv2D): use_bias is True, expected False (case 1: inputs (96, 128, 3), n_filters=32)",))
    assert public.cause == hidden.cause == "layer 2 (Conv2D): use_bias is False, expected True (Keras's default)"
    assert mistakes.normalise(other.cause) != mistakes.normalise(public.cause)


@pytest.mark.parametrize(("a", "b"), [
    (gb.RELU3, gb.RELU5),                                                      # layer indices
    ("output shape is (None, 96, 128, 32), expected (None, 48, 64, 32)",
     "output shape is (None, 12, 16, 8), expected (None, 6, 8, 8)"),            # shapes and sizes
    ("NameError: name 'add' is not defined", "NameError: name 'plus' is not defined"),  # a student's names
    ("layer 'conv2d_3' has 3 inputs", "layer 'conv2d_17' has 2 inputs"),         # Keras's layer names
    ("the model has 25 layers, expected 26 (and 18 more differences)",
     "the model has 24 layers, expected 26 (and 1 more differences)"),
])
def test_what_changes_between_students_is_merged(a: str, b: str) -> None:
    assert mistakes.normalise(a) == mistakes.normalise(b)


@pytest.mark.parametrize(("a", "b"), [
    (gb.RELU5, gb.SIGMOID5),                                                   # a different expected value
    ("padding is 'valid', expected 'same'", "padding is 'same', expected 'valid'"),
    ("layer 2 is an 'InputLayer' layer, expected a 'Conv2DTranspose' layer",
     "layer 2 is an 'InputLayer' layer, expected a 'Concatenate' layer"),        # class names
    ("layer 3 (Conv2D): activation is 'linear', expected 'relu'",
     "layer 3 (Conv2D): kernel_initializer is 'glorot_uniform', expected 'he_normal'"),  # another setting
    ("NameError: name 'add' is not defined", "TypeError: add() takes 2 positional arguments but 3 were given"),
])
def test_different_mistakes_stay_apart(a: str, b: str) -> None:
    assert mistakes.normalise(a) != mistakes.normalise(b)


def test_report_groups_and_counts_a_batch_with_known_mistakes(course: Path, tmp_path: Path) -> None:
    gb.merge(course, tmp_path / "results")
    m = mistakes.collect(course=Course.open(course), assignment="toy")
    total = len(gb.BATCH)
    assert m.students == sorted(gb.BATCH)
    by_check = {c.grade_id: c for c in m.checks}
    assert list(by_check) == ["test_square", "test_add", "test_add_2"]
    relu = mistakes.normalise(gb.RELU3)
    assert _counts(m) == {
        "test_square": {relu: 2, mistakes.normalise(gb.SIGMOID5): 1,
                        "[timeout] a cell or the whole submission ran past its time limit": 1},
        "test_add": {"NameError: name '<name>' is not defined": 2,
                     "[timeout] a cell or the whole submission ran past its time limit": 1,
                     "[no graded notebook] the explanation is not available (graded elsewhere, or the file is "
                     "missing)": 1},
        "test_add_2": {mistakes.normalise(gb.XSS): 1,
                       "[timeout] a cell or the whole submission ran past its time limit": 1},
    }
    square = by_check["test_square"]
    assert sorted(square.failed) == ["s_relu3", "s_relu5", "s_sigmoid", "s_timeout"]
    top = square.sorted_groups()[0]
    assert top.key == relu and top.students == ["s_relu3", "s_relu5"] and top.example in (gb.RELU3, gb.RELU5)
    assert m.statuses == {"graded": sorted(set(gb.BATCH) - {"s_timeout"}), "timeout": ["s_timeout"]}
    assert m.unexplained == ["s_nofile"]  # graded, merged without its notebook: said so, not guessed

    paths = mistakes_report.write(m, course / "reports" / "toy")
    with paths["csv"].open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == mistakes_report.CSV_HEADER
    relu_row = next(r for r in rows if r["group"] == relu)
    assert relu_row["check"] == "test_square" and relu_row["failed"] == "4" and relu_row["submissions"] == str(total)
    assert relu_row["count"] == "2" and relu_row["share"] == f"{2 / total:.3f}" and relu_row["students"] == "s_relu3 s_relu5"
    assert {(r["group"], r["count"]) for r in rows if r["check"] == "(status)"} == {("graded", str(total - 1)),
                                                                                    ("timeout", "1")}
    page = paths["html"].read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>" not in page  # notebook text is escaped
    assert "data:image/png;base64," in page and paths["png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "cell 3 ran past its time limit" in page and "s_nofile" in page
    for text in (page, paths["csv"].read_text(encoding="utf-8")):
        assert gb.TRACEBACK_SECRET not in text and toy.SECRET not in text  # never a traceback, never a check's source


def test_report_command_and_its_errors(course: Path, tmp_path: Path) -> None:
    before = _cli(course, "report", "toy")
    assert before.returncode == 2 and before.stderr.startswith("Error: ")
    assert "python -m autograder grade toy" in before.stderr and len(before.stderr.strip().splitlines()) == 1
    gb.merge(course, tmp_path / "results")
    wrong = _cli(course, "report", "nope")
    assert wrong.returncode == 2 and "'nope' is not in the gradebook" in wrong.stderr and "use one of: toy" in wrong.stderr
    ok = _cli(course, "report", "toy")
    assert ok.returncode == 0, ok.stderr
    assert {p.name for p in (course / "reports" / "toy").iterdir()} == {"mistakes.html", "mistakes.csv", "mistakes.png"}


@pytest.mark.slow
def test_grade_writes_the_report_at_its_end(course: Path) -> None:
    """A real batch: grade runs the kernels, then the report holds each student's real explanation."""
    toy.submit(course, "e_full", toy.CORRECT)
    toy.submit(course, "e_no_add", {"square": toy.CORRECT["square"]})
    toy.submit(course, "e_wrong_add", {**toy.CORRECT, "add": "def add(a, b):\n    return a - b"})
    toy.submit(course, "e_empty", raw=b"")
    proc = _cli(course, "grade", "toy", "--jobs", "2", "--no-progress")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "mistakes report:" in proc.stdout
    with (course / "reports" / "toy" / "mistakes.csv").open(newline="", encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh) if r["check"] == "test_add"]
    groups = {r["group"]: r["students"] for r in rows}
    assert groups == {
        "[invalid_notebook] the notebook file is empty, not JSON or not a notebook": "e_empty",
        "AssertionError was raised": "e_wrong_add",       # a bare assert: no message to show
        "NameError: name '<name>' is not defined": "e_no_add",
    }, groups
    assert next(r for r in rows if r["students"] == "e_no_add")["example"] == "NameError: name 'add' is not defined"
    assert rows[0]["failed"] == "3" and rows[0]["submissions"] == "4"


@pytest.mark.postgres
def test_report_on_postgres(course: Path, tmp_path: Path, postgres_url: str) -> None:
    toy.nbgrader(course, "generate_assignment", "toy", "--force", f"--CourseDirectory.db_url={postgres_url}")
    gb.merge(course, tmp_path / "results", db_url=postgres_url)
    m = mistakes.collect(course=Course.open(course, postgres_url), assignment="toy")
    assert _counts(m)["test_square"][mistakes.normalise(gb.RELU3)] == 2
    proc = _cli(course, "report", "toy", "--db", postgres_url)
    assert proc.returncode == 0, proc.stderr
    assert (course / "reports" / "toy" / "mistakes.html").exists()

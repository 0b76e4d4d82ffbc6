"""The other commands on the toy course: check, feedback, export, collect; and the real unet notebook."""
from __future__ import annotations

import csv
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import toy
from nbgrader.api import Gradebook

from autograder.course.directory import Course
from autograder.host import collect, grade
from autograder.contracts import results

REPO = Path(__file__).resolve().parents[3]


def _cli(root: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "autograder", "--root", str(root), *args],
                          env=toy.env(), capture_output=True, text=True, timeout=timeout)


@pytest.mark.slow
def test_check_exit_codes(course: Path, tmp_path: Path) -> None:
    good = tmp_path / "good" / "toy.ipynb"
    half = tmp_path / "half" / "toy.ipynb"
    for path, answers in ((good, toy.CORRECT), (half, {"square": toy.CORRECT["square"]})):
        path.parent.mkdir()
        nb = toy.released(course)
        for c in nb.cells:
            gid = c.metadata.get("nbgrader", {}).get("grade_id")
            if gid in answers:
                c.source = answers[gid]
        nbformat.write(nb, path)
    ok = _cli(course, "check", str(good))
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "PASS  square" in ok.stdout and "PASS  add" in ok.stdout
    bad = _cli(course, "check", str(half))
    assert bad.returncode == 1 and "PASS  square" in bad.stdout and "FAIL  add" in bad.stdout
    assert not (course / "submitted").exists() and not (course / "grades.csv").exists()  # the course is untouched
    missing = _cli(course, "check", str(tmp_path / "nope.ipynb"))
    assert missing.returncode == 2 and missing.stderr.startswith("Error: ")


@pytest.mark.slow
def test_feedback_export_collect(course: Path, tmp_path: Path) -> None:
    toy.submit(course, "f_full", toy.CORRECT)
    toy.submit(course, "f_bad", raw=b"")
    grade.run(course=Course.open(course), assignment="toy", jobs=2, progress=False, quiet=True)
    fb = _cli(course, "feedback", "toy")
    assert fb.returncode == 0, fb.stderr
    html = (course / "feedback" / "f_bad" / "toy" / "toy.html").read_text()
    assert "invalid_notebook" in html and "empty file" in html
    assert (course / "feedback" / "f_full" / "toy" / "toy.html").exists()
    ex = _cli(course, "export")
    assert ex.returncode == 0, ex.stderr
    with (course / "gradebook.csv").open() as fh:
        assert {r["student_id"] for r in csv.DictReader(fh)} == {"f_full", "f_bad"}
    # collect: a result graded elsewhere (e.g. a container) merged into a fresh copy of the course
    other = tmp_path / "other"
    shutil.copytree(course, other)
    (other / "gradebook.db").unlink()
    shutil.copyfile(REPO / "tests" / "autograder" / "toy.py", tmp_path / "unused.py")  # noise file, not JSON
    toy.nbgrader(other, "generate_assignment", "toy", "--force")
    folder = tmp_path / "results"
    for student in ("f_full", "f_bad"):
        entry = results.read(course / "autograded" / ".autograder" / "toy" / f"{student}.json")
        shutil.copytree(course / "autograded" / student / "toy", folder / student / "graded")
        entry.autograded_dir = "graded"
        results.write(folder / student / "result.json", entry)
    (folder / "evil.json").write_text('{"format": "autograder-result", "version": 1, "status": "graded"}')
    counts = collect.run(course=Course.open(other), folder=folder)
    assert counts == {"applied": 2, "rejected": 1}
    with Gradebook(f"sqlite:///{other / 'gradebook.db'}", "toy-course") as gb:
        assert {s.student.id: s.score for s in gb.find_assignment("toy").submissions} == {"f_full": 6, "f_bad": 0}
    assert (other / "autograded" / "f_full" / "toy" / "toy.ipynb").exists()


def _make_check(notebook: Path, timeout: float = 1500) -> subprocess.CompletedProcess:
    """``make check NB=...`` in the kit, as a self-learner types it."""
    return subprocess.run(["make", "--no-print-directory", "-C", str(REPO), "check", f"NB={notebook}"],
                          env=toy.env(), capture_output=True, text=True, timeout=timeout)


def _example(tmp_path: Path, student: str, file_name: str) -> Path:
    """A demo example of the unet assignment, saved under ``file_name``."""
    from autograder.instructor import examples

    example = next(e for e in examples.UNET_EXAMPLES if e.student == student)
    answers = examples.answer_sources(REPO / "source" / "unet" / "Image_segmentation_Unet.ipynb")
    path = tmp_path / file_name
    nbformat.write(examples.build_submission(example, REPO / "release" / "unet" / "Image_segmentation_Unet.ipynb",
                                             answers), path)
    return path


@pytest.mark.slow
def test_make_check_recognises_a_duplicated_correct_notebook(tmp_path: Path) -> None:
    """A browser download's name ("... (2).ipynb") is checked as the released notebook; every exercise passes."""
    proc = _make_check(_example(tmp_path, "demo-correct", "Image_segmentation_Unet (2).ipynb"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "(unet as Image_segmentation_Unet.ipynb)" in proc.stdout
    for exercise in ("conv_block", "upsampling_block", "unet_model"):
        assert f"PASS  {exercise}" in proc.stdout


@pytest.mark.slow
def test_make_check_explains_the_wrong_exercise_of_a_copy(tmp_path: Path) -> None:
    """JupyterLab's Duplicate ("-Copy1") with a mistake in Exercise 1: exit 1, the explanation, the rest pass."""
    proc = _make_check(_example(tmp_path, "demo-mistake-conv", "Image_segmentation_Unet-Copy1.ipynb"))
    assert proc.returncode != 0, proc.stdout + proc.stderr
    assert "FAIL  conv_block" in proc.stdout and "PASS  upsampling_block" in proc.stdout
    assert ("public check test_conv_block: layer 3 (Conv2D): activation is left at Keras's default (none), expected 'relu' "
            "(case 1: ") in proc.stdout, proc.stdout
    assert "BEGIN HIDDEN TESTS" not in proc.stdout + proc.stderr


@pytest.mark.parametrize("content,says", [
    (b"", "is empty"),
    (b"not json at all", "is not a notebook"),
    (b'{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}', "belongs to no assignment"),
])
def test_make_check_bad_files_get_one_line_and_exit_2(tmp_path: Path, content: bytes, says: str) -> None:
    """Not a notebook, empty, or from no assignment: one ``Error:`` line naming the file, exit 2, nothing graded."""
    path = tmp_path / "mine (3).ipynb"
    path.write_bytes(content)
    proc = _make_check(path, timeout=300)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and str(path) in errors[0] and says in errors[0], proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("args,says", [
    (["lab", "--no-browser"], "no nbgrader_config.py"),
    (["gradescope-zip", "no_such_assignment"], "no folder source/no_such_assignment"),
    (["release", "no_such_assignment"], "no_such_assignment"),
])
def test_lab_and_gradescope_zip_are_commands_with_one_line_errors(tmp_path: Path, args: list[str], says: str) -> None:
    """Every command, old or new, answers a user error with one ``Error:`` line and exit status 2."""
    if args[0] == "gradescope-zip":
        shutil.copyfile(REPO / "nbgrader_config.py", tmp_path / "nbgrader_config.py")
        (tmp_path / "source").mkdir()
    done = _cli(tmp_path / ("." if args[0] != "lab" else "missing"), *args, timeout=120)
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 2, done.stdout + done.stderr
    assert len(lines) == 1 and lines[0].startswith("Error: ") and says in lines[0], done.stderr

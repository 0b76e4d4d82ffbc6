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

from autograder.host import collect, grade
from autograder.contracts import results

REPO = Path(__file__).resolve().parents[3]


def _cli(root: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "autograder", "--root", str(root), *args],
                          env=toy.env(), capture_output=True, text=True, timeout=timeout)


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


def test_feedback_export_collect(course: Path, tmp_path: Path) -> None:
    toy.submit(course, "f_full", toy.CORRECT)
    toy.submit(course, "f_bad", raw=b"")
    grade.run(root=course, assignment="toy", jobs=2, progress=False, quiet=True)
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
    counts = collect.run(root=other, folder=folder)
    assert counts == {"applied": 2, "rejected": 1}
    with Gradebook(f"sqlite:///{other / 'gradebook.db'}", "toy-course") as gb:
        assert {s.student.id: s.score for s in gb.find_assignment("toy").submissions} == {"f_full": 6, "f_bad": 0}
    assert (other / "autograded" / "f_full" / "toy" / "toy.ipynb").exists()


@pytest.mark.slow
def test_check_real_unet_reference_solution(tmp_path: Path) -> None:
    """The instructor's source notebook passes every exercise of the real assignment."""
    source = REPO / "source" / "unet" / "Image_segmentation_Unet.ipynb"
    proc = _cli(REPO, "check", str(source), timeout=1500)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for exercise in ("conv_block", "upsampling_block", "unet_model"):
        assert f"PASS  {exercise}" in proc.stdout


@pytest.mark.slow
def test_check_real_unet_release_fails(tmp_path: Path) -> None:
    """The unanswered release notebook fails every exercise (exit 1), without aborting."""
    release = REPO / "release" / "unet" / "Image_segmentation_Unet.ipynb"
    proc = _cli(REPO, "check", str(release), timeout=1500)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "FAIL  conv_block" in proc.stdout


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

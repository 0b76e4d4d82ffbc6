"""The real ``unet`` course on every grading path, against a submission that hunts for the solution instead of writing it.

The scanner (``tests/autograder/scanner.py``) answers ``conv_block`` with whatever solution its kernel can find by
guessing the course's and the kit's paths and then listing and reading everything it can reach; its other two answers
are correct. The course is the real one: ``source/`` (solutions and hidden checks), ``references/`` (the grader's
bundles) and its gradebook are in place. Wherever the kernel is confined, the scanner finds nothing and scores 20 of
30 (its honest answers keep their points); unconfined (``--no-sandbox``) it finds the solution and scores 30, so the
scan is shown not to be blind. Plain ``nbgrader autograde`` is proven the same way in
``tests/autograder/run/test_plain_autograde.py``.
"""
from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Callable, Iterator

import nbformat
import pytest

import batches
from autograder.course.directory import Course
from autograder.host import container as containers
from autograder.host import grade
from autograder.instructor import examples
from autograder.sandbox import limits as sandbox

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from scanner import found_solution, scanner_notebook  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from test_containment import _as, _own, instructor  # noqa: E402,F401  (a fixture: an ordinary user with a 0700 home)

REPO = Path(__file__).resolve().parents[3]
NOTEBOOK = "Image_segmentation_Unet.ipynb"
STUDENT = "scanner"
CONFINED_SCORE, UNCONFINED_SCORE = 20.0, 30.0

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="grades as root, makes users and folders outside the test's")


@pytest.fixture(scope="module")
def scan_course(released_course: Callable[[str], Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The released real course with one submission: the scanner in place of ``conv_block``, the rest correct."""
    course = batches.copy(released_course("unet"), tmp_path_factory.mktemp("scan") / "course")
    assert (course / "source" / "unet" / NOTEBOOK).is_file() and any((course / "references" / "unet").glob("*.json"))
    examples.write_examples(root=course, assignment="unet")
    correct = course / "submitted" / "demo-correct" / "unet" / NOTEBOOK
    scanner = scanner_notebook(correct, REPO)
    for other in list((course / "submitted").iterdir()):
        shutil.rmtree(other)
    (course / "submitted" / STUDENT / "unet").mkdir(parents=True)
    nbformat.write(scanner, course / "submitted" / STUDENT / "unet" / NOTEBOOK)
    return course


def _placed(template: Path, parent: Path, mode: int) -> Path:
    parent.mkdir(parents=True, exist_ok=True)
    os.chmod(parent, mode)
    return batches.copy(template, parent / "course")


def _graded(course: Path) -> tuple[dict, bool]:
    with (course / "grades.csv").open() as fh:
        (row,) = [r for r in csv.DictReader(fh) if r["student_id"] == STUDENT]
    return row, found_solution(course / "autograded" / STUDENT / "unet" / NOTEBOOK)


def _assert_found_nothing(course: Path) -> None:
    row, found = _graded(course)
    assert (row["status"], float(row["score"]), found) == ("graded", CONFINED_SCORE, False), row


@pytest.fixture
def open_parent() -> Iterator[Path]:
    """A world-readable folder outside the test's own (0755 all the way up)."""
    folder = Path("/srv") / f"agscan-{uuid.uuid4().hex[:8]}"
    folder.mkdir(mode=0o755)
    os.chmod(folder, 0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@needs_root
@pytest.mark.slow
def test_root_closed_parent_warm(scan_course: Path, tmp_path: Path) -> None:
    course = _placed(scan_course, tmp_path / "home", 0o700)
    grade.run(course=Course.open(course), assignment="unet", jobs=1, progress=False, quiet=True, warm=True)
    _assert_found_nothing(course)


@needs_root
@pytest.mark.slow
def test_root_open_parent_cold_and_unconfined_control(scan_course: Path, open_parent: Path) -> None:
    course = _placed(scan_course, open_parent / "home", 0o755)
    grade.run(course=Course.open(course), assignment="unet", jobs=1, progress=False, quiet=True, warm=False)
    _assert_found_nothing(course)
    # the control: the same submission with nothing confining it finds the solution, and the row says so
    grade.run(course=Course.open(course), assignment="unet", jobs=1, progress=False, quiet=True, force=True, confine=False)
    row, found = _graded(course)
    assert (found, float(row["score"])) == (True, UNCONFINED_SCORE) and grade.UNCONFINED in row["reason"], row


@needs_root
@pytest.mark.slow
def test_ordinary_user_in_a_closed_home(scan_course: Path, instructor: tuple[str, Path, dict[str, str]]) -> None:
    user, home, env = instructor
    course = batches.copy(scan_course, home / f"course-{uuid.uuid4().hex[:6]}")
    _own(user, course)
    done = _as(user, home, [f"{home}/venv/bin/python", "-m", "autograder", "--root", str(course), "grade", "unet",
                            "--jobs", "1", "--no-progress"], env)
    assert done.returncode == 0, done.stdout + done.stderr
    _assert_found_nothing(course)


@needs_root
@pytest.mark.docker
@pytest.mark.slow
def test_container(scan_course: Path, tmp_path: Path, docker_client: str, grading_image: str) -> None:
    course = _placed(scan_course, tmp_path / "home", 0o700)
    grade.run(course=Course.open(course), assignment="unet", jobs=1, progress=False, quiet=True,
              container=containers.Options(grading_image, docker=docker_client))
    _assert_found_nothing(course)


def _docker_run(client: str, image: str, *args: str) -> subprocess.CompletedProcess:
    """The image as an LMS runs it. The container claims its kernel's uid in the host's lock folder: a grading run on
    the host (another test) kills what its claimed uids still run, machine-wide, at each submission's end."""
    locks = sandbox.uid_lock_folder()
    locks.mkdir(mode=0o755, parents=True, exist_ok=True)
    return subprocess.run([client, "run", "--rm", "--network", "none", "--read-only", "--tmpfs", "/tmp",
                           "--tmpfs", "/home/grader", "-v", f"{locks}:/tmp/unet-grader-uids", *args[:-1], image,
                           *args[-1].split()], capture_output=True, text=True, timeout=900)


@pytest.mark.docker
@pytest.mark.slow
def test_gradescope_entry(scan_course: Path, tmp_path: Path, docker_client: str, grading_image: str) -> None:
    upload, results = tmp_path / "upload", tmp_path / "results"
    upload.mkdir()
    results.mkdir(mode=0o777)
    shutil.copyfile(scan_course / "submitted" / STUDENT / "unet" / NOTEBOOK, upload / NOTEBOOK)
    done = _docker_run(docker_client, grading_image, "-v", f"{upload}:/autograder/submission:ro",
                       "-v", f"{results}:/autograder/results", "/autograder/run_autograder")
    assert done.returncode == 0, done.stdout + done.stderr
    doc = json.loads((results / "results.json").read_text())
    lost = sorted({t["name"].split(" (")[0] for t in doc["tests"] if t["score"] < t["max_score"]})
    assert (doc["score"], lost) == (CONFINED_SCORE, ["Exercise 1: conv_block"]), doc


@pytest.mark.docker
@pytest.mark.slow
def test_coursera_entry(scan_course: Path, tmp_path: Path, docker_client: str, grading_image: str) -> None:
    shared = tmp_path / "shared"
    (shared / "submission").mkdir(parents=True)
    shutil.copyfile(scan_course / "submitted" / STUDENT / "unet" / NOTEBOOK, shared / "submission" / NOTEBOOK)
    shared.chmod(0o777)
    done = _docker_run(docker_client, grading_image, "-v", f"{shared}:/shared", "-e", "partId=unet",
                       "/autograder/run_coursera")
    assert done.returncode == 0, done.stdout + done.stderr
    doc = json.loads((shared / "feedback.json").read_text())
    assert doc["fractionalScore"] == pytest.approx(CONFINED_SCORE / UNCONFINED_SCORE, abs=1e-4), doc  # 4 decimals


@pytest.mark.docker
@pytest.mark.slow
def test_shard_in_the_image(scan_course: Path, tmp_path: Path, docker_client: str, grading_image: str) -> None:
    shared = tmp_path / "shared"
    shutil.copytree(scan_course / "submitted", shared / "submitted")
    done = _docker_run(docker_client, grading_image, "--user", "0:0", "--cap-drop", "ALL",
                       *[a for c in containers.CAPABILITIES for a in ("--cap-add", c)], "--security-opt", "no-new-privileges",
                       "-v", f"{shared}:/course",
                       "python -m autograder shard unet --index 0 --count 1 --jobs 1 --submitted /course/submitted "
                       "--out /course/results/unet")
    assert done.returncode == 0, done.stdout + done.stderr
    graded = list((shared / "results" / "unet").rglob(NOTEBOOK))
    assert len(graded) == 1 and found_solution(graded[0]) is False, graded
    result = json.loads(next((shared / "results" / "unet").rglob("result.json")).read_text())
    assert result["status"] == "graded", result
    points = sum(g["auto_score"] or 0 for nb in result["notebooks"].values() for g in nb["grades"].values())
    assert points == CONFINED_SCORE, result

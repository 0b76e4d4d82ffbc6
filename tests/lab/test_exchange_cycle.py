"""The whole nbgrader exchange cycle on one machine, from release to each student's feedback.

An instructor and three students, each with their own HOME and ``~/.jupyter/nbgrader_config.py``, share a
temporary exchange folder. Every nbgrader command runs as a subprocess with that user's environment.
The tests run as root, so every "user" is the same Unix account: students name themselves with
``CourseDirectory.student_id`` (as on a hub where all notebooks run as one account) and the instructor
turns off ``CollectApp.check_owner`` (which compares the student id with the file owner).
"""
from __future__ import annotations

import re
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

import nbformat
import pytest

import batches
from autograder.instructor import examples

pytestmark = pytest.mark.slow

ASSIGNMENT = "unet"
NOTEBOOK = "Image_segmentation_Unet.ipynb"
COURSE_ID = "unet-course"  # as in the course's nbgrader_config.py
MAX_SCORE = 30.0
# student -> (example submission, expected total); carol fetches the assignment but never submits.
SUBMITTERS = {"alice": ("demo-correct", 30.0), "bob": ("demo-mistake-conv", 20.0)}
STUDENTS = [*SUBMITTERS, "carol"]


def _nbgrader(args: list[str], *, cwd: Path, env: dict[str, str], timeout: float = 600) -> str:
    """Run ``nbgrader ARGS`` as a user; return its output, failing the test with it when nbgrader fails."""
    done = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"nbgrader {' '.join(args)} failed ({done.returncode}):\n{output[-3000:]}"
    return output


def _write_config(home: Path, lines: list[str]) -> None:
    config = home / ".jupyter" / "nbgrader_config.py"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text("c = get_config()  # noqa: F821\n" + "\n".join(lines) + "\n", encoding="utf-8")


def _example(name: str) -> examples.Example:
    return next(e for e in examples.UNET_EXAMPLES if e.student == name)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_release_submit_grade_feedback(released_course: Callable[[str], Path], tmp_path: Path, dataset: Path,
                                       user_env: Callable[..., dict[str, str]]) -> None:
    """Release, fetch, submit, collect, autograde, feedback: each student gets only their own feedback."""
    started = time.monotonic()
    # The instructor's course with the assignment generated: a copy of the suite's shared release, made with
    # `nbgrader generate_assignment` (inside the kit's release), which filled its gradebook.
    course = batches.copy(released_course(ASSIGNMENT), tmp_path / "course")
    exchange = tmp_path / "exchange"  # nbgrader creates it, world-writable as it must be
    homes = {user: tmp_path / "home" / user for user in ["instructor", *STUDENTS]}
    common = [f"c.Exchange.root = {str(exchange)!r}", f"c.CourseDirectory.course_id = {COURSE_ID!r}"]
    _write_config(homes["instructor"], [*common, "c.CollectApp.check_owner = False"])
    for student in STUDENTS:
        _write_config(homes[student], [*common, f"c.CourseDirectory.student_id = {student!r}"])
    env = {user: user_env(home) for user, home in homes.items()}
    work = {s: homes[s] / "work" for s in STUDENTS}

    # Instructor: release the generated assignment to the exchange.
    _nbgrader(["release_assignment", ASSIGNMENT], cwd=course, env=env["instructor"])
    course_dir = exchange / COURSE_ID
    assert (course_dir / "outbound" / ASSIGNMENT / NOTEBOOK).is_file()
    assert not (course_dir / "outbound" / ASSIGNMENT / NOTEBOOK).read_text().count("### BEGIN SOLUTION")
    assert _mode(exchange) & 0o777 == 0o777, "students must be able to reach the exchange"
    inbound = course_dir / "inbound"
    assert _mode(inbound) & 0o003 == 0o003 and not _mode(inbound) & 0o004, \
        "inbound must be writable by everyone but not listable, so students cannot see each other's work"

    # Students: fetch, answer (from the instructor's solution, bob with one mistake), submit.
    answers = examples.answer_sources(course / "source" / ASSIGNMENT / NOTEBOOK)
    for student in STUDENTS:
        work[student].mkdir(parents=True)
        _nbgrader(["fetch_assignment", ASSIGNMENT], cwd=work[student], env=env[student])
        fetched = work[student] / ASSIGNMENT / NOTEBOOK
        assert fetched.is_file(), f"{student} did not get {fetched}"
        if student in SUBMITTERS:
            example = _example(SUBMITTERS[student][0])
            nbformat.write(examples.build_submission(example, fetched, answers), fetched)
            _nbgrader(["submit", ASSIGNMENT], cwd=work[student], env=env[student])
    listing = _nbgrader(["list", "--inbound"], cwd=course, env=env["instructor"])
    for student in SUBMITTERS:
        assert student in listing

    # Instructor: collect, autograde, (manual grading), feedback, release the feedback.
    _nbgrader(["collect", ASSIGNMENT], cwd=course, env=env["instructor"])
    assert sorted(p.name for p in (course / "submitted").iterdir()) == sorted(SUBMITTERS)
    graded = subprocess.run([sys.executable, "-m", "autograder", "grade", ASSIGNMENT, "--no-progress"],
                            cwd=course, env=env["instructor"], capture_output=True, text=True, timeout=1500)
    assert graded.returncode == 0, f"python -m autograder grade failed:\n{(graded.stdout + graded.stderr)[-3000:]}"
    # Manual grading would come here: the unet assignment has no manually graded cell (only autograded
    # answers and tests), so there is nothing for the formgrader to do.
    _nbgrader(["generate_feedback", ASSIGNMENT], cwd=course, env=env["instructor"])
    _nbgrader(["release_feedback", ASSIGNMENT], cwd=course, env=env["instructor"])
    released = sorted((course_dir / "feedback").glob("*.html"))
    assert len(released) == len(SUBMITTERS), released
    assert not _mode(course_dir / "feedback") & 0o004, "the feedback folder must not be listable by students"

    # Students: each fetches their feedback; it is theirs alone.
    totals = {}
    for student in STUDENTS:
        _nbgrader(["fetch_feedback", ASSIGNMENT], cwd=work[student], env=env[student])
        files = sorted((work[student] / ASSIGNMENT / "feedback").glob("*/*.html"))
        if student not in SUBMITTERS:
            assert files == [], f"{student} never submitted but received {files}"
            continue
        assert [f.name for f in files] == [NOTEBOOK.replace(".ipynb", ".html")], files
        html = files[0].read_text(encoding="utf-8")
        score = re.search(r"\(Score: ([\d.]+) / ([\d.]+)\)", html)
        assert score, f"no total score in {files[0]}"
        totals[student] = float(score.group(1))
        assert float(score.group(2)) == MAX_SCORE
        for other in STUDENTS:
            if other != student:
                assert other not in html, f"{student}'s feedback names {other}"
        for other, (_, other_total) in SUBMITTERS.items():
            if other_total != SUBMITTERS[student][1]:
                assert f"(Score: {other_total} / {MAX_SCORE})" not in html, f"{student}'s feedback shows {other}'s total"
    assert totals == {s: expected for s, (_, expected) in SUBMITTERS.items()}
    print(f"exchange cycle: totals {totals}, {time.monotonic() - started:.0f} s")

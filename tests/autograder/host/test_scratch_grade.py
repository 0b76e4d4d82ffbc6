"""The one scratch grading path (check, shard, the LMS entries and the release's check all use it), on the toy course."""
from __future__ import annotations

import hashlib
from pathlib import Path

import nbformat
import pytest
import toy

from autograder.course.directory import Course, regular_files
from autograder.host import scratch_grade


def _answered(course: Path, answers: dict[str, str], path: Path) -> Path:
    """The toy release with ``answers`` filled in, written to ``path`` (outside the course)."""
    nb = toy.released(course)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") in answers:
            cell.source = answers[cell.metadata["nbgrader"]["grade_id"]]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


def _digest(root: Path) -> str:
    """What the origin course holds, file by file (nothing may change there)."""
    h = hashlib.sha256()
    for path in regular_files(root):
        h.update(str(path.relative_to(root)).encode() + path.read_bytes())
    return h.hexdigest()


@pytest.mark.slow
def test_copied_and_regenerated_definitions_grade_alike_and_leave_the_origin_alone(course: Path, tmp_path: Path) -> None:
    folder = _answered(course, toy.CORRECT, tmp_path / "alice" / toy.NOTEBOOK).parent  # a folder, copied whole
    half = _answered(course, {"square": toy.CORRECT["square"]}, tmp_path / "bob" / "mine.ipynb")  # a file, renamed
    (folder / "outside.txt").symlink_to(tmp_path)  # a link in a submission is not followed into the copy
    origin = Course.open(course)
    before = _digest(course)
    scores = {}
    for regenerate in (False, True):
        with scratch_grade.graded(origin=origin, assignment=toy.ASSIGNMENT, regenerate=regenerate,
                                  submissions={"alice": folder, "bob": {toy.NOTEBOOK: half}}, jobs=2) as done:
            assert done.course.root != origin.root and not done.course.root.is_relative_to(course)
            assert not (done.course.submission_dir("alice", toy.ASSIGNMENT) / "outside.txt").exists()
            assert [nb.name for nb in done.definition.notebooks] == ["toy"]
            scores[regenerate] = {s: (done.row(s)["status"], done.row(s)["score"]) for s in ("alice", "bob")}
            scratch_root = done.course.root
        assert not scratch_root.exists()  # gone with the block
    assert scores[False] == scores[True] == {"alice": ("graded", "6"), "bob": ("graded", "2")}, scores
    assert _digest(course) == before


@pytest.mark.slow
def test_submissions_made_from_the_scratch_release(course: Path) -> None:
    """The release's own check hands in notebooks made from the release it has just generated."""
    def hand_in(scratch: Course) -> dict:
        return {"empty": {toy.NOTEBOOK: toy.released(scratch.root)}}

    with scratch_grade.graded(origin=Course.open(course), assignment=toy.ASSIGNMENT, regenerate=True,
                              submissions=hand_in, confine=False) as done:
        assert done.row("empty")["score"] == "0" and done.row("empty")["status"] == "graded"

"""Cells tagged keep-student-output keep the outputs the student handed in; nothing else can use that."""
from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
import toy
from nbgrader.api import Gradebook

from autograder.course.directory import Course
from autograder.host import grade
from autograder.run.nbhooks import KEEP_TAG, KEPT_NOTE, STASH_KEY

SAW = "the student's own curve: val_accuracy 0.91"


def _stream(text: str) -> nbformat.NotebookNode:
    return nbformat.v4.new_output("stream", name="stdout", text=text)


def _edit(nb: nbformat.NotebookNode) -> None:
    """A tagged comparison cell with handed-in outputs; a tagged check cell with forged passing outputs."""
    compare = nbformat.v4.new_code_cell("print('re-run by the grader')", metadata={"tags": [KEEP_TAG]})
    compare.outputs = [_stream(SAW)]
    untagged = nbformat.v4.new_code_cell("print('fresh')")
    untagged.outputs = [_stream("stale output")]
    untagged.metadata[STASH_KEY] = [_stream("forged stash")]  # a student writing the stash by hand
    nb.cells += [compare, untagged]
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "test_add":
            cell.metadata["tags"] = [KEEP_TAG]
            cell.metadata[STASH_KEY] = [_stream("All tests passed!")]


@pytest.mark.slow
def test_tagged_outputs_are_kept_and_cannot_change_a_score(course: Path, small_limits) -> None:
    toy.submit(course, "keeper", {"square": toy.CORRECT["square"], "add": "def add(a, b):\n    return a - b"},
               edit=_edit)
    grade.run(course=Course.open(course), assignment="toy", jobs=1, progress=False, quiet=True, limits=small_limits)
    nb = nbformat.read(course / "autograded" / "keeper" / "toy" / "toy.ipynb", as_version=4)
    compare, untagged = nb.cells[-2], nb.cells[-1]
    texts = [o.get("text", "") for o in compare.outputs]
    assert texts == [KEPT_NOTE, SAW]  # what the student saw, not the re-run
    assert [o.get("text", "") for o in untagged.outputs] == ["fresh\n"]  # untagged: the grader's own run
    assert all(STASH_KEY not in c.metadata for c in nb.cells)
    check = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "test_add")
    assert any(o.output_type == "error" for o in check.outputs)  # a graded cell is never restored
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", "toy-course") as gb:
        scores = {g.cell.name: g.score for nb_ in gb.find_submission("toy", "keeper").notebooks for g in nb_.grades}
    assert scores["test_add"] == 0 and scores["test_square"] == 2

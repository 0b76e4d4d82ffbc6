"""release/ and references/ are exactly what the release generates from source/."""
from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from autograder.course.directory import Course
from autograder.instructor import release


@pytest.mark.parametrize("assignment", Course.open(Path(__file__).resolve().parents[1]).assignments())
def test_release_is_in_sync_with_source(course_root: Path, assignment: str) -> None:
    stale = release.stale_files(root=course_root, assignment=assignment)
    assert stale == [], (f"release/{assignment} is out of date for {stale}: run `make release` "
                         "(nbgrader generate_assignment) and commit the result")


def test_release_has_no_solutions_or_hidden_tests(course_root: Path) -> None:
    nb = nbformat.read(course_root / "release/unet/Image_segmentation_Unet.ipynb", as_version=4)
    text = "\n".join(cell.source for cell in nb.cells)
    for secret in ("BEGIN SOLUTION", "HIDDEN TESTS", "_ref_conv", "Conv2DTranspose(n_filters, 3, strides=2"):
        assert secret not in text
    # the exercise definitions (their demo mistakes quote the solution) stay in source/
    assert "exercises" not in nb.metadata and not any("exercise" in c.metadata for c in nb.cells)
    answers = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution")]
    assert [c.metadata.nbgrader.grade_id for c in answers] == ["conv_block", "upsampling_block", "unet_model"]
    assert all("raise NotImplementedError()" in c.source for c in answers)


def test_release_rejects_unknown_assignment(course_root: Path) -> None:
    with pytest.raises(release.ReleaseError, match="no folder source/nope"):
        release.run(root=course_root, assignments=["nope"])

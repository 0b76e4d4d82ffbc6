"""Which assignment an upload is for, when its file name does not say (no grading: the course's definitions only)."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import toy

from autograder.course import definition as definitions
from autograder.course import scratch
from autograder.course.directory import Course
from autograder.errors import UserError
from autograder.platforms.lms import pick_assignment

REPO = Path(__file__).resolve().parents[3]
NAMES = ("unet", "unet_variants")


@pytest.fixture(scope="module")
def defs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, definitions.AssignmentDef]:
    """Both lessons' definitions, from a scratch course released here (a fresh clone's gradebook is empty)."""
    root = tmp_path_factory.mktemp("pick") / "course"
    for name in NAMES:
        scratch.build(root, origin=REPO, assignment=name, source="all")
        toy.nbgrader(root, "generate_assignment", name, "--force")
    course = Course.open(root)
    return {name: definitions.read(course.db_url, course.course_id, name) for name in NAMES}


def test_a_renamed_upload_is_placed_by_its_graded_cells(defs, tmp_path: Path) -> None:
    upload = tmp_path / "Unet_Variants (2).ipynb"
    shutil.copyfile(REPO / "release" / "unet_variants" / "Unet_Variants.ipynb", upload)
    assert pick_assignment(defs, [upload], None) == "unet_variants"


def test_an_upload_that_is_not_a_notebook_names_the_expected_files(defs, tmp_path: Path) -> None:
    upload = tmp_path / "answers.ipynb"
    upload.write_bytes(b"\xff\xfe not json")
    with pytest.raises(UserError, match="Image_segmentation_Unet.ipynb or Unet_Variants.ipynb"):
        pick_assignment(defs, [upload], None)

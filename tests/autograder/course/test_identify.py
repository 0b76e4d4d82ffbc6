"""Recognising a notebook's assignment from its nbgrader cells, whatever the file is called."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from autograder.course.directory import Course
from autograder.course.identify import Signature, course_signatures, identify, read_signature, recognise
from autograder.errors import UserError

REPO = Path(__file__).resolve().parents[3]
SIGNATURES = course_signatures(Course.open(REPO))
RELEASED = {
    "unet": REPO / "release" / "unet" / "Image_segmentation_Unet.ipynb",
    "unet_variants": REPO / "release" / "unet_variants" / "Unet_Variants.ipynb",
}


@pytest.mark.parametrize("assignment", sorted(RELEASED))
@pytest.mark.parametrize("name", ["{stem}-Copy1.ipynb", "{stem} (2).ipynb", "answers.ipynb"])
def test_a_copy_under_any_name_is_recognised(tmp_path: Path, assignment: str, name: str) -> None:
    released = RELEASED[assignment]
    copy = tmp_path / name.format(stem=released.stem)
    shutil.copyfile(released, copy)
    assert identify(copy, SIGNATURES) == (assignment, released.stem)


def test_the_instructors_source_notebook_is_recognised_too(tmp_path: Path) -> None:
    """Source notebooks carry the grade_ids but no checksums; that is enough."""
    source = REPO / "source" / "unet_variants" / "Unet_Variants.ipynb"
    assert identify(source, SIGNATURES) == ("unet_variants", "Unet_Variants")


def test_a_student_who_deleted_cells_is_still_recognised(tmp_path: Path) -> None:
    doc = json.loads(RELEASED["unet"].read_text())
    graded = [c for c in doc["cells"] if c.get("metadata", {}).get("nbgrader", {}).get("grade_id")]
    doc["cells"] = graded[:2]  # most of the notebook gone, two graded cells left
    path = tmp_path / "Untitled.ipynb"
    path.write_text(json.dumps(doc))
    assert identify(path, SIGNATURES)[0] == "unet"


def test_checksums_break_a_tie_between_assignments(tmp_path: Path) -> None:
    sigs = {("a", "A"): Signature(frozenset({"x"}), frozenset({"s1"})),
            ("b", "B"): Signature(frozenset({"x"}), frozenset({"s2"}))}
    path = tmp_path / "n.ipynb"
    path.write_text(json.dumps({"cells": [{"cell_type": "code", "metadata": {"nbgrader": {
        "grade_id": "x", "checksum": "s2"}}, "source": ""}]}))
    assert identify(path, sigs) == ("b", "B")


def test_an_exact_tie_names_both_and_the_option(tmp_path: Path) -> None:
    sigs = {("a", "A"): Signature(frozenset({"x"}), frozenset()), ("b", "B"): Signature(frozenset({"x"}), frozenset())}
    path = tmp_path / "n.ipynb"
    path.write_text(json.dumps({"cells": [{"cell_type": "code", "metadata": {"nbgrader": {"grade_id": "x"}}}]}))
    with pytest.raises(UserError, match=r"several assignments equally well \(a, b\).*--assignment"):
        identify(path, sigs)


@pytest.mark.parametrize("content,says", [
    (b"", "is empty"),
    (b"\x89PNG\r\n", "not a notebook"),
    (b"[1, 2]", "not a Jupyter notebook"),
    (b'{"cells": "oops"}', "not a Jupyter notebook"),
    (b'{"cells": [{"metadata": {"nbgrader": {"grade_id": 5}}}, 7]}', "belongs to no assignment"),
])
def test_files_that_are_not_a_course_notebook(tmp_path: Path, content: bytes, says: str) -> None:
    path = tmp_path / "thing.ipynb"
    path.write_bytes(content)
    with pytest.raises(UserError, match=says) as info:
        identify(path, SIGNATURES)
    assert str(path) in str(info.value)


def test_read_signature_of_a_folder_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="is not a file"):
        read_signature(tmp_path)


def test_the_assignment_can_be_named_and_an_unknown_one_lists_the_names() -> None:
    notebook = RELEASED["unet"]
    assert recognise([notebook], SIGNATURES, "unet") == ("unet", {notebook: "Image_segmentation_Unet"})
    with pytest.raises(UserError, match="use one of: " + ", ".join(Course.open(REPO).assignments())):
        recognise([notebook], SIGNATURES, "unet_v2")
    # named explicitly, the student's choice stands (the lessons share set-up cells such as setup_imports)
    assert recognise([notebook], SIGNATURES, "unet_variants") == ("unet_variants", {notebook: "Unet_Variants"})


def test_an_upload_is_placed_by_content_and_junk_beside_it_is_left_out(tmp_path: Path) -> None:
    """The rule check and the learning platforms share: content first; a junk file beside a notebook is ignored,
    and a junk file alone is one error naming the notebooks the course expects."""
    renamed, junk = tmp_path / "Unet_Variants (2).ipynb", tmp_path / "answers.ipynb"
    shutil.copyfile(RELEASED["unet_variants"], renamed)
    junk.write_bytes(b"\xff\xfe not json")
    assert recognise([renamed, junk], SIGNATURES) == ("unet_variants", {renamed: "Unet_Variants"})
    with pytest.raises(UserError, match="Image_segmentation_Unet.ipynb or Unet_Variants.ipynb"):
        recognise([junk], SIGNATURES)
    with pytest.raises(UserError, match="no notebook"):
        recognise([], SIGNATURES)


def test_only_the_cells_both_lessons_share_is_a_tie(tmp_path: Path) -> None:
    """A notebook left with nothing but set-up cells both lessons have cannot be placed: say so, never guess."""
    doc = json.loads(RELEASED["unet"].read_text())
    doc["cells"] = [c for c in doc["cells"] if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == "setup_imports"]
    for cell in doc["cells"]:
        cell["metadata"]["nbgrader"].pop("checksum", None)
    path = tmp_path / "setup_only.ipynb"
    path.write_text(json.dumps(doc))
    with pytest.raises(UserError, match="several assignments"):
        identify(path, SIGNATURES)

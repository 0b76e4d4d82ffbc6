"""The unet_variants lesson: what it teaches and how it is graded by hand, and that a second Run All loads
the trained models instead of training them again."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Callable

import nbformat
import pytest

import notebook_runs
from autograder.instructor import examples

NOTEBOOK = "Unet_Variants.ipynb"
KEEP = "keep-student-output"
EXERCISES = ("mean_iou", "upsample_conv_block", "bn_conv_block")
# C++ start-up lines of a CUDA build of TensorFlow on a machine without a GPU driver: written to the process's
# stderr before TensorFlow reads its log settings, so no setting in the notebook can silence them.
CPP_STARTUP = re.compile(r"^(WARNING: All log messages before absl::InitializeLog\(\)|[IWE]\d{4} .*(cudart_stub|cuda_"
                         r"platform|cuda_executor|cpu_feature_guard))|^To enable the following instructions")


def load(course_root: Path, folder: str) -> nbformat.NotebookNode:
    return nbformat.read(course_root / folder / "unet_variants" / NOTEBOOK, as_version=4)


def grade_id(cell: nbformat.NotebookNode) -> str | None:
    return cell.metadata.get("nbgrader", {}).get("grade_id")


def by_id(nb: nbformat.NotebookNode, wanted: str) -> nbformat.NotebookNode:
    return next(cell for cell in nb.cells if grade_id(cell) == wanted)


@pytest.mark.parametrize("folder", ["source", "release"])
def test_comparison_cells_keep_the_students_outputs(course_root: Path, folder: str) -> None:
    nb = load(course_root, folder)
    kept = [cell for cell in nb.cells if KEEP in cell.metadata.get("tags", [])]
    # the curves, the per-class IoU table and the predicted masks, which the conclusion is about
    assert len(kept) == 3
    assert all(cell.cell_type == "code" and not cell.metadata.get("nbgrader", {}).get("grade") for cell in kept)
    assert [('history[f"val_{metric}"]' in c.source, "def per_class_iou" in c.source, "colormap" in c.source)
            for c in kept] == [
        (True, False, False), (False, True, False), (False, False, True)]
    conclusion = nb.cells.index(by_id(nb, "discussion"))
    assert all(nb.cells.index(cell) < conclusion for cell in kept)


def test_rubric_adds_up_to_the_conclusions_points(course_root: Path) -> None:
    nb = load(course_root, "source")
    discussion = by_id(nb, "discussion")
    rubric = nb.cells[nb.cells.index(discussion) - 1].source
    items = re.findall(r"^\d+\. \*\*", rubric, flags=re.MULTILINE)
    stated = re.search(r"graded by hand, (\d+) points", rubric)
    assert stated and "one point each" in rubric
    assert len(items) == int(stated.group(1)) == discussion.metadata.nbgrader.points == 5


@pytest.mark.parametrize("folder", ["source", "release"])
def test_every_exercise_has_two_hints_without_the_solution(course_root: Path, folder: str) -> None:
    nb = load(course_root, folder)
    solutions = examples.answer_sources(course_root / "source/unet_variants" / NOTEBOOK)
    for exercise in EXERCISES:
        answer = nb.cells.index(by_id(nb, exercise))
        hints = nb.cells[answer - 1]
        summaries = re.findall(r"<summary>(.*?)</summary>", hints.source)
        assert summaries == ["Hint 1: a nudge", "Hint 2: the API to use"], exercise
        # no line of the reference answer (other than trivial ones) appears in a hint
        for line in solutions[exercise].splitlines():
            line = line.strip()
            if len(line) > 30 and not line.startswith(("def ", "return", '"""')):
                assert line not in hints.source, (exercise, line)


def test_lesson_uses_the_shared_palette_imageio_and_one_iou_definition(course_root: Path) -> None:
    text = "\n".join(cell.source for cell in load(course_root, "source").cells)
    assert "tab20" not in text and "plt.imread" not in text
    assert "palette.colormap()" in text and "palette.colorize(" in text and "iio.imread(" in text
    assert "fit_or_load(" in text and "RETRAIN = False" in text
    assert "in the truth **or** in the prediction" in text
    # the slips of issue 16
    assert "random, untrained weights" not in text and "the first assignment's U-Net" not in text


def stderr_lines(nb: nbformat.NotebookNode) -> list[tuple[int, str]]:
    """(cell index, line) of everything the notebook wrote to stderr, except TensorFlow's C++ start-up lines."""
    found = []
    for index, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream" and output.get("name") == "stderr":
                found += [(index, line) for line in output["text"].splitlines()
                          if line.strip() and not CPP_STARTUP.search(line)]
    return found


def training_output(nb: nbformat.NotebookNode) -> str:
    cell = next(c for c in nb.cells if c.source.startswith("# Everything besides the architecture"))
    return "".join(o.get("text", "") for o in cell.get("outputs", []))


@pytest.mark.slow
def test_second_run_all_loads_instead_of_training_and_prints_no_warnings(source_run: Callable[[str], Path],
                                                                          variants_student_run: Path) -> None:
    """The first Run All (the shared run of the source notebook) trains the three models and saves them; the
    second (the student's finished notebook, run in a copy of that folder) loads them."""
    first_run = source_run("unet_variants")
    first = notebook_runs.executed(first_run)
    assert stderr_lines(first) == []
    assert "Loaded the trained model" not in training_output(first)
    assert sorted(p.name for p in first_run.glob("*unet_*")) == sorted(
        [f"unet_{n}.keras" for n in ("transpose", "upsample", "batchnorm")]
        + [f"history_unet_{n}.json" for n in ("transpose", "upsample", "batchnorm")])

    second = notebook_runs.executed(variants_student_run)
    assert stderr_lines(second) == []
    trained = training_output(second)
    assert trained.count("Loaded the trained model") == 3 and "val_loss" not in trained, trained
    reload_cell = next(c for c in second.cells if "models = {name: reloaded(" in c.source)
    assert "same predictions: True" in "".join(o.get("text", "") for o in reload_cell.outputs)

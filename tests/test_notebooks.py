"""The assignments' notebooks run as they should: the source with solutions, the release without them.

The source notebooks run once per test run (the ``source_run`` fixture), and every test here that needs such a
run reads that one; the unet_variants student's run (``variants_student_run``) is shared with
tests/test_variants_lesson.py.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Callable

import nbformat
import pytest

import notebook_runs
from autograder.course import exercise_book
from autograder.instructor import examples

pytestmark = pytest.mark.slow

#: Figures each lesson draws at least (sample/upsampling figure, curves, predictions; the attention map).
FIGURES = {"unet": 3, "unet_variants": 3, "unet_attention": 1}


def grade_id(cell: nbformat.NotebookNode) -> str | None:
    return cell.metadata.get("nbgrader", {}).get("grade_id")


def errors(nb: nbformat.NotebookNode) -> list[tuple[int, str | None, str]]:
    """(cell index, grade_id, exception name) for every cell that raised."""
    return [(index, grade_id(cell), output["ename"]) for index, cell in enumerate(nb.cells)
            for output in cell.get("outputs", []) if output.get("output_type") == "error"]


def text_of(cell: nbformat.NotebookNode) -> str:
    return "".join(o.get("text", "") for o in cell.get("outputs", []))


def stderr_of(nb: nbformat.NotebookNode) -> list[tuple[int, str]]:
    """(cell index, text) of everything a cell printed on stderr: library warnings included."""
    return [(index, output.get("text", "")) for index, cell in enumerate(nb.cells)
            for output in cell.get("outputs", []) if output.get("name") == "stderr"]


def images_in(nb: nbformat.NotebookNode) -> int:
    return sum(1 for cell in nb.cells for o in cell.get("outputs", []) if "image/png" in o.get("data", {}))


@pytest.mark.parametrize("assignment", sorted(examples.ASSIGNMENTS))
def test_source_notebook_runs_top_to_bottom(course_root: Path, source_run: Callable[[str], Path],
                                            assignment: str) -> None:
    notebook, _ = examples.ASSIGNMENTS[assignment]
    nb = notebook_runs.executed(source_run(assignment))
    assert errors(nb) == []
    outputs = {grade_id(cell): text_of(cell) for cell in nb.cells if cell.cell_type == "code"}
    names = [entry.name for entry in exercise_book.read(course_root / "source" / assignment / notebook).entries]
    assert names
    for name in names:
        assert "All tests passed!" in outputs[f"test_{name}"], name
        assert "recorded; the grader judges them" in outputs[f"test_{name}_hidden"], name  # no solution in the kernel
    assert images_in(nb) >= FIGURES.get(assignment, 1)
    assert stderr_of(nb) == [], "nothing on stderr: no library warnings in a student's outputs"


def test_unet_second_run_all_loads_and_a_changed_setting_retrains(course_root: Path, tmp_path: Path,
                                                                   source_run: Callable[[str], Path]) -> None:
    """Outside nbgrader the first Run All trains and saves; the second loads; another setting retrains."""
    source = nbformat.read(course_root / "source/unet/Image_segmentation_Unet.ipynb", as_version=4)

    def training_output(nb: nbformat.NotebookNode) -> str:
        assert stderr_of(nb) == []
        return text_of(next(cell for cell in nb.cells if "history = fit_or_load(" in cell.source))

    first_run = source_run("unet")  # the shared first Run All
    first = training_output(notebook_runs.executed(first_run))
    assert "Loaded" not in first and "accuracy:" in first          # Keras's epoch line: it trained
    assert (first_run / "unet.keras").is_file() and (first_run / "history_unet.json").is_file()

    folder = tmp_path / "run"
    shutil.copytree(first_run, folder)
    second = training_output(notebook_runs.run_all(nbformat.from_dict(source), folder))
    assert "Loaded the trained model" in second and "accuracy:" not in second

    changed = nbformat.from_dict(source)
    constants = next(cell for cell in changed.cells if grade_id(cell) == "setup_constants")
    assert "BATCH_SIZE = 16" in constants.source
    constants.source = constants.source.replace("BATCH_SIZE = 16", "BATCH_SIZE = 8")
    third = training_output(notebook_runs.run_all(changed, folder))
    assert "was trained with other settings: retraining" in third and "accuracy:" in third


def test_released_unet_fails_only_with_not_implemented(course_root: Path, tmp_path: Path) -> None:
    path = course_root / "release/unet/Image_segmentation_Unet.ipynb"
    nb = notebook_runs.run_all(nbformat.read(path, as_version=4), tmp_path, allow_errors=True)
    raised = errors(nb)
    # Every public check fails, and only because the exercises are not written yet.
    assert {gid: name for _, gid, name in raised if gid} == {f"test_{name}": "NotImplementedError" for name in ("conv_block", "upsampling_block", "unet_model")}
    # Nothing before the first exercise fails; after the exercises, only the cells that need the model do:
    # the cell that builds it raises NotImplementedError, the ones after it NameError (no model).
    first_exercise = next(i for i, c in enumerate(nb.cells) if grade_id(c) == "conv_block")
    assert all(index > first_exercise for index, _, _ in raised)
    rest = [(index, name) for index, gid, name in raised if gid is None]
    assert nb.cells[rest[0][0]].source.startswith("unet = unet_model(")
    assert rest[0][1] == "NotImplementedError"
    assert all(name == "NameError" for _, name in rest[1:]), rest


def test_released_variants_runs_for_a_student(variants_student_run: Path) -> None:
    nb = notebook_runs.executed(variants_student_run)
    # Three models saved, reloaded with their metric, and compared.
    for name in ("transpose", "upsample", "batchnorm"):
        assert (variants_student_run / f"unet_{name}.keras").is_file()
        assert (variants_student_run / f"history_unet_{name}.json").is_file()
    reload_cell = next(c for c in nb.cells if "models = {name: reloaded(" in c.source)
    assert "val_mean_iou" in text_of(reload_cell) and "same predictions: True" in text_of(reload_cell)
    assert images_in(nb) >= 3


def test_a_run_sets_the_quick_training_for_its_kernel_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The kernel gets UNET_QUICK_RUN=1 and no NBGRADER_EXECUTION; this process keeps what it had."""
    monkeypatch.setenv("UNET_QUICK_RUN", "0")
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "import os\nprint(os.environ.get('UNET_QUICK_RUN'), os.environ.get('NBGRADER_EXECUTION'))")])
    notebook_runs.run_all(nb, tmp_path, timeout=120)
    assert text_of(nb.cells[0]).strip() == "1 None"
    assert (os.environ["UNET_QUICK_RUN"], os.environ["NBGRADER_EXECUTION"]) == ("0", "autograde")

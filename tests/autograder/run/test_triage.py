"""triage.scan_outputs: the row's status names the first cause a notebook's outputs show."""
from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from autograder.run.nbhooks import TRUNCATED
from autograder.run.triage import scan_outputs

FLOOD = nbformat.v4.new_output("stream", name="stdout", text=f"xxxx\n{TRUNCATED}\n")
LATE = nbformat.v4.new_output("error", ename="CellTimeoutError", evalue="", traceback=[])


def _notebook(tmp_path: Path, outputs: list[list[dict]]) -> Path:
    cells = []
    for index, outs in enumerate(outputs):
        cell = nbformat.v4.new_code_cell("pass")
        cell.metadata["nbgrader"] = {"grade_id": f"c{index}"}
        cell.outputs = outs
        cells.append(cell)
    path = tmp_path / "nb.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=cells), path)
    return path


@pytest.mark.parametrize("outputs, status", [
    ([[FLOOD], [LATE]], "huge_output"),   # the interrupt came late: the next cell waited on the flooded kernel
    ([[FLOOD], []], "huge_output"),
    ([[LATE], [FLOOD]], "timeout"),       # a timeout before any flood is its own cause
    ([[], [LATE]], "timeout"),
    ([[], []], None),
])
def test_the_first_cause_decides(tmp_path: Path, outputs: list[list[dict]], status: str | None) -> None:
    assert scan_outputs(_notebook(tmp_path, outputs))[0] == status

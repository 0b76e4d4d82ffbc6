"""Answers that try to silence or fool the checks get no points for the exercise they target.

Each cheat hides a wrong ``conv_block`` (the second convolution has no activation) behind code in the
answer cell that runs in the student's kernel before the checks. The verdict is decided by the judge,
outside that kernel, so none of them earns the exercise; the honest answer keeps full marks.
The cheats' code is in ``tests/batches.py``; they are graded once, in the shared unet batch.
"""
from __future__ import annotations

import csv
from pathlib import Path
from typing import Callable

import pytest

import batches

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def graded(graded_course: Callable[[str], Path]) -> dict[str, dict[str, str]]:
    """grades.csv of the shared unet batch, which holds the cheats of ``batches.CHEATS`` and the honest answer
    (``demo-correct``: the solution as it is)."""
    with open(graded_course("unet") / "grades.csv", newline="") as fh:
        rows = {row["student_id"]: row for row in csv.DictReader(fh)}
    assert set(batches.CHEATS) <= set(rows), sorted(rows)
    return rows


def test_the_honest_answer_keeps_full_marks(graded: dict[str, dict[str, str]]) -> None:
    assert graded["demo-correct"]["status"] == "graded" and float(graded["demo-correct"]["score"]) == 30


@pytest.mark.parametrize("student", ["silence", "forge", "lie"])
def test_a_cheat_earns_nothing_for_its_exercise(graded: dict[str, dict[str, str]], student: str) -> None:
    row = graded[student]
    assert float(row["test_conv_block"]) == 0 and float(row["test_conv_block_hidden"]) == 0, row
    if student != "lie":  # lying about every Conv2D also spoils the other exercises' descriptions
        assert float(row["test_upsampling_block"]) == 4 and float(row["test_unet_model"]) == 4, row


def test_silenced_checks_are_named_in_the_reason(graded: dict[str, dict[str, str]]) -> None:
    assert "test_conv_block: no evidence" in graded["silence"]["reason"]
    assert "test_conv_block_hidden: no evidence" in graded["silence"]["reason"]

"""Answers that try to silence or fool the checks get no points for the exercise they target.

Each cheat hides a wrong ``conv_block`` (the second convolution has no activation) behind code in the
answer cell that runs in the student's kernel before the checks. The verdict is decided by the judge,
outside that kernel, so none of them earns the exercise; the honest answer keeps full marks.
"""
from __future__ import annotations

import csv
from pathlib import Path

import nbformat
import pytest

from autograder.course.directory import Course
from autograder.course import scratch
from autograder.instructor import examples, release
from autograder.host import grade

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[3]
NOTEBOOK = "Image_segmentation_Unet.ipynb"
WRONG = ('features = Conv2D(n_filters, 3, padding="same", activation="relu", kernel_initializer="he_normal")(features)',
         'features = Conv2D(n_filters, 3, padding="same", kernel_initializer="he_normal")(features)')

# Rewrites every later cell that checks conv_block into a line that prints success (an IPython input transformer).
SILENCE = '''

def _silence(lines):
    text = "".join(lines)
    if 'check(exercise, conv_block' in text or 'record(_exercise, conv_block' in text:
        return ['print("All tests passed!")\\n']
    return lines


get_ipython().input_transformers_cleanup.append(_silence)
'''

# Silences the seed-format comparison and replaces the structural check by evidence copied from the public
# cell's expected data, labelled with this very grading run's challenge.
FORGE = '''

comparator = lambda *args, **kwargs: None

def _forge(lines):
    text = "".join(lines)
    if "check(exercise, conv_block" in text:
        return [text.replace('check(exercise, conv_block, expected_structure, summaries=expected_summaries)', _FORGED)]
    return lines


_FORGED = """
import os
from IPython.display import display
from test_utils import exercises
_seed = int(os.environ.get("UNET_COURSE_CHALLENGE", "0"))
_cases = exercise["public"] + [exercises.challenge_case(exercise, "public", _seed)]
_descriptions = expected_structure + [expected_structure[0]]
display({"application/vnd.unet-course.evidence+json": {
    "schema": 1, "exercise": "conv_block", "part": "public", "challenge": _seed,
    "signature": [["inputs", "None"], ["n_filters", "32"], ["dropout_prob", "0"], ["max_pooling", "True"]],
    "cases": [{"case": c, "description": d} for c, d in zip(_cases, _descriptions)]}}, raw=True)
print("All tests passed!")
"""
get_ipython().input_transformers_cleanup.append(_forge)
'''

# Makes Keras describe the missing activation as ReLU: descriptions match, the computed outputs do not.
LIE = '''

import keras as _keras

_original_config = _keras.layers.Conv2D.get_config


def _lying_config(self):
    config = _original_config(self)
    config["activation"] = "relu"
    return config


_keras.layers.Conv2D.get_config = _lying_config
'''


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, str]]:
    root = tmp_path_factory.mktemp("cheats") / "course"
    scratch.build(root, origin=REPO, assignment="unet", source="all")
    release.run(root=root, assignments=["unet"], verify=False)
    answers = examples.answer_sources(root / "source/unet" / NOTEBOOK)
    students = {"honest": "", "silence": SILENCE, "forge": FORGE, "lie": LIE}
    for student, extra in students.items():
        edits = {"conv_block": [WRONG, ("return next_layer, skip_connection",
                                        "return next_layer, skip_connection\n" + extra)]} if extra else {}
        nb = examples.build_submission(examples.Example(student, student, edits=edits),
                                       root / "release/unet" / NOTEBOOK, answers)
        target = root / "submitted" / student / "unet" / NOTEBOOK
        target.parent.mkdir(parents=True)
        nbformat.write(nb, target)
    grade.run(course=Course.open(root), assignment="unet", jobs=2, progress=False, quiet=True)
    with open(root / "grades.csv", newline="") as fh:
        return {row["student_id"]: row for row in csv.DictReader(fh)}


def test_the_honest_answer_keeps_full_marks(graded: dict[str, dict[str, str]]) -> None:
    assert graded["honest"]["status"] == "graded" and float(graded["honest"]["score"]) == 30


@pytest.mark.parametrize("student", ["silence", "forge", "lie"])
def test_a_cheat_earns_nothing_for_its_exercise(graded: dict[str, dict[str, str]], student: str) -> None:
    row = graded[student]
    assert float(row["test_conv_block"]) == 0 and float(row["test_conv_block_hidden"]) == 0, row
    if student != "lie":  # lying about every Conv2D also spoils the other exercises' descriptions
        assert float(row["test_upsampling_block"]) == 4 and float(row["test_unet_model"]) == 4, row


def test_silenced_checks_are_named_in_the_reason(graded: dict[str, dict[str, str]]) -> None:
    assert "test_conv_block: no evidence" in graded["silence"]["reason"]
    assert "test_conv_block_hidden: no evidence" in graded["silence"]["reason"]

"""Example submissions of the assignments: the demo grades them and the tests check their scores.

Each example is the *released* notebook with the answer cells filled in from the instructor's solution in
``source/``, optionally changed by a few text edits that reproduce a mistake students really make. An edit
that no longer matches the solution raises, so an example can never silently turn into a copy of the
solution when the notebook changes.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

__all__ = ["ASSIGNMENTS", "Example", "UNET_EXAMPLES", "VARIANTS_EXAMPLES", "answer_sources", "build_submission",
           "write_examples"]

_SOLUTION_MARKERS = re.compile(r"^[ \t]*### (BEGIN|END) SOLUTION[ \t]*\n", re.MULTILINE)


@dataclass(frozen=True)
class Example:
    """One made-up student: which answers to fill in, how to break them, and the expected outcome."""

    student: str
    description: str
    # grade_id -> list of (old, new) text replacements applied to the solution of that answer cell
    edits: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    # grade_ids left exactly as released (the stub that raises NotImplementedError)
    untouched: tuple[str, ...] = ()
    # grade_id of every test cell -> points expected
    expected: dict[str, float] = field(default_factory=dict)


def _points(**exercises: tuple[float, float]) -> dict[str, float]:
    """Expected points per test cell from (public, hidden) points per exercise."""
    cells: dict[str, float] = {}
    for exercise, (public, hidden) in exercises.items():
        cells[f"test_{exercise}"] = public
        cells[f"test_{exercise}_hidden"] = hidden
    return cells


_FULL = (4.0, 6.0)
_NONE = (0.0, 0.0)


def _unet(conv: tuple[float, float], up: tuple[float, float], unet: tuple[float, float]) -> dict[str, float]:
    return _points(conv_block=conv, upsampling_block=up, unet_model=unet)


def _variants(iou: tuple[float, float], upc: tuple[float, float], bn: tuple[float, float]) -> dict[str, float]:
    return _points(mean_iou=iou, upsample_conv_block=upc, bn_conv_block=bn)


UNET_EXAMPLES: tuple[Example, ...] = (
    Example("demo-correct", "the instructor's solution", expected=_unet(_FULL, _FULL, _FULL)),
    Example(
        "demo-alternative", "correct, written differently (keywords, strides=2, a Concatenate layer)",
        edits={
            "conv_block": [('MaxPooling2D(pool_size=(2, 2))(features)', 'MaxPooling2D(2, strides=2)(features)'),
                           ('Conv2D(n_filters, 3, padding="same", activation="relu", kernel_initializer="he_normal")(inputs)',
                            'Conv2D(filters=n_filters, kernel_size=(3, 3), activation="relu", padding="same",\n'
                            '                      kernel_initializer="he_normal")(inputs)')],
            "upsampling_block": [("concatenate([up, contractive_input], axis=3)",
                                  "tf.keras.layers.Concatenate(axis=-1)([up, contractive_input])")],
            "unet_model": [("conv_block(enc3[0], n_filters * 8, dropout_prob=0.3)",
                            "conv_block(inputs=enc3[0], n_filters=8 * n_filters, dropout_prob=0.3, max_pooling=True)")],
        },
        expected=_unet(_FULL, _FULL, _FULL)),
    Example(
        "demo-mistake-conv", "Exercise 1: the second convolution has no activation",
        edits={"conv_block": [(
            'features = Conv2D(n_filters, 3, padding="same", activation="relu", kernel_initializer="he_normal")(features)',
            'features = Conv2D(n_filters, 3, padding="same", kernel_initializer="he_normal")(features)')]},
        expected=_unet(_NONE, _FULL, _FULL)),
    Example(
        "demo-mistake-upsampling", "Exercise 2: skip connection concatenated first ([skip, up])",
        edits={"upsampling_block": [("concatenate([up, contractive_input], axis=3)",
                                     "concatenate([contractive_input, up], axis=3)")]},
        expected=_unet(_FULL, _NONE, _FULL)),
    Example(
        "demo-mistake-unet", "Exercise 3: no dropout in the fourth encoder step",
        edits={"unet_model": [("conv_block(enc3[0], n_filters * 8, dropout_prob=0.3)",
                               "conv_block(enc3[0], n_filters * 8)")]},
        expected=_unet(_FULL, _FULL, _NONE)),
    Example("demo-untouched", "the released notebook, handed in without changes",
            untouched=("conv_block", "upsampling_block", "unet_model"), expected=_unet(_NONE, _NONE, _NONE)),
)

VARIANTS_EXAMPLES: tuple[Example, ...] = (
    Example("demo-correct", "the instructor's solution", expected=_variants(_FULL, _FULL, _FULL)),
    Example(
        "demo-mistake-iou", "Exercise 1: averages over every class, also those that never occur",
        edits={"mean_iou": [(
            "        seen = union > 0\n        iou = tf.boolean_mask(intersection, seen) / tf.boolean_mask(union, seen)\n",
            "        iou = intersection / tf.maximum(union, 1.0)\n")]},
        expected=_variants(_NONE, _FULL, _FULL)),
    Example(
        "demo-mistake-upsample", "Exercise 2: a transposed convolution instead of UpSampling2D",
        edits={"upsample_conv_block": [("up = UpSampling2D(size=(2, 2))(expansive_input)",
                                        'up = Conv2DTranspose(n_filters, 3, strides=2, padding="same")(expansive_input)')]},
        expected=_variants(_FULL, _NONE, _FULL)),
    Example(
        "demo-mistake-batchnorm", "Exercise 3: LeakyReLU left at its default slope",
        edits={"bn_conv_block": [("features = LeakyReLU(negative_slope=0.1)(features)",
                                  "features = LeakyReLU()(features)")]},
        expected=_variants(_FULL, _FULL, _NONE)),
    Example("demo-untouched", "the released notebook, handed in without changes",
            untouched=("mean_iou", "upsample_conv_block", "bn_conv_block"), expected=_variants(_NONE, _NONE, _NONE)),
)

# assignment -> (notebook file name, its examples)
ASSIGNMENTS: dict[str, tuple[str, tuple[Example, ...]]] = {
    "unet": ("Image_segmentation_Unet.ipynb", UNET_EXAMPLES),
    "unet_variants": ("Unet_Variants.ipynb", VARIANTS_EXAMPLES),
}


def _grade_id(cell: nbformat.NotebookNode) -> str | None:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def answer_sources(source_notebook: Path) -> dict[str, str]:
    """The instructor's answer code of every solution cell, keyed by grade_id, with the markers removed."""
    nb = nbformat.read(source_notebook, as_version=4)
    return {_grade_id(cell): _SOLUTION_MARKERS.sub("", cell.source) for cell in nb.cells
            if cell.get("metadata", {}).get("nbgrader", {}).get("solution")}


def build_submission(example: Example, released: Path, answers: dict[str, str]) -> nbformat.NotebookNode:
    """The released notebook with ``example``'s answers filled in."""
    nb = nbformat.read(released, as_version=4)
    for cell in nb.cells:
        grade_id = _grade_id(cell)
        if grade_id not in answers or grade_id in example.untouched:
            continue
        code = answers[grade_id]
        for old, new in example.edits.get(grade_id, []):
            if old not in code:
                raise ValueError(f"example {example.student}: {old!r} is not in the solution of {grade_id}; "
                                 "update autograder/instructor/examples.py to the current notebook")
            code = code.replace(old, new)
        cell.source = code
    return nb


def write_examples(*, root: Path, assignment: str = "unet") -> list[Path]:
    """Write every example of ``assignment`` into ``root/submitted/<student>/<assignment>/``; return the paths."""
    notebook, examples = ASSIGNMENTS[assignment]
    answers = answer_sources(root / "source" / assignment / notebook)
    released = root / "release" / assignment / notebook
    written = []
    for example in examples:
        target = root / "submitted" / example.student / assignment / notebook
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(build_submission(example, released, answers), target)
        written.append(target)
    return written

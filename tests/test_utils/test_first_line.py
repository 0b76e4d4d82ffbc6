"""The first line a student reads names the mistake, and the public check and the grader say the same sentence.

Each case runs the lesson's real public check cell (as the instructor's notebook holds it) on the instructor's
solutions with one edit, then the grader's judge on the hidden check's evidence for the same answer.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
from pathlib import Path
from typing import Any

import nbformat
import pytest

from test_utils import evidence, strip_ansi

from autograder.course import exercise_book
from autograder.course.explanations import explain, leading_sentence
from autograder.instructor.mistakes import normalise
from autograder.run.judge import verdict

#: Keras 2 (tf-keras) under TF_USE_LEGACY_KERAS=1, as this folder's conftest reads it
LEGACY = os.environ.get("TF_USE_LEGACY_KERAS", "").lower() in ("1", "true", "yes")
REPO = Path(__file__).resolve().parents[2]
SOURCE = {"unet": REPO / "source" / "unet" / "Image_segmentation_Unet.ipynb",
          "unet_variants": REPO / "source" / "unet_variants" / "Unet_Variants.ipynb",
          "unet_attention": REPO / "source" / "unet_attention" / "Attention_Gate.ipynb"}
SEED = 31


def _answer(assignment: str, exercise: str, old: str, new: str) -> tuple[dict[str, Any], Any]:
    """The notebook's namespace with every solution run, ``exercise``'s edited, and the check cells by grade_id."""
    book = exercise_book.read(SOURCE[assignment])
    namespace: dict[str, Any] = {}
    with contextlib.redirect_stdout(io.StringIO()):
        exec(book.setup, namespace)  # noqa: S102 - the kit's own notebook
        for entry in book.entries:
            code = entry.solution
            if entry.name == exercise:
                assert old in code, f"{old!r} is not in the solution of {exercise}"
                code = code.replace(old, new)
            exec(code, namespace)  # noqa: S102
    cells = {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in nbformat.read(book.path, as_version=4).cells}
    return namespace, cells


def _public_first(namespace: dict[str, Any], cells: Any, exercise: str) -> str:
    with contextlib.redirect_stdout(io.StringIO()), pytest.raises(AssertionError) as failure:
        exec(cells[f"test_{exercise}"].source, namespace)  # noqa: S102
    return strip_ansi(explain(f"test_{exercise}", {"ename": "AssertionError", "evalue": str(failure.value)}).first)


def _judge_reason(assignment: str, namespace: dict[str, Any], exercise: str) -> str:
    cache = verdict.ReferenceCache(exercise_book.load_bundles(REPO, assignment))
    notebook = SOURCE[assignment].stem
    spec = cache.references(notebook).specs[exercise]
    with contextlib.redirect_stdout(io.StringIO()):
        payload = json.loads(json.dumps(evidence.collect(spec, namespace[spec.function], "hidden", SEED)))
    found = verdict.judge_cell(notebook, f"test_{exercise}_hidden", [payload], SEED, cache)
    assert found is not None and not found.ok
    return found.reason


@pytest.mark.parametrize("assignment, exercise, old, new, sentence", [
    # a setting: named, not the parameter count it changes
    ("unet", "conv_block",
     'features = Conv2D(n_filters, 3, padding="same", activation="relu", kernel_initializer="he_normal")(inputs)',
     'features = Conv2D(n_filters, 3, padding="same", activation="relu", kernel_initializer="he_normal", '
     'use_bias=False)(inputs)',
     "layer 2 (Conv2D): use_bias is False, expected True (Keras's default)"),
    # two settings of one layer: both, not the output shapes they change
    ("unet", "conv_block", "MaxPooling2D(pool_size=(2, 2))(features)",
     'MaxPooling2D(pool_size=(2, 2), strides=1, padding="same")(features)',
     "(MaxPooling2D): padding is 'same', expected 'valid' (Keras's default); strides is (1, 1), expected (2, 2) "
     "(Keras's default: the pool size)"),
    # the demo's own upsampling mistake: one sentence about the order, not a cascade of wrong classes
    ("unet", "upsampling_block", "concatenate([up, contractive_input], axis=3)",
     "concatenate([contractive_input, up], axis=3)",
     "(Concatenate) takes layer 2 (InputLayer), layer 3 (Conv2DTranspose), in that order; expected layer 3 "
     "(Conv2DTranspose), layer 2 (InputLayer): the same tensors, in another order"),
    # a layer left out: what is missing and where, not the layers that then differ
    ("unet", "conv_block", "features = Dropout(dropout_prob)(features)", "pass",
     "A Dropout layer is missing after layer 3 (Conv2D)"),
    # a block call of unet_model: the public check's wiring sentence, and the grader's the same
    ("unet", "unet_model", "enc3 = conv_block(enc2[0], n_filters * 4)", "enc3 = conv_block(enc2[0], n_filters * 2)",
     "conv_block call 3: n_filters is 64, expected 128"),
    # a missing layer's line gives Keras's defaults by value where they say what the layer does
    ("unet", "conv_block", "MaxPooling2D(pool_size=(2, 2))(features) if max_pooling", "features if max_pooling",
     "A MaxPooling2D layer is missing after layer 3 (Conv2D): expected MaxPooling2D with {'pool_size': (2, 2), "
     "'strides': (2, 2)}"),
    # a layer of another class in a layer's place: the substitute it is, not "missing" plus "extra"
    ("unet", "conv_block", "MaxPooling2D(pool_size=(2, 2))(features)",
     "tf.keras.layers.AveragePooling2D(pool_size=(2, 2))(features)",
     "layer 4 is an AveragePooling2D layer, expected a MaxPooling2D layer"),
    # a layer applied twice inside a repeated Conv-BN-activation pattern: the extra one, not "the next is missing"
    ("unet_attention", "residual_block", "main = BatchNormalization()(x)",
     "main = BatchNormalization()(BatchNormalization()(x))", "(BatchNormalization) is extra"),
    ("unet_attention", "residual_block", 'x = Activation("relu")(x)', 'x = Activation("relu")(Activation("relu")(x))',
     "(Activation) is extra"),
    pytest.param("unet_variants", "bn_conv_block", "features = BatchNormalization()(features)",
                 "features = BatchNormalization()(BatchNormalization()(features))", "(BatchNormalization) is extra",
                 marks=pytest.mark.skipif(LEGACY, reason="the lesson's LeakyReLU(negative_slope=...) is Keras 3's")),
])
def test_the_first_line_names_the_mistake_and_the_grader_agrees(assignment: str, exercise: str, old: str, new: str,
                                                                 sentence: str) -> None:
    namespace, cells = _answer(assignment, exercise, old, new)
    public = _public_first(namespace, cells, exercise)
    assert sentence in public, public
    assert "parameters" not in public and "output shape" not in public, public
    hidden = _judge_reason(assignment, namespace, exercise)
    # the same sentence, up to the values of the case it was seen in (what the mistakes report groups by)
    assert normalise(leading_sentence(hidden)) == normalise(leading_sentence(public)), (hidden, public)


@pytest.mark.parametrize("old, new, words", [
    ("seen = union > 0\n        iou = tf.boolean_mask(intersection, seen) / tf.boolean_mask(union, seen)",
     "iou = intersection / tf.maximum(union, 1.0)", "averages over every class"),
    ("self.confusion.assign(tf.zeros_like(self.confusion))", "pass", "after reset_state the metric still counts earlier"),
    ("tf.argmax(y_pred, axis=-1, output_type=tf.int32)", "tf.cast(y_pred, tf.int32)", "argmax"),
    ("self.confusion.assign_add(batch)", "self.confusion.assign(batch)", "only the latest batch"),
])
def test_a_metric_mistake_is_named_from_the_values_it_streams(old: str, new: str, words: str) -> None:
    namespace, cells = _answer("unet_variants", "mean_iou", old, new)
    public = _public_first(namespace, cells, "mean_iou")
    assert words in public, public
    hidden = _judge_reason("unet_variants", namespace, "mean_iou")
    assert words in hidden, hidden


def test_an_answer_that_cannot_be_built_gets_its_cause_then_the_error() -> None:
    """The transposed convolution does not upsample: the concatenation then fails; the line names the stride."""
    namespace, cells = _answer("unet", "upsampling_block", "strides=2", "strides=1")
    public = _public_first(namespace, cells, "upsampling_block")
    assert "(Conv2DTranspose): strides is left at Keras's default (1, 1), expected (2, 2)" in public, public
    with contextlib.redirect_stdout(io.StringIO()), pytest.raises(AssertionError) as failure:
        exec(cells["test_upsampling_block"].source, namespace)  # noqa: S102
    lines = strip_ansi(str(failure.value)).splitlines()
    assert any("upsampling_block failed: ValueError" in line for line in lines), lines  # then the error itself


@pytest.mark.parametrize("exercise, old, new", [
    ("attention_gate", "Add()([theta, phi])", "Add()([phi, theta])"),
    ("attention_gate", "Multiply()([skip, coefficients])", "Multiply()([coefficients, skip])"),
    ("residual_block", "Add()([main, shortcut])", "Add()([shortcut, main])"),
])
def test_a_commutative_merge_in_the_other_order_passes_the_public_check_and_the_grader(exercise: str, old: str,
                                                                                        new: str) -> None:
    """The same function with the same weights: the real public check cell passes and the judge gives full marks."""
    namespace, cells = _answer("unet_attention", exercise, old, new)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(cells[f"test_{exercise}"].source, namespace)  # noqa: S102
    assert "All tests passed!" in out.getvalue()
    cache = verdict.ReferenceCache(exercise_book.load_bundles(REPO, "unet_attention"))
    spec = cache.references("Attention_Gate").specs[exercise]
    with contextlib.redirect_stdout(io.StringIO()):
        payload = json.loads(json.dumps(evidence.collect(spec, namespace[spec.function], "hidden", SEED)))
    found = verdict.judge_cell("Attention_Gate", f"test_{exercise}_hidden", [payload], SEED, cache)
    assert found is not None and found.ok, found


@pytest.mark.parametrize("assignment, exercise", [("unet", "upsampling_block"), ("unet_variants", "upsample_conv_block")])
def test_a_hard_coded_width_fails_the_public_check(assignment: str, exercise: str) -> None:
    """The decoder blocks' public checks include a case at n_filters=12: writing 32 for n_filters fails there."""
    namespace, cells = _answer(assignment, exercise, "(n_filters, 3", "(32, 3")
    public = _public_first(namespace, cells, exercise)
    assert "filters is 32, expected 12" in public and "n_filters=12" in public, public

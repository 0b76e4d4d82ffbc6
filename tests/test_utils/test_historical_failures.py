"""Each way the widely copied helpers failed, shown on a small stand-in for them, and fixed here.

``_old_summary`` and ``_old_comparator`` re-state (in a few lines, for contrast) what those
helpers did: read ``layer.output_shape``, describe only exact ``Conv2D`` layers, pair layers
with ``zip()``, and in one variant print "Test failed" without raising.
"""
from __future__ import annotations

from typing import Any

import pytest

from test_utils import comparator, describe, differences, strip_ansi, summary


def _old_summary(model: Any) -> list[list[Any]]:
    rows = []
    for layer in model.layers:
        row = [type(layer).__name__, layer.output_shape, layer.count_params()]
        if type(layer).__name__ == "Conv2D":
            row += [layer.padding, layer.activation.__name__, type(layer.kernel_initializer).__name__]
        rows.append(row)
    return rows


def _old_comparator(learner: list, instructor: list) -> None:
    for got, want in zip(learner, instructor):
        if tuple(got) != tuple(want):
            print("Test failed")
            return
    print("All tests passed!")


def test_keras3_layers_have_no_output_shape_but_summary_works(block_model, legacy) -> None:
    model = block_model((8, 8, 3), 4)
    if not legacy:
        with pytest.raises(AttributeError):
            _old_summary(model)
    assert [row[0] for row in summary(model)] == ["InputLayer", "Conv2D", "Conv2D", "MaxPooling2D"]


def test_model_missing_its_last_layer_fails(block_model, capsys) -> None:
    expected = summary(block_model((8, 8, 3), 4))
    short = summary(block_model((8, 8, 3), 4, max_pooling=False))
    _old_comparator(short, expected)
    assert capsys.readouterr().out == "All tests passed!\n"  # zip() stopped at the shorter list
    with pytest.raises(AssertionError) as failure:
        comparator(short, expected)
    message = str(failure.value)
    assert "it has 3 layers, expected 4" in message
    assert "missing a MaxPooling2D layer after layer 3 (Conv2D)" in message
    assert "All tests passed!" not in capsys.readouterr().out


def test_model_with_an_extra_layer_fails(block_model) -> None:
    expected = summary(block_model((8, 8, 3), 4))
    longer = summary(block_model((8, 8, 3), 4, dropout_prob=0.2))
    with pytest.raises(AssertionError) as failure:
        comparator(longer, expected)
    assert "layer 4 (Dropout) is extra" in str(failure.value)


def test_failure_raises_instead_of_only_printing(block_model, layers, capsys) -> None:
    expected = summary(block_model((8, 8, 3), 4))

    def linear_block(inputs, n_filters=4, dropout_prob=0, max_pooling=True):
        conv = layers.Conv2D(n_filters, 3, activation="relu", padding="same", kernel_initializer="he_normal")(inputs)
        conv = layers.Conv2D(n_filters, 3, padding="same", kernel_initializer="he_normal")(conv)
        return layers.MaxPooling2D(2)(conv), conv

    wrong = summary(block_model((8, 8, 3), 4, block=linear_block))
    _old_comparator(wrong, expected)
    assert capsys.readouterr().out == "Test failed\n"  # ... and the cell still "passed"
    with pytest.raises(AssertionError) as failure:
        comparator(wrong, expected)
    assert "layer 3 (Conv2D): activation is 'linear', expected 'relu' — did you pass activation='relu'?" \
        in str(failure.value)
    assert capsys.readouterr().out == ""


def test_wrong_conv2d_transpose_activation_is_caught(upsampling_model) -> None:
    right, wrong = upsampling_model(), upsampling_model(up_activation="relu")
    assert summary(wrong) == summary(right)  # the summary format has no Conv2DTranspose details ...
    problems = [strip_ansi(p) for p in differences(describe(wrong), describe(right))]  # ... the description has
    assert len(problems) == 1, problems
    assert problems[0].startswith("layer 2 (Conv2DTranspose): activation is 'relu', expected"), problems


def test_reversed_concatenation_is_caught(upsampling_model) -> None:
    wrong = upsampling_model(order="skip_first")
    with pytest.raises(AssertionError) as failure:
        comparator(summary(wrong), summary(upsampling_model()))
    assert "in a different order" in str(failure.value)
    (problem,) = [strip_ansi(p) for p in differences(describe(wrong), describe(upsampling_model()))]
    assert "(Concatenate) takes" in problem and "the same tensors, in another order" in problem, problem

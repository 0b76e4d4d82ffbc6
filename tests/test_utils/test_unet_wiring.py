"""test_utils.unet_wiring: the public check of unet_model, which swaps the student's blocks for stand-ins."""
from __future__ import annotations

import pytest

from test_utils.unet_wiring import check_unet_wiring, expected_calls, swapped_globals, trace_unet

SIZE, FILTERS, CLASSES = (32, 32, 3), 2, 5


def conv_block(inputs=None, n_filters=32, dropout_prob=0, max_pooling=True):  # never run: swapped out
    raise RuntimeError("the student's conv_block must not run inside trace_unet")


def upsampling_block(expansive_input, contractive_input, n_filters=32):  # never run: swapped out
    raise RuntimeError("the student's upsampling_block must not run inside trace_unet")


def make_unet(drop4=0.3, pool5=False, skips=(4, 3, 2, 1), last_activation=None, pass_tuple=False):
    """A unet_model with knobs for the mistakes students make."""
    def unet_model(input_size=(96, 128, 3), n_filters=32, n_classes=23):
        import tensorflow as tf  # when a test builds it, not when pytest collects this file

        L = tf.keras.layers
        inputs = L.Input(input_size)
        e1 = conv_block(inputs, n_filters)
        e2 = conv_block(e1[0], n_filters * 2)
        e3 = conv_block(e2[0], n_filters * 4)
        e4 = conv_block(e3[0], n_filters * 8, dropout_prob=drop4)
        b = conv_block(e4 if pass_tuple else e4[0], n_filters * 16, dropout_prob=0.3, max_pooling=pool5)
        enc = {1: e1, 2: e2, 3: e3, 4: e4}
        x = b[0]
        for mult, level in zip([8, 4, 2, 1], skips):
            x = upsampling_block(x, enc[level][1], n_filters * mult)
        x = L.Conv2D(n_filters, 3, padding="same", activation="relu", kernel_initializer="he_normal")(x)
        return tf.keras.Model(inputs, L.Conv2D(n_classes, 1, padding="same", activation=last_activation)(x))
    return unet_model


def _want() -> dict:
    """The calls of the reference wiring, as the release records them from the solution."""
    return expected_calls(trace_unet(make_unet(), SIZE, FILTERS, CLASSES))


def test_correct_wiring_passes_without_running_the_students_blocks(capsys: pytest.CaptureFixture[str]) -> None:
    trace = trace_unet(make_unet(), SIZE, FILTERS, CLASSES)
    check_unet_wiring(trace, _want(), FILTERS, CLASSES)
    assert "The block calls match the table" in capsys.readouterr().out
    assert [c["n_filters"] for c in trace.conv_calls] == [2, 4, 8, 16, 32]
    assert trace.up_calls[0]["contractive_input"] == "the skip_connection of conv_block call 4"
    # The student's functions are back in place afterwards.
    assert globals()["conv_block"].__name__ == "conv_block"


@pytest.mark.parametrize("unet, message", [
    (make_unet(drop4=0), "conv_block call 4: dropout_prob is 0, expected 0.3"),
    (make_unet(pool5=True), "conv_block call 5: max_pooling is True, expected False"),
    (make_unet(skips=(3, 4, 2, 1)), "upsampling_block call"),
])
def test_each_wiring_mistake_is_named(unet, message: str) -> None:
    with pytest.raises(AssertionError, match=message):
        check_unet_wiring(trace_unet(unet, SIZE, FILTERS, CLASSES, expected=_want()), _want(), FILTERS, CLASSES)


def test_the_layers_after_the_blocks_are_left_to_the_structure_check() -> None:
    """The head is compared with the rest of the model (one explanation for it, cause first), not hard-coded here."""
    from test_utils import structure

    wrong = trace_unet(make_unet(last_activation="softmax"), SIZE, FILTERS, CLASSES)
    check_unet_wiring(wrong, _want(), FILTERS, CLASSES)  # the block calls are right
    right = trace_unet(make_unet(), SIZE, FILTERS, CLASSES)
    problems = structure.differences(structure.describe(wrong.model), structure.describe(right.model))
    assert problems and "activation is 'softmax', expected none" in problems[0], problems


def test_passing_both_outputs_of_a_block_is_explained() -> None:
    with pytest.raises(AssertionError, match="conv_block call 5: inputs is a tuple of 2 tensors"):
        trace_unet(make_unet(pass_tuple=True), SIZE, FILTERS, CLASSES)


def test_swapped_globals_restores_and_removes_names() -> None:
    def probe():
        return brand_new_name  # noqa: F821 - provided by swapped_globals

    with swapped_globals(probe, brand_new_name=42, conv_block="stand-in"):
        assert probe() == 42
        assert globals()["conv_block"] == "stand-in"
    assert "brand_new_name" not in globals()
    assert callable(globals()["conv_block"])
    with pytest.raises(TypeError, match="expected a Python function"):
        with swapped_globals(print, x=1):
            pass

"""Anything that is not a built Keras model gets a clear TypeError, never a Keras traceback."""
from __future__ import annotations

import traceback

import pytest

from test_utils import describe, summary


def _no_keras_frames(error: BaseException) -> None:
    """The error has no chained cause and no frame inside Keras."""
    assert error.__cause__ is None and (error.__context__ is None or error.__suppress_context__)
    frames = traceback.extract_tb(error.__traceback__)
    assert not any("/keras/" in frame.filename or "/tf_keras/" in frame.filename for frame in frames)


@pytest.mark.parametrize(("make", "text"), [
    (lambda k: None, "summary() expects a Keras model, got None. Did the function that builds it forget to "
                     "`return` the model?"),
    (lambda k: k.Input((4, 4, 3)), "got a Keras tensor of shape (None, 4, 4, 3). A block returns tensors, not a "
                                   "model: wrap them first, e.g. tf.keras.Model(inputs=inputs, outputs="),
    (lambda k: (k.Input((4, 4, 3)), k.Input((4, 4, 3))), "got a tuple of 2 Keras tensors. A block returns tensors"),
    (lambda k: k.layers.Conv2D(2, 3), "got a Keras Conv2D layer. A single layer is not a model"),
    (lambda k: [["Conv2D", (None, 4), 3]], "got a list of 1 item."),
    (lambda k: 3, "got an int."),
])
def test_not_a_model(keras, make, text) -> None:
    with pytest.raises(TypeError) as failure:
        summary(make(keras))
    assert text in str(failure.value)
    _no_keras_frames(failure.value)


def test_model_that_was_never_built(keras, layers) -> None:
    model = keras.Sequential([layers.Conv2D(2, 3), layers.Flatten()])
    with pytest.raises(TypeError) as failure:
        summary(model)
    message = str(failure.value)
    assert message.startswith("summary() needs a model whose layers are connected to an input, but layer '")
    assert "has never been called on an input. Build the model from tf.keras.Input(shape=...)" in message
    _no_keras_frames(failure.value)


def test_subclassed_model_without_layers(keras) -> None:
    class Empty(keras.Model):
        def call(self, inputs):
            return inputs

    with pytest.raises(TypeError, match="got a model with no layers"):
        summary(Empty())


def test_describe_rejects_a_tensor_too(keras) -> None:
    with pytest.raises(TypeError, match="expects a Keras model, got a Keras tensor"):
        describe(keras.Input((4, 4, 3)))

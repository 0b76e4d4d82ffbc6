"""``summary(model)``: one list per layer, in the format the course's expected lists use.

Format of one entry: ``[class_name, output_shape, param_count, *details]``.

* ``output_shape`` is a tuple such as ``(None, 96, 128, 32)``. For an ``InputLayer`` it is a
  list holding one tuple, ``[(None, 96, 128, 3)]`` (what Keras 2 printed, kept so that existing
  expected lists keep working). A layer with several output tensors gives a list of tuples.
* ``details`` exist for exactly three classes, as in the established format:

  - ``Conv2D``: padding, activation name, kernel initializer class name,
    e.g. ``'same', 'relu', 'HeNormal'``;
  - ``MaxPooling2D``: pool size, e.g. ``(2, 2)``;
  - ``Dropout``: rate, e.g. ``0.1``.

  Every other layer, ``Conv2DTranspose`` and ``Concatenate`` included, has no details. This is
  deliberate: adding fields would break every expected list written so far. A
  ``Conv2DTranspose`` is still pinned by its output shape and parameter count (which
  catch a wrong ``filters``, ``kernel_size``, ``strides`` or ``padding`` in most cases); its
  settings, and the order of a merge's inputs, are compared by :mod:`test_utils.structure`.
"""
from __future__ import annotations

from typing import Any

from . import _keras

__all__ = ["summary", "activation_name", "initializer_name"]


def activation_name(activation: Any) -> str:
    """The name of a Keras activation: ``'relu'`` for ``keras.activations.relu``, and so on."""
    if activation is None:
        return "linear"
    name = getattr(activation, "__name__", None)
    return name if isinstance(name, str) else type(activation).__name__


def initializer_name(initializer: Any) -> str:
    """The class name of a Keras initializer object, e.g. ``'HeNormal'``."""
    return type(initializer).__name__


def _details(layer: Any) -> list[Any]:
    kind = type(layer).__name__
    if kind == "Conv2D":
        return [layer.padding, activation_name(layer.activation), initializer_name(layer.kernel_initializer)]
    if kind == "MaxPooling2D":
        return [tuple(int(size) for size in layer.pool_size)]
    if kind == "Dropout":
        return [float(layer.rate)]
    return []


def _shape_field(layer: Any) -> Any:
    shapes = _keras.layer_output_shapes(layer)
    if type(layer).__name__ == "InputLayer" or len(shapes) != 1:
        return shapes
    return shapes[0]


def _param_count(layer: Any) -> int:
    try:
        return int(layer.count_params())
    except ValueError as error:  # Keras raises ValueError for a layer that was never built
        raise ValueError(f"layer {layer.name!r} has no weights yet") from error


def require_model(model: Any, caller: str) -> None:
    """Raise a student-readable ``TypeError`` unless ``model`` is a Keras model."""
    if _keras.is_keras_model(model):
        return
    got = _keras.describe(model)
    if model is None:
        hint = "Did the function that builds it forget to `return` the model?"
    elif _keras.is_symbolic_tensor(model) or isinstance(model, (tuple, list)):
        hint = ("A block returns tensors, not a model: wrap them first, e.g. "
                "tf.keras.Model(inputs=inputs, outputs=conv_block(inputs, 32)).")
    elif _keras.is_keras_layer(model):
        hint = "A single layer is not a model: build one with tf.keras.Model(inputs=..., outputs=...)."
    else:
        hint = "Build one with tf.keras.Model(inputs=..., outputs=...)."
    raise TypeError(f"{caller} expects a Keras model, got {got}. {hint}")


def summary(model: Any) -> list[list[Any]]:
    """Describe ``model`` layer by layer as ``[class_name, output_shape, param_count, *details]``.

    Works for models built with Keras 3 or with Keras 2 (``tf-keras``). Raises ``TypeError``
    with an explanation when ``model`` is not a Keras model (a tensor, a tuple of tensors,
    ``None``, a layer) or when its layers were never connected to an input.

    >>> summary(model)[1]                                   # doctest: +SKIP
    ['Conv2D', (None, 96, 128, 32), 896, 'same', 'relu', 'HeNormal']
    """
    require_model(model, "summary()")
    result = []
    for layer in _keras.model_layers(model):
        try:
            entry = [type(layer).__name__, _shape_field(layer), _param_count(layer), *_details(layer)]
        except ValueError as error:
            raise TypeError(
                f"summary() needs a model whose layers are connected to an input, but {error}. "
                "Build the model from tf.keras.Input(shape=...) (for a Sequential model, start it "
                "with an Input) before checking it.") from None
        result.append(entry)
    if not result:
        raise TypeError("summary() got a model with no layers; build it from tf.keras.Input(...) first.")
    return result

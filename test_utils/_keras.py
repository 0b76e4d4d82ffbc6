"""Keras-version-neutral access to models, layers and symbolic tensors.

Everything here works on Keras 3 (``keras``) and Keras 2 (``tf_keras``, selected with
``TF_USE_LEGACY_KERAS=1``) by duck typing, so importing :mod:`test_utils` never imports
TensorFlow and a model is checked with the Keras that built it. The one place that needs a
Keras private attribute is :func:`producer_of`.
"""
from __future__ import annotations

from typing import Any

__all__ = [
    "KERAS_PACKAGES", "describe", "is_keras_layer", "is_keras_model", "is_symbolic_tensor",
    "first_call", "layer_output_shapes", "model_layers", "producer_of", "shape_tuple", "class_names",
]

#: Top-level packages whose classes count as Keras (Keras 3, tf-keras, Keras 2 bundled with TF).
KERAS_PACKAGES = frozenset({"keras", "tf_keras", "tensorflow"})


def class_names(obj: Any) -> list[str]:
    """Names of the classes in ``type(obj).__mro__``, most specific first."""
    return [cls.__name__ for cls in type(obj).__mro__]


def _keras_classes(obj: Any) -> list[str]:
    return [cls.__name__ for cls in type(obj).__mro__
            if cls.__module__.split(".", 1)[0] in KERAS_PACKAGES]


def is_keras_model(obj: Any) -> bool:
    """True for a Keras 2 or Keras 3 ``Model`` (functional, Sequential or subclassed)."""
    return "Model" in _keras_classes(obj)


def is_keras_layer(obj: Any) -> bool:
    """True for a Keras 2 or Keras 3 ``Layer`` (models are layers too)."""
    return "Layer" in _keras_classes(obj)


def is_symbolic_tensor(obj: Any) -> bool:
    """True for the symbolic tensor that calling a layer on ``Input(...)`` returns."""
    return "KerasTensor" in _keras_classes(obj)


def describe(obj: Any) -> str:
    """A short, student-readable description of what ``obj`` is."""
    if obj is None:
        return "None"
    if is_symbolic_tensor(obj):
        return f"a Keras tensor of shape {shape_tuple(obj.shape)}"
    if isinstance(obj, (tuple, list)):
        kind = "tuple" if isinstance(obj, tuple) else "list"
        if obj and all(is_symbolic_tensor(item) for item in obj):
            return f"a {kind} of {len(obj)} Keras tensor{'s' if len(obj) != 1 else ''}"
        return f"a {kind} of {len(obj)} item{'s' if len(obj) != 1 else ''}"
    if is_keras_model(obj):
        return f"a Keras {type(obj).__name__} model"
    if is_keras_layer(obj):
        return f"a Keras {type(obj).__name__} layer"
    name = type(obj).__name__
    return f"{'an' if name[:1].lower() in 'aeiou' else 'a'} {name}"


def shape_tuple(shape: Any) -> tuple[int | None, ...]:
    """A Keras 3 shape tuple or a TensorFlow ``TensorShape`` as a plain tuple of ints/None."""
    return tuple(None if dim is None else int(dim) for dim in shape)


def model_layers(model: Any) -> list[Any]:
    """The model's layers in Keras's own order (``model.layers``)."""
    return list(model.layers)


def first_call(layer: Any, which: str) -> Any:
    """The ``"input"`` or ``"output"`` tensor(s) of the first call of ``layer``; ``None`` if never called.

    Keras 3's ``layer.output`` always means the first call; Keras 2 refuses it for a layer called
    more than once (a shared layer), and offers ``get_output_at(0)``/``get_input_at(0)`` instead.
    """
    try:
        return getattr(layer, which)
    except (AttributeError, ValueError, RuntimeError):
        pass
    getter = getattr(layer, f"get_{which}_at", None)
    try:
        return getter(0) if callable(getter) else None
    except (AttributeError, ValueError, RuntimeError, IndexError):
        return None


def layer_output_shapes(layer: Any) -> list[tuple[int | None, ...]]:
    """The shapes of the tensors ``layer`` produced, one per output tensor.

    Raises ``ValueError`` when the layer has never been called on a tensor (an unbuilt model).
    """
    output = first_call(layer, "output")
    if output is None:
        raise ValueError(f"layer {layer.name!r} has never been called on an input")
    outputs = output if isinstance(output, (list, tuple)) else [output]
    return [shape_tuple(tensor.shape) for tensor in outputs]


def producer_of(tensor: Any) -> Any:
    """The layer that produced a symbolic Keras tensor, or ``None`` if unknown.

    Keras offers no public "which layer made this tensor" API. Both Keras 2 and Keras 3 record
    it in the private ``_keras_history`` triple ``(layer_or_operation, node_index, tensor_index)``;
    this function is the only place in the package that reads it.
    """
    history = getattr(tensor, "_keras_history", None)
    if history is None:
        return None
    return history[0]

"""What a block returns, and whether a model outputs logits or probabilities."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from . import _keras
from .layer_summary import activation_name, require_model
from .results import CheckResult, LayerRef, layer_ref

__all__ = [
    "BlockOutputsCheck", "OutputActivationCheck", "block_outputs", "check_block_outputs",
    "output_activations", "check_output_activation",
]

# Layers that only move values around: the activation that matters is the one before them.
_PASS_THROUGH = {"Reshape", "Flatten", "Permute", "Dropout", "Identity", "Cropping1D", "Cropping2D",
                 "Cropping3D", "SpatialDropout2D", "GaussianDropout", "AlphaDropout"}
_LOGITS = {"linear"}
_PROBABILITIES = {"softmax", "sigmoid"}


@dataclass(frozen=True)
class BlockOutputsCheck(CheckResult):
    """Result of :func:`check_block_outputs`: the layer that produced each returned tensor.

    An entry of ``producers`` is ``None`` where the returned item was not a Keras tensor.
    """

    producers: tuple[LayerRef | None, ...]


@dataclass(frozen=True)
class OutputActivationCheck(CheckResult):
    """Result of :func:`check_output_activation`: per model output, its final activation."""

    activations: tuple[str, ...]
    producers: tuple[LayerRef, ...]


def _as_items(outputs: Any) -> tuple[list[Any], list[Any]]:
    if _keras.is_keras_model(outputs):
        return list(outputs.outputs), _keras.model_layers(outputs)
    if _keras.is_symbolic_tensor(outputs):
        return [outputs], []
    if isinstance(outputs, (tuple, list)):
        return list(outputs), []
    raise TypeError(f"expected what a block returns (a Keras tensor or a tuple of them) or a Keras model, "
                    f"got {_keras.describe(outputs)}.")


def block_outputs(outputs: Any) -> tuple[LayerRef | None, ...]:
    """The layer that produced each tensor a block returned (``None`` for non-tensors).

    ``outputs`` is the block's return value (e.g. ``conv_block(inputs, 32)``), or a model built
    from it, in which case its ``outputs`` are used and indices refer to ``model.layers``.
    """
    items, layers = _as_items(outputs)
    refs: list[LayerRef | None] = []
    for item in items:
        producer = _keras.producer_of(item) if _keras.is_symbolic_tensor(item) else None
        refs.append(None if producer is None else layer_ref(producer, layers))
    return tuple(refs)


def check_block_outputs(outputs: Any, expected: Sequence[str | Sequence[str]],
                        names: Sequence[str] | None = None) -> BlockOutputsCheck:
    """Check which layer produced each returned tensor.

    ``expected`` holds, per returned tensor, a class name or layer name (or a tuple of
    acceptable ones); ``names`` are what the exercise calls the outputs, for messages. Example
    for ``conv_block(..., dropout_prob=0.3)``:
    ``check_block_outputs(block, ["MaxPooling2D", "Dropout"], names=["next_layer", "skip_connection"])``.
    """
    items, _ = _as_items(outputs)
    producers = block_outputs(outputs)
    labels = list(names or []) + [f"output {i + 1}" for i in range(len(names or []), max(len(items), len(expected)))]
    problems: list[str] = []
    if len(items) != len(expected):
        problems.append(f"the block returns {len(items)} value(s), expected {len(expected)} "
                        f"({', '.join(labels[:len(expected)])})")
    for label, item, ref, wanted in zip(labels, items, producers, expected):
        options = (wanted,) if isinstance(wanted, str) else tuple(wanted)
        shown = " or ".join(options)
        if ref is None:
            problems.append(f"{label} is {_keras.describe(item)}, expected the tensor a {shown} layer returns "
                            "— did you return the layer instead of calling it on its input?")
        elif ref.class_name not in options and ref.name not in options:
            problems.append(f"{label} comes from {ref}, expected the output of a {shown} layer "
                            "— check which tensor you return there")
    return BlockOutputsCheck(ok=not problems, problems=tuple(problems), producers=producers)


def _final_activation(tensor: Any, layers: list[Any]) -> tuple[LayerRef, str]:
    layer = _keras.producer_of(tensor)
    while layer is not None and type(layer).__name__ in _PASS_THROUGH:
        inputs = _keras.first_call(layer, "input")
        earlier = _keras.producer_of(inputs[0] if isinstance(inputs, (list, tuple)) else inputs)
        if earlier is None:
            break
        layer = earlier
    if layer is None:
        return LayerRef("?", "?"), "unknown"
    kind = type(layer).__name__
    if kind in ("Softmax", "ReLU"):
        return layer_ref(layer, layers), kind.lower()
    if hasattr(layer, "activation"):
        return layer_ref(layer, layers), activation_name(layer.activation)
    symbol = str(getattr(layer, "symbol", ""))  # Keras 2 wraps tf.nn.softmax(x) in a TFOpLambda layer
    for name in ("softmax", "sigmoid"):
        if name in symbol:
            return layer_ref(layer, layers), name
    if kind in ("Lambda", "TFOpLambda"):
        return layer_ref(layer, layers), "unknown"
    return layer_ref(layer, layers), "linear"


def output_activations(model: Any) -> tuple[tuple[LayerRef, str], ...]:
    """For each output of ``model``: the layer whose activation decides it, and that activation."""
    require_model(model, "output_activations()")
    layers = _keras.model_layers(model)
    return tuple(_final_activation(tensor, layers) for tensor in model.outputs)


def check_output_activation(model: Any, expected: str = "logits") -> OutputActivationCheck:
    """Check that every output of ``model`` is ``expected``.

    ``expected`` is ``"logits"`` (same as ``"linear"``: no activation), ``"softmax"``,
    ``"sigmoid"``, or ``"probabilities"`` (softmax or sigmoid).
    """
    wanted = {"logits": _LOGITS, "linear": _LOGITS, "probabilities": _PROBABILITIES,
              "softmax": {"softmax"}, "sigmoid": {"sigmoid"}}.get(str(expected).lower())
    if wanted is None:
        raise TypeError(f"check_output_activation(): expected must be 'logits', 'softmax', 'sigmoid' or "
                        f"'probabilities', got {expected!r}.")
    found = output_activations(model)
    problems = []
    for ref, activation in found:
        if activation in wanted:
            continue
        if wanted is _LOGITS:
            fix = "leave the last layer without activation (activation=None): the loss works on logits"
        else:
            fix = " or ".join(f"activation={name!r}" for name in sorted(wanted, reverse=True))
            fix = f"give the last layer {fix}"
        problems.append(f"the model's output comes from {ref} with activation {activation!r}, expected "
                        f"{expected} — {fix}")
    return OutputActivationCheck(ok=not problems, problems=tuple(problems),
                                 activations=tuple(a for _, a in found), producers=tuple(r for r, _ in found))

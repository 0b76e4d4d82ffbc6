"""Merge layers (``Concatenate``, ``Add``, ...): which layers feed them, in order, and on which axis.

``concatenate([up, skip])`` and ``concatenate([skip, up])`` give the same output shape and
parameter count, so only the order of the inbound layers tells them apart. The functional
helpers (``concatenate(...)``) and the layer classes (``Concatenate(axis=-1)(...)``) build the
same layer and give the same facts. The axis is normalised to a non-negative index, so ``-1``
and ``3`` are the same axis of a 4-D tensor.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from . import _keras
from .layer_summary import require_model
from .results import CheckResult, LayerRef, layer_ref

__all__ = ["MergeFacts", "MergeCheck", "merge_layers", "check_merge_layers"]

_MERGE_BASES = {"Merge", "_Merge"}  # the base class of merge layers in Keras 3 and Keras 2


@dataclass(frozen=True)
class MergeFacts:
    """One merge layer: the layers producing its inputs (in call order) and its axis.

    ``axis`` is non-negative when the rank is known (``-1`` on a 4-D tensor becomes ``3``) and
    ``None`` for merges without an axis (``Add``, ``Multiply``, ...).
    """

    layer: LayerRef
    inputs: tuple[LayerRef, ...]
    axis: int | None
    rank: int | None


@dataclass(frozen=True)
class MergeCheck(CheckResult):
    """Result of :func:`check_merge_layers`; ``merges`` holds every merge layer found."""

    merges: tuple[MergeFacts, ...]


def _is_merge(layer: Any) -> bool:
    return bool(_MERGE_BASES & set(_keras.class_names(layer)))


def _input_tensors(layer: Any) -> list[Any]:
    tensors = _keras.first_call(layer, "input")
    if tensors is None:
        return []
    return list(tensors) if isinstance(tensors, (list, tuple)) else [tensors]


def normalise_axis(axis: int, rank: int | None) -> int:
    """``axis`` as a non-negative index for a tensor of ``rank`` dimensions (unchanged if unknown)."""
    return axis % rank if rank else axis


def merge_layers(model: Any) -> tuple[MergeFacts, ...]:
    """Facts about every merge layer of ``model``, in layer order."""
    require_model(model, "merge_layers()")
    layers = _keras.model_layers(model)
    facts = []
    for layer in layers:
        if not _is_merge(layer):
            continue
        producers = [_keras.producer_of(tensor) for tensor in _input_tensors(layer)]
        inputs = tuple(layer_ref(p, layers) if p is not None else LayerRef("?", "?") for p in producers)
        try:
            rank: int | None = len(_keras.layer_output_shapes(layer)[0])
        except ValueError:
            rank = None
        axis = getattr(layer, "axis", None)
        facts.append(MergeFacts(layer=layer_ref(layer, layers), inputs=inputs,
                                axis=normalise_axis(int(axis), rank) if isinstance(axis, int) else None,
                                rank=rank))
    return tuple(facts)


def _matches(ref: LayerRef, wanted: str | Sequence[str]) -> bool:
    options = (wanted,) if isinstance(wanted, str) else tuple(wanted)
    return ref.class_name in options or ref.name in options


def _describe_inputs(refs: Sequence[LayerRef]) -> str:
    return "[" + ", ".join(f"{r.class_name} {r.name!r}" for r in refs) + "]"


def _compare(fact: MergeFacts, spec: Mapping[str, Any]) -> list[str]:
    unknown = sorted(set(spec) - {"class_name", "inputs", "axis"})
    if unknown:
        raise TypeError(f"check_merge_layers(): unknown key(s) {unknown}; use class_name, inputs, axis.")
    problems = []
    if "class_name" in spec and fact.layer.class_name != spec["class_name"]:
        problems.append(f"{fact.layer} should be a {spec['class_name']}")
    if "inputs" in spec:
        wanted = list(spec["inputs"])
        shown = "[" + ", ".join(w if isinstance(w, str) else " or ".join(w) for w in wanted) + "]"
        if len(wanted) != len(fact.inputs) or not all(map(_matches, fact.inputs, wanted)):
            swapped = len(wanted) == len(fact.inputs) and all(map(_matches, reversed(fact.inputs), wanted))
            problem = (f"{fact.layer}: its inputs are {_describe_inputs(fact.inputs)} in that order, "
                       f"expected {shown}")
            if swapped:
                problem += " — the order is reversed: pass the tensors in the expected order"
            problems.append(problem)
    if "axis" in spec and fact.axis is not None:
        expected_axis = normalise_axis(int(spec["axis"]), fact.rank)
        if expected_axis != fact.axis:
            same = f" (for a {fact.rank}-D tensor axis -1 and axis {fact.rank - 1} are the same)" if fact.rank else ""
            problems.append(f"{fact.layer}: axis is {fact.axis}, expected {expected_axis}{same}")
    return problems


def check_merge_layers(model: Any, expected: Sequence[Mapping[str, Any]]) -> MergeCheck:
    """Check every merge layer of ``model`` against ``expected``, one dict per merge layer in order.

    Keys (all optional): ``class_name`` (``"Concatenate"``), ``inputs`` (the layers feeding the
    merge, in order; each a class name or layer name, or a tuple of acceptable ones), ``axis``
    (``-1`` and ``3`` are equal for a 4-D tensor). Example for an upsampling block built from two
    Inputs: ``[{"class_name": "Concatenate", "inputs": ["Conv2DTranspose", "InputLayer"], "axis": 3}]``.
    """
    if isinstance(expected, Mapping) or isinstance(expected, str) or not isinstance(expected, Sequence):
        raise TypeError("check_merge_layers(): expected must be a list of dicts, one per merge layer, got "
                        f"{_keras.describe(expected)}.")
    for spec in expected:
        if not isinstance(spec, Mapping):
            raise TypeError(f"check_merge_layers(): each expectation must be a dict, got {_keras.describe(spec)}.")
    facts = merge_layers(model)
    problems: list[str] = []
    if len(facts) != len(expected):
        found = ", ".join(str(f.layer) for f in facts) or "none"
        problems.append(f"expected {len(expected)} merge layer(s) (e.g. Concatenate), found {len(facts)} ({found})")
    for fact, spec in zip(facts, expected):
        problems += _compare(fact, spec)
    return MergeCheck(ok=not problems, problems=tuple(problems), merges=facts)
